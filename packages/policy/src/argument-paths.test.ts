import { describe, expect, it } from 'vitest';
import { parsePolicy } from './parse.js';

const schemas = new Map<string, unknown>([
  ['write_file', { type: 'object', properties: { path: { type: 'string' }, content: { type: 'string' } } }],
  ['edit_file', { type: 'object', properties: { path: { type: 'string' }, edits: { type: 'array' } } }],
  ['read_multiple_files', { type: 'object', properties: { paths: { type: 'array' } } }],
  ['read_some', { type: 'object', properties: { paths: { type: ['array', 'null'] } } }],
  ['free_form', { type: 'object' }],
  ['open_ended', { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: true }],
  [
    'branching',
    {
      type: 'object',
      properties: { mode: {} },
      oneOf: [{ properties: { url: {} } }, { properties: { path: {} } }],
    },
  ],
]);
const warnings = (tools: string) =>
  parsePolicy(`version: "1"\ntools:\n${tools}`, { filename: 'p.yaml', toolSchemas: schemas })
    .warnings.filter((w) => w.code === 'unknown-argument' || w.code === 'regex-on-list')
    .map((w) => `${w.line}:${w.column} ${w.code}: ${w.message}${w.hint ? ` (${w.hint})` : ''}`);

describe('condition paths against the tools inputSchemas (validate --server)', () => {
  it('names an argument no tool of the key declares, with the one meant', () => {
    expect(
      warnings(
        `  write_file:\n    rules: [{ name: r, conditions: [{ path: args.pth, op: not_regex, value: x }] }]\n`,
      ),
    ).toEqual([
      '4:45 unknown-argument: args.pth: "pth" is no argument of "write_file" (inputSchema), so the condition finds nothing and fails on every call (did you mean `args.path`?)',
    ]);
  });
  it('under a glob or "*", names the tools the rule denies on every call because they lack the argument', () => {
    expect(
      warnings(
        `  "*_file":\n    rules: [{ name: r, conditions: [{ path: args.edits.0, op: exists, value: true }] }]\n`,
      ),
    ).toEqual([
      '4:45 unknown-argument: args.edits.0: 1 of the 2 tools "*_file" matches takes no "edits" argument ("write_file"), so the condition fails, and the rule denies, every call to them (put the rule under a key naming only the tools that take "edits")',
    ]);
    // "*" names every listed tool; those whose schema admits anything are not judged.
    expect(
      warnings(
        `  "*":\n    rules: [{ name: r, conditions: [{ path: args.path, op: not_regex, value: x }] }]\n`,
      ),
    ).toEqual([
      '4:45 unknown-argument: args.path: 2 of the 7 tools "*" matches take no "path" argument ("read_multiple_files", "read_some"), so the condition fails, and the rule denies, every call to them (put the rule under a key naming only the tools that take "path")',
    ]);
    // Every tool of the glob takes it: nothing to say.
    expect(
      warnings(
        `  "{write,edit}_file":\n    rules: [{ name: r, conditions: [{ path: args.path, op: regex, value: x }] }]\n`,
      ),
    ).toEqual([]);
    expect(
      warnings(
        `  "{write,edit}_file":\n    rules: [{ name: r, conditions: [{ path: args.paht, op: regex, value: x }] }]\n`,
      ),
    ).toEqual([
      '4:45 unknown-argument: args.paht: "paht" is no argument of any of the 2 tools "{write,edit}_file" matches (inputSchema), so the condition finds nothing and fails on every call (did you mean `args.path`?)',
    ]);
  });
  it('says a regex on a list argument fails on every call', () => {
    expect(
      warnings(
        `  read_multiple_files:\n    rules: [{ name: r, conditions: [{ path: args.paths, op: regex, value: "^/srv" }] }]\n`,
      ),
    ).toEqual([
      '4:45 regex-on-list: args.paths is a list in the inputSchema of "read_multiple_files": regex tests strings, so it fails on every call (to confine every element, use a validate.schema with an items pattern, or not_regex (which searches every element); see "Lists of paths" in docs/policy-reference.md)',
    ]);
    expect(
      warnings(
        `  read_some:\n    rules: [{ name: r, conditions: [{ path: args.paths, op: regex, value: "^/srv" }] }]\n`,
      ),
    ).toEqual([
      '4:45 regex-on-list: args.paths is a list in the inputSchema of "read_some": regex tests strings, so it fails on every call (to confine every element, use a validate.schema with an items pattern, or not_regex (which searches every element); see "Lists of paths" in docs/policy-reference.md)',
    ]);
    // An element of the list is a string: fine.
    expect(
      warnings(
        `  read_multiple_files:\n    rules: [{ name: r, conditions: [{ path: args.paths.0, op: regex, value: "^/srv" }] }]\n`,
      ),
    ).toEqual([]);
  });
  it('leaves alone what it cannot judge: exists false, schemas without properties or open to more, unlisted tools', () => {
    expect(
      warnings(
        '  write_file:\n    rules: [{ name: r, conditions: [{ path: args.force, op: exists, value: false }] }]\n' +
          '  free_form:\n    rules: [{ name: f, conditions: [{ path: args.anything, op: eq, value: 1 }] }]\n' +
          '  not_listed:\n    rules: [{ name: n, conditions: [{ path: args.x, op: eq, value: 1 }] }]\n' +
          '  open_ended:\n    rules: [{ name: o, conditions: [{ path: args.extra, op: eq, value: 1 }] }]\n' +
          '  branching:\n    rules: [{ name: b, conditions: [{ path: args.path, op: regex, value: x }] }]\n',
      ),
    ).toEqual([]);
  });
});

describe('members below an argument (validate --server)', () => {
  const charge = new Map<string, unknown>([
    [
      'create_charge',
      {
        type: 'object',
        properties: {
          payment: {
            type: 'object',
            properties: { amount: { type: 'number' }, currency: { type: 'string' } },
            required: ['amount'],
          },
          metadata: { type: 'object', additionalProperties: { type: 'string' } },
          lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } } } },
        },
      },
    ],
  ]);
  const w = (path: string) =>
    parsePolicy(
      `version: "1"\ntools:\n  create_charge:\n    rules: [{ name: r, conditions: [{ path: ${path}, op: exists, value: true }] }]\n`,
      { filename: 'p.yaml', toolSchemas: charge },
    ).warnings.map((e) => `${e.code}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
  it('names a member the schema of its parent does not declare, with the one meant', () => {
    expect(w('args.payment.amout')).toEqual([
      'unknown-argument: args.payment.amout: "payment" of "create_charge" has no member "amout" (inputSchema), so the condition finds nothing and fails on every call (did you mean `args.payment.amount`?)',
    ]);
    expect(w('args.payment.amount.cents')).toEqual([]);
    expect(w('args.payment.zzzzzz')).toEqual([
      'unknown-argument: args.payment.zzzzzz: "payment" of "create_charge" has no member "zzzzzz" (inputSchema), so the condition finds nothing and fails on every call (the members of "payment": amount, currency)',
    ]);
  });
  it('leaves alone members it cannot judge: declared ones, open maps, list elements', () => {
    expect(w('args.payment.currency')).toEqual([]);
    expect(w('args.metadata.anything')).toEqual([]);
    expect(w('args.lines.0.skew')).toEqual([]);
  });
});
