import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { literalForm, tryCompileRegex } from './regex.js';

/** The reference: an unanchored RE2 search, as the engine runs every pattern without a fast path. */
function re2(pattern: string, input: string): boolean {
  return RE2JS.compile(pattern).matcher(input).find();
}

function compiled(pattern: string) {
  const r = tryCompileRegex(pattern);
  if (!r.ok) throw new Error(`pattern ${pattern} rejected: ${r.reason}`);
  return r.regex;
}

describe('literalForm: which patterns skip the regex engine', () => {
  it.each([
    ['^sandbox/', { text: 'sandbox/', atStart: true, atEnd: false }],
    ['\\.env$', { text: '.env', atStart: false, atEnd: true }],
    ['^/tmp/.*', { text: '/tmp/', atStart: true, atEnd: false }],
    ['.*secret', { text: 'secret', atStart: false, atEnd: false }],
    ['^exact$', { text: 'exact', atStart: true, atEnd: true }],
    ['a\\\\.*', { text: 'a\\', atStart: false, atEnd: false }],
    ['', { text: '', atStart: false, atEnd: false }],
    ['^$', { text: '', atStart: true, atEnd: true }],
    ['C:\\\\Users\\\\', { text: 'C:\\Users\\', atStart: false, atEnd: false }],
  ])('%s is the fixed string %o', (pattern, form) => {
    expect(literalForm(pattern)).toEqual(form);
  });

  it.each([
    '^(a+)+$',
    '(a|aa)*b',
    '^(a*)*$',
    'a+',
    'a*a*a*b',
    '[a-z]',
    '\\d',
    '\\bword',
    '(?i)abc',
    'a.c',
    'a{2}',
    'a|b',
    'x.*$',
    '^.*x',
    'a\\.*',
    'ab$c',
    '\\Qa.b\\E',
    '\ud83d\ude00',
    'a\ufffd',
    'a\\',
  ])('%s stays on RE2', (pattern) => {
    expect(literalForm(pattern)).toBeUndefined();
  });

  it('still runs catastrophic patterns on RE2, in linear time', () => {
    const r = compiled('^(a+)+$');
    expect(r.test(`${'a'.repeat(50_000)}b`)).toBe(false);
    expect(r.test('a'.repeat(50_000))).toBe(true);
  });
});

// Patterns built from text, escapes, anchors and `.*`, over a small alphabet so matches happen.
const piece = fc.constantFrom(
  'a',
  'b',
  '/',
  '.',
  '\\.',
  '\\\\',
  '\\/',
  '\\$',
  '\\^',
  '\\*',
  '-',
  'é',
  '😀',
  ' ',
);
const pattern = fc
  .tuple(fc.boolean(), fc.boolean(), fc.array(piece, { maxLength: 5 }), fc.constantFrom('', '.*', '$', '.*$'))
  .map(
    ([lead, leadDotStar, body, tail]) =>
      `${lead ? '^' : ''}${leadDotStar ? '.*' : ''}${body.join('')}${tail}`,
  );
const input = fc
  .array(
    fc.constantFrom('a', 'b', '/', '.', '\\', '$', '^', '*', '-', 'é', '😀', ' ', '\n', '\ud83d', '\ufffd'),
    {
      maxLength: 12,
    },
  )
  .map((a) => a.join(''));

describe('the literal fast path agrees with RE2', () => {
  it('on generated patterns and inputs', () => {
    let literal = 0;
    fc.assert(
      fc.property(pattern, fc.array(input, { minLength: 1, maxLength: 8 }), (p, inputs) => {
        if (literalForm(p)) literal++;
        const r = compiled(p);
        for (const s of inputs) {
          expect(r.test(s)).toBe(re2(p, s));
          // Text that contains the literal, so positive cases are exercised too.
          const form = literalForm(p);
          if (form) {
            const hit = `${form.atStart ? '' : s}${form.text}${form.atEnd ? '' : s}`;
            expect(r.test(hit)).toBe(re2(p, hit));
          }
        }
      }),
      { numRuns: 600 },
    );
    // The generator must actually reach the fast path, or the property proves nothing.
    expect(literal).toBeGreaterThan(150);
  });

  it('on arbitrary text patterns that the rule accepts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 16 }), (p, s) => {
        let ok = true;
        try {
          RE2JS.compile(p);
        } catch {
          ok = false;
        }
        fc.pre(ok && literalForm(p) !== undefined);
        expect(compiled(p).test(s)).toBe(re2(p, s));
        expect(compiled(p).test(`${s}${literalForm(p)!.text}${s}`)).toBe(
          re2(p, `${s}${literalForm(p)!.text}${s}`),
        );
      }),
      { numRuns: 600 },
    );
  });

  it('does not match non-strings', () => {
    expect(compiled('^a').test(1 as unknown as string)).toBe(false);
  });
});
