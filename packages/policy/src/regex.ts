/**
 * Policy regexes run on RE2 (via re2js): matching time is linear in the input, so no pattern can
 * stall the proxy, and patterns like `^(a+)+$` that backtrack catastrophically in JavaScript's
 * engine are accepted and safe. RE2 cannot run backreferences or lookaround; those patterns are
 * rejected at validation time with a hint.
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
        : 'fix the pattern syntax (RE2 syntax: https://github.com/google/re2/wiki/Syntax)',
    }) as RegexResult;
  }
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
