import type { CompiledCondition } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { asNumber, conditionHolds, DECIMAL_LITERAL, resolvePath } from './conditions.js';
import { compile } from './evaluate.test.js';
import { InexactNumber } from './exact-arguments.js';

/** Compile one condition through the real compiler, so regexes come from the policy package. */
function cond(op: string, value: unknown, path = 'args.v'): CompiledCondition {
  const p = compile(
    `version: "1"\ntools:\n  t:\n    rules:\n      - name: r\n        conditions: [{ path: ${path}, op: ${op}, value: ${JSON.stringify(value)} }]\n`,
  );
  return p.rulesFor('t')[0]!.conditions[0]!;
}
function holds(op: string, value: unknown, args: Record<string, unknown>, path = 'args.v'): boolean {
  const c = cond(op, value, path);
  return conditionHolds(c, resolvePath(args, c.segments));
}

describe('refusing invisible characters (the invisible-text hint)', () => {
  it("not_regex '\\p{Cf}' refuses zero-width and bidi characters and lets newlines and tabs through", () => {
    const guard = (v: unknown) => holds('not_regex', '\\p{Cf}', { v });
    expect(guard('acme\u200b')).toBe(false);
    expect(guard('\u202egnp.exe')).toBe(false);
    expect(guard('/etc/sh\u00adadow')).toBe(false);
    expect(guard(['ok', 'a\u2060b'])).toBe(false);
    expect(guard('line one\nline\ttwo')).toBe(true);
    expect(guard('R\u00e9sum\u00e9 \u{1F468}')).toBe(true);
  });
});

describe('Unicode text is judged in each form a server may act on', () => {
  const KELVIN = '/tmp/\u212Aeys/k.txt'; // KELVIN SIGN: NFC reads it as K
  const NFD = '/tmp/Re\u0301sume\u0301/cv.txt'; // Résumé decomposed
  it('deny-lists fail when any reading (as sent, NFC, NFD) matches', () => {
    expect(holds('not_regex', '/Keys(/|$)', { v: '/tmp/Keys/k.txt' })).toBe(false);
    expect(holds('not_regex', '/Keys(/|$)', { v: KELVIN })).toBe(false);
    expect(holds('not_regex', '/(keys|R\u00e9sum\u00e9)(/|$)', { v: NFD })).toBe(false);
    expect(holds('not_regex', '/Keys(/|$)', { v: ['/tmp/ok', KELVIN] })).toBe(false);
    expect(holds('neq', 'caf\u00e9', { v: 'cafe\u0301' })).toBe(false);
    expect(holds('not_in', ['R\u00e9sum\u00e9'], { v: 'Re\u0301sume\u0301' })).toBe(false);
    expect(holds('not_in', ['R\u00e9sum\u00e9'], { v: ['x', 'Re\u0301sume\u0301'] })).toBe(false);
    // Policy text written decomposed (pasted from a macOS file name) meets the composed spelling.
    expect(holds('not_in', ['Re\u0301sume\u0301'], { v: 'R\u00e9sum\u00e9' })).toBe(false);
    expect(holds('neq', 'Re\u0301sume\u0301', { v: 'R\u00e9sum\u00e9' })).toBe(false);
    expect(holds('not_regex', '/Se\u0301crets(/|$)', { v: '/x/S\u00e9crets/k.txt' })).toBe(false);
    // Guards on the characters themselves see the text as sent (review).
    expect(holds('not_regex', '[^\\x00-\\x7F]', { v: 'a\u212A' })).toBe(false);
    expect(holds('not_regex', '[\\x{300}-\\x{36F}]', { v: 'Re\u0301sume\u0301' })).toBe(false);
    expect(holds('not_regex', '\\x{212A}', { v: '/srv/\u212Aeys' })).toBe(false);
    // Text with nothing to normalize is judged as sent.
    expect(holds('not_regex', '/Keys(/|$)', { v: '/tmp/k\u00e9ys' })).toBe(true);
    expect(holds('neq', 'caf\u00e9', { v: 'the' })).toBe(true);
  });
  it('allow-lists hold in NFC, and as sent unless that is fully decomposed', () => {
    expect(holds('regex', '^/tmp/(/|[^/])*$', { v: KELVIN })).toBe(true);
    expect(holds('eq', 'caf\u00e9', { v: 'caf\u00e9' })).toBe(true);
    expect(holds('eq', 'caf\u00e9', { v: 'cafe\u0301' })).toBe(true);
    expect(holds('eq', 'Re\u0301sume\u0301', { v: 'R\u00e9sum\u00e9' })).toBe(true);
    expect(holds('in', ['Zoe\u0308'], { v: 'Zoe\u0308' })).toBe(true);
    expect(holds('contains', 'Zoe\u0308', { v: ['Zoe\u0308'] })).toBe(true);
    expect(holds('regex', '^/home/R\u00e9sum\u00e9(/|$)', { v: '/home/Re\u0301sume\u0301/cv.pdf' })).toBe(
      true,
    );
    expect(holds('contains', 'caf\u00e9', { v: 'un cafe\u0301 noir' })).toBe(true);
    expect(holds('in', ['a', 'caf\u00e9'], { v: ['a', 'cafe\u0301'] })).toBe(true);
    expect(holds('eq', 'caf\u00e9', { v: 'cafe' })).toBe(false);
    expect(holds('exists', true, { v: KELVIN })).toBe(true);
    // Text NFC turns into ASCII must pass as sent too: a server that does not normalize reads it.
    expect(holds('regex', '^[\\x00-\\x7F]*$', { v: '\u212Aeys' })).toBe(false);
    expect(holds('regex', '^[ -~]*$', { v: 'ls\u037E' })).toBe(false);
    expect(holds('eq', 'Keys', { v: '\u212Aeys' })).toBe(false);
    // Patterns are not rewritten: a class of e and a combining mark stays one.
    expect(holds('regex', '^[e\u0301]$', { v: 'e' })).toBe(true);
    // NFKC is not applied: "…", "™" and ligatures compare as written.
    expect(holds('eq', 'a\u2026', { v: 'a\u2026' })).toBe(true);
    expect(holds('in', ['Acme\u2122'], { v: 'Acme\u2122' })).toBe(true);
    expect(holds('contains', '\ufb01', { v: 'x\ufb01' })).toBe(true);
    expect(holds('regex', '^[^.]*$', { v: 'wait\u2026' })).toBe(true);
    expect(holds('eq', 'a...', { v: 'a\u2026' })).toBe(false);
  });
  it('digits of any script make a string numeric to some parser', () => {
    // Python's int() reads "\u0665" (ARABIC-INDIC FIVE) as 5.
    expect(holds('neq', 5, { v: '\u0665' })).toBe(false);
    expect(holds('not_in', [12], { v: '\u0661\u0662' })).toBe(false);
    expect(holds('neq', 5, { v: 'five' })).toBe(true);
  });
});

describe('resolvePath', () => {
  it('walks own properties and array indexes; missing and prototype keys are not found', () => {
    expect(resolvePath({ a: { b: [10, 20] } }, ['a', 'b', '1'])).toEqual({ found: true, value: 20 });
    expect(resolvePath({ a: null }, ['a'])).toEqual({ found: true, value: null });
    expect(resolvePath({ a: null }, ['a', 'b']).found).toBe(false);
    expect(resolvePath({}, ['constructor']).found).toBe(false);
    expect(resolvePath({ a: [1] }, ['a', 'length']).found).toBe(false);
    expect(resolvePath({ a: 'str' }, ['a', '0']).found).toBe(false);
  });
});

describe('operators (docs/runtime.md "Operator semantics")', () => {
  it('eq / neq: numbers compare numerically, also against numeric strings; strings compare as text', () => {
    expect(holds('eq', 5, { v: 5 })).toBe(true);
    expect(holds('eq', 5, { v: 5.0 })).toBe(true);
    expect(holds('eq', 5, { v: '5' })).toBe(true);
    // Only plain integer literals count as numbers; other numeric strings are undecidable.
    expect(holds('eq', 5, { v: ' 5 ' })).toBe(false);
    expect(holds('neq', 5, { v: ' 5 ' })).toBe(false);
    expect(holds('neq', 16, { v: '0x10' })).toBe(false);
    expect(holds('neq', 5, { v: '+5' })).toBe(false);
    expect(holds('neq', 5, { v: '05' })).toBe(false);
    expect(holds('neq', 5, { v: 'five' })).toBe(true);
    // `parseInt` reads 1 from "1e3", 10 from "10e-1", 1 from "1.9" and 12 from "12abc".
    expect(holds('eq', 1000, { v: '1e3' })).toBe(false);
    expect(holds('neq', 1000, { v: '1e3' })).toBe(false);
    expect(holds('eq', 1, { v: '1.0' })).toBe(false);
    expect(holds('neq', 1, { v: '1.9' })).toBe(false);
    expect(holds('neq', 12, { v: '12abc' })).toBe(false);
    expect(holds('neq', 12, { v: ' -12' })).toBe(false);
    expect(holds('in', [1, 2], { v: '10e-1' })).toBe(false);
    expect(holds('not_in', [10], { v: '10e-1' })).toBe(false);
    expect(holds('not_in', [12], { v: ['12abc'] })).toBe(false);
    expect(holds('contains', 1, { v: ['10e-1'] })).toBe(false);
    expect(holds('neq', 5, { v: 'abc5' })).toBe(true);
    // The policy's own strings are read as its author wrote them.
    expect(holds('eq', '1.0', { v: '1' })).toBe(false);
    expect(holds('eq', '1.0', { v: 1 })).toBe(true);
    expect(holds('eq', 'main', { v: 'main' })).toBe(true);
    expect(holds('eq', 0, { v: '' })).toBe(false);
    expect(holds('neq', 'draft', { v: 'final' })).toBe(true);
    expect(holds('neq', 5, { v: '5' })).toBe(false);
    // An object or array may hold the value: neq cannot vouch for it, eq never matches it.
    expect(holds('neq', 'x', { v: { a: 1 } })).toBe(false);
    expect(holds('neq', 'secret', { v: ['secret'] })).toBe(false);
    expect(holds('neq', 'secret', { v: [] })).toBe(false);
    expect(holds('eq', 'secret', { v: ['secret'] })).toBe(false);
  });

  it('a missing path fails every operator except exists: false', () => {
    for (const [op, value] of [
      ['eq', 1],
      ['neq', 1],
      ['in', [1]],
      ['not_in', [1]],
      ['lt', 1],
      ['gte', 1],
      ['regex', '.*'],
      ['not_regex', 'x'],
      ['contains', 'a'],
      ['exists', true],
    ] as const) {
      expect(holds(op, value, {})).toBe(false);
    }
    expect(holds('exists', false, {})).toBe(true);
    // null counts as absent, as in Intercept: `"amount": null` does not satisfy a required argument.
    expect(holds('exists', false, { v: null })).toBe(true);
    expect(holds('exists', true, { v: null })).toBe(false);
    expect(holds('exists', true, { v: 0 })).toBe(true);
    expect(holds('exists', true, { v: '' })).toBe(true);
    expect(holds('exists', false, { v: false })).toBe(false);
  });

  it('lt / lte / gt / gte: numbers and numeric strings; anything else fails the condition', () => {
    expect(holds('lte', 50000, { v: 50000 })).toBe(true);
    expect(holds('lte', 50000, { v: 50001 })).toBe(false);
    expect(holds('lt', 10, { v: '9' })).toBe(true);
    expect(holds('lt', 10, { v: 9.5 })).toBe(true);
    expect(holds('lt', 10, { v: '9.5' })).toBe(false);
    expect(holds('lte', 50000, { v: '999999' })).toBe(false);
    expect(holds('gt', 0, { v: -1 })).toBe(false);
    expect(holds('gte', 1, { v: 1 })).toBe(true);
    for (const v of ['abc', '', true, null, [1], { a: 1 }, '12abc']) {
      expect(holds('lt', 100, { v })).toBe(false);
      expect(holds('gte', 0, { v })).toBe(false);
    }
  });

  it('numeric strings: only plain integer literals compare as numbers', () => {
    for (const v of ['100', '-2', '0', '7', '-0']) {
      expect(holds('lte', 100, { v })).toBe(true);
      expect(asNumber(v)).toBe(Number(v));
    }
    // Number() would read all of these as numbers; servers disagree on them, so they fail.
    // `parseInt` reads "1000000e-5" as 1000000 where Number() reads 10: a cap of 10 must not pass.
    expect(holds('lte', 10, { v: '1000000e-5' })).toBe(false);
    expect(holds('gte', 1.5, { v: '1.9' })).toBe(false);
    for (const v of [
      '-2.5',
      '0.5',
      '1e2',
      '1E+2',
      '2.0',
      ' 100 ',
      '0x10',
      '+5',
      '05',
      '1.',
      '.5',
      '1_000',
      'Infinity',
      '1e999',
      '\t7',
      '0b1',
      '0o7',
    ]) {
      expect(holds('lte', 1e300, { v })).toBe(false);
      expect(holds('gte', -1e300, { v })).toBe(false);
      expect(asNumber(v)).toBeUndefined();
    }
    expect(DECIMAL_LITERAL.source).toBe('^-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?$');
  });

  it('booleans against text: the policy text "true" / "false" is the boolean, as Intercept reads it', () => {
    // Policies written for Intercept quote their values; it compares both sides as text.
    expect(holds('neq', 'false', { v: false })).toBe(false);
    expect(holds('neq', 'false', { v: true })).toBe(true);
    expect(holds('neq', 'true', { v: true })).toBe(false);
    expect(holds('eq', 'true', { v: true })).toBe(true);
    expect(holds('eq', 'false', { v: true })).toBe(false);
    expect(holds('not_in', ['true'], { v: true })).toBe(false);
    expect(holds('in', ['false', 'x'], { v: false })).toBe(true);
    expect(holds('contains', 'false', { v: [true, false] })).toBe(true);
    // Other text that reads as a boolean is undecidable: eq and neq both fail.
    expect(holds('neq', 'True', { v: true })).toBe(false);
    expect(holds('eq', 'True', { v: true })).toBe(false);
    expect(holds('neq', ' no', { v: false })).toBe(false);
    // Text that is no boolean word is unequal to a boolean.
    expect(holds('neq', 'draft', { v: true })).toBe(true);
    expect(holds('eq', 'draft', { v: true })).toBe(false);
    // A boolean argument against the policy's boolean is plain equality.
    expect(holds('neq', false, { v: false })).toBe(false);
    expect(holds('neq', false, { v: true })).toBe(true);
    // An argument string that a coercing server reads as a boolean, against the policy's boolean:
    // undecidable, so `neq: true` / `not_in: [true]` cannot be passed with "true" or "TRUE".
    expect(holds('eq', true, { v: 'true' })).toBe(false);
    expect(holds('neq', true, { v: 'true' })).toBe(false);
    expect(holds('neq', true, { v: 'TRUE' })).toBe(false);
    expect(holds('not_in', [true], { v: 'yes' })).toBe(false);
    // A truthiness test reads any non-empty text as true.
    expect(holds('neq', true, { v: 'draft' })).toBe(false);
    expect(holds('neq', false, { v: 'draft' })).toBe(true);
  });

  it('the quoted "true" / "false" refuses what the unquoted boolean refuses: text and numbers a coercing server reads as it', () => {
    // pydantic's lax mode (FastMCP servers) reads these as booleans; a strict server as text.
    for (const policy of ['false', false])
      for (const v of [false, 'FALSE', 'False', 'off', 'no', ' No ', '0', 0, 'f', 'n'])
        expect(holds('neq', policy, { v }), `${JSON.stringify(v)} neq ${JSON.stringify(policy)}`).toBe(false);
    // What reads as the other boolean, or as no boolean at all, is unequal either way.
    for (const policy of ['false', false])
      for (const v of [true, 'TRUE', 'yes', '1', 1, 'draft', 2])
        expect(holds('neq', policy, { v }), `${JSON.stringify(v)} neq ${JSON.stringify(policy)}`).toBe(true);
    // Against the policy's own boolean, a truthiness test counts too: `if args.get("force")` reads
    // any non-empty text as true, "", 0 and null as false.
    for (const v of ['false', 'no', 'draft', 2, '0'])
      expect(holds('neq', true, { v }), `${JSON.stringify(v)} neq true`).toBe(false);
    expect(holds('neq', true, { v: '' })).toBe(true);
    expect(holds('neq', true, { v: 0 })).toBe(true);
    expect(holds('neq', false, { v: null })).toBe(false);
    expect(holds('neq', false, { v: '' })).toBe(false);
    expect(holds('not_in', [true], { v: 'false' })).toBe(false);
    // The text "true" may be meant as text: only word readings count against it.
    expect(holds('neq', 'true', { v: 'auto' })).toBe(true);
    expect(holds('neq', 'false', { v: null })).toBe(true);
    // A boolean argument against the number it converts to is undecidable.
    expect(holds('neq', 1, { v: true })).toBe(false);
    expect(holds('not_in', [0, 1], { v: false })).toBe(false);
    expect(holds('neq', 0, { v: true })).toBe(true);
    expect(holds('eq', 1, { v: true })).toBe(false);
    expect(holds('not_in', ['true', 1], { v: 'TRUE' })).toBe(false);
    expect(holds('not_in', ['true', 1], { v: 'yes' })).toBe(false);
    expect(holds('not_in', ['true', 1], { v: 'no' })).toBe(true);
    expect(holds('eq', 'false', { v: 'false' })).toBe(true);
    expect(holds('eq', 'false', { v: 'FALSE' })).toBe(false);
    // A boolean argument against policy text that reads as one (`"1"`, `"yes"`): undecidable.
    expect(holds('neq', '1', { v: true })).toBe(false);
    expect(holds('neq', 'n', { v: false })).toBe(false);
  });

  it('in / not_in: membership with the eq rules, over mixed-type lists', () => {
    expect(holds('in', ['usd', 'eur'], { v: 'usd' })).toBe(true);
    expect(holds('in', ['usd', 'eur'], { v: 'USD' })).toBe(false);
    expect(holds('in', [1, 'two', true], { v: '1' })).toBe(true);
    expect(holds('in', [1, 'two', true], { v: 'two' })).toBe(true);
    expect(holds('in', [1, 'two', true], { v: true })).toBe(true);
    expect(holds('in', [1, 'two', true], { v: 'true' })).toBe(false);
    expect(holds('not_in', ['admin', 0], { v: 'user' })).toBe(true);
    expect(holds('not_in', ['admin', 0], { v: '0' })).toBe(false);
    expect(holds('not_in', ['admin'], { v: 'admin' })).toBe(false);
    // A loosely numeric string against a numeric member is undecidable: both fail.
    expect(holds('not_in', [0, 'admin'], { v: ' 0' })).toBe(false);
    expect(holds('in', [0, 'admin'], { v: ' 0' })).toBe(false);
  });

  it('in / not_in on arrays: every element in / no element in; objects fail both', () => {
    expect(holds('not_in', ['secret'], { message: ['secret'] }, 'args.message')).toBe(false);
    expect(holds('not_in', ['secret'], { v: ['hello', 'secret'] })).toBe(false);
    expect(holds('not_in', ['secret'], { v: ['hello', 'world'] })).toBe(true);
    expect(holds('not_in', ['secret'], { v: [] })).toBe(true);
    expect(holds('not_in', ['secret'], { v: [['secret']] })).toBe(false);
    expect(holds('not_in', ['secret'], { v: [{ a: 'secret' }] })).toBe(false);
    expect(holds('not_in', ['secret'], { v: { a: 'secret' } })).toBe(false);
    expect(holds('not_in', ['secret'], { v: {} })).toBe(false);
    expect(holds('in', ['usd', 'eur'], { v: ['usd', 'eur'] })).toBe(true);
    expect(holds('in', [1, 2], { v: ['1', 2] })).toBe(true);
    expect(holds('in', ['usd', 'eur'], { v: ['usd', 'gbp'] })).toBe(false);
    expect(holds('in', ['usd', 'eur'], { v: [] })).toBe(false);
    expect(holds('in', ['usd'], { v: [['usd']] })).toBe(false);
    expect(holds('in', ['usd'], { v: { a: 'usd' } })).toBe(false);
  });

  it('contains: substring on strings, element on arrays, fails on other types', () => {
    expect(holds('contains', 'test', { v: 'a test run' })).toBe(true);
    expect(holds('contains', 'test', { v: 'a TEST run' })).toBe(false);
    expect(holds('contains', 'rm', { v: ['ls', 'rm'] })).toBe(true);
    expect(holds('contains', 'r', { v: ['ls', 'rm'] })).toBe(false);
    expect(holds('contains', 3, { v: [1, '3'] })).toBe(true);
    expect(holds('contains', 'a', { v: { a: 1 } })).toBe(false);
    expect(holds('contains', 'a', { v: 42 })).toBe(false);
  });

  it('regex: unanchored search through the compiled linear-time matcher', () => {
    expect(holds('regex', '^feat/', { v: 'feat/login' })).toBe(true);
    expect(holds('regex', '^feat/', { v: 'fix/feat/login' })).toBe(false);
    expect(holds('regex', 'secret', { v: 'my-secret-file' })).toBe(true);
    expect(holds('regex', '^\\d+$', { v: 123 })).toBe(true);
    expect(holds('regex', '.*', { v: ['a'] })).toBe(false);
    expect(holds('regex', '(a+)+$', { v: `${'a'.repeat(50_000)}!` })).toBe(false);
  });

  it('not_regex: passes when the search finds nothing; lists element by element; other types fail', () => {
    expect(holds('not_regex', 'rm\\s+-rf', { v: 'ls -la' })).toBe(true);
    expect(holds('not_regex', 'rm\\s+-rf', { v: 'cd /tmp && rm  -rf /' })).toBe(false);
    expect(holds('not_regex', '(^|/)\\.\\.(/|$)', { v: '/srv/sandbox/../etc' })).toBe(false);
    expect(holds('not_regex', '(^|/)\\.\\.(/|$)', { v: '/srv/sandbox/..hidden' })).toBe(true);
    expect(holds('not_regex', '^4', { v: 42 })).toBe(false);
    expect(holds('not_regex', '^4', { v: 52 })).toBe(true);
    expect(holds('not_regex', '(?i)drop', { v: 'DROP TABLE x' })).toBe(false);
    // A list: every element searched; one match, or one element that is not text, fails.
    expect(holds('not_regex', 'secret', { v: ['a.txt', 'b.txt'] })).toBe(true);
    expect(holds('not_regex', 'secret', { v: ['a.txt', 'my-secret'] })).toBe(false);
    expect(holds('not_regex', 'secret', { v: ['a.txt', ['my-secret']] })).toBe(false);
    expect(holds('not_regex', 'secret', { v: ['a.txt', { f: 'x' }] })).toBe(false);
    expect(holds('not_regex', 'secret', { v: [] })).toBe(true);
    // Not text: a mapping may hold the forbidden string, a boolean or null cannot be searched.
    expect(holds('not_regex', 'secret', { v: { f: 'my-secret' } })).toBe(false);
    expect(holds('not_regex', 'secret', { v: { f: 'fine' } })).toBe(false);
    expect(holds('not_regex', 'true', { v: false })).toBe(false);
    expect(holds('not_regex', 'x', { v: null })).toBe(false);
    expect(holds('not_regex', 'x', { v: Number.NaN })).toBe(false);
    expect(holds('not_regex', '(a+)+$', { v: `${'a'.repeat(50_000)}!` })).toBe(true);
  });

  it('numbers a double rounds are never compared as numbers: every numeric operator fails', () => {
    const sent = new InexactNumber('1098765432109876511');
    const policyId = '1098765432109876543';
    // An ID allow-list, quoted in the policy: the neighbouring ID, sent as a number or a string.
    expect(holds('eq', policyId, { v: sent })).toBe(false);
    expect(holds('eq', policyId, { v: '1098765432109876511' })).toBe(false);
    expect(holds('in', [policyId], { v: sent })).toBe(false);
    expect(holds('in', [policyId], { v: '1098765432109876511' })).toBe(false);
    // The same ID as text still matches as text.
    expect(holds('eq', policyId, { v: policyId })).toBe(true);
    // A deny-list cannot vouch for them either (a double-reading server sees its forbidden ID).
    expect(holds('neq', policyId, { v: sent })).toBe(false);
    expect(holds('not_in', [policyId], { v: sent })).toBe(false);
    expect(holds('neq', 9007199254740992, { v: '9007199254740993' })).toBe(false);
    expect(holds('neq', 5, { v: sent })).toBe(false);
    // Bounds: a string holding more precision than a double is not a number.
    expect(holds('lte', 100, { v: '100.00000000000000001' })).toBe(false);
    expect(holds('lte', 100, { v: new InexactNumber('100.00000000000000001') })).toBe(false);
    expect(holds('gte', 0, { v: sent })).toBe(false);
    expect(holds('contains', 5, { v: [sent] })).toBe(false);
    expect(holds('not_in', [1], { v: [sent] })).toBe(false);
    // Regexes search the digits as sent; exists sees the value.
    expect(holds('regex', '^1098765432109876511$', { v: sent })).toBe(true);
    expect(holds('not_regex', '^1098765432109876543$', { v: sent })).toBe(true);
    expect(holds('not_regex', '^1098765432109876511$', { v: [sent] })).toBe(false);
    expect(holds('exists', true, { v: sent })).toBe(true);
    // Numbers a double holds are unaffected.
    expect(holds('lte', 100, { v: '100' })).toBe(true);
    expect(holds('eq', 9007199254740992, { v: '9007199254740992' })).toBe(true);
    expect(asNumber('9007199254740993')).toBeUndefined();
    expect(asNumber('1e400')).toBeUndefined();
  });

  it('nested paths', () => {
    expect(holds('eq', 'val', { metadata: { key: 'val' } }, 'args.metadata.key')).toBe(true);
  });
});
