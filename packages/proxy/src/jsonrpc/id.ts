import type { JsonRpcId } from './envelope.js';

/**
 * A map key for a JSON-RPC id that keeps `1` and `"1"` apart (they are different ids,
 * JSON-RPC 2.0 section 4).
 */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : typeof id === 'string' ? `s:${id}` : 'null';
}
