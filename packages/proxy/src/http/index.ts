/**
 * Remote MCP: the Streamable HTTP side of the proxy (MCP spec 2025-11-25, "Transports >
 * Streamable HTTP"). Upstream mode (stdio client, HTTP server) and listener mode (HTTP clients,
 * stdio or HTTP server), both through the same router and gate as the stdio proxy.
 */
export {
  BoundedEventStore,
  type BoundedEventStoreOptions,
  DEFAULT_REPLAY_BYTES,
  DEFAULT_REPLAY_EVENTS,
} from './event-store.js';
export {
  bearerCarries,
  bearerTokenProblem,
  type HttpGateContext,
  type HttpListener,
  type HttpListenerOptions,
  type HttpListenerUpstream,
  type HttpSessionInfo,
  runHttpListener,
} from './listener.js';
export { type AccessPolicy, checkAccess, hostOnly, isLoopbackHost, type Refusal } from './security.js';
export { HttpSessionTransport } from './session-transport.js';
export { type HttpUpstreamOptions, HttpUpstreamTransport, redactUrl } from './upstream.js';
export {
  type HttpUpstreamProxyExit,
  type HttpUpstreamProxyOptions,
  runHttpUpstreamProxy,
} from './upstream-proxy.js';
