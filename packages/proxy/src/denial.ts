/**
 * The answer to a denied `tools/call` (DESIGN section 3). A denial is a normal result with
 * `isError: true` rather than a JSON-RPC error, so the model reads why and can adapt: MCP spec
 * 2025-11-25 "Tools > Error Handling" puts tool-execution failures in the result, and
 * PolicyLayer Intercept answers the same way. Machines read the detail under `_meta`.
 */
import type { JsonRpcId } from './jsonrpc/envelope.js';

/** Prefix of every denial text; clients and tests can match on it. */
export const DENIAL_PREFIX = '[TOLLGATE POLICY DENIED]';

/** Key of the denial detail under `result._meta` (MCP `_meta` key naming: `prefix/name`). */
export const DENIAL_META_KEY = 'tollgate/denial';

/** Machine-readable detail of a denial. */
export interface DenialMeta {
  /** Rule that denied, when one did. */
  rule?: string;
  /** Stable reason code from the engine (e.g. `rate_limited`). */
  reason: string;
  /** For rate limits: milliseconds until a call would be admitted. */
  retryAfterMs?: number;
  /** SHA-256 of the policy that decided. */
  policyHash?: string;
}

/** A `CallToolResult` carrying a denial. */
export interface DenialResult {
  content: Array<{ type: 'text'; text: string }>;
  isError: true;
  _meta: { [DENIAL_META_KEY]: DenialMeta };
}

/** Builds the `CallToolResult` for a denial with message `message` (the prefix is added). */
export function denialResult(message: string, meta: DenialMeta): DenialResult {
  const detail: DenialMeta = { reason: meta.reason };
  if (meta.rule !== undefined) detail.rule = meta.rule;
  if (meta.retryAfterMs !== undefined) detail.retryAfterMs = meta.retryAfterMs;
  if (meta.policyHash !== undefined) detail.policyHash = meta.policyHash;
  return {
    content: [{ type: 'text', text: `${DENIAL_PREFIX} ${message}` }],
    isError: true,
    _meta: { [DENIAL_META_KEY]: detail },
  };
}

/** The full JSON-RPC response carrying a denial for request `id`. */
export function denialResponse(id: JsonRpcId, message: string, meta: DenialMeta) {
  return { jsonrpc: '2.0' as const, id, result: denialResult(message, meta) };
}
