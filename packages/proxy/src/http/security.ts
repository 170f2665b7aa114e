/**
 * The listener's front door: which requests may reach an MCP session at all.
 *
 * - Host and Origin validation against DNS rebinding (MCP spec 2025-11-25, "Transports >
 *   Streamable HTTP > Security Warning": servers MUST validate `Origin`; "Security Best
 *   Practices > Local MCP Server Compromise"). A browser page on a foreign site can make the
 *   browser talk to a loopback port; checking `Host` and `Origin` is what stops it.
 * - Bearer token authentication (RFC 6750) compared in constant time.
 * - CORS (Fetch standard, "CORS protocol") for the origins listed in `allowedOrigins` only: the
 *   preflight is answered without the token (a browser never sends credentials on it), and
 *   every answer to a listed origin carries `Access-Control-Allow-Origin`, so a page there can
 *   read it. Other origins get no CORS headers at all.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return h.startsWith('::ffff:127.');
}

/** The host name of a `Host` header value, without the port (`[::1]:80` -> `::1`). */
export function hostOnly(hostHeader: string): string {
  const v = hostHeader.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']'));
  const colon = v.indexOf(':');
  return colon === -1 ? v : v.slice(0, colon);
}

/** What the front door enforces; built once by the listener from its options. */
export interface AccessPolicy {
  /** Accepted `Host` names (without port); undefined = any (a non-loopback bind behind a proxy). */
  readonly allowedHosts?: readonly string[];
  /** Accepted `Origin` values (`scheme://host[:port]`, lower case). A missing `Origin` is always accepted (non-browser clients). */
  readonly allowedOrigins: readonly string[];
  /** When true, loopback origins (`http://localhost:*`, `http://127.0.0.1:*`) are accepted too. */
  readonly allowLoopbackOrigins: boolean;
  /** SHA-256 digests of the accepted bearer tokens; empty = no authentication. */
  readonly tokenDigests: readonly Buffer[];
}

/** Why a request was turned away: HTTP status and a message for the JSON-RPC error body. */
export interface Refusal {
  readonly status: 400 | 401 | 403;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

/** The digest a token is stored and compared as (so comparison time does not depend on length). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Checks a request against the access policy. Order: Host, Origin (403), then token (401),
 * so a foreign page learns nothing about the token.
 *
 * @returns undefined when the request may proceed.
 */
export function checkAccess(req: IncomingMessage, policy: AccessPolicy): Refusal | undefined {
  return checkHostAndOrigin(req, policy) ?? checkToken(req, policy);
}

/** The Host and Origin half of {@link checkAccess} (403): all a CORS preflight is checked against. */
export function checkHostAndOrigin(req: IncomingMessage, policy: AccessPolicy): Refusal | undefined {
  const host = req.headers.host;
  // Node keeps the first of several Host headers (and Origin ones); a proxy in front may keep
  // another. No browser sends two: refused rather than judged on one of them (RFC 9112
  // section 3.2: a request with more than one Host field gets 400).
  if ((req.headersDistinct?.host?.length ?? 0) > 1 || (req.headersDistinct?.origin?.length ?? 0) > 1) {
    return { status: 400, message: 'Bad Request: more than one Host or Origin header' };
  }
  if (policy.allowedHosts) {
    if (!host || !policy.allowedHosts.includes(hostOnly(host))) {
      return { status: 403, message: `Forbidden: Host ${host ?? '(missing)'} is not allowed` };
    }
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !originAllowed(origin, policy)) {
    return { status: 403, message: `Forbidden: Origin ${origin} is not allowed` };
  }
  return undefined;
}

/** The bearer-token half of {@link checkAccess} (401); passes when the policy has no token. */
export function checkToken(req: IncomingMessage, policy: AccessPolicy): Refusal | undefined {
  if (policy.tokenDigests.length === 0) return undefined;
  const auth = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  const challenge = { 'WWW-Authenticate': 'Bearer realm="tollgate"' };
  if (!match) return { status: 401, message: 'Unauthorized: a bearer token is required', headers: challenge };
  const got = tokenDigest(match[1]!);
  // Compare against every token so timing does not reveal which one nearly matched.
  let ok = false;
  for (const d of policy.tokenDigests) ok = timingSafeEqual(d, got) || ok;
  if (!ok) {
    return {
      status: 401,
      message: 'Unauthorized: invalid bearer token',
      headers: { 'WWW-Authenticate': 'Bearer realm="tollgate", error="invalid_token"' },
    };
  }
  return undefined;
}

/**
 * The request headers MCP clients send cross-origin that are not CORS-safelisted (`Accept` is,
 * but not with every value), for `Access-Control-Allow-Headers`. `Authorization` must be named:
 * the `*` wildcard never covers it.
 */
export const CORS_ALLOW_HEADERS =
  'Content-Type, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept';
/** Response headers a page may read: the session id, the version, and why auth failed. */
export const CORS_EXPOSE_HEADERS = 'Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate';
/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE = '600';

/**
 * The `Origin` to answer with CORS headers: the request's own, when it is listed in
 * `allowedOrigins`. Loopback origins that pass {@link checkHostAndOrigin} only because the bind
 * is loopback get none: a page may read the listener's answers only from an origin the operator
 * named.
 */
export function corsOrigin(req: IncomingMessage, policy: AccessPolicy): string | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  return policy.allowedOrigins.includes(origin.trim().toLowerCase()) ? origin : undefined;
}

/** True for a CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. */
export function isPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}

function originAllowed(origin: string, policy: AccessPolicy): boolean {
  const o = origin.trim().toLowerCase();
  if (policy.allowedOrigins.includes(o)) return true;
  if (!policy.allowLoopbackOrigins) return false;
  try {
    const u = new URL(o);
    return (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}

/** A short, non-reversible label for a token, for logs and the decision log (`token:1a2b3c4d`). */
export function tokenLabel(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match ? `token:${tokenDigest(match[1]!).toString('hex').slice(0, 8)}` : undefined;
}
