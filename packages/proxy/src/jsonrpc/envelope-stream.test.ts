import { describe, expect, it } from 'vitest';
import { scanEnvelope } from './envelope.js';
import { EnvelopeStream } from './envelope-stream.js';

/** Feeds `text` split at the given offsets. */
function streamed(text: string | Buffer, cuts: number[]) {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const s = new EnvelopeStream();
  let from = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    s.push(bytes.subarray(from, c));
    from = c;
  }
  s.push(bytes.subarray(from));
  return s.result();
}

/** A small seeded PRNG (mulberry32), so failures reproduce. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY = ['plain', 'a "quoted" }', '\\', '\\\\"', '{[', '\u2028é😀', '\\"}],"id":99,"x":"', ''];

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 7));
  switch (k) {
    case 0:
      return TRICKY[Math.floor(r() * TRICKY.length)];
    case 1:
      return Math.floor(r() * 2000) - 1000;
    case 2:
      return r() < 0.5 ? null : r() < 0.5;
    case 3:
      return `${TRICKY[Math.floor(r() * TRICKY.length)]}${'x'.repeat(Math.floor(r() * 50))}`;
    case 4:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(r() * 4); i++) o[`${TRICKY[i] ?? 'k'}${i}`] = randomValue(r, depth + 1);
      if (r() < 0.3) o.id = 'nested-id';
      return o;
    }
  }
}

function randomMessage(r: () => number): string {
  const members: Array<[string, unknown]> = [['jsonrpc', r() < 0.95 ? '2.0' : '1.0']];
  const shape = Math.floor(r() * 4);
  if (shape === 0 || shape === 1) members.push(['method', r() < 0.5 ? 'tools/call' : 'notifications/x']);
  if (shape !== 1) members.push(['id', r() < 0.5 ? Math.floor(r() * 100) : `id-"${Math.floor(r() * 100)}\\`]);
  if (shape === 2) members.push(['result', randomValue(r)]);
  if (shape === 3) members.push(['error', { code: -32000, message: String(randomValue(r)) }]);
  if (shape <= 1) members.push(['params', randomValue(r)]);
  // Any member order: the MCP SDK writes `id` last.
  members.sort(() => r() - 0.5);
  const ws = () => (r() < 0.2 ? ' \r\n\t'.slice(0, 1 + Math.floor(r() * 3)) : '');
  return `${ws()}{${members.map(([k, v]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${JSON.stringify(v)}${ws()}`).join(',')}}${ws()}`;
}

describe('EnvelopeStream', () => {
  it('reads the same envelope as scanEnvelope, however the message is cut', () => {
    const r = rng(42);
    for (let n = 0; n < 400; n++) {
      const msg = randomMessage(r);
      const { paramsMembers: _m, ...expected } = scanEnvelope(Buffer.from(msg));
      const bytes = Buffer.from(msg);
      const cuts = Array.from({ length: Math.floor(r() * 6) }, () => Math.floor(r() * bytes.length));
      expect(streamed(bytes, cuts), msg).toEqual(expected);
    }
  });

  it('handles every single cut of a response with escapes at the cut', () => {
    const msg = JSON.stringify({ result: { text: 'a\\"b\\\\"c"}' }, jsonrpc: '2.0', id: 'q"\\' });
    const { paramsMembers: _m, ...expected } = scanEnvelope(Buffer.from(msg));
    expect(expected).toEqual({ kind: 'response', id: 'q"\\', isError: false });
    for (let c = 0; c <= msg.length; c++) expect(streamed(msg, [c]), `cut at ${c}`).toEqual(expected);
    for (let c = 0; c + 1 <= msg.length; c++) expect(streamed(msg, [c, c + 1])).toEqual(expected);
  });

  it('reads a 20 MiB result in 64 KiB parts without keeping it', () => {
    const text = 'x'.repeat(20 * 1024 * 1024);
    const bytes = Buffer.from(
      JSON.stringify({ result: { content: [{ type: 'text', text }] }, jsonrpc: '2.0', id: 3 }),
    );
    const s = new EnvelopeStream();
    for (let i = 0; i < bytes.length; i += 65536) s.push(bytes.subarray(i, i + 65536));
    expect(s.result()).toEqual({ kind: 'response', id: 3, isError: false });
  });

  it('looks member names up as scanEnvelope does: escapes decoded, case variants and non-UTF-8 ids refused', () => {
    const cases: Array<string | Buffer> = [
      '{"jsonrpc":"2.0","\\u0069d":7,"result":{}}',
      '{"jsonrpc":"2.0","ID":7,"result":{}}',
      '{"jsonrpc":"2.0","id":7,"Result":{},"error":{"code":1,"message":"x"}}',
      '{"jsonrpc":"2.0","id":7,"result":{},"\\u0045rror":{}}',
      '{"jsonrpc":"2.0","id":7,"result":{},"PARAMS":{}}',
      '{"jsonrpc":"2.0","id":7,"result":{},"\u212Aey":1}',
      '{"jsonrpc":"2.0","id":7,"re\u017Fult":{}}',
      '{"jsonrpc":"2.0","method":"notifications/x","Method":"tools/call"}',
      Buffer.concat([
        Buffer.from('{"jsonrpc":"2.0","id":"a'),
        Buffer.from([0xff]),
        Buffer.from('","result":{}}'),
      ]),
      Buffer.from('{"jsonrpc":"2.0","id":"a\uFFFD","result":{}}'),
    ];
    const kinds: string[] = [];
    for (const msg of cases) {
      const bytes = Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
      const { paramsMembers: _m, ...expected } = scanEnvelope(bytes);
      kinds.push(expected.kind);
      for (let c = 0; c <= bytes.length; c += 3) {
        expect(streamed(bytes, [c]), `${bytes.toString()} cut at ${c}`).toEqual(expected);
      }
    }
    // The expectations themselves: what the shared lookup decides.
    expect(kinds).toEqual([
      'response',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'response',
      'invalid',
      'invalid',
      'invalid',
      'response',
    ]);
    expect(streamed('{"jsonrpc":"2.0","ID":7,"result":{}}', []).problem).toMatch(
      /member name "ID" differs from "id" only by case/,
    );
  });

  it('keeps the id of a refused message when it is unambiguous, as scanEnvelope does, however it is cut', () => {
    // A request refused for a member name is answered with its own id (else the client's request
    // waits for ever); a response's id names the request to fail; an id written twice or beside
    // a variant of `id` names nothing.
    const cases: Array<[string, Record<string, unknown>]> = [
      ['{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{},"METHOD":"ping"}', { id: 12 }],
      ['{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{},"Params":{}}', { id: 13 }],
      ['{"JSONRPC":"2.0","method":"tools/call","id":"s-1"}', { id: 's-1' }],
      ['{"jsonrpc":"2.0","Method":"tools/call","id":14}', { id: 14 }],
      ['{"jsonrpc":"2.0","method":"a","method":"b","id":15}', { id: 15 }],
      ['{"jsonrpc":"2.0","method\\u0000":"tools/call","method":"ping","id":16}', { id: 16 }],
      // A raw control byte in a name is no JSON; a decoder that stops at the NUL reads `method`.
      ['{"jsonrpc":"2.0","method\u0000":"tools/call","method":"ping","id":17}', { id: 17 }],
      ['{"jsonrpc":"2.0","id":7,"result":{},"Result":{}}', { answers: 7 }],
      // An answer with a stray variant of `method` or `params` is still an answer.
      ['{"jsonrpc":"2.0","id":"srv8","result":{},"METHOD":"tools/call"}', { answers: 'srv8' }],
      ['{"jsonrpc":"2.0","id":6,"error":{"code":1,"message":"x"},"Params":{}}', { answers: 6 }],
      // A raw space in a name: a decoder that trims names reads `method` (and keeps the last).
      ['{"jsonrpc":"2.0","id":30,"method":"ping","method ":"tools/call"}', { id: 30 }],
      ['{"jsonrpc":"2.0","id":31,"method":"ping"," method":"tools/call"}', { id: 31 }],
      ['{"jsonrpc":"2.0","id":32,"method":"ping","id ":5}', {}],
      ['{"jsonrpc":"2.0","id":"srv5","result":{},"result ":{"x":1}}', { answers: 'srv5' }],
      ['{"jsonrpc":"2.0","id":33,"method":"ping","method\u007f":"tools/call"}', { id: 33 }],
      ['{"jsonrpc":"2.0","result":{},"result":{},"id":8}', { answers: 8 }],
      ['{"jsonrpc":"2.0","ID":7,"id":9,"method":"tools/call"}', {}],
      ['{"jsonrpc":"2.0","id":9,"method":"tools/call","Id":7}', {}],
      ['{"jsonrpc":"2.0","id":1,"method":"m","id":2}', {}],
      ['{"jsonrpc":"2.0","id":1.5e400,"method":"m","METHOD":"x"}', {}],
      // Not refused for a name, but answered the same way: an SDK server drops a fractional id.
      ['{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{}}', { id: 1.5 }],
    ];
    for (const [msg, expected] of cases) {
      const bytes = Buffer.from(msg);
      const scanned = scanEnvelope(bytes);
      const { kind, problem: _problem, ...rest } = scanned;
      expect({ kind, ...rest }, msg).toEqual({ kind: 'invalid', ...expected });
      for (let c = 0; c <= bytes.length; c += 3) {
        expect(streamed(bytes, [c]), `${msg} cut at ${c}`).toEqual(scanned);
      }
    }
  });

  it('refuses a JSON-RPC member written twice, as scanEnvelope does, however the message is cut', () => {
    const cases = [
      ['{"jsonrpc":"2.0","id":1,"result":{},"id":2}', 'id'],
      ['{"jsonrpc":"2.0","id":1,"result":{"a":1},"result":{"b":2}}', 'result'],
      ['{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"},"error":{"code":2,"message":"y"}}', 'error'],
      ['{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"result":{}}', 'jsonrpc'],
      ['{"jsonrpc":"2.0","method":"notifications/x","method":"ping"}', 'method'],
      ['{"jsonrpc":"2.0","id":5,"method":"sampling/createMessage","params":{},"params":{"a":1}}', 'params'],
      ['{"jsonrpc":"2.0","\\u0069d":1,"result":{},"id":2}', 'id'],
    ] as const;
    for (const [msg, name] of cases) {
      const bytes = Buffer.from(msg);
      const scanned = scanEnvelope(bytes);
      expect(scanned.kind, msg).toBe('invalid');
      expect(scanned.problem).toBe(`member "${name}" appears twice (decoders differ on which one counts)`);
      for (let c = 0; c <= bytes.length; c += 2) {
        const s = streamed(bytes, [c]);
        expect({ kind: s.kind, problem: s.problem }, `${msg} cut at ${c}`).toEqual({
          kind: 'invalid',
          problem: scanned.problem,
        });
      }
    }
    // Nested members of the same name are not the envelope's.
    expect(streamed('{"jsonrpc":"2.0","id":1,"result":{"id":2,"result":3}}', [9])).toEqual({
      kind: 'response',
      id: 1,
      isError: false,
    });
  });

  it('reports malformed or cut-short messages as invalid', () => {
    expect(streamed('{"jsonrpc":"2.0","id":1,"result":{"a":"unfinished', [10]).kind).toBe('invalid');
    expect(streamed('{"jsonrpc":"2.0","id":1,"result":{}} trailing', []).problem).toMatch(/malformed JSON/);
    expect(streamed('Banner', []).problem).toMatch(/not a JSON object/);
    expect(streamed('{"jsonrpc":"2.0" "id":1}', []).problem).toMatch(/expected "," or "}"/);
    expect(streamed('{"jsonrpc":"2.0","id":1,"result":{}}', [5])).toEqual({
      kind: 'response',
      id: 1,
      isError: false,
    });
  });
});
