/**
 * Policy regexes run on RE2 (via re2js): matching time is linear in the input, so no pattern can
 * stall the proxy, and patterns like `^(a+)+$` that backtrack catastrophically in JavaScript's
 * engine are accepted and safe. RE2 cannot run backreferences or lookaround; those patterns are
 * rejected at validation time with a hint.
 *
 * Fast path: many policy patterns are plain text with optional anchors (`^sandbox/`, `\.env$`,
 * `^/tmp/.*`). For those, {@link literalForm} proves at compile time that the pattern is a fixed
 * string, and matching is `startsWith` / `endsWith` / `includes` / `===`: linear like RE2, about
 * ten times cheaper than an RE2 search, and with the same answer (a property test checks it
 * against RE2). Every other pattern runs on RE2.
 */
import { RE2JS } from 're2js';
import type { CompiledRegex } from './compiled.js';

/** Outcome of {@link tryCompileRegex}: the matcher, or why the pattern cannot be used. */
export type RegexResult =
  | { ok: true; regex: CompiledRegex }
  | { ok: false; unsupported: boolean; reason: string; hint: string };

const UNSUPPORTED = /invalid escape sequence: `\\[1-9]|unsupported Perl syntax|invalid named capture|\\[1-9]/;

/**
 * Compile `source` with unanchored search semantics (like `RegExp#test`). Never throws.
 * The returned `test` never throws either: non-string input simply does not match.
 */
export function tryCompileRegex(source: string): RegexResult {
  const hit = cache.get(source);
  if (hit) return hit;
  const result = compileUncached(source);
  // Validation and compilation both need each pattern, and reloads see the same patterns again.
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(source, result);
  return result;
}

const CACHE_LIMIT = 1000;
const cache = new Map<string, RegexResult>();

function compileUncached(source: string): RegexResult {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const reason = raw.replace(/^error parsing regexp: /, '');
    const unsupported = UNSUPPORTED.test(raw);
    return Object.freeze({
      ok: false,
      unsupported,
      reason,
      hint: unsupported
        ? 'Tollgate runs regexes on a linear-time (RE2) engine, which has no backreferences (\\1) or lookaround ((?=, (?!, (?<=, (?<!); rewrite without them or split into several conditions'
        : /invalid escape sequence: `\\u`/.test(raw)
          ? 'RE2 writes a character by its code point as \\x{e9} (or \\x{1F600}), not \\u00e9'
          : 'fix the pattern syntax (RE2 syntax: https://github.com/google/re2/wiki/Syntax)',
    }) as RegexResult;
  }
  const literal = literalForm(source);
  if (literal) return Object.freeze({ ok: true, regex: literalRegex(source, literal) }) as RegexResult;
  const regex: CompiledRegex = Object.freeze({
    source,
    test(input: string): boolean {
      if (typeof input !== 'string') return false;
      try {
        return re.matcher(input).find();
      } catch {
        return false;
      }
    },
  });
  return Object.freeze({ ok: true, regex }) as RegexResult;
}

/** A pattern proven to be a fixed string, with where it must sit in the input. */
export interface LiteralForm {
  /** The text the pattern stands for (escapes resolved). */
  readonly text: string;
  /** `^`: the text must start the input. */
  readonly atStart: boolean;
  /** `$`: the text must end the input. */
  readonly atEnd: boolean;
}

/** Punctuation RE2 lets a backslash escape to its literal self (RE2 syntax: `\\` + punctuation). */
const ESCAPABLE = new Set('\\.+*?()|[]{}^$/-#&~=!<>:;,\'"%@`_ '.split(''));
/** Unescaped, these are syntax; anything else stands for itself. */
const META = new Set('\\.+*?()|[]{}^$'.split(''));

/**
 * Recognise a pattern that can only ever match one fixed string, so it can be matched without a
 * regex engine. The proof rule, read left to right over the pattern's UTF-16 units:
 *
 * - an optional `^` first and an optional unescaped `$` last (RE2 without `(?m)`: `^` is the start
 *   of the input, `$` its very end, unlike Perl's "before a final newline");
 * - in between, only characters that are not RE2 syntax (`\ . + * ? ( ) | [ ] { } ^ $`) and
 *   backslash escapes of punctuation, which RE2 reads as that punctuation;
 * - a trailing `.*` with no `$` and a leading `.*` with no `^` are dropped: `.*` may match the
 *   empty string, so an unanchored search for `x.*` succeeds exactly where one for `x` does;
 * - no surrogate code units: RE2 reads the input as code points, JavaScript's string search as
 *   UTF-16 units, and the two agree only when the pattern holds no half of a pair (nor U+FFFD,
 *   which a decoder may substitute for a lone surrogate in the input).
 *
 * Anything else (classes, `\d`, quantifiers, groups, alternation, flags such as `(?i)`) returns
 * undefined and keeps the pattern on RE2. The result is only a shortcut: it never widens what is
 * accepted, since the pattern was compiled by RE2 first.
 */
export function literalForm(source: string): LiteralForm | undefined {
  let body = source;
  const atStart = body.startsWith('^');
  if (atStart) body = body.slice(1);
  let atEnd = false;
  if (body.endsWith('$') && !endsEscaped(body, body.length - 1)) {
    atEnd = true;
    body = body.slice(0, -1);
  }
  if (!atEnd && body.endsWith('.*') && !endsEscaped(body, body.length - 2)) body = body.slice(0, -2);
  if (!atStart && body.startsWith('.*')) body = body.slice(2);
  let text = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    const code = ch.charCodeAt(0);
    if ((code >= 0xd800 && code <= 0xdfff) || code === 0xfffd) return undefined;
    if (ch === '\\') {
      const next = body[i + 1];
      if (next === undefined || !ESCAPABLE.has(next)) return undefined;
      text += next;
      i++;
      continue;
    }
    if (META.has(ch)) return undefined;
    text += ch;
  }
  return { text, atStart, atEnd };
}

/** True when the character at `index` is preceded by an odd number of backslashes. */
function endsEscaped(s: string, index: number): boolean {
  let n = 0;
  for (let i = index - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function literalRegex(source: string, f: LiteralForm): CompiledRegex {
  const { text, atStart, atEnd } = f;
  const test =
    atStart && atEnd
      ? (input: string) => input === text
      : atStart
        ? (input: string) => input.startsWith(text)
        : atEnd
          ? (input: string) => input.endsWith(text)
          : (input: string) => input.includes(text);
  return Object.freeze({
    source,
    test(input: string): boolean {
      return typeof input === 'string' && test(input);
    },
  });
}

/**
 * A JSON Schema `pattern` engine for ajv's `code.regExp` option, on RE2 like every other regex
 * of a policy: ajv would otherwise run `pattern` and `patternProperties` with JavaScript's
 * backtracking engine, where `"^(a+)+$"` against 30 `a`s and a `!` takes tens of seconds and
 * stalls the proxy for every session.
 *
 * A pattern RE2 cannot run (backreferences, lookaround) is, with `unsupported: 'throw'`, a compile
 * error of the schema (`Error` with the reason: used for a policy's own `validate.schema`, so it is
 * reported at load time); with `'skip'`, a check that always passes (used for server
 * `inputSchema`s, which Tollgate checks for the policy's sake, not instead of the server).
 *
 * @returns a function ajv calls as `regExp(pattern, flags)`; `flags` (`"u"`) is ignored: RE2
 *   matches code points.
 */
export function re2PatternEngine(unsupported: 'throw' | 'skip'): {
  (pattern: string, flags?: string): { test(s: string): boolean };
  code: string;
} {
  const engine = (pattern: string) => {
    const r = tryCompileRegex(pattern);
    if (r.ok) {
      const regex = r.regex;
      // ajv keys compiled patterns by `toString()`: it must differ from pattern to pattern.
      return { test: (s: string) => regex.test(s), toString: () => `/${pattern}/` };
    }
    if (unsupported === 'throw')
      throw new Error(`pattern ${JSON.stringify(pattern)}: ${r.reason} (${r.hint})`);
    return { test: () => true, toString: () => `/${pattern}/ (not run: ${r.reason})` };
  };
  // Only read by ajv's standalone code generation, which Tollgate does not use.
  engine.code = 'tollgateRe2Pattern';
  return engine;
}
