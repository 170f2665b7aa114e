/**
 * Glob matching of tool names (policy `tools:` keys and `hide:` entries), in linear time.
 *
 * The syntax is the one docs/policy-reference.md gives: `*` any run of characters, `?` any one
 * character, `{a,b}` alternatives (nested allowed), `[abc]` / `[a-z]` / `[!abc]` classes, `\`
 * escaping the next character. Tool names are not paths: `/` and `\` are ordinary characters
 * (SEP-986, final, allows `/` in tool names, `user-profile/update`; the character guidance of MCP
 * spec 2025-11-25 "Tools > Tool Names" is a SHOULD, so a server may use any character), so
 * `hide: [delete_*]` also hides `delete_repo/force`. `?` is one code point (an emoji included).
 *
 * Why not picomatch: it is a path matcher (its `*` stops at `/`), and it compiles to a JavaScript
 * regex, run by a backtracking engine on a name the client chooses: `*_*_*_*_delete` against
 * 2,000 underscores took minutes. Here a glob becomes an RE2 pattern (`tryCompileRegex`, the
 * engine of the policy's `regex` conditions), whose matching time is linear in the name.
 * picomatch still validates globs (`validate.ts`: `invalid-glob`), so only well-formed ones get
 * here.
 */
import type { CompiledRegex } from './compiled.js';
import { tryCompileRegex } from './regex.js';

/**
 * A matcher for one or more tool-name globs (true when any matches).
 *
 * @param patterns globs already checked by `validatePolicy` (`invalid-glob`)
 * @throws Error when a glob cannot be turned into an RE2 pattern (a validated glob always can)
 */
export function toolGlobMatcher(patterns: string | readonly string[]): (name: string) => boolean {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  const regexes: CompiledRegex[] = list.map((glob) => {
    const r = tryCompileRegex(`^(?s:${globToRe2(glob)})$`);
    if (!r.ok) throw new Error(`glob ${JSON.stringify(glob)} cannot be matched: ${r.reason}`);
    return r.regex;
  });
  if (regexes.length === 1) {
    const only = regexes[0]!;
    return (name: string) => only.test(name);
  }
  return (name: string) => regexes.some((re) => re.test(name));
}

/** RE2 syntax for one glob (unanchored; see the module comment for the glob syntax). */
export function globToRe2(glob: string): string {
  let out = '';
  let braces = 0;
  const chars = Array.from(glob);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') {
      const next = chars[++i];
      if (next !== undefined) out += escapeRe2(next);
      else out += '\\\\';
    } else if (c === '*') {
      out += '.*';
      while (chars[i + 1] === '*') i++; // `**` is `*` for names
    } else if (c === '?') out += '.';
    else if (c === '[') {
      const end = classEnd(chars, i);
      if (end === -1) out += '\\[';
      else {
        let body = chars.slice(i + 1, end);
        let negate = false;
        if (body[0] === '!' || body[0] === '^') {
          negate = true;
          body = body.slice(1);
        }
        // `\` escapes the next character inside a class too (`[a\-z]` is a, - and z).
        let members = '';
        for (let k = 0; k < body.length; k++) {
          const b = body[k]!;
          if (b === '\\' && k + 1 < body.length) {
            // Punctuation escaped; a letter or digit as itself (`\d` would be RE2's digit class).
            const lit = body[++k]!;
            members += /^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/.test(lit) ? `\\${lit}` : lit;
          } else members += b === '\\' || b === '[' || b === ']' ? `\\${b}` : b;
        }
        out += `[${negate ? '^' : ''}${members}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += escapeRe2(c);
  }
  // An unclosed `{` (validation rejects such a glob) would leave a group open: close the groups,
  // so the pattern stays well formed.
  while (braces-- > 0) out += ')';
  return out;
}

/** Index of the `]` closing the class opened at `start`, or -1 (then `[` is literal). */
function classEnd(chars: readonly string[], start: number): number {
  let i = start + 1;
  if (chars[i] === '!' || chars[i] === '^') i++;
  if (chars[i] === ']') i++; // a leading `]` is a member
  for (; i < chars.length; i++) {
    if (chars[i] === '\\') i++;
    else if (chars[i] === ']') return i;
  }
  return -1;
}

/** One character as an RE2 literal. */
function escapeRe2(c: string): string {
  return /[\\^$.|?*+()[\]{}]/.test(c) ? `\\${c}` : c;
}
