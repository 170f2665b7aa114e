/**
 * One HTTP client session of the listener, seen by the router as its client-side
 * {@link MessageTransport}. The MCP SDK's `StreamableHTTPServerTransport` does the wire work
 * (session id, SSE on POST and GET, DELETE, `MCP-Protocol-Version` checks, resumption); this
 * class adapts it to raw bytes and decides which SSE stream a server message travels on.
 *
 * Why the routing matters: the spec says requests and notifications the server sends while
 * handling a client request SHOULD go on that request's SSE stream (MCP spec 2025-11-25,
 * "Transports > Streamable HTTP > Sending Messages to the Server" point 6). A client that never
 * opened the optional GET stream would otherwise never see an elicitation sent during a call.
 * The proxy forwards server messages without knowing what they relate to, so it infers it:
 * a progress notification goes with the request that carried its `progressToken`; any other
 * server request or notification goes with the newest pending `tools/call` (else the newest
 * pending request), and only with nothing pending on the standalone GET stream.
 */
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { encode } from '../jsonrpc/errors.js';
import { type ProxyLogger, silentLogger } from '../logger.js';
import type { CloseInfo, MessageTransport } from '../transport/types.js';

type Obj = Record<string, unknown>;

/**
 * The texts of the messages of one POST body, in order, attached by the listener to the request
 * as `req.auth`, which the SDK hands to `onmessage` as `authInfo` with each message of that POST
 * (in order). The router then judges and forwards the bytes the client sent, as over stdio, not
 * the SDK's parsed copy re-encoded: a number a double rounds keeps its digits, and a member name
 * written twice is still seen. (`token`, `clientId`, `scopes`: the shape of the SDK's `AuthInfo`;
 * Tollgate's own authentication happens before, in the listener.)
 */
export interface PostTexts {
  readonly token: '';
  readonly clientId: '';
  readonly scopes: [];
  readonly extra: { readonly tollgateTexts: { readonly texts: readonly Buffer[]; next: number } };
}

/** The {@link PostTexts} of one POST body: `texts[i]` is the JSON text of its `i`th message. */
export function postTexts(texts: readonly Buffer[]): PostTexts {
  return { token: '', clientId: '', scopes: [], extra: { tollgateTexts: { texts, next: 0 } } };
}
/** Prefix of the ids of Tollgate's own `ping` requests to an HTTP client (see `ping`). */
export const PING_ID_PREFIX = 'tollgate-ping-';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A {@link MessageTransport} over one session of the SDK's Streamable HTTP server transport. */
export class HttpSessionTransport implements MessageTransport {
  onmessage?: (bytes: Buffer) => void;
  onoversize?: MessageTransport['onoversize'];
  onerror?: (error: Error) => void;
  onclose?: (info: CloseInfo) => void;
  /**
   * The answer to the client's `initialize` was an error (the server could not be reached, or
   * refused it), called once it has been handed to the client: the session can never be used.
   */
  oninitializefailed?: () => void;
  /**
   * The client answered a {@link ping} of Tollgate's own (`id`: its id). The answer is not
   * handed to the router: the server never sent that request.
   */
  onpong?: (id: string) => void;
  /** Ids of the pings sent (see {@link ping}) and not answered yet. */
  private readonly pings = new Set<string>();

  /** Pending client requests in arrival order: JSON key of the id -> id and method. */
  private readonly pending = new Map<string, { id: RequestId; method: string }>();
  /** `progressToken` (JSON key) -> the request that carried it. */
  private readonly progress = new Map<string, RequestId>();
  private closed = false;
  /** Deliveries under way (the SDK's send awaits its event store): close waits for them. */
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    readonly http: StreamableHTTPServerTransport,
    private readonly log: ProxyLogger = silentLogger,
  ) {}

  async start(): Promise<void> {
    this.http.onmessage = (message, extra) => {
      const carried = (extra?.authInfo as PostTexts | undefined)?.extra?.tollgateTexts;
      this.fromClient(message as unknown as Obj, carried?.texts[carried.next++]);
    };
    this.http.onerror = (err) => this.onerror?.(err);
    this.http.onclose = () => this.closedBy('client session closed');
    await this.http.start();
  }

  /**
   * Sends the client a `ping` request of Tollgate's own (MCP spec 2025-11-25, "Utilities >
   * Ping": the receiver MUST answer promptly): on the standalone (GET) stream when `standalone`,
   * else on the stream a server request would take (that of the newest pending call). `id` must
   * start with {@link PING_ID_PREFIX}; the answer goes to {@link onpong}.
   */
  ping(id: string, standalone: boolean): void {
    if (this.closed) return;
    this.pings.add(id);
    const message: Obj = { jsonrpc: '2.0', id, method: 'ping' };
    const delivery = this.deliver(message, standalone ? undefined : this.relatedRequest(message));
    this.inflight.add(delivery);
    void delivery.finally(() => this.inflight.delete(delivery));
  }

  /** `text`: the message as the client sent it (see {@link PostTexts}); else it is re-encoded. */
  private fromClient(message: Obj, text?: Buffer): void {
    // The answer to a ping of Tollgate's own: only to one it sent (a server request may use an
    // id that starts the same way, and its answer goes to the server).
    if (!('method' in message) && typeof message.id === 'string' && this.pings.delete(message.id)) {
      this.onpong?.(message.id);
      return;
    }
    if (typeof message.method === 'string' && 'id' in message) {
      const id = message.id as RequestId;
      this.pending.set(JSON.stringify(id), { id, method: message.method });
      const meta = isObj(message.params) && isObj(message.params._meta) ? message.params._meta : undefined;
      if (meta && meta.progressToken !== undefined) this.progress.set(JSON.stringify(meta.progressToken), id);
    }
    this.onmessage?.(text ?? encode(message));
  }

  send(bytes: Buffer): void {
    if (this.closed) return;
    let message: Obj;
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
      if (Array.isArray(parsed)) {
        for (const m of parsed) this.send(encode(m));
        return;
      }
      if (!isObj(parsed)) return;
      message = parsed;
    } catch (err) {
      this.onerror?.(new Error(`dropping a server message that is not JSON: ${String(err)}`));
      return;
    }
    const isResponse = !('method' in message) && 'id' in message;
    let related: RequestId | undefined;
    let initializeFailed = false;
    if (isResponse) {
      const key = JSON.stringify(message.id);
      const answered = this.pending.get(key);
      related = answered?.id;
      initializeFailed = answered?.method === 'initialize' && 'error' in message;
      this.pending.delete(key);
      for (const [token, id] of this.progress) if (JSON.stringify(id) === key) this.progress.delete(token);
    } else {
      related = this.relatedRequest(message);
    }
    const delivery = this.deliver(message, related);
    this.inflight.add(delivery);
    void delivery.finally(() => {
      this.inflight.delete(delivery);
      if (initializeFailed) this.oninitializefailed?.();
    });
  }

  private relatedRequest(message: Obj): RequestId | undefined {
    const params = isObj(message.params) ? message.params : undefined;
    if (message.method === 'notifications/progress' && params && params.progressToken !== undefined) {
      const id = this.progress.get(JSON.stringify(params.progressToken));
      if (id !== undefined && this.pending.has(JSON.stringify(id))) return id;
    }
    let newest: RequestId | undefined;
    let newestCall: RequestId | undefined;
    for (const p of this.pending.values()) {
      newest = p.id;
      if (p.method === 'tools/call') newestCall = p.id;
    }
    return newestCall ?? newest;
  }

  private async deliver(message: Obj, related: RequestId | undefined): Promise<void> {
    const msg = message as unknown as JSONRPCMessage;
    try {
      await this.http.send(msg, related === undefined ? undefined : { relatedRequestId: related });
    } catch (err) {
      if (related !== undefined && !('id' in message && !('method' in message))) {
        // That request's stream is gone (answered meanwhile): use the standalone stream.
        await this.http.send(msg).catch((e: unknown) => this.log.debug({ err: e }, 'server message dropped'));
        return;
      }
      this.log.debug({ err }, 'could not deliver a server message to the HTTP client');
    }
  }

  private closedBy(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.({ reason });
  }

  /** Resolves once the messages already handed to {@link send} are written (or failed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  /** Closes the session's streams, after the messages already handed to {@link send} are written. */
  async close(): Promise<void> {
    if (this.closed) return;
    // The proxy's last words (e.g. errors for calls the dead server left pending) must not be cut off.
    await Promise.allSettled([...this.inflight]);
    await this.http.close().catch(() => {});
    this.closedBy('session closed by the proxy');
  }
}
