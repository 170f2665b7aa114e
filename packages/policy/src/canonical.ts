/**
 * Canonical JSON of a policy document: keys sorted at every level, `undefined` dropped. Two
 * documents that mean the same thing byte-for-byte (whatever their key order, quoting or
 * comments in YAML) have the same canonical form, hence the same `CompiledPolicy.hash`.
 */
import { createHash } from 'node:crypto';

/** Canonical JSON text of a plain value (objects, arrays, strings, numbers, booleans, null). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** SHA-256 (lowercase hex) of the canonical JSON of `value`. */
export function policyHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
