/**
 * The Streamable HTTP upstream: an MCP server reached over HTTP (MCP spec 2025-11-25,
 * "Transports > Streamable HTTP"), behind the proxy's {@link MessageTransport} interface so the
 * router treats it exactly like a stdio child.
 *
 * It wraps the MCP SDK's `StreamableHTTPClientTransport` (POST per message, SSE on POST and on
 * the optional GET stream, `Mcp-Session-Id`, `Last-Event-ID` resumption, DELETE on close) and
 * adds what a transparent proxy needs on top of it:
 * - no message is queued behind an earlier request, so a server-to-client request (elicitation,
 *   sampling) during a pending call cannot deadlock the bridge; a message does wait until the
 *   notifications and responses POSTed before it have been accepted (HTTP 202, which servers send
 *   once they have taken the message in), so `notifications/initialized` reaches the server before
 *   the first call made after it, as it does over stdio;
 * - `MCP-Protocol-Version` is set from the `initialize` result the proxy sees pass by;
 * - a request never hangs: a failed POST, a stream that ends before its answer without an
 *   event id to resume from, or a resumption that gives up, each produce a JSON-RPC error
 *   response for the request's id;
 * - an expired session (HTTP 404 on a request carrying `Mcp-Session-Id`, spec "Session
 *   Management" point 4; or a 400 naming the session, see {@link sessionLost}) is re-initialised with the client's own `initialize` request, and the
 *   failed message is sent again on the new session.
 */
import { setMaxListeners } from 'node:events';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { JsonRpcId } from '../jsonrpc/envelope.js';
import { ErrorCode, encode, errorResponse } from '../jsonrpc/errors.js';
import { idKey } from '../jsonrpc/id.js';
import { type ProxyLogger, silentLogger } from '../logger.js';
import type { CloseInfo, MessageTransport } from '../transport/types.js';

/** Options of {@link HttpUpstreamTransport}. */
export interface HttpUpstreamOptions {
  /** The server's MCP endpoint, e.g. `https://mcp.example.com/mcp`. */
  readonly url: string | URL;
  /** Extra request headers sent on every request (e.g. `Authorization`), from `--header "K: V"`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly logger?: ProxyLogger;
  /** Re-initialise an expired session (HTTP 404) instead of failing the message. Default true. */
  readonly reinitializeExpiredSession?: boolean;
  /** How long to wait for the server's DELETE answer on close, in milliseconds (default 2000). */
  readonly closeTimeoutMs?: number;
  /**
   * Resumption of a lost SSE stream with `Last-Event-ID`: first delay and cap in milliseconds,
   * and attempts (default 250 ms, 2000 ms, 3 attempts). After the last attempt the requests that
   * were waiting on the stream get a JSON-RPC error.
   */
  readonly reconnection?: { initialDelayMs?: number; maxDelayMs?: number; maxRetries?: number };
}

interface Pending {
  id: JsonRpcId;
  method: string;
  /** The POST stream carrying the answer ended; the SDK is resuming it with `Last-Event-ID`. */
  resuming: boolean;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRequest = (m: Obj) => typeof m.method === 'string' && 'id' in m;
const isResponse = (m: Obj) => !('method' in m) && 'id' in m && ('result' in m || 'error' in m);

/** The HTTP status of an SDK transport error, when it has one. */
function httpStatus(err: unknown): number | undefined {
  if (err instanceof StreamableHTTPError && typeof err.code === 'number' && err.code > 0) return err.code;
  return undefined;
}

/**
 * Whether a failed POST says the server no longer knows our session: HTTP 404 per spec
 * ("Session Management" point 4), or HTTP 400 naming the session, which is what servers built on
 * the SDK's Express examples answer (server-everything among them).
 */
function sessionLost(status: number | undefined, err: unknown): boolean {
  if (status === 404) return true;
  return status === 400 && /session/i.test((err as Error).message);
}

/**
 * A {@link MessageTransport} towards an MCP server over Streamable HTTP.
 *
 * `send` never throws and never blocks: failures come back as JSON-RPC error responses through
 * `onmessage` (for requests) or through `onerror` (for notifications and responses).
 * `onclose` fires once, after {@link close}.
 */
export class HttpUpstreamTransport implements MessageTransport {
  onmessage?: (bytes: Buffer) => void;
  onoversize?: MessageTransport['onoversize'];
  onerror?: (error: Error) => void;
  onclose?: (info: CloseInfo) => void;

  private sdk: StreamableHTTPClientTransport | undefined;
  private readonly url: URL;
  private readonly log: ProxyLogger;
  private readonly pending = new Map<string, Pending>();
  /** The client's `initialize` request, replayed to re-initialise an expired session. */
  private initialize: Obj | undefined;
  private protocolVersion: string | undefined;
  /** A re-initialisation in progress; messages wait for it. */
  private reinit: Promise<boolean> | undefined;
  /** Settles once every notification and response POSTed so far has been answered (see the module comment). */
  private accepted: Promise<void> = Promise.resolve();
  private reinitCount = 0;
  private readonly internal = new Map<string, (m: Obj) => void>();
  private closed = false;
  private generation = 0;

  constructor(private readonly opts: HttpUpstreamOptions) {
    this.url = new URL(opts.url);
    this.log = opts.logger ?? silentLogger;
  }

  /** The upstream session id (`Mcp-Session-Id`), once the server has given one. */
  get sessionId(): string | undefined {
    return this.sdk?.sessionId;
  }

  /** How many times an expired session was re-initialised. */
  get reinitializations(): number {
    return this.reinitCount;
  }

  /** Number of requests sent upstream and still awaiting an answer. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  async start(): Promise<void> {
    this.sdk = await this.connect();
  }

  private async connect(): Promise<StreamableHTTPClientTransport> {
    const generation = ++this.generation;
    const r = this.opts.reconnection ?? {};
    const sdk = new StreamableHTTPClientTransport(this.url, {
      requestInit: { headers: { ...(this.opts.headers ?? {}) } },
      fetch: (input, init) => this.fetchWatched(input, init, generation),
      reconnectionOptions: {
        initialReconnectionDelay: r.initialDelayMs ?? 250,
        maxReconnectionDelay: r.maxDelayMs ?? 2000,
        reconnectionDelayGrowFactor: 2,
        maxRetries: r.maxRetries ?? 3,
      },
    });
    sdk.onmessage = (message) => this.received(message as unknown as Obj);
    sdk.onerror = (err) => this.sdkError(err, generation);
    await sdk.start();
    if (this.protocolVersion) sdk.setProtocolVersion(this.protocolVersion);
    return sdk;
  }

  send(bytes: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      // The router never forwards invalid JSON; reaching this is a proxy bug, not a client error.
      this.onerror?.(new Error(`refusing to POST a message that is not JSON: ${String(err)}`));
      return;
    }
    const messages = Array.isArray(message) ? message : [message];
    for (const m of messages) {
      if (!isObj(m)) continue;
      if (isRequest(m)) {
        const id = m.id as JsonRpcId;
        this.pending.set(idKey(id), { id, method: m.method as string, resuming: false });
        if (m.method === 'initialize') this.initialize = m;
      }
      const posted = this.post(m, true, this.accepted);
      // Requests are never waited for (their answers may need the client first); the rest are.
      if (!isRequest(m)) this.accepted = posted.catch(() => {});
    }
  }

  private async post(message: Obj, mayRetry: boolean, after?: Promise<void>): Promise<void> {
    if (after) await after;
    if (this.reinit) await this.reinit;
    const sdk = this.sdk;
    if (this.closed || !sdk) {
      this.fail(message, 'the upstream connection is closed');
      return;
    }
    try {
      await sdk.send(message as unknown as JSONRPCMessage);
    } catch (err) {
      if (this.closed) return;
      const status = httpStatus(err);
      const expired =
        sessionLost(status, err) &&
        sdk.sessionId !== undefined &&
        message.method !== 'initialize' &&
        this.initialize;
      if (expired && mayRetry && (this.opts.reinitializeExpiredSession ?? true)) {
        const ok = await this.reinitialize(sdk);
        if (ok) return this.post(message, false);
      }
      const reason = status ? `the upstream answered HTTP ${status}` : `the upstream could not be reached`;
      this.fail(message, `${reason}: ${(err as Error).message}`, status);
    }
  }

  /**
   * Starts a new upstream session with the client's own `initialize` request (under an id of
   * ours), then `notifications/initialized`. Concurrent callers share one attempt.
   */
  private reinitialize(expired: StreamableHTTPClientTransport): Promise<boolean> {
    if (this.sdk !== expired) return Promise.resolve(true); // someone already did it
    if (this.reinit) return this.reinit;
    const attempt = (async () => {
      this.log.warn(
        { url: this.url.href, session: expired.sessionId },
        'upstream session expired; re-initialising',
      );
      void expired.close().catch(() => {});
      const sdk = await this.connect();
      const id = `tollgate-reinit-${++this.reinitCount}`;
      const answered = new Promise<Obj>((resolve) => this.internal.set(idKey(id), resolve));
      try {
        await sdk.send({ ...this.initialize, id } as unknown as JSONRPCMessage);
        const answer = await Promise.race([
          answered,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000).unref()),
        ]);
        if (!answer || !isObj(answer.result)) throw new Error('the server did not accept initialize');
        await sdk.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        this.sdk = sdk;
        return true;
      } catch (err) {
        this.log.error({ err, url: this.url.href }, 'upstream re-initialisation failed');
        this.sdk = sdk;
        return false;
      } finally {
        this.internal.delete(idKey(id));
      }
    })();
    this.reinit = attempt.finally(() => {
      this.reinit = undefined;
    });
    return this.reinit;
  }

  private received(message: Obj): void {
    if (isResponse(message)) {
      const key = idKey(message.id as JsonRpcId);
      const own = this.internal.get(key);
      if (own) {
        own(message);
        return;
      }
      const p = this.pending.get(key);
      this.pending.delete(key);
      // A response to nothing pending (a late answer) still goes on: the router decides.
      if (p?.method === 'initialize' && isObj(message.result)) {
        const v = message.result.protocolVersion;
        if (typeof v === 'string') {
          this.protocolVersion = v;
          this.sdk?.setProtocolVersion(v);
        }
      }
    }
    this.deliver(message);
  }

  private deliver(message: Obj): void {
    if (!this.closed) this.onmessage?.(encode(message));
  }

  /** Answers a request that cannot reach the server; other messages only get logged. */
  private fail(message: Obj, why: string, status?: number): void {
    if (isRequest(message)) {
      const id = message.id as JsonRpcId;
      if (!this.pending.delete(idKey(id))) return;
      this.deliver(
        errorResponse(id, ErrorCode.UpstreamClosed, `MCP server over HTTP: ${why}`, {
          url: this.url.href,
          ...(status ? { status } : {}),
        }) as unknown as Obj,
      );
    } else {
      this.onerror?.(
        new Error(`could not deliver ${String(message.method ?? 'a response')} upstream: ${why}`),
      );
    }
  }

  private sdkError(err: Error, generation: number): void {
    if (this.closed) return;
    if (/Maximum reconnection attempts/.test(err.message) && generation === this.generation) {
      // The SDK gave up resuming: whatever waited on a lost stream will never be answered.
      for (const p of [...this.pending.values()]) {
        if (p.resuming)
          this.fail(
            { jsonrpc: '2.0', id: p.id, method: p.method },
            'the SSE stream was lost and could not be resumed',
          );
      }
    }
    this.log.debug({ err: err.message }, 'upstream transport error');
    this.onerror?.(err);
  }

  /**
   * The SDK's fetch, watched.
   *
   * 1. Each request gets its own AbortController, linked to the session's signal only while the
   *    request or its body is alive. (Passing the session's long-lived signal to every fetch, as
   *    the SDK does, leaves one abort listener per request on it: a leak in a proxy that runs
   *    for days.)
   * 2. When the SSE body of a POST ends (or breaks) while some of that POST's requests are still
   *    unanswered, either the SDK resumes it (an event id was seen) and the requests are marked
   *    as resuming, or nobody will, and they are answered with an error.
   */
  private async fetchWatched(
    input: string | URL,
    init: RequestInit | undefined,
    generation: number,
  ): Promise<Response> {
    const outer = init?.signal ?? undefined;
    const own = new AbortController();
    const onAbort = () => own.abort(outer?.reason);
    if (outer?.aborted) own.abort(outer.reason);
    else if (outer) {
      // One listener per request in flight is the design; many concurrent calls are not a leak.
      setMaxListeners(0, outer);
      outer.addEventListener('abort', onAbort, { once: true });
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      outer?.removeEventListener('abort', onAbort);
    };
    let response: Response;
    try {
      response = await fetch(input, { ...init, signal: own.signal });
    } catch (err) {
      release();
      throw err;
    }
    if (!response.body || [101, 204, 205, 304].includes(response.status)) {
      release();
      return response;
    }
    const keys = this.requestKeys(init, response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let tail = '';
    let sawEventId = false;
    const ended = () => {
      release();
      if (keys.length === 0) return;
      // Let the SDK's parser deliver what it already has before judging (it runs on promise
      // jobs, which a timer always follows; the margin covers a loaded machine).
      setTimeout(() => {
        if (generation !== this.generation && !sawEventId) return;
        for (const key of keys) {
          const p = this.pending.get(key);
          if (!p) continue;
          if (sawEventId) p.resuming = true;
          else
            this.fail(
              { jsonrpc: '2.0', id: p.id, method: p.method },
              'the SSE stream ended before the answer',
            );
        }
      }, 250).unref();
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            controller.close();
            ended();
            return;
          }
          if (keys.length > 0 && !sawEventId) {
            const text = tail + decoder.decode(value, { stream: true });
            if (/(^|\n)id:/.test(text)) sawEventId = true;
            tail = text.slice(-4);
          }
          controller.enqueue(value);
        } catch (err) {
          controller.error(err);
          ended();
        }
      },
      cancel(reason) {
        release();
        return reader.cancel(reason);
      },
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  /** Keys of the requests a POST carried, when its answer comes as an SSE stream; else none. */
  private requestKeys(init: RequestInit | undefined, response: Response): string[] {
    if (init?.method !== 'POST' || typeof init.body !== 'string') return [];
    if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) return [];
    try {
      const sent = JSON.parse(init.body) as unknown;
      return (Array.isArray(sent) ? sent : [sent])
        .filter((m): m is Obj => isObj(m) && isRequest(m))
        .map((m) => idKey(m.id as JsonRpcId));
    } catch {
      return [];
    }
  }

  /** Terminates the upstream session (HTTP DELETE, spec "Session Management" point 5), then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    const sdk = this.sdk;
    if (sdk?.sessionId) {
      const timeout = new Promise<void>((r) => setTimeout(r, this.opts.closeTimeoutMs ?? 2000).unref());
      await Promise.race([sdk.terminateSession().catch(() => {}), timeout]);
    }
    this.closed = true;
    if (sdk) {
      sdk.onclose = undefined;
      await sdk.close().catch(() => {});
    }
    this.onclose?.({ reason: 'upstream HTTP session closed' });
  }
}
