import { type CompiledCondition, isExactDecimal } from '@tollgate/policy';
import { InexactNumber } from './exact-arguments.js';

/** Result of resolving a condition path: `found: false` when any segment is missing. */
export interface Resolved {
  readonly found: boolean;
  readonly value: unknown;
}

const hasOwn = Object.prototype.hasOwnProperty;
const INDEX = /^(0|[1-9]\d*)$/;

/** Returned by {@link lookup} when a path does not resolve. */
export const MISSING: unique symbol = Symbol('missing');

/**
 * Walk `segments` into `root` (the call's `arguments`). Only own properties of objects count, so
 * `args.constructor` or `args.__proto__` never resolve to something the agent did not send. A
 * decimal segment indexes an array (`args.files.0`). Allocation-free: this runs on every call.
 *
 * @returns the value, or {@link MISSING} when a segment is absent or the walk reaches a
 *   non-object; a present `null` is returned as `null`.
 */
export function lookup(root: unknown, segments: readonly string[]): unknown {
  let cur: unknown = root;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (cur === null || typeof cur !== 'object') return MISSING;
    if (Array.isArray(cur)) {
      if (!INDEX.test(seg)) return MISSING;
      const idx = Number(seg);
      if (idx >= cur.length) return MISSING;
      cur = cur[idx];
    } else {
      if (!hasOwn.call(cur, seg)) return MISSING;
      cur = (cur as Record<string, unknown>)[seg];
    }
    if (cur === undefined) return MISSING;
  }
  return cur;
}

/** {@link lookup} as a `{ found, value }` pair. */
export function resolvePath(root: unknown, segments: readonly string[]): Resolved {
  const v = lookup(root, segments);
  return v === MISSING ? { found: false, value: undefined } : { found: true, value: v };
}

/**
 * A plain decimal literal: optional `-`, no leading zeros (`0`, `0.5`, `10` but not `05`), an
 * optional fraction with digits on both sides of the point, an optional exponent. No `+`, no
 * whitespace, no hex/octal/binary, no `Infinity`. How a policy's own string values (`value: "2.5"`)
 * are read as numbers; an argument string needs {@link INTEGER_LITERAL}.
 */
export const DECIMAL_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * A plain integer literal: optional `-`, digits without leading zeros (`0`, `-12`, `100`). The
 * only strings every server reads as the same number: a fraction or an exponent is read in part
 * by `parseInt`-style parsers (JavaScript `parseInt`, C `atoi`/`strtol`, Ruby `to_i`), so
 * `"10e-1"` is 1 to `Number` and 10 to `parseInt`, and `"1.9"` is 1.9 or 1.
 */
export const INTEGER_LITERAL = /^-?(?:0|[1-9]\d*)$/;

/**
 * The number an argument stands for in comparisons: a finite number, or a string that is a plain
 * integer literal ({@link INTEGER_LITERAL}: `"100"`, `"-2"`) that a double holds exactly
 * ({@link isExactDecimal}). Agents often send numbers as strings, and such a string means the same
 * number to every server. Anything else (booleans, null, objects, arrays, `""`, `" 100 "`,
 * `"0x10"`, `"+5"`, `"05"`, `"2.5"`, `"1e3"`, `"1098765432109876543"`, an {@link InexactNumber},
 * NaN, Infinity) is not a number, so a numeric comparison on it fails (deny).
 */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && INTEGER_LITERAL.test(v) && isExactDecimal(v)) return Number(v);
  return undefined;
}

/**
 * The number a policy value stands for: a finite number, or a string that is a plain decimal
 * literal ({@link DECIMAL_LITERAL}) a double holds exactly. The policy's author wrote it, so
 * `value: "2.5"` is 2.5; undefined otherwise.
 */
function policyNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && DECIMAL_LITERAL.test(v) && isExactDecimal(v)) return Number(v);
  return undefined;
}

/**
 * Text a number parser reads a number from, or the start of one (`parseInt("12abc")` is 12), in any
 * script's decimal digits (Python's `int("\u0665")` is 5).
 */
const NUMERIC_START = /^\s*[-+]?(?:\p{Nd}|\.\p{Nd}|Infinity)/u;

/**
 * An argument string that some parser would read as a number, or read a number from
 * (`Number(" 5 ")`, `"0x10"`, `"+5"`, `"05"`, `"2.5"`, `"1e3"`, `parseInt("12abc")`), but that
 * is not a plain integer literal a double holds ({@link asNumber}): its value depends on the
 * server, so equality with a number can be neither proved nor ruled out.
 */
function ambiguousNumeric(v: string): boolean {
  return (
    asNumber(v) === undefined && ((v.trim() !== '' && Number.isFinite(Number(v))) || NUMERIC_START.test(v))
  );
}

/**
 * Three-way equality behind `eq`, `neq`, `in`, `not_in` and `contains` on arrays: strict equality,
 * except that a number compares as a number with an argument string that is a plain integer
 * literal ({@link asNumber}: `5` eq `"5"`) and with a policy string that is a plain decimal literal
 * (`value: "2.5"` eq `2.5`), and that the policy text `"true"` / `"false"` means the boolean (as
 * Intercept, which compares both sides as text, reads it). Two strings compare as text otherwise
 * (`"1.0"` neq `"1"`). `actual` is the argument, `expected` the policy's value.
 *
 * @returns `true` equal, `false` unequal, `undefined` undecidable: a number against an argument
 *   string some parser reads a number from that is no plain integer literal (`" 5 "`, `"0x5"`,
 *   `"+5"`, `"05"`, `"5.0"`, `"5e0"`, `"5abc"`) or that a double rounds, a number against a loosely
 *   numeric policy string; against the policy's boolean (or `"true"` / `"false"`), an argument a
 *   word-parsing server reads as that boolean without being it (`"FALSE"`, `"no"`, `"0"`, `0`
 *   against `false`), and, against the policy's own boolean only, one a truthiness test reads as
 *   it (any non-empty text or non-zero number against `true`; `""`, `0` or `null` against `false`);
 *   a boolean argument against other policy text that reads as one (`"True"`, `"no"`, `"1"`) or
 *   against the number it converts to (`true` against `1`); and an {@link InexactNumber} against
 *   anything. Callers deny on `undefined`.
 */
export function compareEquals(actual: unknown, expected: unknown): boolean | undefined {
  if (actual === expected) return true;
  // A number the sender wrote with more precision than a double: only the server knows it.
  if (actual instanceof InexactNumber || expected instanceof InexactNumber) return undefined;
  // The boolean the policy means: its own, or the text `true` / `false` (Intercept compares both
  // sides as text, and policies written for it quote their values: `neq: "false"`).
  const meant =
    typeof expected === 'boolean'
      ? expected
      : expected === 'true'
        ? true
        : expected === 'false'
          ? false
          : undefined;
  if (meant !== undefined) {
    if (typeof actual === 'boolean') return actual === meant;
    // A server that parses words (pydantic's lax mode, behind FastMCP servers) reads `"FALSE"`,
    // `"no"`, `"0"` or 0 as a boolean; a strict one reads text or a number: only it knows which.
    const word =
      typeof actual === 'string'
        ? booleanReading(actual)
        : actual === 0 || actual === 1
          ? actual === 1
          : undefined;
    if (word === meant) return undefined;
    if (typeof expected === 'boolean') {
      // Against the policy's own boolean, a server that tests truthiness (`if args.get("force")`,
      // `z.coerce.boolean()`) also counts: any non-empty text or non-zero number is true to it,
      // `""`, 0 and null false. Not against the text "true" / "false", which may be meant as text.
      const truthy =
        typeof actual === 'string'
          ? actual !== ''
          : typeof actual === 'number'
            ? actual !== 0
            : actual === null
              ? false
              : undefined;
      return truthy === meant ? undefined : false;
    }
  }
  if (typeof actual === 'boolean' && typeof expected === 'string') {
    // Other text that reads as a boolean (`"True"`, `"no"`, `"1"`): its author may mean one.
    return booleanReading(expected) !== undefined ? undefined : false;
  }
  if (typeof actual === 'boolean' && typeof expected === 'number') {
    // A server with a number field may read `true` as 1 and `false` as 0 (pydantic's lax mode).
    return Number(actual) === expected ? undefined : false;
  }
  if (typeof actual === 'number' && typeof expected === 'string') {
    const b = policyNumber(expected);
    // A policy string Number() reads but that is no plain literal (`" 5 "`, `"0x5"`): undecidable.
    if (b === undefined)
      return expected.trim() !== '' && Number.isFinite(Number(expected)) ? undefined : false;
    return actual === b;
  }
  if (typeof expected === 'number' && typeof actual === 'string') {
    const a = asNumber(actual);
    if (a === undefined) return ambiguousNumeric(actual) ? undefined : false;
    return a === expected;
  }
  return false;
}

/**
 * The boolean a coercing reader takes `text` for (pydantic's lax mode reads these words, in any
 * case, as booleans), or undefined for other text.
 */
function booleanReading(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (word === 'true' || word === 'yes' || word === 'on' || word === 'y' || word === 't' || word === '1')
    return true;
  if (word === 'false' || word === 'no' || word === 'off' || word === 'n' || word === 'f' || word === '0')
    return false;
  return undefined;
}

/** {@link compareEquals} collapsed to a boolean (undecidable counts as unequal). */
export function looseEquals(actual: unknown, expected: unknown): boolean {
  return compareEquals(actual, expected) === true;
}

/**
 * Whether a resolved value satisfies a condition (Intercept POLICY.md "Operators"; the precise
 * semantics are in docs/runtime.md):
 * - missing path: fails, except `exists: false`; `exists` reads a `null` value as absent
 * - `eq` / `neq`: {@link compareEquals}; undecidable, or `neq` on an object/array, fails
 * - `lt lte gt gte`: the value must be a number or an integer-literal string ({@link asNumber})
 * - `contains`: substring on strings, element (by {@link compareEquals}) on arrays, else fails
 * - `regex`: unanchored linear-time search on strings (and on finite numbers' decimal text)
 * - `not_regex`: that search finds nothing; on an array, in no element, every element a string
 *   or finite number; anything else (object, boolean, null) fails
 * - `in` / `not_in`: on a scalar, membership; on an array, every element in / no element in
 *   (elements must be scalars; `in` needs a non-empty array); objects fail both
 */
export function conditionHolds(c: CompiledCondition, r: Resolved): boolean {
  return valueHolds(c, r.found ? r.value : MISSING);
}

/** The text a regex searches: a string, a finite number's decimal text, an inexact number's text as sent; undefined for anything else. */
function searchable(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (v instanceof InexactNumber) return v.text;
  return undefined;
}

/** A JSON object or array: a value `eq`/`in` cannot judge against the policy's scalars. */
function isComposite(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !(v instanceof InexactNumber);
}

/** Membership of a scalar: `true` in, `false` not in, `undefined` undecidable (see {@link compareEquals}). */
function member(v: unknown, list: unknown): boolean | undefined {
  if (!Array.isArray(list)) return undefined;
  let undecided = false;
  for (let i = 0; i < list.length; i++) {
    const eq = compareEquals(v, list[i]);
    if (eq === true) return true;
    if (eq === undefined) undecided = true;
  }
  return undecided ? undefined : false;
}

/**
 * `in`: a scalar is in the list; a non-empty array holds when every element is a scalar in the
 * list. `not_in`: a scalar is provably not in the list; an array holds when no element is in it
 * and every element is a scalar. Objects, nested arrays and undecidable comparisons fail both.
 */
function membership(v: unknown, list: unknown, negate: boolean): boolean {
  if (Array.isArray(v)) {
    if (!negate && v.length === 0) return false;
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (isComposite(e)) return false;
      const m = member(e, list);
      if (m === undefined || m === negate) return false;
    }
    return true;
  }
  if (isComposite(v)) return false;
  const m = member(v, list);
  return m !== undefined && m !== negate;
}

/** True when `s` holds a character outside ASCII: the only text normalization can change. */
function nonAscii(s: string): boolean {
  // One pass in C++; faster than a regex scan on long text.
  return Buffer.byteLength(s, 'utf8') !== s.length;
}

/** `v` (a string, or a list) with each string in `form`; `v` itself when nothing changes. */
function normalized(v: unknown, form: 'NFC' | 'NFD'): unknown {
  if (typeof v === 'string') return nonAscii(v) ? v.normalize(form) : v;
  if (!Array.isArray(v)) return v;
  let out: unknown[] | undefined;
  for (let i = 0; i < v.length; i++) {
    const e = v[i];
    if (typeof e !== 'string' || !nonAscii(e)) continue;
    const n = e.normalize(form);
    if (n === e) continue;
    out ??= v.slice();
    out[i] = n;
  }
  return out ?? v;
}

/**
 * `v` with its text in Unicode normalization form C (UAX #15): a string, or each string of a
 * list; `v` itself when that changes nothing (ASCII text, numbers, mappings, text in NFC). How a
 * server that normalizes names reads it: `@modelcontextprotocol/server-filesystem` resolves a path
 * component to an existing entry equal after NFC, and macOS file systems treat NFC and NFD as one
 * name, so `/tmp/\u212Aeys` (KELVIN SIGN) opens `/tmp/Keys`.
 */
export function canonicalText(v: unknown): unknown {
  return normalized(v, 'NFC');
}

/** Deepest nesting {@link canonicalDeep} rewrites; deeper parts are left as sent (and judged so). */
const CANONICAL_MAX_DEPTH = 64;

/**
 * {@link canonicalText} all the way down, to {@link CANONICAL_MAX_DEPTH} levels: `v` (a call's
 * arguments, for a policy's `validate.schema`) with every string and mapping key in NFC; `v`
 * itself, not a copy, when nothing changes (nothing is allocated for ASCII arguments).
 */
export function canonicalDeep(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return nonAscii(v) ? v.normalize('NFC') : v;
  if (v === null || typeof v !== 'object' || v instanceof InexactNumber || depth >= CANONICAL_MAX_DEPTH)
    return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const n = canonicalDeep(v[i], depth + 1);
      if (n === v[i]) continue;
      out ??= v.slice();
      out[i] = n;
    }
    return out ?? v;
  }
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined;
  const put = (o: Record<string, unknown>, k: string, value: unknown) =>
    // defineProperty: a key `__proto__` stays a key.
    Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const nk = nonAscii(k) ? k.normalize('NFC') : k;
    const ne = canonicalDeep(obj[k], depth + 1);
    if (out === undefined) {
      if (nk === k && ne === obj[k]) continue;
      out = {};
      for (let j = 0; j < i; j++) put(out, keys[j]!, obj[keys[j]!]);
    }
    put(out, nk, ne);
  }
  return out ?? v;
}

/** The operators that deny what they match: a reading that matches is enough to fail them. */
function deniesMatch(op: CompiledCondition['op']): boolean {
  return op === 'neq' || op === 'not_in' || op === 'not_regex';
}

/**
 * {@link conditionHolds} on a value from {@link lookup} ({@link MISSING} when absent). Text outside
 * ASCII is judged in each form a server may act on (the policy's `eq`/`neq`/`in`/`not_in`/
 * `contains` values are in NFC, from the compiler):
 * - `neq`, `not_in`, `not_regex` must hold as sent, in NFC and in NFD: a guard against `/Keys/`
 *   refuses `/\u212Aeys/` (a normalizing server opens `Keys`), a guard against a character refuses
 *   it whatever the spelling, and a pattern written decomposed still finds the composed name;
 * - `eq`, `in`, `contains`, `regex` must hold in NFC, and as sent too unless the text as sent is
 *   fully decomposed (NFD, as macOS writes names): a decomposed `Re\u0301sume\u0301` meets an
 *   allow-list of `Résumé`, while `\u212Aeys`, which a server that does not normalize reads as
 *   other characters than `Keys`, must pass as sent too.
 * `exists` and the numeric operators (which hold only for numbers and ASCII integer strings) are
 * judged as sent.
 */
export function valueHolds(c: CompiledCondition, v: unknown): boolean {
  const op = c.op;
  if (op === 'exists' || op === 'lt' || op === 'lte' || op === 'gt' || op === 'gte')
    return rawValueHolds(c, v);
  const nfc = canonicalText(v);
  if (deniesMatch(op)) {
    const nfd = normalized(v, 'NFD');
    return (
      rawValueHolds(c, v) && (nfc === v || rawValueHolds(c, nfc)) && (nfd === v || rawValueHolds(c, nfd))
    );
  }
  // Text already in NFC (or ASCII) has one reading: no NFD pass for it.
  if (nfc === v) return rawValueHolds(c, v);
  return rawValueHolds(c, nfc) && (normalized(v, 'NFD') === v || rawValueHolds(c, v));
}

/** {@link valueHolds} on one reading of the value. */
function rawValueHolds(c: CompiledCondition, v: unknown): boolean {
  // `null` counts as absent, as in Intercept (engine: `exists && val != nil`): a required argument
  // is not satisfied by `"amount": null`.
  if (c.op === 'exists') return (v !== MISSING && v !== null) === (c.value !== false);
  if (v === MISSING) return false;
  switch (c.op) {
    case 'eq':
      return compareEquals(v, c.value) === true;
    case 'neq':
      // An object or array is not a scalar, but it may hold one: neq cannot vouch for it.
      return !isComposite(v) && compareEquals(v, c.value) === false;
    case 'in':
      return membership(v, c.value, false);
    case 'not_in':
      return membership(v, c.value, true);
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const a = asNumber(v);
      const b = policyNumber(c.value);
      if (a === undefined || b === undefined) return false;
      return c.op === 'lt' ? a < b : c.op === 'lte' ? a <= b : c.op === 'gt' ? a > b : a >= b;
    }
    case 'contains':
      if (typeof v === 'string')
        return c.value !== null && c.value !== undefined && v.includes(String(c.value));
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (compareEquals(v[i], c.value) === true) return true;
        return false;
      }
      return false;
    case 'regex': {
      if (!c.regex) return false;
      const text = searchable(v);
      return text !== undefined && c.regex.test(text);
    }
    case 'not_regex': {
      if (!c.regex) return false;
      if (Array.isArray(v)) {
        // As `not_in` on a list: every element is searched, and none may match or be unsearchable.
        for (let i = 0; i < v.length; i++) {
          const text = searchable(v[i]);
          if (text === undefined || c.regex.test(text)) return false;
        }
        return true;
      }
      const text = searchable(v);
      return text !== undefined && !c.regex.test(text);
    }
  }
  return false;
}
