import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import { emitPolicy } from './emit.js';
import { PolicyCompileError } from './errors.js';
import { loadPolicy } from './load.js';
import { parsePolicy } from './parse.js';
import type { PolicyDocument } from './schema.js';

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
    // 250 full parses: seconds on a quiet machine, far more on a loaded 2-core CI box.
  }, 180_000);

  it('arbitrary text, including unicode and YAML punctuation', () => {
    const punct = fc.constantFrom(
      '[',
      ']',
      '{',
      '}',
      ':',
      '- ',
      '"',
      "'",
      '&x ',
      '*x',
      '\n',
      '  ',
      '#',
      '!!',
      '|',
      '>',
      '%YAML 1.2\n',
      '---\n',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), punct), { maxLength: 40 }), (parts) => {
        checkResult(parts.join(''));
        checkResult(`version: "1"\n${parts.join('')}`);
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

/** Arbitrary valid documents: every generated one must load, and survive emit -> load unchanged. */
const ident = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);
const condition = fc.oneof(
  fc.record({
    path: fc.constant('args.a'),
    op: fc.constantFrom('lt', 'lte', 'gt', 'gte'),
    value: fc.integer(),
  }),
  fc.record({
    path: fc.constant('args.b.c'),
    op: fc.constantFrom('eq', 'neq', 'contains'),
    value: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
  }),
  fc.record({
    path: fc.constant('args.d'),
    op: fc.constantFrom('in', 'not_in'),
    value: fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }),
  }),
  fc.record({ path: fc.constant('args.e'), op: fc.constant('exists'), value: fc.boolean() }),
  fc.record({
    path: fc.constant('args.f'),
    op: fc.constant('regex'),
    value: fc.constantFrom('^feat/', '(a+)+$', '[0-9]{3}', '(?i)main', '\\d+\\.\\d+'),
  }),
);
const ruleArb = fc.oneof(
  fc.record(
    { name: ident, conditions: fc.array(condition, { minLength: 1, maxLength: 3 }) },
    { requiredKeys: ['conditions'] },
  ),
  fc.record(
    {
      name: ident,
      action: fc.constant('allow' as const),
      rate_limit: fc.oneof(
        fc
          .tuple(fc.integer({ min: 1, max: 1000 }), fc.constantFrom('minute', 'hour', 'day'))
          .map(([n, w]) => `${n}/${w}`),
        fc.record({
          max: fc.integer({ min: 1, max: 1000 }),
          window: fc.oneof(fc.integer({ min: 1, max: 86_400 }), fc.constantFrom('30s', '5m', '1h', '1d')),
        }),
      ),
      validate: fc.record({ required_args: fc.boolean() }),
    },
    { requiredKeys: ['action', 'rate_limit'] },
  ),
  fc.record(
    {
      name: ident,
      action: fc.constant('deny' as const),
      on_deny: fc.string({ minLength: 1 }).filter((s) => s.trim() !== ''),
    },
    { requiredKeys: ['action'] },
  ),
);
const docArb = fc
  .record(
    {
      version: fc.constant('1' as const),
      description: fc.string(),
      default: fc.constantFrom('allow' as const, 'deny' as const),
      hide: fc.uniqueArray(ident, { maxLength: 3 }),
      tools: fc.dictionary(
        fc.oneof(ident, fc.constantFrom('*', 'read_*', 'get_{a,b}')),
        fc.record({ rules: fc.array(ruleArb, { maxLength: 3 }) }),
        { maxKeys: 4 },
      ),
    },
    { requiredKeys: ['version'] },
  )
  .map((doc) => {
    // Keep rule names unique per entry and drop rules after a deny: both would be reported.
    for (const entry of Object.values(doc.tools ?? {})) {
      const seen = new Set<string>();
      let denied = false;
      entry.rules = entry.rules.filter((r) => {
        if (denied || (r.name !== undefined && seen.has(r.name))) return false;
        if (r.name !== undefined) seen.add(r.name);
        if ('action' in r && r.action === 'deny') denied = true;
        return true;
      });
    }
    if (doc.hide && doc.tools) doc.hide = doc.hide.filter((h) => !(h in doc.tools!));
    return doc;
  });

describe('generated valid documents', () => {
  it('load, and emit -> load keeps the same hash', () => {
    fc.assert(
      fc.property(docArb, (doc) => {
        const text = emitPolicy(doc as PolicyDocument);
        const r = loadPolicy(text);
        if (!r.ok)
          throw new Error(
            `${text}\n${r.errors.map((e) => `${e.line}:${e.column} ${e.code} ${e.message}`).join('\n')}`,
          );
        expect(r.policy.hash).toBe(compilePolicy(doc as PolicyDocument).hash);
        expect(emitPolicy(r.document)).toBe(text);
      }),
      { numRuns: 150 },
    );
  });
});
