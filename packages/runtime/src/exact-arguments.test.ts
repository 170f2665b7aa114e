import { describe, expect, it } from 'vitest';
import {
  argumentsAsSent,
  InexactNumber,
  inexactNumbers,
  mayHoldInexactNumbers,
  withInexactNumbers,
} from './exact-arguments.js';

describe('inexactNumbers', () => {
  it('finds each number a double rounds, with its path, at any depth and position', () => {
    const text =
      '{"a":1,"b":[2,1098765432109876543,{"c":100.00000000000000001}],"d\\"e":-9007199254740993,' +
      '"f":"1098765432109876543","g":1e400,"h":{},"i":[],"j":[[9007199254740992]],"k":true,"l":null}';
    expect(inexactNumbers(text)).toEqual([
      { path: ['b', 1], text: '1098765432109876543' },
      { path: ['b', 2, 'c'], text: '100.00000000000000001' },
      { path: ['d"e'], text: '-9007199254740993' },
      { path: ['g'], text: '1e400' },
    ]);
  });

  it('walks whitespace, a bare number and nesting deeper than any call stack', () => {
    expect(inexactNumbers(' \n[ 1 , 12345678901234567890 ]\t')).toEqual([
      { path: [1], text: '12345678901234567890' },
    ]);
    expect(inexactNumbers('12345678901234567890')).toEqual([{ path: [], text: '12345678901234567890' }]);
    const deep = `${'['.repeat(200_000)}12345678901234567890${']'.repeat(200_000)}`;
    expect(inexactNumbers(deep)[0]!.path).toHaveLength(200_000);
  });
});

describe('argumentsAsSent', () => {
  it('marks the numbers under params.arguments, copying only what leads to them', () => {
    const text =
      '{"jsonrpc":"2.0","id":12345678901234567890,"method":"tools/call","params":{"name":"send",' +
      '"arguments":{"channel_id":1098765432109876511,"opts":{"n":1},"list":[1,2]}}}';
    const message = JSON.parse(text);
    const args = message.params.arguments;
    const sent = argumentsAsSent(text, args, ['params', 'arguments'])!;
    expect(sent.channel_id).toEqual(new InexactNumber('1098765432109876511'));
    expect(sent.opts).toBe(args.opts);
    expect(sent.list).toBe(args.list);
    // The parsed arguments are untouched: schemas and the log read them.
    expect(args.channel_id).toBe(1098765432109876500);
  });

  it("marks numbers whose exponent leaves the double's range, however few their digits", () => {
    const text = '{"a":-1e-400,"b":1e400,"c":3e-324,"d":1e100,"e":5e-324}';
    const sent = argumentsAsSent(text, JSON.parse(text))!;
    expect(sent).toEqual({
      a: new InexactNumber('-1e-400'),
      b: new InexactNumber('1e400'),
      c: new InexactNumber('3e-324'),
      d: 1e100,
      e: 5e-324,
    });
  });

  it('is undefined when every number reads exactly, or the only long numbers are elsewhere', () => {
    expect(argumentsAsSent('{"a":1,"b":"x"}', { a: 1, b: 'x' })).toBeUndefined();
    const text = '{"id":12345678901234567890,"params":{"arguments":{"a":1}}}';
    expect(argumentsAsSent(text, { a: 1 }, ['params', 'arguments'])).toBeUndefined();
    // A long digit run inside a string sends the text down the slow path, which finds nothing.
    expect(mayHoldInexactNumbers('{"card":"4111111111111111"}')).toBe(true);
    expect(argumentsAsSent('{"card":"4111111111111111"}', { card: '4111111111111111' })).toBeUndefined();
  });

  it('keeps an own __proto__ key an own key in the copy', () => {
    const text = '{"__proto__":{"x":12345678901234567890}}';
    const parsed = JSON.parse(text);
    const sent = withInexactNumbers(parsed, inexactNumbers(text))!;
    expect(Object.hasOwn(sent, '__proto__')).toBe(true);
    expect((sent as { ['__proto__']: { x: unknown } }).__proto__.x).toBeInstanceOf(InexactNumber);
    expect(Object.getPrototypeOf(sent)).toBe(Object.prototype);
  });
});
