import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import { PolicyCompileError } from './errors.js';
import { loadPolicy } from './load.js';
import { parsePolicy } from './parse.js';

const DIR = fileURLToPath(new URL('../../../examples/policies/', import.meta.url));
const examples = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(DIR + f, 'utf8'));

function checkResult(text: string): void {
  const r = loadPolicy(text, { filename: 'fuzz.yaml' });
  if (r.ok) {
    expect(r.policy.hash).toMatch(/^[0-9a-f]{64}$/);
    for (const name of ['create_issue', 'read_file', 'x', '']) {
      r.policy.rulesFor(name);
      r.policy.isHidden(name);
      r.policy.isListed(name);
    }
  } else {
    expect(r.errors.length).toBeGreaterThan(0);
    for (const e of r.errors) {
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.column).toBeGreaterThanOrEqual(1);
      expect(typeof e.code).toBe('string');
    }
  }
}

const junk = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    ':',
    '- ',
    '[',
    ']',
    '{',
    '}',
    '"',
    "'",
    '&a',
    '*a',
    '!!str',
    '#',
    '\n',
    '\t',
    '---',
    'null',
    '~',
    '-1',
    '1e999',
    'args.',
    'state.',
    '*',
    '?',
  ),
  fc.string({ maxLength: 8 }),
);

/** A plain value that YAML could produce, to drop into random spots of a valid document. */
const yamlValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string({ maxLength: 6 }),
    fc.constantFrom(
      'eq',
      'regex',
      'lte',
      'deny',
      'allow',
      'minute',
      '5/hour',
      'args.a',
      'state._global.c',
      '(a)\\1',
      '[',
      '*',
    ),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('path', 'op', 'value', 'rules', 'name', 'action', 'state', 'counter', 'x'),
      tie('v'),
      { maxKeys: 3 },
    ),
  ),
})).v;

function mutate(doc: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || doc === null || typeof doc !== 'object') return value;
  const keys = Object.keys(doc as object);
  if (keys.length === 0) return value;
  const k = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(doc) ? ([...doc] as never) : { ...(doc as object) };
  copy[k] = mutate((doc as Record<string, unknown>)[k], path.slice(1), value);
  return copy;
}

describe('random mutations never throw, only return results', () => {
  it('text mutations: insert, delete and replace characters', () => {
    fc.assert(
      fc.property(fc.constantFrom(...examples), fc.nat(), fc.nat({ max: 20 }), junk, (text, at, del, ins) => {
        const i = at % (text.length + 1);
        checkResult(text.slice(0, i) + ins + text.slice(i + del));
      }),
      { numRuns: 250 },
    );
  });

  it('structural mutations: replace any node of a valid document with any value', () => {
    const docs = examples.map((t) => {
      const r = parsePolicy(t);
      return r.value;
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...docs),
        fc.array(fc.nat(), { maxLength: 8 }),
        yamlValue,
        (doc, path, value) => {
          const mutated = mutate(doc, path, value);
          try {
            const p = compilePolicy(mutated as never);
            expect(p.hash).toMatch(/^[0-9a-f]{64}$/);
          } catch (e) {
            // The only exception compilePolicy may raise is the documented one.
            expect(e).toBeInstanceOf(PolicyCompileError);
            expect((e as PolicyCompileError).errors.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 250 },
    );
  });
});
