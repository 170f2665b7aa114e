import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { compilePolicy, rateLimitKey } from './compile.js';
import { PolicyCompileError } from './errors.js';
import { loadPolicy } from './load.js';
import { parsePolicy } from './parse.js';
import { globToRe2, toolGlobMatcher } from './tool-glob.js';

const POLICY = `version: "1"
description: compile fixture
default: deny
hide: [secret_tool, "admin_*"]
tools:
  create_charge:
    rules:
      - name: max single charge
        conditions:
          - { path: args.amount, op: lte, value: 50000 }
      - conditions:
          - { path: state.create_charge.daily_spend, op: lte, value: 1000000 }
        state: { counter: daily_spend, window: day, increment_from: args.payment.amount }
      - rate_limit: 5/hour
  "create_*":
    rules:
      - name: creations
        rate_limit: { max: 10, window: 5m }
  "*":
    rules:
      - name: global
        conditions:
          - { path: state._global.calls, op: lt, value: 60 }
          - { path: args.branch, op: regex, value: "^(a+)+$" }
        state: { counter: calls, window: minute, increment: 2 }
`;

function load() {
  const r = loadPolicy(POLICY, { filename: 'fixture.yaml' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}

describe('compilePolicy', () => {
  it('names rules, scopes rate limits and counters', () => {
    const p = load();
    expect(p.default).toBe('deny');
    expect(p.description).toBe('compile fixture');
    const rules = p.rulesFor('create_charge');
    expect(rules.map((r) => r.name)).toEqual([
      'max single charge',
      'create_charge#2',
      'create_charge#3',
      'creations',
      'global',
    ]);
    expect(rules.map((r) => r.toolKey)).toEqual([
      'create_charge',
      'create_charge',
      'create_charge',
      'create_*',
      '*',
    ]);
    expect(rules[2]!.rateLimit).toEqual({
      kind: 'fixed',
      max: 5,
      window: 'hour',
      windowMs: 3_600_000,
      key: 'rl:create_charge:create_charge%233',
    });
    expect(rules[3]!.rateLimit).toEqual({
      kind: 'sliding',
      max: 10,
      windowMs: 300_000,
      key: 'rl:create_*:creations',
    });
    expect(rules[1]!.state).toEqual({
      id: 'create_charge.daily_spend',
      scope: 'create_charge',
      name: 'daily_spend',
      window: 'day',
      windowMs: 86_400_000,
      increment: 1,
      incrementFrom: ['payment', 'amount'],
      incrementFromPath: 'args.payment.amount',
    });
    expect(rules[4]!.state).toMatchObject({
      id: '_global.calls',
      scope: '_global',
      increment: 2,
      windowMs: 60_000,
    });
    expect([...p.counters.keys()]).toEqual(['_global.calls', 'create_charge.daily_spend']);
    const cond = rules[1]!.conditions[0]!;
    expect(cond).toMatchObject({
      source: 'state',
      segments: ['create_charge', 'daily_spend'],
      counterId: 'create_charge.daily_spend',
      op: 'lte',
      value: 1000000,
    });
    expect(cond.location).toEqual({ file: 'fixture.yaml', line: 12, column: 13 });
    expect(rules[0]!.conditions[0]).toMatchObject({
      source: 'args',
      segments: ['amount'],
      path: 'args.amount',
    });
    expect(rules[0]!.location).toEqual({ file: 'fixture.yaml', line: 8, column: 9 });
  });

  it('orders rules exact, then globs in file order, then "*"', () => {
    const p = load();
    expect(p.rulesFor('create_refund').map((r) => r.name)).toEqual(['creations', 'global']);
    expect(p.rulesFor('read_file').map((r) => r.name)).toEqual(['global']);
    expect(p.rulesFor('create_refund')).toBe(p.rulesFor('create_refund')); // memoised
  });

  it('lists every tools: entry, exact then globs then "*", with their kinds', () => {
    const p = load();
    expect(p.entries.map((e) => [e.key, e.kind])).toEqual([
      ['create_charge', 'exact'],
      ['create_*', 'glob'],
      ['*', 'wildcard'],
    ]);
  });

  it('answers isListed and isHidden', () => {
    const p = load();
    expect(p.isListed('create_charge')).toBe(true);
    expect(p.isListed('create_refund')).toBe(true); // glob entry
    expect(p.isListed('read_file')).toBe(false); // only "*" applies: not listed
    expect(p.isHidden('secret_tool')).toBe(true);
    expect(p.isHidden('admin_delete')).toBe(true);
    expect(p.isHidden('administrator')).toBe(false);
    expect(p.isHidden('create_charge')).toBe(false);
    const all = loadPolicy('version: "1"\nhide: ["*"]\n');
    expect(all.ok && all.policy.isHidden('anything')).toBe(true);
  });

  it('matches tool names holding "/" or "\\" with globs as any other character (names are not paths)', () => {
    const r = loadPolicy(
      [
        'version: "1"',
        'default: deny',
        'hide: ["delete_*", "*_admin", "x?y"]',
        'tools:',
        '  read_*:',
        '    rules: [{ name: reads, conditions: [{ path: args.path, op: regex, value: "^/tmp/" }] }]',
        '  "ns/exact_*":',
        '    rules: [{ name: ns, rate_limit: 5/minute }]',
        '',
      ].join('\n'),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const p = r.policy;
    // `*` and `?` match `/` and `\` (picomatch alone would treat them as path separators).
    expect(p.isHidden('delete_repo/force')).toBe(true);
    expect(p.isHidden('delete_repo\\force')).toBe(true);
    expect(p.isHidden('a/b_admin')).toBe(true);
    expect(p.isHidden('x/y')).toBe(true);
    expect(p.isHidden('x//y')).toBe(false); // `?` is one character
    expect(p.rulesFor('read_fs/file').map((x) => x.name)).toEqual(['reads']);
    expect(p.isListed('read_fs/file')).toBe(true);
    // A `/` in a glob matches a `/` and nothing else.
    expect(p.rulesFor('ns/exact_one').map((x) => x.name)).toEqual(['ns']);
    expect(p.rulesFor('ns_exact_one')).toEqual([]);
    expect(p.isListed('nsXexact_one')).toBe(false);
    // A name that already holds the first private-use character still matches exactly.
    expect(p.isHidden('delete_\uE000/x')).toBe(true);
    expect(p.rulesFor('ns\uE000exact_one')).toEqual([]);
    // `?` is one character, one outside the BMP included.
    expect(p.isHidden('x\u{1F600}y')).toBe(true);
  });

  it('matches tool-name globs in linear time, whatever name the client sends', () => {
    const m = toolGlobMatcher(['*_*_*_*_delete', 'delete_*', '{a,b}?[!x]*']);
    // Backtracking engines take minutes on these; RE2 does not.
    expect(m('_'.repeat(20_000))).toBe(false);
    expect(m(`x/${'\uE000'.repeat(100_000)}`)).toBe(false);
    expect(m(`a_b_c_d_delete`)).toBe(true);
    expect(m('ayz')).toBe(true);
    expect(m('ayx')).toBe(false);
    expect(m('delete_repo/force')).toBe(true);
  });

  it('translates the documented glob syntax to RE2', () => {
    expect(globToRe2('read_*')).toBe('read_.*');
    expect(globToRe2('a?b')).toBe('a.b');
    expect(globToRe2('delete_{observations,relations}')).toBe('delete_(?:observations|relations)');
    expect(globToRe2('[abc]x[!d-f]')).toBe('[abc]x[^d-f]');
    expect(globToRe2('github.*')).toBe('github\\..*');
    expect(globToRe2('a\\*b')).toBe('a\\*b');
    expect(globToRe2('x(y)+$')).toBe('x\\(y\\)\\+\\$');
  });

  it('reads `\\` inside a class as an escape, as outside one (and as picomatch does)', () => {
    const dash = toolGlobMatcher('t[a\\-z]');
    expect(['ta', 't-', 'tz'].map(dash)).toEqual([true, true, true]);
    expect(['tb', 't_', 't\\'].map(dash)).toEqual([false, false, false]);
    const bracket = toolGlobMatcher('q[\\]]');
    expect(['q]', 'q\\'].map(bracket)).toEqual([true, false]);
    // An escaped letter is the letter, not an RE2 class such as \d.
    const letter = toolGlobMatcher('v[\\d]');
    expect(['vd', 'v1'].map(letter)).toEqual([true, false]);
  });

  it('refuses a reversed character range with its position, as a tool key and in hide (it threw before)', () => {
    const r = parsePolicy(
      'version: "1"\nhide: ["x[z-a]"]\ntools:\n  "delete_[z-a]":\n    rules:\n      - { name: no, action: deny }\n  "e[😂-😀]": {}\n',
    );
    expect(r.errors.map((e) => [e.code, e.line, e.column, e.message])).toEqual([
      ['invalid-glob', 2, 8, 'hide[0]: invalid glob "x[z-a]": invalid character class range: `z-a`'],
      ['invalid-glob', 4, 3, 'invalid glob "delete_[z-a]": invalid character class range: `z-a`'],
      ['invalid-glob', 7, 3, 'invalid glob "e[😂-😀]": invalid character class range: `😂-😀`'],
    ]);
    expect(r.errors[0]!.hint).toBe(
      'a character range runs from the lower character to the higher one: [a-z], not [z-a]',
    );
  });

  it('refuses shell and picomatch glob syntax it does not have, instead of matching it as text', () => {
    for (const [glob, problem] of [
      ['tool_{1..3}', 'brace ranges ("{1..3}") are not supported: list the alternatives, {1,2,3}'],
      [
        'tool_@(aa|bb)',
        'extglobs ("@(a|b)", "*(a)", "+(a)", "?(a)", "!(a)") are not supported: use {a,b} alternatives',
      ],
      [
        'x*(ab)',
        'extglobs ("@(a|b)", "*(a)", "+(a)", "?(a)", "!(a)") are not supported: use {a,b} alternatives',
      ],
      ['[[:alpha:]]1', 'POSIX classes ("[[:alpha:]]") are not supported: list the characters, [a-zA-Z]'],
      ['[![:digit:]]', 'POSIX classes ("[[:alpha:]]") are not supported: list the characters, [a-zA-Z]'],
      ['v{a..e}', 'brace ranges ("{1..3}") are not supported: list the alternatives, {1,2,3}'],
      ['v{1..9..2}', 'brace ranges ("{1..3}") are not supported: list the alternatives, {1,2,3}'],
    ]) {
      const r = parsePolicy(`version: "1"\nhide: ["${glob}"]\n`);
      expect(
        r.errors.map((e) => [e.code, e.message]),
        glob,
      ).toEqual([['invalid-glob', `hide[0]: invalid glob "${glob}": ${problem}`]]);
      expect(r.errors[0]!.hint).toContain('Tollgate globs have *, ?, {a,b}, [abc] and [!abc]');
    }
    // What only looks like them stays valid and matches as documented.
    for (const glob of ['x[:ab:]', 'a{.,..}b', 'v{1.2,..}']) {
      expect(parsePolicy(`version: "1"\nhide: ["${glob}"]\n`).errors, glob).toEqual([]);
    }
    expect(['x:', 'xa', 'xc'].map(toolGlobMatcher('x[:ab:]'))).toEqual([true, true, false]);
    expect(['a.b', 'a..b', 'ab'].map(toolGlobMatcher('a{.,..}b'))).toEqual([true, true, false]);
    // Escaped, they are text, and valid.
    expect(parsePolicy('version: "1"\nhide: ["tool_\\\\{1..3\\\\}"]\n').errors).toEqual([]);
  });

  it('gives the same hidden verdicts when memoised, also past the memo limit', () => {
    const p = load();
    // First answers are computed, repeats come from the memo: both must agree.
    for (let round = 0; round < 2; round++) {
      expect(p.isHidden('admin_delete')).toBe(true);
      expect(p.isHidden('administrator')).toBe(false);
      expect(p.isHidden('secret_tool')).toBe(true);
    }
    for (let i = 0; i < 10_050; i++) expect(p.isHidden(`admin_${i}`)).toBe(true);
    expect(p.isHidden('admin_10049')).toBe(true);
    expect(p.isHidden('user_10049')).toBe(false);
    expect(p.isHidden(7 as unknown as string)).toBe(false);
  });

  it('compiles regexes to a linear-time engine: ^(a+)+$ is safe', () => {
    const re = load().rulesFor('x')[0]!.conditions[1]!.regex!;
    expect(re.source).toBe('^(a+)+$');
    expect(re.test('aaaa')).toBe(true);
    // Catastrophic for a backtracking engine; linear here (a benchmark-free sanity check: it returns).
    expect(re.test(`${'a'.repeat(50_000)}!`)).toBe(false);
    expect(re.test(42 as unknown as string)).toBe(false);
    const search = loadPolicy(
      'version: "1"\ntools:\n  t:\n    rules:\n      - conditions: [{ path: args.p, op: regex, value: "feat/" }]\n',
    );
    expect(search.ok && search.policy.rulesFor('t')[0]!.conditions[0]!.regex!.test('refs/feat/x')).toBe(true); // unanchored
  });

  it('is deeply frozen', () => {
    const p = load();
    expect(Object.isFrozen(p)).toBe(true);
    const rule = p.rulesFor('create_charge')[0]!;
    expect(Object.isFrozen(rule)).toBe(true);
    expect(Object.isFrozen(rule.conditions)).toBe(true);
    expect(Object.isFrozen(rule.conditions[0])).toBe(true);
    expect(() => (p.counters as Map<string, unknown>).set('x', 1)).toThrow(TypeError);
    expect(() => (p.exact as Map<string, unknown>).delete('create_charge')).toThrow(TypeError);
    expect(() => {
      (rule as { name: string }).name = 'changed';
    }).toThrow(TypeError);
  });

  it('is deterministic: same text, same hash; key order and comments do not matter', () => {
    const a = load();
    const b = load();
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).toBe(b.hash);
    const x = loadPolicy('version: "1"\ndefault: deny\ntools: {}\n');
    const y = loadPolicy('# comment\ntools: {}\ndefault: deny\nversion: "1"\n');
    const z = loadPolicy('version: "1"\ndefault: allow\ntools: {}\n');
    expect(x.ok && y.ok && z.ok).toBe(true);
    if (x.ok && y.ok && z.ok) {
      expect(x.policy.hash).toBe(y.policy.hash);
      expect(x.policy.hash).not.toBe(z.policy.hash);
    }
  });

  it('accepts a plain document and throws PolicyCompileError with every error', () => {
    const p = compilePolicy({ version: '1', tools: { t: { rules: [{ rate_limit: '3/day' }] } } });
    expect(p.rulesFor('t')[0]!.rateLimit).toMatchObject({ kind: 'fixed', max: 3, key: 'rl:t:t%231' });
    try {
      compilePolicy({
        version: '2',
        tools: { t: { rules: [{ rate_limit: '3/week', action: 'nope' }] } },
      } as never);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyCompileError);
      const codes = (e as PolicyCompileError).errors.map((x) => x.code).sort();
      expect(codes).toEqual(['invalid-action', 'invalid-rate-limit-window', 'invalid-version']);
    }
    expect(() => compilePolicy(parsePolicy('version: 1'))).toThrow(PolicyCompileError);
  });

  it('makes rate-limit keys unambiguous', () => {
    expect(rateLimitKey('a:b', 'c')).not.toBe(rateLimitKey('a', 'b:c'));
    expect(rateLimitKey('*', 'global')).toBe('rl:*:global');
  });
});

describe('validate.schema and globs at load time', () => {
  const rule = (body: string) => `version: "1"\ntools:\n  t:\n    rules:\n      - ${body}\n`;
  it('accepts a JSON Schema ajv compiles, and compiles it into the rule', () => {
    const r = loadPolicy(rule('{ action: allow, validate: { schema: { type: object, required: [path] } } }'));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.policy.rulesFor('t')[0]!.validate).toEqual({
      requiredArgs: false,
      schema: { type: 'object', required: ['path'] },
    });
  });
  it('rejects a JSON Schema ajv cannot use, with its reason', () => {
    const r = parsePolicy(rule('{ action: allow, validate: { schema: { type: objet } } }'));
    expect(r.errors).toMatchObject([{ code: 'invalid-validate-schema', line: 5, column: 48 }]);
    expect(r.errors[0]!.message).toContain('type');
  });
  it('warns about a validate block that checks nothing (no required_args: true, no schema)', () => {
    for (const v of ['{}', '{ required_args: false }']) {
      const r = parsePolicy(rule(`{ name: v, action: allow, rate_limit: 1/day, validate: ${v} }`));
      expect(r.errors, v).toEqual([]);
      expect(
        r.warnings.map((w) => [w.code, w.message]),
        v,
      ).toEqual([['rule-has-no-effect', 'rule "v": validate checks nothing']]);
    }
    const ok = parsePolicy(
      rule('{ name: v, action: allow, validate: { required_args: false, schema: { type: object } } }'),
    );
    expect(ok.warnings).toEqual([]);
  });
  it('rejects negated globs in keys and hide', () => {
    const r = parsePolicy('version: "1"\nhide: ["!read_*"]\ntools:\n  "!write_*": { rules: [] }\n');
    expect(r.errors.map((e) => [e.code, e.line, e.column])).toEqual([
      ['invalid-glob', 2, 8],
      ['invalid-glob', 4, 3],
    ]);
    expect(r.errors[0]!.hint).toContain('default: deny');
  });
});

describe('unusual tool names', () => {
  it('scopes counters of dotted tool names', () => {
    const r = loadPolicy(
      'version: "1"\ntools:\n  github.create_issue:\n    rules:\n      - conditions: [{ path: state.github.create_issue.n, op: lte, value: 3 }]\n        state: { counter: n, window: hour }\n',
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const c = r.policy.rulesFor('github.create_issue')[0]!.conditions[0]!;
    expect(c.counterId).toBe('github.create_issue.n');
    expect(c.segments).toEqual(['github.create_issue', 'n']);
    expect(r.policy.counters.get('github.create_issue.n')).toMatchObject({
      scope: 'github.create_issue',
      name: 'n',
    });
  });

  it('treats __proto__ and constructor as ordinary tool names', () => {
    const r = loadPolicy(
      'version: "1"\ntools:\n  __proto__: { rules: [{ rate_limit: 1/day }] }\n  constructor: { rules: [] }\n',
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect([...r.policy.exact.keys()]).toEqual(['__proto__', 'constructor']);
    expect(r.policy.rulesFor('__proto__')).toHaveLength(1);
    expect(r.policy.isListed('toString')).toBe(false);
    expect(loadPolicy('version: "1"\n__proto__: { default: deny }\n')).toMatchObject({
      ok: false,
      errors: [{ code: 'unknown-key' }],
    });
  });
});

describe('memory', () => {
  it('does not keep the parsed YAML document alive once compiled', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const tools = Array.from(
      { length: 50 },
      (_, i) => `  tool_${i}:\n    rules:\n      - conditions: [{ path: args.n, op: lte, value: ${i} }]\n`,
    ).join('');
    let parsed: ReturnType<typeof parsePolicy> | undefined = parsePolicy(
      `version: "1"\nhide: ["admin_*"]\ntools:\n${tools}`,
    );
    const document = new WeakRef(parsed);
    const policy = compilePolicy(parsed);
    parsed = undefined;
    // A WeakRef holds its target until the job that made it ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(document.deref()).toBeUndefined();
    // The compiled policy still works, locations included (they were taken at compile time).
    expect(policy.isHidden('admin_x')).toBe(true);
    expect(policy.rulesFor('tool_7')[0]?.conditions[0]?.location.line).toBe(27);
  });
});

describe('backslash escapes in tool keys and hide entries', () => {
  const load = (yaml: string) => {
    const r = loadPolicy(`version: "1"\n${yaml}`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r;
  };

  it('an escape names the literal character in an exact name, as in a glob', () => {
    const { policy } = load("hide: ['run\\*', 'x\\[1\\]', 'y\\[2]']\n");
    for (const name of ['run*', 'x[1]', 'y[2]']) expect(policy.isHidden(name), name).toBe(true);
    for (const name of ['run\\*', 'runner', 'x\\[1\\]', 'x1', 'y2'])
      expect(policy.isHidden(name), name).toBe(false);
  });

  it('an exact key with an escape holds the rules of the tool it names; a glob with one still matches', () => {
    const { policy, warnings } = load(
      "tools:\n  'run\\*':\n    rules: [{ name: never, action: deny }]\n  'a\\*b*':\n    rules: [{ name: g, action: deny }]\n",
    );
    expect(warnings).toEqual([]);
    expect(policy.rulesFor('run*').map((r) => r.name)).toEqual(['never']);
    expect(policy.rulesFor('run\\*')).toEqual([]);
    expect(policy.rulesFor('a*bc').map((r) => r.name)).toEqual(['g']);
    expect(policy.rulesFor('axbc')).toEqual([]);
  });

  it('two keys or hide entries that name one tool, one through an escape, are refused', () => {
    const r = parsePolicy(
      "version: \"1\"\nhide: [move_file, 'move\\_file']\ntools:\n  'write\\_file':\n    rules: [{ action: deny }]\n  write_file:\n    rules: [{ rate_limit: 100/minute }]\n",
    );
    expect(r.errors.map((e) => [e.code, e.line, e.message])).toEqual([
      ['hide-duplicate', 2, 'hide: duplicate entry "move\\_file", the tool "move_file" (also hide[0])'],
      [
        'duplicate-key',
        6,
        'tool key "write_file" names the tool "write_file", as "write\\_file" does: only one entry\'s rules would apply',
      ],
    ]);
  });

  it('a counter under an escaped exact key is read under the tool name it names', () => {
    const r = loadPolicy(
      "version: \"1\"\ntools:\n  'pay\\*':\n    rules:\n      - { name: cap, conditions: [{ path: 'state.pay*.spent', op: lte, value: 10 }], state: { counter: spent, window: day } }\n",
    );
    expect(r.ok).toBe(true);
  });
  it('rate-limit keys: parts URI-encoded, lone surrogates written %uXXXX (no throw, no collision)', () => {
    expect(rateLimitKey('a:b', 'c')).toBe('rl:a%3Ab:c');
    expect(rateLimitKey('\ud800', 'r\udc00')).toBe('rl:%uD800:r%uDC00');
    // The text "%uD800" itself is encoded as any text is: it cannot meet the surrogate's key.
    expect(rateLimitKey('%uD800', 'r%uDC00')).toBe('rl:%25uD800:r%25uDC00');
    expect(rateLimitKey('\ud83d\ude00', 'é')).toBe('rl:%F0%9F%98%80:%C3%A9');
    const loaded = loadPolicy(
      'version: "1"\ndefault: allow\ntools:\n  "\\ud800":\n    rules:\n      - { name: r, rate_limit: 5/minute }\n',
    );
    expect(loaded.ok).toBe(true);
    if (loaded.ok) {
      const limit = loaded.policy.exact.get('\ud800')!.rules[0]!.rateLimit as { key: string };
      expect(limit.key).toBe('rl:%uD800:r');
    }
  });
});
