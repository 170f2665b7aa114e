/**
 * The answer to a denied `tools/call` (DESIGN section 3). A denial is a normal result with
 * `isError: true` rather than a JSON-RPC error, so the model reads why and can adapt: MCP spec
 * 2025-11-25 "Tools > Error Handling" puts tool-execution failures in the result, and
 * PolicyLayer Intercept answers the same way. Machines read the detail under `_meta`.
 */
import type { JsonRpcId } from './jsonrpc/envelope.js';
import { ErrorCode, errorResponse } from './jsonrpc/errors.js';

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

/** The detail of a denial with only the members that are set, in a fixed order. */
function denialDetail(meta: DenialMeta): DenialMeta {
  const detail: DenialMeta = { reason: meta.reason };
  if (meta.rule !== undefined) detail.rule = meta.rule;
  if (meta.retryAfterMs !== undefined) detail.retryAfterMs = meta.retryAfterMs;
  if (meta.policyHash !== undefined) detail.policyHash = meta.policyHash;
  return detail;
}

/** Builds the `CallToolResult` for a denial with message `message` (the prefix is added). */
export function denialResult(message: string, meta: DenialMeta): DenialResult {
  return {
    content: [{ type: 'text', text: `${DENIAL_PREFIX} ${message}` }],
    isError: true,
    _meta: { [DENIAL_META_KEY]: denialDetail(meta) },
  };
}

/**
 * The answer to a denied task-augmented `tools/call` (`params.task`, MCP spec 2025-11-25
 * "Tasks"). Its client awaits a `CreateTaskResult`, which a tool result is not (the TypeScript SDK
 * rejects one as a schema error, hiding the denial), so it gets a JSON-RPC error: code
 * {@link ErrorCode.PolicyDenied} (-32002), the denial text as `message`, and the same detail as a
 * denial result's `_meta` under `data`.
 */
export function taskDenialResponse(id: JsonRpcId, message: string, meta: DenialMeta) {
  return errorResponse(id, ErrorCode.PolicyDenied, `${DENIAL_PREFIX} ${message}`, {
    [DENIAL_META_KEY]: denialDetail(meta),
  });
}

/** The full JSON-RPC response carrying a denial for request `id`. */
export function denialResponse(id: JsonRpcId, message: string, meta: DenialMeta) {
  return { jsonrpc: '2.0' as const, id, result: denialResult(message, meta) };
}
