/**
 * JSON-RPC 2.0 error responses the proxy writes itself (JSON-RPC 2.0 section 5.1).
 */
import type { JsonRpcId } from './envelope.js';

/** Standard codes (JSON-RPC 2.0 section 5.1) and the proxy's own server-error codes (-32000..-32099). */
export const ErrorCode = {
  /** Invalid JSON was received. */
  ParseError: -32700,
  /** The JSON sent is not a valid request object (also: message over the size cap). */
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  /** Invalid method parameters, e.g. a malformed `tools/call` (DESIGN section 3). */
  InvalidParams: -32602,
  InternalError: -32603,
  /** The upstream MCP server exited or could not be reached while the request was pending. */
  UpstreamClosed: -32000,
  /** The policy could not be evaluated (e.g. the counter store is down and fail mode is closed). */
  PolicyUnavailable: -32001,
  /**
   * The policy denied a task-augmented `tools/call`, whose client awaits a `CreateTaskResult`
   * rather than a tool result (see `taskDenialResponse`).
   */
  PolicyDenied: -32002,
} as const;

/** A JSON-RPC error response object. */
export interface JsonRpcErrorResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  error: { code: number; message: string; data?: unknown };
}

/** Builds a JSON-RPC error response. `data` is omitted when undefined. */
export function errorResponse(
  id: JsonRpcId,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcErrorResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** Serialises a message to the bytes of one frame (no trailing newline). */
export function encode(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}
