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

describe('LineSplitter cut-through', () => {
  function streaming(opts: { max?: number; after: number; accept?: boolean }) {
    const lines: string[] = [];
    const heads: string[] = [];
    const parts: string[] = [];
    const ends: Array<'end' | OversizeMessage> = [];
    const s = new LineSplitter(
      {
        onLine: (l) => lines.push(l.toString('utf8')),
        onLongLine: (head) => {
          heads.push(head.toString('utf8'));
          if (opts.accept === false) return undefined;
          return {
            write: (p) => parts.push(p.toString('utf8')),
            end: (oversize) => ends.push(oversize ?? 'end'),
          };
        },
      },
      opts.max,
      { streamAfterBytes: opts.after },
    );
    return { s, lines, heads, parts, ends };
  }

  it('offers a long message once, hands over what was buffered and every later part, then ends it', () => {
    const { s, lines, heads, parts, ends } = streaming({ after: 12 });
    s.push(Buffer.from('{"short":1}\n{"long":"abcdefgh'));
    expect(heads).toEqual(['{"long":"abcdefgh']);
    s.push(Buffer.from('ijklmnop'));
    s.push(Buffer.from('qr"}\r\n{"next":2}\n'));
    expect(lines).toEqual(['{"short":1}', '{"next":2}']);
    expect(parts.join('')).toBe('{"long":"abcdefghijklmnopqr"}\r');
    expect(ends).toEqual(['end']);
    expect(heads).toHaveLength(1);
  });

  it('delivers a declined long message whole, and offers the next long one again', () => {
    const { s, lines, heads } = streaming({ after: 4, accept: false });
    s.push(Buffer.from('{"a":"123456"}\n{"b":"7890123"}\n'));
    expect(lines).toEqual(['{"a":"123456"}', '{"b":"7890123"}']);
    expect(heads).toEqual(['{"a":"123456"}', '{"b":"7890123"}']);
  });

  it('stops writing at the cap and ends with the oversize report', () => {
    const { s, parts, ends } = streaming({ after: 4, max: 20 });
    s.push(Buffer.from('{"x":"'));
    s.push(Buffer.from('y'.repeat(30)));
    s.push(Buffer.from('"}\n{"z":1}\n'));
    // The next message is offered afresh (and streamed whole: it is under the cap).
    expect(parts.join('')).toBe(`{"x":"${'y'.repeat(14)}{"z":1}`);
    expect(ends).toHaveLength(2);
    expect(ends[1]).toBe('end');
    const report = ends[0] as OversizeMessage;
    expect(report.bytes).toBe(38);
    expect(report.head.toString()).toBe('{"x":"');
    expect(report.tail.toString()).toContain('y"}');
  });

  it('ends a streamed message cut short by the end of the stream', () => {
    const { s, ends } = streaming({ after: 4 });
    s.push(Buffer.from('{"cut":"abcdef'));
    s.end();
    expect(ends).toEqual(['end']);
  });

  it('rejects a streamAfterBytes that is not a positive integer', () => {
    expect(() => new LineSplitter({ onLine: () => {} }, 100, { streamAfterBytes: 0 })).toThrow(RangeError);
  });
});
