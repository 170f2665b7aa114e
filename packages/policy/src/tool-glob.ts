/**
 * Glob matching of tool names (policy `tools:` keys and `hide:` entries).
 *
 * picomatch is a path matcher: its `*` and `?` never match `/` (nor `\` on Windows). Tool names
 * are not paths: SEP-986 (final) allows `/` in them (`user-profile/update`), and the character
 * guidance of MCP spec 2025-11-25 ("Tools > Tool Names") is a SHOULD, so a server may use any
 * character. Matched as paths, `hide: [delete_*]` would not hide `delete_repo/force`. Here `*` matches any run of characters and `?` any one
 * character, `/` and `\` included, as docs/policy-reference.md promises: picomatch runs in its
 * POSIX mode with `dot: true`, and a name holding `/` is matched with every `/` (in the name and
 * in the patterns alike) swapped for a character that occurs in neither, which picomatch treats
 * as an ordinary one.
 */
import picomatch from 'picomatch';

/** picomatch options for tool names: leading dots are ordinary, `\` is no separator on any OS. */
const OPTIONS = { dot: true, windows: false } as const;

/**
 * A matcher for one or more tool-name globs (true when any matches).
 *
 * @param patterns globs already checked by `validatePolicy` (`invalid-glob`)
 * @returns a predicate on tool names; it throws `RangeError` only for a name that holds every
 *   code point of the private use areas (no character is left to stand in for `/`): callers treat
 *   a throw as "cannot decide" and refuse the call.
 */
export function toolGlobMatcher(patterns: string | readonly string[]): (name: string) => boolean {
  const list = typeof patterns === 'string' ? [patterns] : [...patterns];
  const plain = picomatch(list, OPTIONS);
  return (name: string): boolean => {
    if (!name.includes('/')) return plain(name);
    const stand = standIn(name, list);
    return picomatch(
      list.map((p) => p.replaceAll('/', stand)),
      OPTIONS,
    )(name.replaceAll('/', stand));
  };
}

/** A character of the private use areas that occurs in neither `name` nor `patterns`. */
function standIn(name: string, patterns: readonly string[]): string {
  const used = (c: string) => name.includes(c) || patterns.some((p) => p.includes(c));
  for (const [from, to] of PRIVATE_USE) {
    for (let cp = from; cp <= to; cp++) {
      const c = String.fromCodePoint(cp);
      if (!used(c)) return c;
    }
  }
  throw new RangeError('tool name uses every private-use character: cannot match it against a glob');
}

/** The Unicode private use areas (BMP, planes 15 and 16). */
const PRIVATE_USE: readonly (readonly [number, number])[] = [
  [0xe000, 0xf8ff],
  [0xf0000, 0xffffd],
  [0x100000, 0x10fffd],
];
