import { describe, expect, it } from 'vitest';
import { countMembers, scanEnvelope } from './envelope.js';
import { findIdInEdges } from './oversize.js';

/** The envelope without `paramsMembers` (its own test below). */
const scan = (s: string) => {
  const { paramsMembers: _members, ...env } = scanEnvelope(Buffer.from(s));
  return env;
};

describe('scanEnvelope', () => {
  it('classifies requests, notifications and responses', () => {
    expect(scan('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}')).toEqual({
      kind: 'request',
      id: 1,
      method: 'tools/call',
    });
    expect(scan('{"method":"notifications/progress","params":{},"jsonrpc":"2.0"}')).toEqual({
      kind: 'notification',
      method: 'notifications/progress',
    });
    expect(scan('{"result":{"content":[]},"jsonrpc":"2.0","id":"a"}')).toEqual({
      kind: 'response',
      id: 'a',
      isError: false,
    });
    expect(scan(' { "jsonrpc" : "2.0" , "id" : 3 , "error" : {"code":-1,"message":"m"} } ')).toEqual({
      kind: 'response',
      id: 3,
      isError: true,
    });
    expect(scan('[{"jsonrpc":"2.0","method":"a"}]')).toEqual({ kind: 'batch' });
  });

  it('skips strings with escaped quotes, brackets and backslashes', () => {
    const msg = JSON.stringify({ result: { text: 'a "quoted" } ] \\ \\" {[' }, jsonrpc: '2.0', id: 9 });
    expect(scan(msg)).toEqual({ kind: 'response', id: 9, isError: false });
  });

  it('reports malformed JSON and non-JSON-RPC objects as invalid', () => {
    expect(scan('Server started on stdio').kind).toBe('invalid');
    expect(scan('{"jsonrpc":"2.0","id":1,"method":"x"').problem).toMatch(/malformed JSON/);
    expect(scan('{"jsonrpc":"2.0","id":1,"method":"x"} trailing').problem).toMatch(/malformed JSON/);
    // A byte order mark or stray text is not JSON (-32700); a JSON value that is no object is
    // an invalid request (-32600).
    expect(scan('\uFEFF{"jsonrpc":"2.0","id":1,"method":"ping"}').problem).toBe(
      'malformed JSON: not a JSON value',
    );
    expect(scan('hello').problem).toBe('malformed JSON: not a JSON value');
    expect(scan('"hello"').problem).toBe('not a JSON object or array');
    expect(scan('5').problem).toBe('not a JSON object or array');
    expect(scan('{"jsonrpc":"2.0","id":1,"result":{"a":"unterminated}}').problem).toMatch(/unterminated/);
    expect(scan('{"jsonrpc":"1.0","id":1,"method":"x"}')).toMatchObject({ kind: 'invalid', id: 1 });
    expect(scan('{"jsonrpc":"2.0","id":1}').kind).toBe('invalid');
    expect(scan('{"jsonrpc":"2.0","id":{},"method":"x"}').kind).toBe('invalid');
    expect(scan('{"jsonrpc":"2.0","id":1,"method":5}').kind).toBe('invalid');
  });

  it('scans a 20 MiB result quickly without parsing it', () => {
    const msg = `{"result":{"content":[{"type":"text","text":"${'z'.repeat(20 * 1024 * 1024)}"}]},"jsonrpc":"2.0","id":42}`;
    expect(scan(msg)).toEqual({ kind: 'response', id: 42, isError: false });
  });
});

describe('findIdInEdges', () => {
  const b = (s: string) => Buffer.from(s);
  it('finds a leading or trailing id, not a nested one', () => {
    expect(findIdInEdges(b('{"jsonrpc":"2.0","id":5,"method":"tools/call"'), b('xx"}}'))).toBe(5);
    expect(
      findIdInEdges(b('{"method":"tools/call","params":{"id":1'), b('"}},"jsonrpc":"2.0","id":"k"}')),
    ).toBe('k');
    expect(findIdInEdges(b('{"method":"tools/call","params":{"id":1'), b('{"id":3}}}'))).toBeUndefined();
  });

  it('finds none when the edges show id twice or beside a variant, as a message refused whole', () => {
    const head = '{"jsonrpc":"2.0","id":102,"method":"ping","pad":"xxxx';
    expect(findIdInEdges(b(head), b('xxxx"}'))).toBe(102);
    expect(findIdInEdges(b(head), b('xxxx","id":103}'))).toBeUndefined();
    expect(
      findIdInEdges(b('{"jsonrpc":"2.0","id":104,"ID":105,"method":"ping","pad":"xx'), b('xx"}')),
    ).toBeUndefined();
    expect(
      findIdInEdges(b('{"jsonrpc":"2.0","id":1,"id":1,"method":"ping","pad":"xx'), b('xx"}')),
    ).toBeUndefined();
    expect(
      findIdInEdges(b('{"jsonrpc":"2.0","Id":7,"method":"ping","pad":"xx'), b('xx","id":8}')),
    ).toBeUndefined();
  });
});

describe('scanEnvelope value decoding', () => {
  it('reads ids and methods exactly as JSON.parse would, with and without escapes', () => {
    const ids: unknown[] = [
      0,
      7,
      42,
      123456789012345,
      9007199254740991,
      -3,
      2e3,
      'a',
      '',
      'é😀',
      'q"\\',
      '\u0001',
      'tab\t',
    ];
    for (const id of ids) {
      const msg = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":${JSON.stringify(`m/${String(id)}`)}}`;
      expect(scan(msg), msg).toEqual({
        kind: 'request',
        id: JSON.parse(JSON.stringify(id)),
        method: `m/${String(id)}`,
      });
    }
    // A fractional id is exact but no MCP id (a string or an integer): answered, not forwarded.
    expect(scan('{"jsonrpc":"2.0","id":1.5,"method":"x"}')).toEqual({
      kind: 'invalid',
      problem: 'a request id must be a string or an integer',
      id: 1.5,
    });
    expect(scan('{"jsonrpc":"2.0","id":01,"method":"x"}').kind).toBe('invalid');
    expect(scan('{"jsonrpc":"2\\u002e0","id":1,"method":"x"}').kind).toBe('request');
    // Ids a server cannot echo back as the same value are refused (their answers could not be
    // matched: a tools/list answer would pass unfiltered).
    for (const id of ['1e-400', '1.00000000000000000001', '-0.30000000000000000001'])
      expect(scan(`{"jsonrpc":"2.0","id":${id},"method":"x"}`), id).toEqual({
        kind: 'invalid',
        problem: 'id is a number a double does not hold exactly; the server could not echo it back',
      });
    expect(scan('{"jsonrpc":"2.0","id":1.0,"method":"x"}').kind).toBe('request');
    expect(scan('{"jsonrpc":"2.0","id":1e400,"method":"x"}')).toEqual({
      kind: 'invalid',
      problem: 'id must be a finite number',
    });
    expect(scan('{"jsonrpc":"2.0","id":9007199254740993,"method":"x"}')).toEqual({
      kind: 'invalid',
      problem: 'an integer id must be within +-(2^53 - 1)',
    });
    expect(scan('{"jsonrpc":"2.0","id":9007199254740991,"method":"x"}').kind).toBe('request');
    expect(scan('{"jsonrpc":"2.0","id":"a\\ud800","method":"x"}')).toEqual({
      kind: 'invalid',
      problem: 'id must not contain a lone surrogate',
    });
    expect(scan('{"jsonrpc":"2.0","id":"\\ud83d\\ude00","method":"x"}')).toEqual({
      kind: 'request',
      id: '😀',
      method: 'x',
    });
    const badUtf8 = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":"a'),
      Buffer.from([0xe2, 0x82]),
      Buffer.from('","method":"x"}'),
    ]);
    expect(scanEnvelope(badUtf8)).toEqual({ kind: 'invalid', problem: 'id must be valid UTF-8' });
    // A real U+FFFD in an id is fine.
    expect(scan('{"jsonrpc":"2.0","id":"\uFFFD","method":"x"}')).toEqual({
      kind: 'request',
      id: '\uFFFD',
      method: 'x',
    });
  });
});

describe('scanEnvelope member names', () => {
  // Every JSON parser decodes escapes in member names: a server reads `"\u0069d"` as `id`. The
  // proxy must see the same message the server will, or a request could pass for something else.
  it('decodes escaped member names as JSON.parse does', () => {
    const cases: Array<[string, object]> = [
      [
        '{"jsonrpc":"2.0","\\u0069d":1,"method":"tools/call","params":{"name":"x"}}',
        { kind: 'request', id: 1, method: 'tools/call' },
      ],
      [
        '{"jsonrpc":"2.0","id":2,"\\u006dethod":"tools/call"}',
        { kind: 'request', id: 2, method: 'tools/call' },
      ],
      ['{"jsonrp\\u0063":"2.0","id":3,"method":"ping"}', { kind: 'request', id: 3, method: 'ping' }],
      ['{"jsonrpc":"2.0","id":4,"resul\\u0074":{}}', { kind: 'response', id: 4, isError: false }],
      [
        '{"jsonrpc":"2.0","id":5,"\\u0065rror":{"code":1,"message":"m"}}',
        { kind: 'response', id: 5, isError: true },
      ],
      ['{"jsonrpc":"2.0","i\\/d":6,"method":"ping"}', { kind: 'notification', method: 'ping' }],
      ['{"jsonrpc":"2.0","\\"id":7,"method":"ping"}', { kind: 'notification', method: 'ping' }],
    ];
    for (const [msg, expected] of cases) {
      expect(scan(msg), msg).toEqual(expected);
      // Same view as the parser on the other side.
      const parsed = JSON.parse(msg) as Record<string, unknown>;
      expect('id' in parsed, msg).toBe('id' in expected);
    }
  });

  it('other names are not envelope members; names equal to one regardless of case are refused', () => {
    expect(scan('{"jsonrpc":"2.0","idx":1,"methods":"ping","id":2,"method":"m"}')).toEqual({
      kind: 'request',
      id: 2,
      method: 'm',
    });
    expect(scan('{"jsonrpc":"2.0","id":1,"method":"m","Content":{},"arguments":1}').kind).toBe('request');
    // Go's encoding/json reads each of these as the member it folds to (U+017F and U+212A fold
    // to s and k).
    const variants: Array<[string, string]> = [
      ['{"jsonrpc":"2.0","ID":11,"method":"tools/call"}', '"ID" differs from "id"'],
      ['{"jsonrpc":"2.0","id":10,"method":"ping","Method":"tools/call"}', '"Method" differs from "method"'],
      ['{"jsonrpc":"2.0","id":1,"method":"m","param\u017f":{}}', '"paramſ" differs from "params"'],
      ['{"jsonrpc":"2.0","id":1,"method":"m","PARAMS":{}}', '"PARAMS" differs from "params"'],
      ['{"JSONRPC":"2.0","id":1,"method":"m"}', '"JSONRPC" differs from "jsonrpc"'],
      ['{"jsonrpc":"2.0","id":1,"resulT":{}}', '"resulT" differs from "result"'],
      ['{"jsonrpc":"2.0","id":1,"\\u0045rror":{}}', '"Error" differs from "error"'],
    ];
    for (const [msg, problem] of variants) {
      const env = scanEnvelope(Buffer.from(msg));
      expect(env.kind, msg).toBe('invalid');
      expect(env.problem, msg).toContain(problem);
    }
  });
});

describe('scanEnvelope nesting and long strings', () => {
  it('skips params nested 100,000 deep, and still catches a wrong closing bracket at any depth', () => {
    const depth = 100_000;
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(scan(`{"jsonrpc":"2.0","id":1,"method":"m","params":{"x":${deep}}}`)).toEqual({
      kind: 'request',
      id: 1,
      method: 'm',
    });
    const wrong = `${'['.repeat(depth)}}${']'.repeat(depth - 1)}`;
    expect(scan(`{"jsonrpc":"2.0","id":1,"method":"m","params":{"x":${wrong}}}`)).toEqual({
      kind: 'invalid',
      problem: 'malformed JSON: unbalanced brackets',
    });
    // After the deep one, a shallow message scans as before.
    expect(scan('{"jsonrpc":"2.0","id":2,"method":"m","params":[{"a":[1,{"b":2}]}]}').kind).toBe('request');
  });

  it('finds the end of strings with escapes on either side of the short-string limit', () => {
    for (const len of [0, 1, 62, 63, 64, 65, 66, 200]) {
      for (const tail of ['', '\\\\', '\\"', 'x\\\\']) {
        const text = `${'a'.repeat(len)}${tail}`;
        const msg = `{"jsonrpc":"2.0","id":"${text}","method":"${text}"}`;
        const parsed = JSON.parse(msg);
        expect(scan(msg), msg).toEqual({ kind: 'request', id: parsed.id, method: parsed.method });
      }
    }
    expect(scan(`{"jsonrpc":"2.0","id":1,"method":"${'a'.repeat(70)}\\"}`).kind).toBe('invalid');
  });
});

describe('member names written twice', () => {
  it('refuses an envelope member written twice, with the id when it is known', () => {
    expect(scanEnvelope(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}'))).toEqual({
      kind: 'invalid',
      problem: 'member "method" appears twice (decoders differ on which one counts)',
      id: 1,
    });
    expect(scanEnvelope(Buffer.from('{"jsonrpc":"2.0","id":1,"id":2,"method":"a"}')).problem).toBe(
      'member "id" appears twice (decoders differ on which one counts)',
    );
    expect(
      scanEnvelope(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"a","p\\u0061rams":{},"params":{}}'))
        .problem,
    ).toBe('member "params" appears twice (decoders differ on which one counts)');
    // Other top-level names may repeat: nothing reads them.
    expect(scanEnvelope(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"a","x":1,"x":2}')).kind).toBe(
      'request',
    );
  });

  it('counts the member names written in params, at any depth, outside strings', () => {
    const members = (s: string) => scanEnvelope(Buffer.from(s)).paramsMembers;
    expect(
      members(
        '{"jsonrpc":"2.0","id":1,"method":"a","params":{"name":"x","arguments":{"a":[{"b":1},{"c":"d:e"}]}}}',
      ),
    ).toBe(5);
    expect(members('{"jsonrpc":"2.0","id":1,"method":"a","params":[]}')).toBe(0);
    expect(members('{"jsonrpc":"2.0","method":"a","params":{"x":1}}')).toBeUndefined();
    expect(countMembers({ name: 'x', arguments: { a: [{ b: 1 }, { c: 'd:e' }] } })).toBe(5);
    expect(countMembers(JSON.parse('{"a":1,"a":2}'))).toBe(1);
  });
});
