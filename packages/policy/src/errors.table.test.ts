import { describe, expect, it } from 'vitest';
import { POLICY_ERROR_CODES, type PolicyErrorCode } from './errors.js';
import { parsePolicy } from './parse.js';

/**
 * One invalid (or warned-about) policy per error code, with the exact position reported.
 * Positions are 1-based; they point at the offending value, or at the key for key problems.
 */
const V = 'version: "1"\n';
const rule = (body: string) => `${V}tools:\n  t:\n    rules:\n      - ${body}\n`;
// In `rule(...)` the rule body starts at line 5, column 9.

const cases: {
  code: PolicyErrorCode;
  yaml: string;
  line: number;
  column: number;
  toolNames?: string[];
  toolSchemas?: ReadonlyMap<string, unknown>;
}[] = [
  { code: 'input-too-large', yaml: `${V}description: "${'x'.repeat(1024 * 1024)}"\n`, line: 1, column: 1 },
  { code: 'yaml-syntax', yaml: `${V}description: "unterminated\n`, line: 3, column: 1 },
  {
    code: 'yaml-too-deep',
    yaml: `${V}description: ${'['.repeat(70)}${']'.repeat(70)}\n`,
    line: 2,
    column: 78,
  },
  {
    code: 'yaml-alias-limit',
    yaml: `${V}a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`,
    line: 1,
    column: 1,
  },
  { code: 'yaml-multiple-documents', yaml: `${V}---\n${V}`, line: 2, column: 1 },
  { code: 'yaml-unknown-tag', yaml: `${V}default: !foo deny\n`, line: 2, column: 10 },
  { code: 'yaml-complex-key', yaml: `${V}? [a, b]\n: x\n`, line: 2, column: 1 },
  { code: 'yaml-key-not-text', yaml: `${V}tools:\n  1.0: {}\n`, line: 3, column: 3 },
  { code: 'duplicate-key', yaml: `${V}default: allow\ndefault: deny\n`, line: 3, column: 1 },
  { code: 'not-a-mapping', yaml: '- version\n', line: 1, column: 1 },
  { code: 'missing-field', yaml: 'description: no version\n', line: 1, column: 1 },
  { code: 'unknown-key', yaml: `${V}defualt: deny\n`, line: 2, column: 1 },
  { code: 'invalid-type', yaml: `${V}hide: delete_repo\n`, line: 2, column: 7 },
  { code: 'invalid-version', yaml: 'version: 2\n', line: 1, column: 10 },
  { code: 'invalid-default', yaml: `${V}default: block\n`, line: 2, column: 10 },
  { code: 'invalid-action', yaml: rule('{ name: r, action: block }'), line: 5, column: 28 },
  { code: 'empty-name', yaml: rule('{ name: "", action: deny }'), line: 5, column: 17 },
  {
    code: 'duplicate-rule-name',
    yaml: `${rule('{ name: r, rate_limit: 1/day }')}      - { name: r, rate_limit: 2/day }\n`,
    line: 6,
    column: 17,
  },
  { code: 'hide-empty-entry', yaml: `${V}hide: [a, ""]\n`, line: 2, column: 11 },
  { code: 'hide-duplicate', yaml: `${V}hide:\n  - a\n  - b\n  - a\n`, line: 5, column: 5 },
  { code: 'invalid-glob', yaml: `${V}hide: ["delete_[abc"]\n`, line: 2, column: 8 },
  { code: 'empty-tool-key', yaml: `${V}tools:\n  "": { rules: [] }\n`, line: 3, column: 3 },
  {
    code: 'deny-with-conditions',
    yaml: rule('{ name: r, action: deny, conditions: [{ path: args.a, op: eq, value: 1 }] }'),
    line: 5,
    column: 34,
  },
  {
    code: 'deny-with-rate-limit',
    yaml: rule('{ name: r, action: deny, rate_limit: 1/day }'),
    line: 5,
    column: 34,
  },
  { code: 'evaluate-without-conditions', yaml: rule('{ name: r, on_deny: nope }'), line: 5, column: 9 },
  {
    code: 'invalid-path',
    yaml: rule('{ name: r, conditions: [{ path: arguments.a, op: eq, value: 1 }] }'),
    line: 5,
    column: 41,
  },
  {
    code: 'invalid-state-path',
    yaml: rule('{ name: r, conditions: [{ path: state.count, op: lt, value: 1 }] }'),
    line: 5,
    column: 41,
  },
  {
    code: 'unknown-operator',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: equals, value: 1 }] }'),
    line: 5,
    column: 53,
  },
  {
    code: 'value-not-list',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: in, value: usd }] }'),
    line: 5,
    column: 64,
  },
  {
    code: 'value-not-number',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: lte, value: "5" }] }'),
    line: 5,
    column: 65,
  },
  {
    code: 'value-not-boolean',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: exists, value: yes }] }'),
    line: 5,
    column: 68,
  },
  {
    code: 'value-not-string',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: regex, value: 5 }] }'),
    line: 5,
    column: 67,
  },
  {
    code: 'value-not-scalar',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: eq, value: [1, 2] }] }'),
    line: 5,
    column: 64,
  },
  {
    code: 'invalid-regex',
    yaml: rule(`{ name: r, conditions: [{ path: args.a, op: regex, value: "[a-" }] }`),
    line: 5,
    column: 67,
  },
  {
    code: 'regex-unsupported',
    yaml: rule(`{ name: r, conditions: [{ path: args.a, op: regex, value: "^(?!main$)" }] }`),
    line: 5,
    column: 67,
  },
  {
    code: 'counter-empty',
    yaml: rule('{ action: allow, state: { counter: "", window: day } }'),
    line: 5,
    column: 44,
  },
  {
    code: 'invalid-window',
    yaml: rule('{ action: allow, state: { counter: c, window: week } }'),
    line: 5,
    column: 55,
  },
  {
    code: 'invalid-increment',
    yaml: rule('{ action: allow, state: { counter: c, window: day, increment: -1 } }'),
    line: 5,
    column: 71,
  },
  {
    code: 'empty-list',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: in, value: [] }] }'),
    line: 5,
    column: 64,
  },
  {
    code: 'list-item-never-matches',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: not_in, value: [x, [rm, mv]] }] }'),
    line: 5,
    column: 72,
  },
  {
    code: 'wildcard-lists-nothing',
    yaml: `${V}default: deny\ntools:\n  "*":\n    rules: [{ name: g, rate_limit: 5/minute }]\n`,
    line: 2,
    column: 10,
  },
  {
    code: 'increment-ignored',
    yaml: rule('{ action: allow, state: { counter: c, window: day, increment: 0 } }'),
    line: 5,
    column: 71,
  },
  {
    code: 'increment-from-not-args',
    yaml: rule('{ action: allow, state: { counter: c, window: day, increment_from: amount } }'),
    line: 5,
    column: 76,
  },
  {
    code: 'counter-under-glob',
    yaml: `${V}tools:\n  "create_*":\n    rules:\n      - { action: allow, state: { counter: c, window: day } }\n`,
    line: 5,
    column: 26,
  },
  {
    code: 'undefined-counter',
    yaml: rule('{ name: r, conditions: [{ path: state.t.spend, op: lt, value: 1 }] }'),
    line: 5,
    column: 41,
  },
  {
    code: 'brace-alternative-space',
    yaml: `${V}tools:\n  "{a, b}":\n    rules: [{ action: deny }]\n`,
    line: 3,
    column: 3,
  },
  {
    code: 'counter-read-elsewhere',
    yaml: `${V}tools:\n  a:\n    rules:\n      - { name: r, state: { counter: n, window: day }, conditions: [{ path: state.a.n, op: lte, value: 3 }] }\n  b:\n    rules:\n      - { name: r, state: { counter: n, window: day }, conditions: [{ path: state.a.n, op: lte, value: 3 }] }\n`,
    line: 8,
    column: 77,
  },
  {
    code: 'duplicate-counter',
    yaml: `${rule('{ name: a, action: allow, state: { counter: c, window: day } }')}      - { name: b, action: allow, state: { counter: c, window: hour } }\n`,
    line: 6,
    column: 53,
  },
  { code: 'invalid-rate-limit', yaml: rule('{ name: r, rate_limit: 5 }'), line: 5, column: 32 },
  { code: 'invalid-rate-limit-count', yaml: rule('{ name: r, rate_limit: 0/hour }'), line: 5, column: 32 },
  {
    code: 'invalid-rate-limit-window',
    yaml: rule('{ name: r, rate_limit: { max: 5, window: 0 } }'),
    line: 5,
    column: 50,
  },
  {
    code: 'rate-limit-with-conditions',
    yaml: rule('{ name: r, rate_limit: 5/hour, conditions: [{ path: args.a, op: eq, value: 1 }] }'),
    line: 5,
    column: 20,
  },
  {
    code: 'invalid-validate-schema',
    yaml: rule('{ name: r, validate: { schema: [1] } }'),
    line: 5,
    column: 40,
  },
  {
    code: 'unreachable-rule',
    yaml: `${rule('{ name: a, action: deny }')}      - { name: b, rate_limit: 1/day }\n`,
    line: 6,
    column: 9,
  },
  { code: 'hidden-tool-has-rules', yaml: `${V}hide: [t]\ntools:\n  t: { rules: [] }\n`, line: 4, column: 3 },
  {
    code: 'unlisted-tool',
    yaml: `${V}tools:\n  wirte_file: {}\n`,
    line: 3,
    column: 3,
    toolNames: ['write_file'],
  },
  {
    code: 'unknown-argument',
    yaml: `${V}tools:\n  write_file:\n    rules: [{ name: r, conditions: [{ path: args.pth, op: regex, value: "^/srv" }] }]\n`,
    line: 4,
    column: 45,
    toolSchemas: new Map([['write_file', { type: 'object', properties: { path: { type: 'string' } } }]]),
  },
  {
    code: 'regex-on-list',
    yaml: `${V}tools:\n  read_files:\n    rules: [{ name: r, conditions: [{ path: args.paths, op: regex, value: "^/srv" }] }]\n`,
    line: 4,
    column: 45,
    toolSchemas: new Map([['read_files', { type: 'object', properties: { paths: { type: 'array' } } }]]),
  },
  {
    code: 'denied-by-wildcard',
    yaml: `${V}tools:\n  read_file:\n    rules: [{ name: r, rate_limit: 5/minute }]\n  "*":\n    rules: [{ name: no, action: deny }]\n`,
    line: 3,
    column: 3,
  },
  { code: 'rule-has-no-effect', yaml: rule('{ name: r, action: allow }'), line: 5, column: 9 },
  {
    code: 'replacement-character',
    yaml: `${V}description: "caf\uFFFD"\n`,
    line: 2,
    column: 18,
  },
  {
    code: 'inexact-number',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: eq, value: 9007199254740993 }] }'),
    line: 5,
    column: 64,
  },
  {
    code: 'yaml-11-boolean',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: eq, value: no }] }'),
    line: 5,
    column: 64,
  },
  {
    code: 'yaml-11-octal',
    yaml: rule('{ name: r, conditions: [{ path: args.mode, op: lte, value: 0755 }] }'),
    line: 5,
    column: 68,
  },
  {
    code: 'yaml-number-as-text',
    yaml: rule('{ name: r, conditions: [{ path: args.port, op: not_in, value: [3_306, 5432] }] }'),
    line: 5,
    column: 72,
  },
  {
    code: 'yaml-merge-key',
    yaml: `${V}lim: &lim { rate_limit: 5/minute }\ntools:\n  t:\n    rules:\n      - name: r\n        <<: *lim\n`,
    line: 7,
    column: 9,
  },
  {
    code: 'invisible-text',
    yaml: rule('{ name: r, conditions: [{ path: "args.force ", op: exists, value: false }] }'),
    line: 5,
    column: 41,
  },
  {
    code: 'regex-empty',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: regex, value: "" }] }'),
    line: 5,
    column: 67,
  },
  {
    code: 'regex-js-delimiters',
    yaml: rule('{ name: r, conditions: [{ path: args.a, op: regex, value: "/abc/i" }] }'),
    line: 5,
    column: 67,
  },
];

const WARNINGS: readonly PolicyErrorCode[] = [
  'unreachable-rule',
  'hidden-tool-has-rules',
  'denied-by-wildcard',
  'unlisted-tool',
  'unknown-argument',
  'regex-on-list',
  'rule-has-no-effect',
  'replacement-character',
  'regex-empty',
  'regex-js-delimiters',
  'yaml-11-boolean',
  'yaml-11-octal',
  'invisible-text',
  'increment-ignored',
  'wildcard-lists-nothing',
  'empty-list',
  'list-item-never-matches',
  'counter-read-elsewhere',
];

describe('error table: one policy per code, exact position', () => {
  it('covers every code', () => {
    expect(new Set(cases.map((c) => c.code))).toEqual(new Set(Object.keys(POLICY_ERROR_CODES)));
  });

  it.each(cases)('$code at $line:$column', ({ code, yaml, line, column, toolNames, toolSchemas }) => {
    const parsed = parsePolicy(yaml, {
      filename: 'p.yaml',
      ...(toolNames ? { toolNames } : {}),
      ...(toolSchemas ? { toolSchemas } : {}),
    });
    const all = [...parsed.errors, ...parsed.warnings];
    const found = all.filter((e) => e.code === code);
    expect(found, JSON.stringify(all, null, 1)).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: 'p.yaml', code, line, column });
    expect(found[0]!.message.length).toBeGreaterThan(10);
    const isWarning = WARNINGS.includes(code);
    expect(found[0]!.severity).toBe(isWarning ? 'warning' : 'error');
    // Warnings alone never block loading; errors always do.
    if (isWarning) expect(parsed.errors).toEqual([]);
    else expect(parsed.document).toBeUndefined();
  });
});
