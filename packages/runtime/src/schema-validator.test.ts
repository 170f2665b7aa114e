import { describe, expect, it } from 'vitest';
import { SchemaValidator } from './schema-validator.js';

describe('SchemaValidator', () => {
  it('runs pattern and patternProperties on RE2: a backtracking pattern cannot stall it', () => {
    const v = new SchemaValidator();
    const schema = {
      type: 'object',
      properties: { s: { type: 'string', pattern: '^(a+)+$' }, t: { type: 'string', pattern: '^b' } },
      patternProperties: { '^x_': { type: 'number' } },
    };
    // 60 a's and a '!': JavaScript's engine would backtrack for longer than the test may run.
    expect(v.validate(schema, { s: `${'a'.repeat(60)}!`, t: 'b', x_1: 1 })).toEqual({
      ok: false,
      errors: ['/s must match pattern "^(a+)+$"'],
    });
    expect(v.validate(schema, { s: 'aaa', t: 'c', x_1: 'no' })).toEqual({
      ok: false,
      errors: ['/t must match pattern "^b"', '/x_1 must be number'],
    });
    expect(v.validate(schema, { s: 'aaa', t: 'b', x_1: 2 })).toEqual({ ok: true });
  });

  it('does not check a pattern RE2 cannot run (a server schema with lookaround), and checks the rest', () => {
    const v = new SchemaValidator();
    const schema = {
      type: 'object',
      properties: { p: { type: 'string', pattern: '^(?=.*[A-Z]).{8,}$' }, n: { type: 'number' } },
    };
    expect(v.validate(schema, { p: 'short', n: 1 })).toEqual({ ok: true });
    expect(v.validate(schema, { p: 'short', n: 'x' })).toEqual({ ok: false, errors: ['/n must be number'] });
  });
});
