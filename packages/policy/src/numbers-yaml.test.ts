import { describe, expect, it } from 'vitest';
import { parsePolicy } from './parse.js';
import { goNumberValue } from './yaml-source.js';

const cond = (value: string) =>
  `version: "1"\ntools:\n  t:\n    rules:\n      - conditions: [{ path: args.a, op: ${value} }]\n`;

describe('numbers and booleans as YAML loads them', () => {
  it('a number with more digits than a double holds is an error at the number', () => {
    const r = parsePolicy(cond('in, value: [1, 1098765432109876543]'), { filename: 'p.yaml' });
    expect(r.errors).toEqual([
      {
        file: 'p.yaml',
        line: 5,
        column: 57,
        code: 'inexact-number',
        message: '`1098765432109876543` has more digits than a number holds: it loads as 1098765432109876500',
        hint: 'quote it (`"1098765432109876543"`) to compare it as text, as IDs should be',
        severity: 'error',
      },
    ]);
    for (const v of ['100.00000000000000001', '9007199254740993', '-9007199254740993', '+9007199254740993'])
      expect(parsePolicy(cond(`lte, value: ${v}`)).errors.map((e) => e.code)).toEqual(['inexact-number']);
    // A schema's numbers too.
    const schema = `version: "1"\ntools:\n  t:\n    rules:\n      - validate: { schema: { properties: { id: { enum: [12345678901234567890] } } } }\n`;
    expect(parsePolicy(schema).errors.map((e) => e.code)).toEqual(['inexact-number']);
  });

  it('numbers a double holds load without a word, in every YAML spelling', () => {
    for (const v of [
      '100',
      '9007199254740992',
      '0.1',
      '1e3',
      '+5',
      '.5',
      '1.',
      '007',
      '0x1F',
      '-2.50',
      '1.5e-7',
    ])
      expect(parsePolicy(cond(`lte, value: ${v}`)).errors, v).toEqual([]);
    expect(parsePolicy(cond('eq, value: "1098765432109876543"')).errors).toEqual([]);
  });

  it('an integer written as Go writes it (3_306, 0b11) is an error: text here, a number to Intercept', () => {
    const r = parsePolicy(cond('not_in, value: [3_306, 5432, "5_432"]'), { filename: 'p.yaml' });
    expect(r.errors).toEqual([
      {
        file: 'p.yaml',
        line: 5,
        column: 58,
        code: 'yaml-number-as-text',
        message:
          '`3_306` loads as the text "3_306" (YAML 1.2), where Intercept\'s YAML reads the number 3306',
        hint: 'write `3306` for the number, or quote it (`"3_306"`) to mean the text',
        severity: 'error',
      },
    ]);
    expect(parsePolicy(cond('eq, value: 0b101')).errors.map((e) => e.message)).toEqual([
      '`0b101` loads as the text "0b101" (YAML 1.2), where Intercept\'s YAML reads the number 5',
    ]);
    // Only condition values: a rule name or on_deny that looks like one is text to both.
    expect(
      parsePolicy('version: "1"\ntools:\n  t:\n    rules:\n      - name: 1_000\n        action: deny\n')
        .errors,
    ).toEqual([]);
    // Numbers to both loaders, and text both read as text, are fine.
    for (const v of ['0x1F', '0o17', '"3_306"', '3306', 'a_1', '"1_000.5"'])
      expect(parsePolicy(cond(`eq, value: ${v}`)).errors, v).toEqual([]);
    // Fractions and exponents with separators too; under a numeric operator, quoting is no way out.
    const lte = parsePolicy(cond('lte, value: 1_000.5'));
    expect(lte.errors.map((e) => [e.code, e.message, e.hint])).toEqual([
      [
        'yaml-number-as-text',
        '`1_000.5` loads as the text "1_000.5" (YAML 1.2), where Intercept\'s YAML reads the number 1000.5',
        'write `1000.5`',
      ],
    ]);
    expect(parsePolicy(cond('not_in, value: [5_432.0, 1e1_0]')).errors.map((e) => e.code)).toEqual([
      'yaml-number-as-text',
      'yaml-number-as-text',
    ]);
  });

  it("a Go-style number does not hide the file's other problems", () => {
    const r = parsePolicy(
      'version: "1"\ndefault: maybe\ntools:\n  t:\n    rules:\n      - action: permit\n        conditions:\n          - { path: args.a, op: eq, value: 3_306 }\n          - { path: args.b, op: lt, value: 0b11 }\n',
    );
    // One error per problem: `lt` on the text "0b11" is not also reported as value-not-number.
    expect(r.errors.map((e) => [e.line, e.code])).toEqual([
      [2, 'invalid-default'],
      [6, 'invalid-action'],
      [8, 'yaml-number-as-text'],
      [9, 'yaml-number-as-text'],
    ]);
  });

  it('a quoted number under a numeric operator: the hint names the number to write', () => {
    const hint = (v: string) => parsePolicy(cond(`lt, value: ${v}`)).errors.map((e) => [e.code, e.hint]);
    expect(hint('"100"')).toEqual([['value-not-number', 'remove the quotes: `value: 100`']]);
    // Unquoted, `0b11` would load as text again (yaml-number-as-text): the decimal is the answer.
    expect(hint('"0b11"')).toEqual([['value-not-number', 'write the number: `value: 3`']]);
    expect(hint('"3_306"')).toEqual([['value-not-number', 'write the number: `value: 3306`']]);
    expect(hint('"ten"')).toEqual([['value-not-number', 'write a number, e.g. `value: 100`']]);
  });

  it('yaml-number-as-text fits the operator: quote it for a pattern, nothing where the operator refuses a scalar', () => {
    const at = (opValue: string) => parsePolicy(cond(opValue)).errors.map((e) => [e.code, e.hint]);
    expect(at('regex, value: 0b1')).toEqual([
      ['yaml-number-as-text', 'quote it (`"0b1"`): a pattern is text'],
    ]);
    expect(at('exists, value: 0b1').map(([code]) => code)).toEqual(['value-not-boolean']);
    expect(at('in, value: 0b1').map(([code]) => code)).toEqual(['value-not-list']);
    expect(at('in, value: [0b1]').map(([code]) => code)).toEqual(['yaml-number-as-text']);
  });

  it('a tagged !!str value is text to both loaders: no yaml-number-as-text', () => {
    expect(parsePolicy(cond('eq, value: !!str 1_0')).errors).toEqual([]);
  });

  it('an inexact number outside a condition value is not told to be quoted as text', () => {
    const r = parsePolicy(
      'version: "1"\ntools:\n  t:\n    rules:\n      - { name: r, rate_limit: { max: 99999999999999999999, window: 10 } }\n',
    );
    expect(r.errors.map((e) => [e.code, e.hint])).toEqual([
      ['inexact-number', 'write a number with at most 15 significant digits, which loads exactly'],
      ['invalid-rate-limit-count', undefined],
    ]);
  });

  it('goNumberValue reads what Go reads: separators anywhere after the first digit, 0b/0o/0x, a leading 0 octal', () => {
    expect(goNumberValue('3_306')).toBe('3306');
    expect(goNumberValue('-1_000')).toBe('-1000');
    expect(goNumberValue('+1_0')).toBe('10');
    expect(goNumberValue('1__0_')).toBe('10');
    expect(goNumberValue('0b11')).toBe('3');
    expect(goNumberValue('0B1_1')).toBe('3');
    expect(goNumberValue('0x_1F')).toBe('31');
    expect(goNumberValue('0o1_7')).toBe('15');
    expect(goNumberValue('0_755')).toBe('493');
    // Exact past 2^53: the message shows what Go reads, not a double's rounding of it.
    expect(goNumberValue('9_007_199_254_740_993')).toBe('9007199254740993');
    // With a fraction or an exponent, the underscores go too (yaml.v3 strips them all).
    expect(goNumberValue('5_432.0')).toBe('5432');
    expect(goNumberValue('1_000.5')).toBe('1000.5');
    expect(goNumberValue('1e1_0')).toBe('10000000000');
    expect(goNumberValue('-2_5e-1')).toBe('-2.5');
    for (const v of ['0x1F', '0o17', '3306', '1.5', '_1', '0b', '0b_', 'a_1', '1_000.5.5', '.5_0'])
      expect(goNumberValue(v), v).toBeUndefined();
  });

  it('a plain yes/no/on/off warns that it is text; quoted, or true/false, it does not', () => {
    const r = parsePolicy(cond('neq, value: yes'), { filename: 'p.yaml' });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      {
        file: 'p.yaml',
        line: 5,
        column: 54,
        code: 'yaml-11-boolean',
        message: '`yes` loads as the text "yes", not as a boolean (YAML 1.2)',
        hint: 'write `true` for the boolean, or quote it (`"yes"`) to mean the text',
        severity: 'warning',
      },
    ]);
    expect(parsePolicy(cond('in, value: [On, OFF, No]')).warnings.map((w) => w.message)).toEqual([
      '`On` loads as the text "On", not as a boolean (YAML 1.2)',
      '`OFF` loads as the text "OFF", not as a boolean (YAML 1.2)',
      '`No` loads as the text "No", not as a boolean (YAML 1.2)',
    ]);
    for (const v of ['"yes"', "'no'", 'true', 'false', 'y', 'yesterday'])
      expect(parsePolicy(cond(`eq, value: ${v}`)).warnings, v).toEqual([]);
    // Text fields are text: no warning there.
    const text =
      'version: "1"\ndescription: on\ntools:\n  t:\n    rules:\n      - { name: yes, action: deny, on_deny: No }\n';
    expect(parsePolicy(text).warnings).toEqual([]);
  });

  it('a tag or quotes around a number are not part of the literal checked', () => {
    const tagged = parsePolicy(cond('eq, value: !!int "1098765432109876543"')).errors;
    expect(tagged.map((e) => [e.code, e.message, e.hint])).toEqual([
      [
        'inexact-number',
        '`1098765432109876543` has more digits than a number holds: it loads as 1098765432109876500',
        'drop the tag and quote it (`"1098765432109876543"`) to compare it as text, as IDs should be',
      ],
    ]);
    expect(parsePolicy(cond('lte, value: !!float "0.30000000000000001"')).errors.map((e) => e.code)).toEqual([
      'inexact-number',
    ]);
  });
});
