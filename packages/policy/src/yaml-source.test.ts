import { describe, expect, it, vi } from 'vitest';
import { parsePolicy } from './parse.js';
import { MAX_POLICY_BYTES } from './yaml-source.js';

const codes = (text: string) => parsePolicy(text).errors.map((e) => e.code);

describe('hostile YAML is bounded', () => {
  it('rejects a billion-laughs alias bomb without expanding it', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    // Fully expanded this is 9^9 (387 million) strings.
    expect(codes(`version: "1"\n${levels.join('\n')}\n`)).toEqual(['yaml-alias-limit']);
  });

  it('rejects deep flow nesting before the parser sees it', () => {
    expect(codes(`version: "1"\nx: ${'['.repeat(200_000)}`)).toEqual(['yaml-too-deep']);
    expect(codes(`version: "1"\nx: ${'{a: '.repeat(100)}1${'}'.repeat(100)}`)).toEqual(['yaml-too-deep']);
  });

  it('rejects deep block nesting', () => {
    let text = 'version: "1"\nx:\n';
    for (let i = 1; i <= 80; i++) text += `${'  '.repeat(i)}k${i}:\n`;
    expect(codes(text)).toEqual(['yaml-too-deep']);
  });

  it('does not count brackets inside quotes or comments', () => {
    const r = parsePolicy(`version: "1"\ndescription: "${'['.repeat(100)}" # ${'{'.repeat(100)}\n`);
    expect(r.errors).toEqual([]);
  });

  it('rejects input over the size cap', () => {
    const big = `version: "1"\n#${'x'.repeat(MAX_POLICY_BYTES)}\n`;
    expect(codes(big)).toEqual(['input-too-large']);
  });

  it('reports duplicate keys at every level', () => {
    const r = parsePolicy('version: "1"\ntools:\n  a: { rules: [] }\n  a: { rules: [] }\n');
    expect(r.errors).toMatchObject([{ code: 'duplicate-key', line: 4, column: 3 }]);
  });

  it('never throws on non-string or empty input', () => {
    expect(codes(undefined as unknown as string)).toEqual(['invalid-type']);
    expect(codes('')).toEqual(['not-a-mapping']);
    expect(codes('~')).toEqual(['not-a-mapping']);
    expect(codes('version: "1"\n\t- tab')).toContain('yaml-syntax');
  });

  it('reports all errors at once', () => {
    const r = parsePolicy(
      'version: "1"\ndefault: maybe\nhide: ["", a, a]\ntools:\n  t:\n    rules:\n      - { action: nope }\n      - { conditions: [{ path: x, op: zz, value: 1 }] }\n',
    );
    expect(r.errors.map((e) => `${e.line}:${e.column}:${e.code}`)).toEqual([
      '2:10:invalid-default',
      '3:8:hide-empty-entry',
      '3:15:hide-duplicate',
      '7:19:invalid-action',
      '8:32:invalid-path',
      '8:39:unknown-operator',
    ]);
  });
});

describe('other input shapes', () => {
  it('accepts a byte-order mark and CRLF line endings with correct positions', () => {
    const r = parsePolicy('\uFEFFversion: "1"\r\ndefault: maybe\r\n');
    expect(r.errors).toMatchObject([{ code: 'invalid-default', line: 2, column: 10 }]);
  });

  it('reads lone CR line endings (classic Mac OS) as YAML 1.2 does, with correct positions', () => {
    const lf = 'version: "1"\ntools:\n  x:\n    rules:\n      - name: "a b"\n        action: deny\n';
    const cr = parsePolicy(lf.replaceAll('\n', '\r'));
    expect(cr.errors).toEqual([]);
    expect(cr.document).toBeDefined();
    expect(cr.document).toEqual(parsePolicy(lf).document);
    // Mixed with CRLF, an error is placed on its own line.
    const bad = parsePolicy('version: "1"\rtools:\r\n  x:\r    rules:\r      - action: maybe\r');
    expect(bad.errors).toMatchObject([{ code: 'invalid-action', line: 5, column: 17 }]);
  });
});

describe('YAML syntax errors', () => {
  it('explain tabs and unclosed quotes', () => {
    const tabs = parsePolicy('version: "1"\ntools:\n  a:\n\trules: []\n').errors;
    expect(tabs).toMatchObject([{ code: 'yaml-syntax', line: 4, column: 1 }]);
    expect(tabs[0]!.hint).toContain('spaces');
    const quote = parsePolicy('version: "1"\ndescription: "abc\n').errors;
    expect(quote).toMatchObject([{ code: 'yaml-syntax', line: 3, column: 1 }]);
    expect(quote[0]!.hint).toContain('never closed');
  });
});

describe('type errors carry a hint', () => {
  it('explains null and non-list values', () => {
    const r = parsePolicy('version: "1"\nhide: delete_repo\ntools:\n  t:\n    rules:\n');
    expect(r.errors.map((e) => [e.code, e.line, e.column])).toEqual([
      ['invalid-type', 2, 7],
      ['invalid-type', 5, 11],
    ]);
    expect(r.errors[0]!.hint).toContain('write a list');
    expect(r.errors[1]!.hint).toContain('null in YAML');
  });
});

describe('operator suggestions', () => {
  it.each([
    ['"<="', 'lte'],
    ['">"', 'gt'],
    ['"!="', 'neq'],
    ['matches', 'regex'],
    ['lessthan', undefined],
    ['contians', 'contains'],
  ])('op %s suggests %s', (op, want) => {
    const r = parsePolicy(
      `version: "1"\ntools:\n  t:\n    rules:\n      - conditions: [{ path: args.a, op: ${op}, value: 1 }]\n`,
    );
    expect(r.errors).toMatchObject([{ code: 'unknown-operator', line: 5, column: 42 }]);
    if (want) expect(r.errors[0]!.hint).toBe(`did you mean \`${want}\`?`);
    else expect(r.errors[0]!.hint).toContain('use one of: eq, neq, in');
  });
});

describe('keys and tags the loaded value would hide', () => {
  it('reports a bare null or ~ tool key at that key, not at the first key of tools', () => {
    for (const k of ['null', '~', 'Null']) {
      const r = parsePolicy(`version: "1"\ntools:\n  abc: {}\n  def: {}\n  ${k}: {}\n`);
      expect(r.errors).toMatchObject([{ code: 'empty-tool-key', line: 5, column: 3 }]);
      expect(r.errors[0]!.hint).toContain('`null` or `~`');
    }
  });

  it('places the errors of a duplicated key at the last one, the one loaded and checked', () => {
    const r = parsePolicy(
      'version: "1"\ntools:\n  a:\n    rules:\n      - conditions: [{ path: args.a, op: lt, value: "5" }]\n  b: {}\n  a:\n    rules:\n      - conditions: [{ path: args.a, op: lt, value: "6" }]\n',
    );
    expect(r.errors.map((e) => [e.code, e.line, e.column, e.message])).toEqual([
      ['duplicate-key', 7, 3, 'duplicate key "a": mapping keys must be unique'],
      ['value-not-number', 9, 53, 'operator "lt" requires a numeric value, got "6" (string)'],
    ]);
    expect(
      parsePolicy('version: "1"\ndefault: allow\nversion: 1\n').errors.map((e) => [e.code, e.line, e.column]),
    ).toEqual([
      ['duplicate-key', 3, 1],
      ['invalid-version', 3, 10],
    ]);
  });

  it('reports keys that differ only in YAML type as duplicates', () => {
    const r = parsePolicy('version: "1"\ntools:\n  "1": {}\n  1: {}\n  true: {}\n  "true": {}\n');
    expect(r.errors).toMatchObject([
      {
        code: 'duplicate-key',
        line: 4,
        column: 3,
        message: 'duplicate key "1": mapping keys must be unique',
      },
      { code: 'duplicate-key', line: 6, column: 3 },
    ]);
    expect(r.errors[0]!.hint).toContain('`1` and `"1"` (line 3) are the same key');
    // null and "" both load as the key "", as do null and ~; the empty tool key is reported too,
    // at the one loaded (the last).
    expect(parsePolicy('version: "1"\ntools:\n  null: {}\n  "": {}\n').errors).toMatchObject([
      { code: 'duplicate-key', line: 4, column: 3 },
      { code: 'empty-tool-key', line: 4, column: 3 },
    ]);
    // An alias key is compared by what it points at.
    expect(parsePolicy('version: "1"\ntools:\n  &k a: {}\n  *k : {}\n').errors).toMatchObject([
      { code: 'duplicate-key', line: 4, column: 3 },
    ]);
  });

  it('a duplicate key does not hide the other problems of the policy', () => {
    const r = parsePolicy(
      'version: "1"\ndefault: deny\ndefault: deny\ndescriptoin: x\ntools:\n  a:\n    rules:\n      - conditions: [{path: args.x, op: lte, value: "5"}]\n',
    );
    expect(r.errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [3, 1, 'duplicate-key'],
      [4, 1, 'unknown-key'],
      [8, 53, 'value-not-number'],
    ]);
    expect(r.document).toBeUndefined();
    // A syntax error still stops before the policy's own checks: there is no value to check.
    expect(parsePolicy('version: "1"\ndefault: [deny\ndescriptoin: x\n').errors.map((e) => e.code)).toEqual([
      'yaml-syntax',
    ]);
  });

  it('reports a complex key at its own position, and the yaml library prints no warning', () => {
    const emit = vi.spyOn(process, 'emitWarning');
    try {
      expect(parsePolicy('version: "1"\n? [a, b]\n: x\n').errors).toMatchObject([
        { code: 'yaml-complex-key', line: 2, column: 1 },
      ]);
      expect(parsePolicy('version: "1"\ntools:\n  ? { a: 1 }\n  : {}\n').errors).toMatchObject([
        { code: 'yaml-complex-key', line: 3, column: 3 },
      ]);
      expect(parsePolicy('version: "1"\ntools: { ? [a] : {} }\n').errors).toMatchObject([
        { code: 'yaml-complex-key', line: 2, column: 10 },
      ]);
      expect(emit).not.toHaveBeenCalled();
    } finally {
      emit.mockRestore();
    }
  });

  it('reports each unclosed flow collection once, even where two end at the same place', () => {
    const r = parsePolicy('version: "1"\ntools: {a: {rules: [ }\n', { filename: 'p.yaml' });
    expect(r.errors.map((e) => [e.code, e.line, e.column, e.message])).toEqual([
      [
        'yaml-syntax',
        2,
        22,
        'Flow sequence in block collection must be sufficiently indented and end with a ]',
      ],
      ['yaml-syntax', 2, 23, 'Flow map in block collection must be sufficiently indented and end with a }'],
    ]);
  });

  it('hints that a bare * key must be quoted', () => {
    const sameLine = parsePolicy('version: "1"\ntools:\n  abc: {}\n  *: {}\n');
    expect(sameLine.errors).toMatchObject([{ code: 'yaml-syntax', line: 4, column: 3 }]);
    expect(sameLine.errors[0]!.hint).toBe('the bare `*` key starts a YAML alias; quote it: `"*":`');
    const nextLine = parsePolicy('version: "1"\ntools:\n  *:\n    rules: []\n');
    expect(nextLine.errors).toMatchObject([
      { code: 'yaml-syntax', message: 'All mapping items must start at the same column' },
    ]);
    expect(nextLine.errors[0]!.hint).toBe('the bare `*` key on line 3 starts a YAML alias; quote it: `"*":`');
    // With nothing else wrong, the key itself is reported.
    expect(parsePolicy('version: "1"\ntools:\n  *:\n').errors).toMatchObject([
      { code: 'yaml-syntax', line: 3, column: 3, message: 'a bare `*` is a YAML alias, not a key' },
    ]);
    // Other syntax errors keep their own hint.
    expect(parsePolicy('version: "1"\ndescription: "x\n').errors[0]!.hint).not.toContain('`*`');
    // A bare `*` as a list item, and a glob key that starts with `*`.
    for (const text of ['version: "1"\nhide: [*]\n', 'version: "1"\nhide:\n  - *\n']) {
      expect(parsePolicy(text).errors.map((e) => e.hint)).toEqual([
        'the bare `*` starts a YAML alias; quote it: `"*"`',
      ]);
    }
    const glob = parsePolicy('version: "1"\ntools:\n  *_file: { rules: [] }\n');
    expect(glob.errors.length).toBeGreaterThan(0);
    for (const e of glob.errors)
      expect(e.hint).toBe('the bare `*_file` key starts a YAML alias; quote it: `"*_file":`');
  });

  it("a bare `*` key's hint stays on its own errors, not on a later line's own mistake", () => {
    const r = parsePolicy('version: "1"\ntools:\n  *_file: {}\n  x: { rules: [ {action: deny}\n');
    const later = r.errors.filter((e) => e.line > 3);
    expect(later.length).toBeGreaterThan(0);
    for (const e of later) expect(e.hint ?? '').not.toContain('`*_file`');
    expect(r.errors.filter((e) => e.line === 3).every((e) => e.hint?.includes('`*_file`'))).toBe(true);
  });

  it('tells an unclosed bracket from a misaligned key', () => {
    const hint = (text: string) => parsePolicy(text).errors.map((e) => [e.line, e.hint]);
    expect(hint('version: "1"\nhide: [directory_tree\ntools:\n  write_file: {}\n')).toEqual([
      [
        3,
        'a `[` opened earlier is never closed: end the list with `]` (the lines after it are read as part of it)',
      ],
    ]);
    expect(hint('version: "1"\ntools:\n  t: { rules: []\n  u: {}\n')).toEqual([
      [
        4,
        'a `{` opened earlier is never closed: end the mapping with `}` (the lines after it are read as part of it)',
      ],
    ]);
    expect(
      hint(
        'version: "1"\ntools:\n  write_file:\n    rules:\n    - name: w\n      conditions:\n        - { path: args.path, op: regex, value: \'^/s/\' }\n     on_deny: nope\n',
      ),
    ).toEqual([
      [
        8,
        'this line is indented unlike the lines above it: the keys of one list item start in the column of its first key (just after `- `)',
      ],
    ]);
  });

  it('reports an unknown YAML tag at its position', () => {
    expect(parsePolicy('version: "1"\ndefault: !foo deny\n').errors).toMatchObject([
      { code: 'yaml-unknown-tag', line: 2, column: 10, message: 'unknown YAML tag `!foo`' },
    ]);
    expect(parsePolicy('version: "1"\nhide: !!map [a]\n').errors).toMatchObject([
      { code: 'yaml-unknown-tag', line: 2, column: 7, message: 'YAML tag `!!map` does not fit this value' },
    ]);
    // Standard tags that resolve are fine.
    expect(parsePolicy('version: !!str 1\n').errors).toEqual([]);
  });

  it('checks the rest of the policy past a refused tag, without restating the tagged value', () => {
    const r = parsePolicy(
      [
        'version: "1"',
        'tools:',
        '  foo:',
        '    rules:',
        '      - name: a',
        '        action: !env deny',
        '      - name: b',
        '        actoin: deny',
        '        on_deny: x',
        '      - name: c',
        '        rate_limit: { max: !!int lots, window: 60 }',
        '',
      ].join('\n'),
    );
    expect(r.errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [6, 17, 'yaml-unknown-tag'],
      // Rule b's own problems, which the tag used to hide.
      [7, 9, 'evaluate-without-conditions'],
      [8, 9, 'unknown-key'],
      // `!!int lots` loads as the text "lots": its "not a number" restates the tag's error.
      [11, 28, 'yaml-unknown-tag'],
    ]);
    // The tagged value loaded as written without the tag: rule a denies, so b and c never run.
    expect(r.warnings.map((e) => [e.line, e.code])).toEqual([
      [7, 'unreachable-rule'],
      [10, 'unreachable-rule'],
    ]);
  });

  it('reports YAML 1.1 tags that load as values JSON has no form for, at the tag', () => {
    const r = parsePolicy(
      'version: "1"\ndefault: !!binary ZGVueQ==\nhide: !!set { a, b }\ndescription: !!timestamp 2001-12-14\n',
    );
    expect(r.errors.map((e) => [e.line, e.column, e.code, e.message])).toEqual([
      [2, 10, 'yaml-unknown-tag', 'YAML tag `!!binary` loads as binary data, which a policy cannot use'],
      [3, 7, 'yaml-unknown-tag', 'YAML tag `!!set` loads as a set, which a policy cannot use'],
      [4, 14, 'yaml-unknown-tag', 'YAML tag `!!timestamp` loads as a date, which a policy cannot use'],
    ]);
  });
});

describe('keys that YAML reads as numbers or booleans', () => {
  it('are errors when they load as other text, and fine when they load as written', () => {
    const r = parsePolicy(
      'version: "1"\ntools:\n  1.0: {}\n  0x1F: {}\n  .inf: {}\n  True: {}\n  7: {}\n  "2.0": {}\n  false: {}\n',
    );
    expect(r.errors.filter((e) => e.code === 'yaml-key-not-text').map((e) => [e.line, e.message])).toEqual([
      [3, 'key `1.0` is a YAML number and loads as "1"'],
      [4, 'key `0x1F` is a YAML number and loads as "31"'],
      [5, 'key `.inf` is a YAML number and loads as "Infinity"'],
      [6, 'key `True` is a YAML boolean and loads as "true"'],
    ]);
  });
});
