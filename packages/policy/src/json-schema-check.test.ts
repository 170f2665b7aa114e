import { describe, expect, it } from 'vitest';
import { jsonSchemaProblem } from './json-schema-check.js';
import { parsePolicy } from './parse.js';

describe('validate.schema patterns', () => {
  it('accepts patterns RE2 runs, backtracking ones included (they are linear there)', () => {
    expect(jsonSchemaProblem({ properties: { s: { type: 'string', pattern: '^(a+)+$' } } })).toBeUndefined();
    expect(jsonSchemaProblem({ patternProperties: { '^x_[0-9]+$': { type: 'number' } } })).toBeUndefined();
  });

  it('refuses at load time a pattern RE2 cannot run, with where and why', () => {
    const problem = jsonSchemaProblem({ properties: { p: { type: 'string', pattern: '^(?=.*[A-Z])' } } });
    expect(problem).toMatch(/pattern "\^\(\?=\.\*\[A-Z\]\)": .*\(\?=.*linear-time \(RE2\) engine/);
    const r = parsePolicy(
      [
        'version: "1"',
        'tools:',
        '  t:',
        '    rules:',
        '      - { action: allow, validate: { schema: { properties: { p: { pattern: "(a)\\\\1" } } } } }',
        '',
      ].join('\n'),
    );
    expect(r.errors.map((e) => [e.code, e.line])).toEqual([['invalid-validate-schema', 5]]);
    expect(r.errors[0]!.message).toContain('RE2');
  });
});
