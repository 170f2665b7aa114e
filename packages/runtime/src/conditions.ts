import type { CompiledCondition } from '@tollgate/policy';

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
 * The number a value stands for in numeric comparisons: a finite number, or a string holding
 * one (`"100"`, `" 1e3 "`). Agents often send numbers as strings and servers often coerce them, so
 * a limit on `args.amount` must hold either way. Anything else (booleans, null, objects, `""`,
 * `"12abc"`, NaN, Infinity) is not a number.
 */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/**
 * Equality used by `eq`, `neq`, `in`, `not_in` and `contains` on arrays: strict equality, except
 * that a number and a numeric string compare as numbers (`5` eq `"5"`, `1` eq `"1.0"`). Two
 * strings always compare as text (`"1.0"` neq `"1"`), and booleans never equal strings.
 */
export function looseEquals(actual: unknown, expected: unknown): boolean {
  if (actual === expected) return true;
  if (typeof actual === 'number' || typeof expected === 'number') {
    if (typeof actual === 'string' || typeof expected === 'string') {
      const a = asNumber(actual);
      const b = asNumber(expected);
      return a !== undefined && a === b;
    }
  }
  return false;
}

/**
 * Whether a resolved value satisfies a condition (Intercept POLICY.md "Operators"; the precise
 * semantics are in docs/runtime.md):
 * - missing path: fails, except `exists: false`
 * - `lt lte gt gte`: the value must be a number (or numeric string), else the condition fails
 * - `contains`: substring on strings, element (by {@link looseEquals}) on arrays, else fails
 * - `regex`: unanchored linear-time search on strings (and on finite numbers' decimal text)
 * - `in` / `not_in`: membership by {@link looseEquals}
 */
export function conditionHolds(c: CompiledCondition, r: Resolved): boolean {
  return valueHolds(c, r.found ? r.value : MISSING);
}

function member(v: unknown, list: unknown): boolean {
  if (!Array.isArray(list)) return false;
  for (let i = 0; i < list.length; i++) if (looseEquals(v, list[i])) return true;
  return false;
}

/** {@link conditionHolds} on a value from {@link lookup} ({@link MISSING} when absent). */
export function valueHolds(c: CompiledCondition, v: unknown): boolean {
  if (c.op === 'exists') return (v !== MISSING) === (c.value !== false);
  if (v === MISSING) return false;
  switch (c.op) {
    case 'eq':
      return looseEquals(v, c.value);
    case 'neq':
      return !looseEquals(v, c.value);
    case 'in':
      return member(v, c.value);
    case 'not_in':
      return Array.isArray(c.value) && !member(v, c.value);
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const a = typeof v === 'number' ? (Number.isFinite(v) ? v : undefined) : asNumber(v);
      const b = typeof c.value === 'number' ? c.value : asNumber(c.value);
      if (a === undefined || b === undefined) return false;
      return c.op === 'lt' ? a < b : c.op === 'lte' ? a <= b : c.op === 'gt' ? a > b : a >= b;
    }
    case 'contains':
      if (typeof v === 'string')
        return c.value !== null && c.value !== undefined && v.includes(String(c.value));
      if (Array.isArray(v)) return member(c.value, v);
      return false;
    case 'regex': {
      if (!c.regex) return false;
      if (typeof v === 'string') return c.regex.test(v);
      if (typeof v === 'number' && Number.isFinite(v)) return c.regex.test(String(v));
      return false;
    }
  }
  return false;
}
