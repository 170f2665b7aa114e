import { describe, expect, it } from 'vitest';
import { LineSplitter, type OversizeMessage } from './line-splitter.js';

function collect(max?: number) {
  const lines: string[] = [];
  const oversize: OversizeMessage[] = [];
  const s = new LineSplitter(
    { onLine: (l) => lines.push(l.toString('utf8')), onOversize: (o) => oversize.push(o) },
    max,
  );
  return { s, lines, oversize };
}

describe('LineSplitter', () => {
  it('splits on \\n and tolerates \\r\\n', () => {
    const { s, lines } = collect();
    s.push(Buffer.from('{"a":1}\r\n{"b":2}\n{"c"'));
    s.push(Buffer.from(':3}\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('never splits on U+2028 or U+2029', () => {
    const { s, lines } = collect();
    const msg = JSON.stringify({ text: 'one\u2028two\u2029three' });
    s.push(Buffer.from(`${msg}\n`));
    expect(lines).toEqual([msg]);
    expect(JSON.parse(lines[0]!).text).toBe('one\u2028two\u2029three');
  });

  it('keeps a UTF-8 character split across chunks intact', () => {
    const { s, lines } = collect();
    const bytes = Buffer.from('{"t":"é€😀"}\n');
    for (const b of bytes) s.push(Buffer.from([b]));
    expect(lines).toEqual(['{"t":"é€😀"}']);
  });

  it('reassembles a 20 MiB message from 4 KiB chunks', () => {
    const { s, lines } = collect();
    const body = 'x'.repeat(20 * 1024 * 1024);
    const bytes = Buffer.from(`{"t":"${body}"}\n`);
    for (let i = 0; i < bytes.length; i += 4096) s.push(bytes.subarray(i, i + 4096));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBe(body.length + 8);
  });

  it('skips blank lines and delivers a final line without newline at end()', () => {
    const { s, lines } = collect();
    s.push(Buffer.from('\n  \n{"a":1}\n{"b":2}'));
    expect(lines).toEqual(['{"a":1}']);
    s.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('drops a line over the cap, reports its size and edges once, and carries on', () => {
    const { s, lines, oversize } = collect(100);
    const big = `{"id":7,"x":"${'y'.repeat(300)}"}`;
    for (let i = 0; i < big.length; i += 16) s.push(Buffer.from(big.slice(i, i + 16)));
    expect(s.bufferedBytes).toBe(0);
    s.push(Buffer.from('\n{"ok":1}\n'));
    expect(oversize).toHaveLength(1);
    expect(oversize[0]!.bytes).toBe(big.length);
    expect(oversize[0]!.head.toString().startsWith('{"id":7')).toBe(true);
    expect(oversize[0]!.tail.toString().endsWith('y"}')).toBe(true);
    expect(lines).toEqual(['{"ok":1}']);
  });

  it('rejects a non-positive cap', () => {
    expect(() => new LineSplitter({ onLine() {} }, 0)).toThrow(RangeError);
  });
});
