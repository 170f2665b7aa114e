/**
 * Member names that some JSON decoders read as other names. Go's `encoding/json` (used by Go MCP
 * servers such as mcp-go) matches a member to a struct field regardless of case, under Unicode
 * case folding (`"ID"`, `"Method"`, `"param\u017f"` with U+017F LONG S all land on `id`, `method`,
 * `params`), and takes the last of several members that match one field. The proxy reads names
 * exactly, as JavaScript does. Where the two readings could differ on what is evaluated, the
 * proxy refuses the message instead of guessing which reading the server makes.
 */

/** Folded form of each code point seen so far (see {@link foldName}). */
const folded = new Map<number, string>();

/**
 * One code point under Unicode simple case folding, as Go's `strings.EqualFold` and
 * `encoding/json` compare: `S`, `s` and U+017F LONG S all give `s`; `K` and U+212A KELVIN SIGN give
 * `k`; `ß` stays `ß` (not `ss`), U+0131 dotless `ı` stays `ı`. The candidate is its upper case
 * lower-cased, or its lower case, kept only when a case-insensitive Unicode regular expression
 * (which ECMAScript defines by simple case folding) says it matches the code point.
 */
function foldCodePoint(cp: number): string {
  let f = folded.get(cp);
  if (f !== undefined) return f;
  const c = String.fromCodePoint(cp);
  f = c;
  // A code point without case mappings (digits, punctuation, most scripts) folds to itself; the
  // others are letters, which need no escaping in a pattern.
  if (c.toUpperCase() !== c || c.toLowerCase() !== c) {
    const same = new RegExp(`^${c}$`, 'iu');
    for (const candidate of [c.toUpperCase().toLowerCase(), c.toLowerCase()]) {
      if ([...candidate].length === 1 && same.test(candidate)) {
        f = candidate;
        break;
      }
    }
  }
  if (folded.size < 65_536) folded.set(cp, f);
  return f;
}

/**
 * `name` folded for comparison regardless of case: two names give the same result when they are
 * equal under Unicode simple case folding, the rule of Go's `encoding/json` (see
 * {@link foldCodePoint}).
 */
export function foldName(name: string): string {
  let out = '';
  for (const ch of name) out += foldCodePoint(ch.codePointAt(0)!);
  return out;
}

/**
 * True when `name` is made only of characters that case folding leaves alone: no ASCII capital
 * letter and nothing outside ASCII. Two distinct such names never fold to the same name.
 */
export function isFoldStable(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80 || (c >= 0x41 && c <= 0x5a)) return false;
  }
  return true;
}

/**
 * The name in `names` (all fold-stable) that `name` equals regardless of case without being it,
 * or undefined: `"Method"` for `["method"]` gives `"method"`; `"method"` gives undefined.
 */
export function caseVariantOf(name: string, names: readonly string[]): string | undefined {
  if (isFoldStable(name)) return undefined;
  const folded = foldName(name);
  for (const n of names) if (folded === n) return n;
  return undefined;
}

/**
 * Control (Cc), format (Cf) and separator (Z*) characters, U+FFFD (what replaced bad UTF-8), and
 * lone surrogates (Cs: `"\ud800"`, which Go's encoding/json and Python's `errors="replace"` decode
 * to U+FFFD, and other decoders drop).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\p{Cs}\uFFFD]/gu;

/**
 * `name` without invisible characters (see `INVISIBLE`): what a decoder that stops at a NUL (a C
 * string), trims whitespace, or drops bytes that are not UTF-8 may read instead.
 */
export function withoutInvisible(name: string): string {
  return name.replace(INVISIBLE, '');
}

/** True when `name` holds only printable ASCII other than space (no invisible character). */
function isPrintableAscii(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/**
 * The name in `names` (all fold-stable) that `name` reads as once its invisible characters are
 * removed, case aside, without being it: `"method\u0000"` or `"name "` for `["method", "name"]`.
 * Undefined for a name with no invisible character. Cheap for printable ASCII names.
 */
export function invisibleVariantOf(name: string, names: readonly string[]): string | undefined {
  if (isPrintableAscii(name)) return undefined;
  const visible = withoutInvisible(name);
  if (visible === name) return undefined;
  const folded = foldName(visible);
  for (const n of names) if (folded === n) return n;
  return undefined;
}

/**
 * The name in `names` that `name` reads as to a decoder that ignores case or invisible characters
 * without being it (see {@link caseVariantOf} and {@link invisibleVariantOf}), or undefined.
 */
export function readsAs(name: string, names: readonly string[]): string | undefined {
  return caseVariantOf(name, names) ?? invisibleVariantOf(name, names);
}

/**
 * True when `name` is made only of printable ASCII other than capital letters: nothing case
 * folding changes and nothing {@link withoutInvisible} removes (no space, control character or
 * character outside ASCII). Two distinct such names never read as one.
 */
function isPlainName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || (c >= 0x41 && c <= 0x5a)) return false;
  }
  return true;
}

/**
 * The first pair of member names of one object, anywhere in a parsed JSON value, that are equal
 * regardless of case and of invisible characters (`"text"` and `"TEXT"`, `"text"` and
 * `"text\u200b"` or `"text "`: a decoder that folds case, trims names or stops at a NUL reads
 * them as one), as `"text" and "TEXT"`; undefined when there is none. Objects whose names are all
 * plain ASCII are passed over without folding. Iterative: any depth `JSON.parse` accepts is
 * walked without growing the call stack.
 */
export function caseCollision(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
      continue;
    }
    // One pass without allocating: count the names, note whether any may fold, and queue the
    // values that are objects or arrays. Most objects stop here.
    const obj = v as Record<string, unknown>;
    let count = 0;
    let unstable = false;
    for (const k in obj) {
      count++;
      if (!unstable && !isPlainName(k)) unstable = true;
      const child = obj[k];
      if (child !== null && typeof child === 'object') stack.push(child);
    }
    if (!unstable || count < 2) continue;
    const seen = new Map<string, string>();
    for (const k in obj) {
      const f = foldName(withoutInvisible(k));
      const other = seen.get(f);
      if (other !== undefined) return `${JSON.stringify(other)} and ${JSON.stringify(k)}`;
      seen.set(f, k);
    }
  }
  return undefined;
}
