import { describe, expect, it } from 'vitest';
import { comparePolicyErrors, type PolicyError } from './errors.js';
import { parsePolicy } from './parse.js';
import { parseFixedRate, parseWindowMs } from './windows.js';

const rule = (body: string) => `version: "1"\ntools:\n  t:\n    rules:\n      - ${body}\n`;

describe('validation messages', () => {
  it('names a non-finite comparison value as it was written, not as null', () => {
    const cases: [string, string][] = [
      ['.inf', '.inf (infinity, or a number too large to represent, such as 1e400)'],
      ['-.inf', '-.inf (infinity, or a number too large to represent, such as 1e400)'],
      ['.nan', '.nan (not a number)'],
    ];
    for (const [yaml, shown] of cases) {
      const r = parsePolicy(rule(`{ conditions: [{ path: args.a, op: lt, value: ${yaml} }] }`));
      expect(r.errors).toMatchObject([
        { code: 'value-not-number', message: `operator "lt" requires a numeric value, got ${shown}` },
      ]);
      expect(r.errors[0]!.hint).toContain('infinity and NaN are not allowed');
    }
    expect(
      parsePolicy(rule('{ action: allow, state: { counter: c, window: day, increment: .inf } }')).errors,
    ).toMatchObject([
      {
        code: 'invalid-increment',
        message: expect.stringContaining('got .inf (infinity, or a number too large'),
      },
    ]);
  });
});

describe('rate_limit strings follow the documented grammar exactly', () => {
  it('rejects spaces with a file:line:col error and the accepted form as hint', () => {
    for (const [text, fixed] of [
      ['"5 / minute"', '5/minute'],
      ['" 2/minute"', '2/minute'],
      ['"3/hour "', '3/hour'],
      ['"4 /day"', '4/day'],
    ]) {
      const r = parsePolicy(rule(`{ name: r, rate_limit: ${text} }`), { filename: 'p.yaml' });
      expect(r.errors).toMatchObject([
        { file: 'p.yaml', code: 'invalid-rate-limit', line: 5, column: 32, hint: `write \`${fixed}\`` },
      ]);
    }
  });

  it('rejects a count with leading zeros', () => {
    const r = parsePolicy(rule('{ name: r, rate_limit: "05/minute" }'));
    expect(r.errors).toMatchObject([
      {
        code: 'invalid-rate-limit-count',
        message: 'rate_limit count must be written without leading zeros, got "05"',
        hint: 'write `5/minute`',
        line: 5,
        column: 32,
      },
    ]);
  });

  it('accepts the documented form, and the compiler reads only that form', () => {
    expect(parsePolicy(rule('{ name: r, rate_limit: 10/minute }')).errors).toEqual([]);
    expect(parseFixedRate('10/minute')).toEqual({ max: 10, window: 'minute' });
    for (const bad of ['5 / minute', ' 2/minute', '05/minute', '0/day', '5/minute\n'])
      expect(parseFixedRate(bad)).toBeUndefined();
  });

  it('rejects spaces around a sliding window duration', () => {
    expect(parseWindowMs('5m')).toBe(300_000);
    expect(parseWindowMs(' 5m')).toBeUndefined();
    expect(parsePolicy(rule('{ name: r, rate_limit: { max: 1, window: " 5m" } }')).errors).toMatchObject([
      { code: 'invalid-rate-limit-window' },
    ]);
  });
});

describe('empty in / not_in lists (empty-list)', () => {
  it('warns that in: [] denies every call and not_in: [] checks nothing', () => {
    const w = (op: string) =>
      parsePolicy(
        `version: "1"\ntools:\n  t:\n    rules: [{ name: r, conditions: [{ path: args.a, op: ${op}, value: [] }] }]\n`,
      ).warnings.map((e) => [e.code, e.message]);
    expect(w('in')).toEqual([
      ['empty-list', '`in: []` admits no value, so the condition fails and the rule denies every call'],
    ]);
    expect(w('not_in')).toEqual([
      ['empty-list', '`not_in: []` refuses no value, so the condition checks nothing'],
    ]);
  });
});

describe('lists and mappings inside in / not_in (list-item-never-matches)', () => {
  const warnings = (value: string, op = 'not_in') =>
    parsePolicy(
      `version: "1"\ntools:\n  run:\n    rules: [{ name: r, conditions: [{ path: args.cmd, op: ${op}, value: ${value} }] }]\n`,
    ).warnings.map((e) => [e.code, e.line, e.column, e.message, e.hint]);

  it('warns at each nested list or mapping, with the flat list to write instead', () => {
    expect(warnings('[[rm, mv], {a: 1}, ls]')).toEqual([
      [
        'list-item-never-matches',
        4,
        75,
        'item 1 of `not_in` is a list: each argument is compared with the items one value at a time, so this item matches no argument and refuses nothing',
        'write its values as items of this list, e.g. `value: [rm, mv]`',
      ],
      [
        'list-item-never-matches',
        4,
        85,
        'item 2 of `not_in` is a mapping: each argument is compared with the items one value at a time, so this item matches no argument and refuses nothing',
        'remove it, and list the values themselves (strings, numbers or booleans)',
      ],
    ]);
    expect(warnings('[["yes", "1", "a b", /tmp/x, 2]]').map((w) => w[4])).toEqual([
      'write its values as items of this list, e.g. `value: ["yes", "1", "a b", /tmp/x, 2]`',
    ]);
    // A nested list or an empty one has no flat form to suggest.
    expect(warnings('[[[x]], [], a]').map((w) => w[4])).toEqual([
      'remove it, and list the values themselves (strings, numbers or booleans)',
      'remove it, and list the values themselves (strings, numbers or booleans)',
    ]);
    expect(warnings('[[1, "two"]]', 'in').map((w) => [w[3], w[4]])).toEqual([
      [
        'item 1 of `in` is a list: each argument is compared with the items one value at a time, so this item matches no argument',
        'write its values as items of this list, e.g. `value: [1, two]`',
      ],
    ]);
  });

  it('says nothing of scalar items, null included', () => {
    expect(warnings('[rm, 1, true, null]')).toEqual([]);
  });
});

describe('a condition without op', () => {
  it('is an error at the condition (it would deny every call), with or without a value', () => {
    for (const cond of ['{ path: args.message }', '{ path: args.message, value: x }']) {
      const r = parsePolicy(
        `version: "1"\ntools:\n  echo:\n    rules: [{ name: r, conditions: [${cond}] }]\n`,
      );
      expect(r.errors.map((e) => [e.code, e.line, e.column, e.message])).toEqual([
        ['missing-field', 4, 37, 'missing required field `op`'],
      ]);
    }
  });
});

describe('increment as Intercept reads it (increment-ignored)', () => {
  it('loads increment: 0 and increment beside increment_from, with a warning each', () => {
    const r = (state: string) =>
      parsePolicy(
        `version: "1"\ntools:\n  t:\n    rules: [{ action: allow, state: { counter: c, window: day, ${state} } }]\n`,
      );
    const zero = r('increment: 0');
    expect(zero.errors).toEqual([]);
    expect(zero.warnings.map((w) => [w.code, w.message])).toEqual([
      [
        'increment-ignored',
        'increment: 0 counts 1 per call, as in Intercept (a counter that adds nothing would never limit)',
      ],
    ]);
    const both = r('increment: 3, increment_from: args.amount');
    expect(both.errors).toEqual([]);
    expect(both.warnings.map((w) => [w.code, w.message])).toEqual([
      [
        'increment-ignored',
        "increment is ignored: increment_from is set, and the counter adds the argument's value",
      ],
    ]);
  });
});

describe('text nobody can see', () => {
  it('warns on whitespace at either end or an invisible character in tool keys, hide entries and paths', () => {
    const w = (yaml: string) => parsePolicy(`version: "1"\n${yaml}`).warnings.map((e) => [e.code, e.message]);
    expect(w('tools:\n  "echo ":\n    rules: [{ action: deny }]\n')).toEqual([
      [
        'invisible-text',
        'tool key "echo " ends with whitespace, so its rules apply to no tool spelled without it',
      ],
    ]);
    expect(w('tools:\n  "echo\\u200b":\n    rules: [{ action: deny }]\n')).toEqual([
      [
        'invisible-text',
        'tool key "echo\u200b" holds the invisible character U+200B, so its rules apply to no tool spelled without it',
      ],
    ]);
    expect(w('hide: [" delete_file"]\n')).toEqual([
      [
        'invisible-text',
        'hide entry " delete_file" starts with whitespace, so it hides no tool spelled without it',
      ],
    ]);
    expect(
      w('tools:\n  t:\n    rules: [{ conditions: [{ path: "args.force ", op: exists, value: false }] }]\n'),
    ).toEqual([
      [
        'invisible-text',
        'path "args.force " ends with whitespace: it names an argument spelled with it, which a call rarely sends',
      ],
    ]);
    expect(
      w('hide: [delete_file, "x/y.z-1"]\ntools:\n  "github.create_issue":\n    rules: [{ action: deny }]\n'),
    ).toEqual([]);
  });

  it('a Hangul filler is invisible; a joiner inside an emoji sequence is not', () => {
    const w = (key: string) =>
      parsePolicy(
        `version: "1"\ntools:\n  ${JSON.stringify(key)}:\n    rules: [{ action: deny }]\n`,
      ).warnings.map((e) => e.code);
    expect(w('echo\u3164')).toEqual(['invisible-text']);
    expect(w('deploy_\u{1F468}\u200D\u{1F4BB}')).toEqual([]);
    expect(w('a\u200Db')).toEqual(['invisible-text']);
  });

  it('an eq/neq/in/not_in/contains value holding an invisible character is named, with where it is', () => {
    const r = (cond: string) =>
      parsePolicy(`version: "1"\ntools:\n  t:\n    rules: [{ conditions: [${cond}] }]\n`).warnings.map(
        (e) => [e.code, e.line, e.column, e.message],
      );
    expect(r('{ path: args.owner, op: eq, value: "acme\\u200b" }')).toEqual([
      [
        'invisible-text',
        4,
        63,
        'eq value "acme\u200b" holds the invisible character U+200B, so it equals only text spelled with it',
      ],
    ]);
    expect(r('{ path: args.path, op: not_in, value: [/etc/passwd, "/etc/sh\\u00adadow"] }')).toEqual([
      [
        'invisible-text',
        4,
        80,
        'not_in value "/etc/sh\u00adadow" holds the invisible character U+00AD, so it equals only text spelled with it',
      ],
    ]);
    expect(r('{ path: args.q, op: contains, value: "\\u202edrop" }').map((w) => w[3])).toEqual([
      'contains value "\u202edrop" holds the invisible character U+202E, so it is found only in text spelled with it',
    ]);
    // Whitespace at the ends is a value like any other; a regex may look for invisible characters.
    expect(r('{ path: args.q, op: eq, value: " padded " }')).toEqual([]);
    expect(r("{ path: args.q, op: not_regex, value: '\\p{Cf}' }")).toEqual([]);
    expect(r('{ path: args.n, op: in, value: [1, "x", null] }')).toEqual([]);
  });

  it('a hidden tool with an empty entry is told the entry never applies', () => {
    const r = parsePolicy('version: "1"\nhide: ["get-*"]\ntools:\n  get-sum: {}\n');
    expect(r.warnings.map((e) => e.message)).toEqual([
      'tool "get-sum" is hidden, so its entry never applies',
    ]);
  });
});

describe('an exact entry under a denying wildcard (denied-by-wildcard)', () => {
  const w = (yaml: string) =>
    parsePolicy(`version: "1"\n${yaml}`)
      .warnings.filter((e) => e.code === 'denied-by-wildcard')
      .map((e) => [e.line, e.message, e.hint]);

  it('names the wildcard, its deny rule and what to write instead', () => {
    expect(
      w(
        'tools:\n  read_file:\n    rules: [{ name: r, rate_limit: 5/minute }]\n  list_dir: {}\n  "*":\n    rules:\n      - { name: limit, rate_limit: 9/minute }\n      - { name: no, action: deny }\n',
      ),
    ).toEqual([
      [
        3,
        'tool "read_file" is always denied: rules[1] ("no") under "*" denies every tool it matches, so its rules never let a call through',
        'to deny only the tools without an entry, drop the "*" deny rule and write `default: deny`',
      ],
      [
        5,
        'tool "list_dir" is always denied: rules[1] ("no") under "*" denies every tool it matches, so its entry allows nothing',
        'to deny only the tools without an entry, drop the "*" deny rule and write `default: deny`',
      ],
    ]);
  });

  it('a glob covers the exact names it matches, not the others', () => {
    expect(
      w(
        'tools:\n  "delete_*":\n    rules: [{ action: deny }]\n  delete_tmp:\n    rules: [{ name: r, rate_limit: 1/hour }]\n  read_file:\n    rules: [{ name: s, rate_limit: 1/hour }]\n',
      ),
    ).toEqual([
      [
        5,
        'tool "delete_tmp" is always denied: rules[0] under "delete_*" denies every tool it matches, so its rules never let a call through',
        'to allow "delete_tmp", narrow the glob "delete_*"; to deny it, remove its entry',
      ],
    ]);
  });

  it('covers glob entries under a denying "*", and under default: deny says the "*" rule is redundant', () => {
    expect(
      w(
        'default: deny\ntools:\n  "read_*": { rules: [] }\n  get_file: {}\n  "*":\n    rules: [{ action: deny }]\n',
      ),
    ).toEqual([
      [
        4,
        'tools "read_*" are always denied: rules[0] under "*" denies every tool it matches, so its entry allows nothing',
        'remove the "*" deny rule: `default: deny` already denies the tools without an entry',
      ],
      [
        5,
        'tool "get_file" is always denied: rules[0] under "*" denies every tool it matches, so its entry allows nothing',
        'remove the "*" deny rule: `default: deny` already denies the tools without an entry',
      ],
    ]);
    // A glob under a denying glob may or may not overlap it: no warning.
    expect(w('tools:\n  "read_*": { rules: [] }\n  "re*":\n    rules: [{ action: deny }]\n')).toEqual([]);
  });

  it('is silent where nothing is lost: the exact entry denies too, is hidden, or the wildcard only limits', () => {
    expect(
      w('tools:\n  rm:\n    rules: [{ action: deny }]\n  "*":\n    rules: [{ action: deny }]\n'),
    ).toEqual([]);
    expect(w('hide: [rm]\ntools:\n  rm: {}\n  "*":\n    rules: [{ action: deny }]\n')).toEqual([]);
    expect(w('tools:\n  rm: {}\n  "*":\n    rules: [{ name: g, rate_limit: 1/hour }]\n')).toEqual([]);
    expect(w('tools:\n  "*":\n    rules: [{ action: deny }]\n')).toEqual([]);
  });
});

describe('tool names checked against the server (unlisted-tool)', () => {
  const w = (yaml: string, toolNames: string[]) =>
    parsePolicy(`version: "1"\n${yaml}`, { toolNames }).warnings.map((e) => [e.line, e.message, e.hint]);
  const names = ['write_file', 'edit_file', 'move_file', 'read_file', 'run*'];
  it('names each tool key, plain brace alternative and hide entry that matches no listed tool', () => {
    expect(
      w(
        'hide: [move_files, "delete_*", move_file]\ntools:\n  write_fle: { rules: [{ action: deny }] }\n  "{write_file,edit_fil}": {}\n  "read_*": {}\n  "list_*": {}\n  run\\*: {}\n  "*": {}\n',
        names,
      ),
    ).toEqual([
      [
        2,
        'hide entry "move_files" names no tool the server lists, so it hides nothing',
        'did you mean `move_file`?',
      ],
      [
        2,
        'hide entry "delete_*" names no tool the server lists, so it hides nothing',
        'the server lists no tool this glob matches',
      ],
      [
        4,
        'tool key "write_fle" names no tool the server lists, so its rules never apply',
        'did you mean `write_file`?',
      ],
      [
        5,
        '"edit_fil" in tool key "{write_file,edit_fil}" names no tool the server lists',
        'did you mean `edit_file`?',
      ],
      [
        7,
        'tool key "list_*" names no tool the server lists, so its rules never apply',
        'the server lists no tool this glob matches',
      ],
    ]);
  });
  it('spells out a brace group in a hide entry too', () => {
    expect(w('hide: ["{move_file,delte_file}", "move_{file,files}"]\n', names)).toEqual([
      [
        2,
        '"delte_file" in hide entry "{move_file,delte_file}" names no tool the server lists, so it hides nothing',
        'did you mean `write_file`?',
      ],
      [
        2,
        '"move_files" in hide entry "move_{file,files}" names no tool the server lists, so it hides nothing',
        'did you mean `move_file`?',
      ],
    ]);
  });
  it('spells out a brace group between a prefix and a suffix', () => {
    expect(w('tools:\n  "write_{file,fle}": {}\n  "{read,move}_file": {}\n', names)).toEqual([
      [
        3,
        '"write_fle" in tool key "write_{file,fle}" names no tool the server lists',
        'did you mean `write_file`?',
      ],
    ]);
  });
  it('checks nothing without the names, or when the policy has errors', () => {
    expect(parsePolicy('version: "1"\ntools:\n  write_fle: {}\n').warnings).toEqual([]);
    expect(
      parsePolicy('version: "1"\ndefault: nope\ntools:\n  write_fle: {}\n', { toolNames: names }).warnings,
    ).toEqual([]);
  });
});

describe('hints for empty and misplaced entries', () => {
  const first = (yaml: string) => {
    const e = parsePolicy(`version: "1"\n${yaml}`).errors[0]!;
    return [e.line, e.message, e.hint];
  };
  it('says what an empty key should hold: {} for a tool entry, [] for rules', () => {
    expect(first('tools:\n  list_dir:\n')).toEqual([
      3,
      'tools.list_dir: expected object, got null',
      'a key with nothing after the colon is null in YAML; write `{}` for an empty mapping, or remove the key',
    ]);
    expect(first('tools:\n  list_dir:\n    rules:\n')).toEqual([
      4,
      'tools.list_dir.rules: expected array, got null',
      'a key with nothing after the colon is null in YAML; write `[]` for an empty list, or remove the key',
    ]);
    expect(first('tools:\n  list_dir: []\n')).toEqual([
      3,
      'tools.list_dir: expected object, got a list',
      'a tool entry is a mapping: `{}` lists the tool without rules, `{ rules: [...] }` gives it rules',
    ]);
  });
  it('says when `rules` sits one level too far out, read as a tool named rules', () => {
    const errors = parsePolicy(
      'version: "1"\ntools:\n  write_file:\n  rules:\n    - { name: r, rate_limit: 1/day }\n',
    ).errors;
    expect(errors.map((e) => e.hint)).toContain(
      "`rules` is read as a tool of that name: indent it under its tool's name (two more spaces)",
    );
  });
});

describe('sliding window bounds', () => {
  const messages = (window: string) =>
    parsePolicy(rule(`{ name: r, rate_limit: { max: 1, window: ${window} } }`)).errors.map((e) => [
      e.message,
      e.hint,
    ]);

  it('refuses windows over 366 days, in seconds or as a duration, saying so', () => {
    expect(parseWindowMs('366d')).toBe(366 * 86_400_000);
    expect(parseWindowMs('367d')).toBeUndefined();
    expect(parseWindowMs(1e13)).toBeUndefined();
    expect(messages('1e13')).toEqual([
      ['rate_limit window must be at most 366d (31622400 seconds), got 10000000000000 (number)', undefined],
    ]);
    expect(messages('99999999999d')[0]![0]).toBe(
      'rate_limit window must be at most 366d (31622400 seconds), got "99999999999d" (string)',
    );
    expect(messages('1e306')[0]![0]).toMatch(/^rate_limit window must be at most 366d/);
  });

  it('a duration the language cannot read is told the form, not a lower bound', () => {
    expect(messages('1.5e3s')[0]![0]).toBe(
      'rate_limit window must be a number of seconds or a duration like 30s, 5m, 1h, 1d, 1.5h (digits and one unit), got "1.5e3s" (string)',
    );
    expect(messages('0.0001')[0]![0]).toBe(
      'rate_limit window must be at least 1 ms (0.001 seconds), got 0.0001 (number)',
    );
  });

  it('a number of seconds written as text is told to add a unit', () => {
    expect(messages('"60"')).toEqual([
      ['rate_limit window "60" is text without a unit', 'write `60s` (or the number unquoted, in seconds)'],
    ]);
  });
});

describe('problem order', () => {
  it('sorts by line, then column, errors before warnings at one position', () => {
    const p = (line: number, column: number, severity: 'error' | 'warning', code = 'unknown-key') =>
      ({ file: 'f', line, column, severity, code, message: 'm' }) as PolicyError;
    const list = [
      p(16, 9, 'warning'),
      p(5, 3, 'error'),
      p(16, 1, 'warning'),
      p(5, 3, 'warning'),
      p(2, 9, 'error'),
    ];
    expect(list.sort(comparePolicyErrors).map((e) => [e.line, e.column, e.severity])).toEqual([
      [2, 9, 'error'],
      [5, 3, 'error'],
      [5, 3, 'warning'],
      [16, 1, 'warning'],
      [16, 9, 'warning'],
    ]);
  });
});

describe('messages that name what was written', () => {
  const cond = (value: string) =>
    `version: "1"\ntools:\n  t:\n    rules:\n      - conditions: [{ path: args.a, op: ${value} }]\n`;

  it('a type error says what it got once, without the schema library\'s own "received"', () => {
    const [e] = parsePolicy('version: "1"\nhide: 5\n').errors;
    expect(e!.message).toBe('hide: expected array, got 5 (number)');
  });

  it('infinity is named with what else loads as it (1e400)', () => {
    const [e] = parsePolicy(cond('lte, value: 1e400')).errors;
    expect(e!.message).toBe(
      'operator "lte" requires a numeric value, got .inf (infinity, or a number too large to represent, such as 1e400)',
    );
  });

  it('a \\u escape in a regex points at the RE2 spelling', () => {
    const [e] = parsePolicy(cond('regex, value: "caf\\\\u00e9"')).errors;
    expect(e).toMatchObject({ code: 'invalid-regex' });
    expect(e!.hint).toBe('RE2 writes a character by its code point as \\x{e9} (or \\x{1F600}), not \\u00e9');
  });

  it('not_regex takes a pattern string like regex; an empty one warns that it denies every call', () => {
    expect(parsePolicy(cond('not_regex, value: "rm\\\\s+-rf"')).errors).toEqual([]);
    const [notString] = parsePolicy(cond('not_regex, value: 5')).errors;
    expect(notString).toMatchObject({
      code: 'value-not-string',
      message: 'not_regex value must be a string, got 5 (number)',
    });
    const [bad] = parsePolicy(cond('not_regex, value: "(?!x)"')).errors;
    expect(bad).toMatchObject({ code: 'regex-unsupported' });
    const [empty] = parsePolicy(cond('not_regex, value: ""')).warnings;
    expect(empty).toMatchObject({
      code: 'regex-empty',
      message:
        'an empty regex matches every string, so this `not_regex` condition never holds and the rule denies every call',
    });
    for (const spelling of ['"!~"', 'not_matches', 'not_regx'])
      expect(parsePolicy(cond(`${spelling}, value: "x"`)).errors[0]).toMatchObject({
        code: 'unknown-operator',
        hint: 'did you mean `not_regex`?',
      });
    // Capitals and stray spaces are not typos of their own: `LTE` is `lte`.
    for (const [spelling, meant] of [
      ['LTE', 'lte'],
      ['"Not_In "', 'not_in'],
      ['NOT_REGEX', 'not_regex'],
    ])
      expect(parsePolicy(cond(`${spelling}, value: "x"`)).errors[0]).toMatchObject({
        code: 'unknown-operator',
        hint: `did you mean \`${meant}\`?`,
      });
  });

  it('regex literals with flags warn; slashes without flags (a path) do not', () => {
    const warned = (v: string) =>
      parsePolicy(cond(`regex, value: ${JSON.stringify(v)}`)).warnings.map((w) => w.code);
    expect(warned('/abc/i')).toEqual(['regex-js-delimiters']);
    expect(warned('/^feat\\/x/g')).toEqual(['regex-js-delimiters']);
    expect(warned('/etc/')).toEqual([]);
    expect(warned('/home/user/s')).toEqual([]);
    expect(warned('')).toEqual(['regex-empty']);
    expect(warned('^feat/')).toEqual([]);
    expect(parsePolicy(cond('regex, value: "/abc/i"')).warnings[0]!.hint).toBe(
      'write the pattern alone; for a case-insensitive match use `(?i)abc`',
    );
  });
});

describe('Intercept policies with unquoted numbers and booleans as text', () => {
  it('loads a number or boolean name, on_deny or description as the text written; condition values stay typed', () => {
    const r = parsePolicy(
      [
        'version: "1"',
        'description: 2026',
        'tools:',
        '  create_issue:',
        '    rules:',
        '      - { name: 2, rate_limit: 5/hour, on_deny: 404 }',
        '      - name: true',
        '        conditions:',
        '          - { path: args.n, op: eq, value: 5 }',
        '          - { path: args.name, op: eq, value: 1.50 }',
        '',
      ].join('\n'),
    );
    expect(r.errors).toEqual([]);
    const rules = r.document!.tools!.create_issue!.rules!;
    expect(r.document!.description).toBe('2026');
    expect([rules[0]!.name, rules[0]!.on_deny, rules[1]!.name]).toEqual(['2', '404', 'true']);
    expect(rules[1]!.conditions!.map((c) => c.value)).toEqual([5, 1.5]);
  });

  it('only there: inside a validate.schema, `name: false` stays a schema and `const` keeps its type', () => {
    const r = parsePolicy(
      [
        'version: "1"',
        'tools:',
        '  t:',
        '    description: 5',
        '    rules:',
        '      - name: 7',
        '        validate: { schema: { properties: { name: false, description: true, on_deny: { const: 5 } } } }',
        '',
      ].join('\n'),
    );
    expect(r.errors.map((e) => e.code)).toEqual(['unknown-key']);
    const rule = r.value as {
      tools: { t: { description: unknown; rules: Array<{ name: unknown; validate: unknown }> } };
    };
    expect(rule.tools.t.description).toBe(5);
    expect(rule.tools.t.rules[0]!.name).toBe('7');
    expect(rule.tools.t.rules[0]!.validate).toEqual({
      schema: { properties: { name: false, description: true, on_deny: { const: 5 } } },
    });
  });

  it('keeps version typed: an unquoted version is still refused', () => {
    expect(parsePolicy('version: 1\n').errors.map((e) => e.code)).toEqual(['invalid-version']);
  });
});

describe('a counter read under another tool (counter-read-elsewhere)', () => {
  const policy = (readScope: string) =>
    [
      'version: "1"',
      'tools:',
      '  create_refund:',
      '    rules:',
      '      - name: refunds per day',
      '        state: { counter: daily_count, window: day }',
      '        conditions: [{ path: state.create_refund.daily_count, op: lte, value: 3 }]',
      '  create_payout:',
      '    rules:',
      '      - name: payouts per day',
      '        state: { counter: daily_count, window: day }',
      `        conditions: [{ path: state.${readScope}.daily_count, op: lte, value: 3 }]`,
      '',
    ].join('\n');

  it('warns when a rule counts under its tool but reads the same counter of another tool', () => {
    const r = parsePolicy(policy('create_refund'), { filename: 'p.yaml' });
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => [w.code, w.line, w.column, w.message, w.hint])).toEqual([
      [
        'counter-read-elsewhere',
        12,
        30,
        'rule "payouts per day" counts "daily_count" for "create_payout" but reads state.create_refund.daily_count, the counter of "create_refund", and no rule of "create_payout" reads its own: its count is never checked',
        "write `state.create_payout.daily_count` to limit this tool's calls (a rule copied from another tool?)",
      ],
    ]);
  });

  it("is silent when the rule reads its own counter, also beside another tool's", () => {
    expect(parsePolicy(policy('create_payout')).warnings).toEqual([]);
    const both = policy('create_payout').replace(
      '        conditions: [{ path: state.create_payout.daily_count, op: lte, value: 3 }]',
      '        conditions:\n          - { path: state.create_payout.daily_count, op: lte, value: 3 }\n          - { path: state.create_refund.daily_count, op: lte, value: 3 }',
    );
    expect(parsePolicy(both).warnings).toEqual([]);
    // Another rule of the same tool reads the tool's own count: the limit holds.
    // (create_payout is the last entry: its rules list ends the file.)
    const other = `${policy('create_refund')}      - name: own check\n        conditions: [{ path: state.create_payout.daily_count, op: lte, value: 3 }]\n`;
    expect(other).toContain('own check');
    expect(parsePolicy(other).warnings).toEqual([]);
  });

  it("names a missing counter with the window its name speaks of, and Intercept's _rate_ counters for what they are", () => {
    const hint = (path: string) =>
      parsePolicy(
        `version: "1"\ntools:\n  t:\n    rules:\n      - conditions: [{ path: ${path}, op: lte, value: 3 }]\n`,
      )
        .errors.filter((e) => e.code === 'undefined-counter')
        .map((e) => e.hint);
    expect(hint('state.t.hourly_calls')).toEqual([
      'add `state: { counter: hourly_calls, window: hour }` to a rule under "t"',
    ]);
    expect(hint('state.t.calls_per_minute')).toEqual([
      'add `state: { counter: calls_per_minute, window: minute }` to a rule under "t"',
    ]);
    expect(hint('state.t.spend')).toEqual([
      'add `state: { counter: spend, window: day }` to a rule under "t"',
    ]);
    expect(hint('state.t._rate_hour')).toEqual([
      '`_rate_hour` is Intercept\'s internal count of a rate_limit, which no condition can read here: a `rate_limit` rule under "t" denies past its bound by itself, or count with `state: { counter: <name>, window: hour }` and read that',
    ]);
  });
});

describe('whitespace inside a brace group (brace-alternative-space)', () => {
  it('is an error naming the alternative with a space, in tool keys and hide entries, and the key to write', () => {
    const r = parsePolicy(
      'version: "1"\nhide: ["{move_file, delete_file}"]\ntools:\n  "{write_file, edit_file,create_directory }":\n    rules: [{ action: deny }]\n',
    );
    expect(r.warnings).toEqual([]);
    expect(r.errors.map((w) => [w.code, w.message, w.hint])).toEqual([
      [
        'brace-alternative-space',
        'hide entry "{move_file, delete_file}" has the brace alternative " delete_file", which starts with whitespace, so it hides no tool spelled without it',
        'write "{move_file,delete_file}"',
      ],
      [
        'brace-alternative-space',
        'tool key "{write_file, edit_file,create_directory }" has the brace alternative " edit_file", which starts with whitespace, so its rules apply to no tool spelled without it',
        'write "{write_file,edit_file,create_directory}"',
      ],
    ]);
    expect(
      parsePolicy('version: "1"\ntools:\n  "{write_file,edit_file}":\n    rules: [{ action: deny }]\n')
        .warnings,
    ).toEqual([]);
  });
});
