/**
 * Upstream mode as one call: stdio towards the client, Streamable HTTP towards the server.
 * This is what `tollgate -c policy.yaml --upstream URL [--header "K: V"]...` runs.
 */
import type { Readable, Writable } from 'node:stream';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../framing/line-splitter.js';
import type { Gate, GateDecision } from '../gate.js';
import { type ProxyLogger, silentLogger } from '../logger.js';
import { waitUntil } from '../proxy.js';
import { Router } from '../router.js';
import { StreamTransport } from '../transport/stdio-stream.js';
import { type HttpUpstreamOptions, HttpUpstreamTransport } from './upstream.js';

/** Options of {@link runHttpUpstreamProxy}. */
export interface HttpUpstreamProxyOptions<D extends GateDecision = GateDecision> {
  /** The server's MCP endpoint. */
  readonly url: string | URL;
  /** Extra request headers (`--header "K: V"`), e.g. `{ Authorization: 'Bearer ...' }`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly gate: Gate<D>;
  readonly logger?: ProxyLogger;
  /**
   * Cap on one message in either direction, from the client and from the server, in bytes
   * (`--max-message-bytes`; default {@link DEFAULT_MAX_MESSAGE_BYTES}, 64 MiB).
   */
  readonly maxMessageBytes?: number;
  /** Client side streams (default `process.stdin` / `process.stdout`). */
  readonly input?: Readable;
  readonly output?: Writable;
  /**
   * Aborting it ends the session at once (pending calls get an error and count; DELETE upstream,
   * then resolve): wire SIGTERM to it.
   */
  readonly signal?: AbortSignal;
  /**
   * After client EOF: the longest wait, in milliseconds, for queued messages to be decided and
   * forwarded, and then for forwarded requests to be answered, before the upstream session is
   * deleted (default 30000).
   */
  readonly drainTimeoutMs?: number;
  /** Called once both sides are started, with the upstream transport (its session id, stats). */
  readonly onStarted?: (info: { upstream: HttpUpstreamTransport; sessionId: string }) => void;
  /** Passed through to the upstream transport (its message cap is `maxMessageBytes` above). */
  readonly upstream?: Omit<HttpUpstreamOptions, 'url' | 'headers' | 'logger' | 'maxMessageBytes'>;
}

/** How upstream mode ended. */
export interface HttpUpstreamProxyExit {
  /** 0 after client EOF. */
  readonly exitCode: number;
  readonly stats: Router['stats'];
  /** Expired upstream sessions that were re-initialised. */
  readonly reinitializations: number;
}

/**
 * Runs until the client closes stdin (or `signal` aborts); then, once what the client sent has
 * been forwarded and answered (at most `drainTimeoutMs` each), DELETEs the upstream session and
 * resolves.
 * Unreachable servers do not throw: each request gets a JSON-RPC error (-32000) instead, naming
 * the cause. A `tools/call` whose exchange failed after it was sent still counts against its
 * limits (the transport reports it through `oncountedfailure`; see {@link HttpUpstreamTransport}).
 */
export async function runHttpUpstreamProxy<D extends GateDecision>(
  opts: HttpUpstreamProxyOptions<D>,
): Promise<HttpUpstreamProxyExit> {
  const log = opts.logger ?? silentLogger;
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const server = new HttpUpstreamTransport({
    ...(opts.upstream ?? {}),
    url: opts.url,
    ...(opts.headers ? { headers: opts.headers } : {}),
    maxMessageBytes,
    logger: log,
  });
  const client = new StreamTransport({
    input: opts.input ?? process.stdin,
    output: opts.output ?? process.stdout,
    maxMessageBytes,
  });
  const router = new Router({ client, server, gate: opts.gate, logger: log });
  server.onerror = (err) => log.debug({ err: err.message }, 'upstream transport error');
  client.onerror = (err) => log.debug({ err }, 'client transport error');
  const drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
  let upstreamGone = false;
  let ending: Promise<void> | undefined;
  // Client EOF ends the session as it does in front of a stdio server (see runStdioProxy): what
  // the client sent is decided and forwarded, forwarded requests are awaited (up to
  // `drainTimeoutMs`), and only then is the upstream session deleted. Calls still unanswered by
  // then count against the policy's limits (Router.endSession): the server may run them anyway.
  // An abort (SIGTERM) skips the waits.
  const end = (reason: string, drain: boolean) => {
    ending ??= (async () => {
      router.clientClosed();
      if (drain) {
        await waitUntil(() => router.queuedMessages === 0 || upstreamGone, drainTimeoutMs);
        await waitUntil(() => router.pendingRequests === 0 || upstreamGone, drainTimeoutMs);
      }
      log.info({ reason }, 'closing the upstream session');
      router.endSession(reason);
      await server.close().catch(() => {});
    })();
    return ending;
  };
  const done = new Promise<void>((resolve) => {
    client.onclose = () => void end('the client closed its input', true).then(resolve);
    if (opts.signal?.aborted) void end('Tollgate was stopped', false).then(resolve);
    opts.signal?.addEventListener('abort', () => void end('Tollgate was stopped', false).then(resolve), {
      once: true,
    });
  });
  server.onclose = (info) => {
    upstreamGone = true;
    router.serverClosed(info);
  };
  await server.start();
  await client.start();
  opts.onStarted?.({ upstream: server, sessionId: router.sessionId });
  await done;
  await client.flush();
  return { exitCode: 0, stats: router.stats, reinitializations: server.reinitializations };
}
