import { describe, expect, it } from 'vitest';
import { jsonSchemaDialect, jsonSchemaProblem } from './json-schema-check.js';
import { parsePolicy } from './parse.js';

describe('validate.schema patterns', () => {
  it('accepts patterns RE2 runs, backtracking ones included (they are linear there)', () => {
    expect(jsonSchemaProblem({ properties: { s: { type: 'string', pattern: '^(a+)+$' } } })).toBeUndefined();
    expect(jsonSchemaProblem({ patternProperties: { '^x_[0-9]+$': { type: 'number' } } })).toBeUndefined();
  });

  it('refuses at load time a pattern RE2 cannot run, with where and why', () => {
    const problem = jsonSchemaProblem({ properties: { p: { type: 'string', pattern: '^(?=.*[A-Z])' } } });
    expect(problem?.message).toMatch(/pattern "\^\(\?=\.\*\[A-Z\]\)": .*\(\?=.*linear-time \(RE2\) engine/);
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

describe('validate.schema strictness: what JSON Schema would silently ignore fails the policy', () => {
  const policy = (schema: string) =>
    parsePolicy(
      [
        'version: "1"',
        'tools:',
        '  t:',
        '    rules:',
        '      - name: r',
        `        validate: { schema: ${schema} }`,
        '',
      ].join('\n'),
    );

  it('an unknown keyword is an error at that key, with the keyword meant', () => {
    const r = policy('{ type: object, properties: { path: { type: string, patern: "^/srv/" } } }');
    expect(r.errors.map((e) => [e.code, e.line, e.column, e.message, e.hint])).toEqual([
      [
        'invalid-validate-schema',
        6,
        81,
        'validate.schema is not a usable JSON Schema: unknown keyword "patern": JSON Schema would ignore it, and the check with it',
        'did you mean `pattern`?',
      ],
    ]);
  });

  it('a draft-07 tuple under items is one error at items, naming prefixItems; with its $schema it loads', () => {
    const r = policy('{ type: object, properties: { a: { type: array, items: [{ type: string }] } } }');
    expect(r.errors.map((e) => [e.code, e.line, e.column, e.message, e.hint])).toEqual([
      [
        'invalid-validate-schema',
        6,
        77,
        'validate.schema is not a usable JSON Schema: schema/properties/a/items must be object,boolean',
        'a list under `items` is the draft-07 tuple form: write `prefixItems` (JSON Schema 2020-12), or give `$schema: "http://json-schema.org/draft-07/schema#"`',
      ],
    ]);
    expect(
      policy(
        '{ $schema: "http://json-schema.org/draft-07/schema#", type: object, properties: { a: { type: array, items: [{ type: string }] } } }',
      ).errors,
    ).toEqual([]);
    expect(
      policy('{ type: object, properties: { a: { type: array, prefixItems: [{ type: string }] } } }').errors,
    ).toEqual([]);
  });

  it('a problem inside a list of schemas is placed at the list item', () => {
    const r = parsePolicy(
      [
        'version: "1"',
        'tools:',
        '  t:',
        '    rules:',
        '      - name: r',
        '        validate:',
        '          schema:',
        '            allOf:',
        '              - { type: object }',
        '              - { type: objet }',
        '',
      ].join('\n'),
    );
    expect(r.errors.map((e) => [e.code, e.line, e.column])).toEqual([['invalid-validate-schema', 10, 19]]);
  });

  it('an unknown format is an error at its format key; known formats are fine', () => {
    const r = policy('{ properties: { u: { type: string, format: emial } } }');
    expect(r.errors.map((e) => [e.code, e.line, e.column, e.message])).toEqual([
      [
        'invalid-validate-schema',
        6,
        64,
        'validate.schema is not a usable JSON Schema: unknown format "emial": JSON Schema would ignore it, and the check with it',
      ],
    ]);
    expect(
      policy('{ properties: { u: { type: string, format: email }, d: { format: date-time } } }').errors,
    ).toEqual([]);
  });

  it('takes every dialect the runtime checks with; an unknown $schema is read as 2020-12', () => {
    for (const uri of [
      'http://json-schema.org/draft-04/schema#',
      'http://json-schema.org/draft-06/schema#',
      'http://json-schema.org/draft-07/schema#',
      'https://json-schema.org/draft/2019-09/schema',
      'https://json-schema.org/draft/2020-12/schema',
      'https://example.com/my-dialect',
    ]) {
      expect(
        jsonSchemaProblem({ $schema: uri, type: 'object', properties: { n: { maximum: 10 } } }),
        uri,
      ).toBe(undefined);
    }
    // draft-07 has no `prefixItems`: as an unknown keyword there it is refused; in 2020-12 it is known.
    expect(
      jsonSchemaProblem({
        $schema: 'http://json-schema.org/draft-07/schema#',
        prefixItems: [{ type: 'string' }],
      })?.message,
    ).toBe('unknown keyword "prefixItems": JSON Schema would ignore it, and the check with it');
    expect(jsonSchemaProblem({ prefixItems: [{ type: 'string' }] })).toBe(undefined);
  });

  it('picks the dialect as the runtime does (one rule): draft-05, which does not exist, is 2020-12', () => {
    const d = (uri: string) => jsonSchemaDialect({ $schema: uri });
    expect(
      [
        'http://json-schema.org/draft-04/schema#',
        'http://json-schema.org/draft-05/schema#',
        'http://json-schema.org/draft-07/schema#',
        'https://json-schema.org/draft/2019-09/schema',
        'urn:other',
      ].map(d),
    ).toEqual(['draft7', 'draft2020', 'draft7', 'draft2019', 'draft2020']);
    // So a draft-05 tuple `items: [...]` is refused at load time, not left to deny every call.
    expect(
      jsonSchemaProblem({ $schema: 'http://json-schema.org/draft-05/schema#', items: [{ type: 'string' }] })
        ?.message,
    ).toMatch(/must be object,boolean/);
  });

  it('annotations and the usual structure stay valid', () => {
    expect(
      jsonSchemaProblem({
        title: 't',
        description: 'd',
        $comment: 'c',
        type: 'object',
        required: ['a'],
        additionalProperties: false,
        properties: {
          a: { type: 'string', examples: ['x'], default: 'x', minLength: 1 },
          b: { enum: [1, 2] },
        },
      }),
    ).toBe(undefined);
  });
});
