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
 *   the first call made after it, as it does over stdio; and what follows an `initialize` request
 *   waits for its answer, which brings the session id every later message must carry;
 * - `MCP-Protocol-Version` is set from the `initialize` result the proxy sees pass by;
 * - a request never hangs: a failed POST, a stream that ends before its answer without an
 *   event id to resume from, or a resumption that gives up, each produce a JSON-RPC error
 *   response for the request's id, naming the cause (`ECONNREFUSED ...`, `HTTP 504`);
 * - such an error counts as the server's answer (through `oncountedfailure`, so a `tools/call`
 *   counts against its limits) unless the failure proves the server never ran the request: it
 *   could not be reached or the request built, or it refused it by status (see
 *   {@link classifyFailure});
 * - the URL is shown only through {@link redactUrl} (query values and userinfo masked);
 * - an expired session (HTTP 404 on a request carrying `Mcp-Session-Id`, spec "Session
 *   Management" point 4; or a 400 naming the session, see {@link sessionLost}) is re-initialised
 *   with the client's own `initialize` request, once, and every message the expired session
 *   refused is sent again on the new session; the expired session's connection stays open until
 *   nothing is in flight on it (answers still streaming from it are delivered). When the new
 *   session has tools, the client is sent `notifications/tools/list_changed` (the server may
 *   have changed meanwhile). When the re-initialisation fails, the next request at least
 *   `REINIT_RETRY_MS` later tries again;
 * - server-to-client requests (elicitation, sampling) of a re-initialised session reach the
 *   client under ids of their own, which cannot collide with those of an earlier session, and
 *   the client's answer to a request of an expired session is dropped, never POSTed to the new
 *   one (see {@link HttpUpstreamTransport.answerFor}).
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { Agent, type RequestInit as UndiciRequestInit, fetch as undiciFetch } from 'undici';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../framing/line-splitter.js';
import type { JsonRpcId } from '../jsonrpc/envelope.js';
import { ErrorCode, encode, errorResponse } from '../jsonrpc/errors.js';
import { idKey } from '../jsonrpc/id.js';
import { arrayElements } from '../jsonrpc/json-text.js';
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
  readonly reconnection?: {
    initialDelayMs?: number;
    maxDelayMs?: number;
    maxRetries?: number;
    /**
     * Resumptions the server accepted in a row, from the same event, that ended without a new
     * event, before the requests waiting on the stream get a JSON-RPC error (default
     * {@link DEFAULT_MAX_EMPTY_RESUMPTIONS}). A server that polls (MCP spec 2025-11-25: it may
     * close an SSE stream after an event with an id and a `retry` field, and the client resumes)
     * may close the resumed stream again and again while a long tool runs; a broken one that
     * accepts every resumption and never delivers must still end in an error.
     */
    maxEmptyResumptions?: number;
  };
  /**
   * Cap on one message from the server, in bytes (`--max-message-bytes`; default
   * {@link DEFAULT_MAX_MESSAGE_BYTES}, 64 MiB, as on every other side of the proxy). A larger
   * message is reported through `onoversize` (the router answers its request with `-32603`, and a
   * call counts: the server ran it); a response body, or one SSE event, that grows past the cap
   * plus 64 KiB of framing is cut off while it arrives, so it is never held whole.
   */
  readonly maxMessageBytes?: number;
}

/**
 * Options of the HTTP agent every request to an upstream goes through: no `headersTimeout` and
 * no `bodyTimeout`. fetch's default agent gives up after 300 s without response headers (a
 * server answering with a plain JSON body sends them only once the tool has run) or without a
 * body byte (an SSE stream silent while the tool runs), and the call's answer is lost. How long
 * a call may take is the client's to decide (its request timeout, `notifications/cancelled`),
 * as over stdio. Connecting keeps undici's default timeout (10 s).
 */
export const UPSTREAM_AGENT_OPTIONS: Readonly<Agent.Options> = Object.freeze({
  headersTimeout: 0,
  bodyTimeout: 0,
});

let upstreamAgent: Agent | undefined;

/** The agent of {@link UPSTREAM_AGENT_OPTIONS}, one for all upstream transports (shared keep-alive pool). */
function agent(): Agent {
  upstreamAgent ??= new Agent(UPSTREAM_AGENT_OPTIONS);
  return upstreamAgent;
}

/** Room for SSE framing (`event:`, `id:`, `data:` prefixes) above the message cap, in bytes. */
const SSE_FRAMING_BYTES = 64 * 1024;

/**
 * After a failed re-initialisation, the least time before a request tries again (ms). Requests
 * sooner get the same failure at once: a client retrying in a tight loop does not turn into a
 * stream of `initialize` requests to a server that is down.
 */
const REINIT_RETRY_MS = 1000;

/** A response body or SSE event from the upstream went over the message cap; its stream is cut. */
class UpstreamMessageTooLarge extends Error {}

/**
 * One upstream session's SDK transport: the first one, then one more per re-initialisation. An
 * expired one is kept open until nothing of it is in flight any more (see `releaseRetired`).
 */
interface Leg {
  sdk: StreamableHTTPClientTransport;
  /** 1 for the first session, one more for each re-initialisation. */
  readonly generation: number;
  /** POSTs whose `send` has not settled yet on it. */
  posting: number;
  /** Its session expired: a re-initialisation replaced it (or is replacing it). */
  retired: boolean;
  /** Closed by Tollgate: a stream of it that ends now was ended by us. */
  closed: boolean;
  /** Why the re-initialisation that opened it failed, if it did (it has no usable session then). */
  initFailure?: UpstreamFailure;
  /** When that re-initialisation failed (ms since the epoch, `Date.now()`). */
  initFailedAt?: number;
  /** Failed attempts to resume a stream, by the `Last-Event-ID` they resumed from. */
  readonly resumeFailures: Map<string, number>;
  /**
   * `Last-Event-ID`s of streams given up on (their requests answered with an error): the SDK's
   * further attempts get a 405 without reaching the server (see `fetchWatched`).
   */
  readonly abandoned: Set<string>;
  /**
   * Resumptions by the `Last-Event-ID` they resumed from: GETs started, and those the server
   * accepted (2xx). A new GET from an id whose earlier resumption was accepted means that one
   * ended without a new event (see `fetchWatched`).
   */
  readonly resumptions: Map<string, { started: number; accepted: number }>;
  /**
   * `Last-Event-ID`s whose resumed stream ended, oldest first, for the SDK's next GET without
   * one: the SDK resumes a stream that brought no new event with a GET that names none.
   */
  readonly toResume: string[];
}

/** Default {@link HttpUpstreamOptions.reconnection} `maxEmptyResumptions`. */
export const DEFAULT_MAX_EMPTY_RESUMPTIONS = 100;

/**
 * How long after the SDK's resumption delay a resumption of a stream that ended is waited for
 * before its requests are answered (the SDK gave up on it).
 */
const RESUME_GRACE_MS = 2000;

/** Most abandoned stream ids a leg remembers. */
const MAX_ABANDONED = 1000;

interface Pending {
  id: JsonRpcId;
  method: string;
  /** The POST stream carrying the answer ended; the SDK is resuming it with `Last-Event-ID`. */
  resuming: boolean;
  /** The leg it was last POSTed on, whose streams carry its answer (none before its POST). */
  leg?: Leg;
  /** The id of the last SSE event on the stream carrying its answer: where a resumption starts. */
  lastEventId?: string;
  /** The client cancelled it after it was sent: nobody awaits its answer any more. */
  cancelled?: boolean;
  /**
   * It may have reached the server: POSTed, and not refused since by an expired session. False
   * while it waits to be POSTed, behind earlier messages or a re-initialisation (see
   * {@link HttpUpstreamTransport.withdraw}).
   */
  sent: boolean;
}

type Obj = Record<string, unknown>;

/** Most server-to-client requests awaiting the client's answer that are remembered. */
const MAX_SERVER_REQUESTS = 10_000;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRequest = (m: Obj) => typeof m.method === 'string' && 'id' in m;
const isResponse = (m: Obj) => !('method' in m) && 'id' in m && ('result' in m || 'error' in m);

/**
 * An upstream URL as it may be shown (logs, the decision log, error data): the value of every
 * query parameter replaced by `***` (`?api_key=***`; a parameter without a value, which may be
 * a token itself, becomes `***`), userinfo masked (`***:***@`) and a fragment dropped, since
 * these are where credentials end up in a URL. Scheme, host, port and path are kept.
 *
 * @param url - the URL, parsed or not; a string that is not a URL is cut before its first `?`
 *   or `#` the same way.
 * @returns the URL with its secrets masked, e.g. `http://127.0.0.1:8820/mcp?api_key=***`
 */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    const raw = String(url);
    const cut = raw.search(/[?#]/);
    return cut < 0 ? raw : `${raw.slice(0, cut)}${raw[cut] === '?' ? '?***' : ''}`;
  }
  const query = u.search
    .slice(1)
    .split('&')
    .filter((part) => part !== '')
    .map((part) => (part.includes('=') ? `${part.slice(0, part.indexOf('='))}=***` : '***'));
  const userinfo = u.username || u.password ? (u.password ? '***:***@' : '***@') : '';
  return `${u.protocol}//${userinfo}${u.host}${u.pathname}${query.length ? `?${query.join('&')}` : ''}`;
}

/**
 * HTTP statuses by which a server refuses a request before running anything (malformed, not
 * authorised, unknown endpoint or session, wrong method or media type, too large, rate
 * limited), and redirects that send it elsewhere unrun (301, 302, 307, 308: a redirect to
 * another origin is not followed): a call answered with one does not count. Every other status
 * (5xx, a gateway's 502, 503 or 504 included; 303, which may follow a POST that ran) may come
 * after the server started the request, so the call counts.
 */
const REFUSED_STATUSES: ReadonlySet<number> = new Set([
  301, 302, 307, 308, 400, 401, 403, 404, 405, 406, 413, 415, 429,
]);

/**
 * Codes of the network errors (fetch's `err.cause.code`) raised while connecting, before a byte
 * of the request was sent: name resolution, refused or unroutable connections, connect timeout.
 */
const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EAI_NODATA',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * TLS handshake failures (OpenSSL and Node TLS errors, certificate verification codes): the
 * request is only written once the handshake succeeded.
 */
const TLS_ERROR =
  /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|EPROTO$)/;

/** Why an exchange with the upstream failed, and whether the server may have run the request. */
interface UpstreamFailure {
  /** For the client's error and the log, e.g. `the upstream answered HTTP 504: ...`. */
  readonly why: string;
  readonly status?: number;
  /** Code of the underlying network error, e.g. `ECONNREFUSED`. */
  readonly cause?: string;
  /**
   * The request may have reached the server: a `tools/call` it carried counts against its
   * limits. False only when the failure proves it did not run (see {@link classifyFailure}).
   */
  readonly mayHaveRun: boolean;
}

type Cause = { code?: unknown; message?: unknown; errors?: unknown };

/** The network errors under a fetch failure (`err.cause`, or the members of an AggregateError). */
function causesOf(err: unknown): Cause[] {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (typeof cause !== 'object' || cause === null) return [];
  const errors = (cause as Cause).errors;
  if (Array.isArray(errors) && errors.length > 0)
    return errors.filter((e): e is Cause => typeof e === 'object' && e !== null);
  return [cause as Cause];
}

/** `ECONNREFUSED 127.0.0.1:1`-style text for a network error: its code and its message, once. */
function describeCause(c: Cause, url: URL): string {
  const code = typeof c.code === 'string' ? c.code : undefined;
  let message = typeof c.message === 'string' ? c.message.trim() : '';
  // OpenSSL messages are "<hex>:error:<hex>:SSL routines:<function>:<reason>:<file>:<line>:".
  const ssl = /:SSL routines:[^:]*:([^:]+):/.exec(message);
  if (ssl) message = ssl[1]!;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') message += ' (is it a plain HTTP port? try http://)';
  if (!code && message === 'bad port')
    message = `bad port: fetch refuses to connect to port ${url.port || '(default)'}`;
  if (!code) return message || 'unknown error';
  return message.includes(code) ? message : `${code}: ${message || 'no message'}`;
}

/** Errors a fetch rejected with before sending anything (see {@link classifyFailure}). */
const notSent = new WeakSet<object>();

/** Whether a rejection of `fetch()` itself proves that the request was never sent. */
function provesNotSent(err: unknown): boolean {
  if (!(err instanceof TypeError)) return false;
  const causes = causesOf(err);
  // A TypeError without a network cause: the request could not be constructed (a URL with
  // credentials, a header value fetch refuses, a port fetch blocks).
  if (causes.length === 0) return true;
  return causes.every((c) => {
    const code = typeof c.code === 'string' ? c.code : '';
    if (code) return CONNECT_ERRORS.has(code) || TLS_ERROR.test(code);
    return c.message === 'bad port';
  });
}

/**
 * What a failed POST says about its request (`sentWithSession`: it carried `Mcp-Session-Id`;
 * `redact` masks secrets in the error body the upstream sent, before it is cut to length). The
 * server may have run it (it counts) unless the failure proves otherwise:
 * - an HTTP status by which the server refuses a request before running it
 *   ({@link REFUSED_STATUSES});
 * - a fetch that failed before sending: connection refused, name resolution, unreachable
 *   network, connect timeout, TLS handshake, or a request that could not be constructed.
 * Everything else counts: other statuses (5xx, a gateway's 504), a connection reset or cut
 * after the request was written, a stream cut mid-answer, a body that cannot be read.
 */
function classifyFailure(
  err: unknown,
  url: URL,
  sentWithSession: boolean,
  redact: (text: string) => string,
): UpstreamFailure {
  const status = httpStatus(err);
  if (status !== undefined) {
    // A 404 to a request without a session id cannot be an expired session: the path is wrong.
    const hint = status === 404 && !sentWithSession ? '; check the URL path of --upstream' : '';
    return {
      why: `the upstream answered HTTP ${status}: ${quotedBody(redact((err as Error).message))}${hint}`,
      status,
      mayHaveRun: !REFUSED_STATUSES.has(status),
    };
  }
  const causes = causesOf(err);
  const code = causes.map((c) => c.code).find((c): c is string => typeof c === 'string');
  const detail = causes.map((c) => describeCause(c, url)).join('; ');
  const unsent =
    notSent.has(err as object) ||
    (err instanceof TypeError && causes.length === 0 && /header|ByteString/i.test(err.message));
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof TypeError && causes.length === 0) {
    // fetch's own messages echo the URL with its credentials, or a header's value.
    if (/credentials/i.test(message))
      message =
        'the URL includes credentials (user:password@), which fetch refuses: send them in a header (Authorization)';
    else if (/header value|ByteString/i.test(message))
      message = 'a request header value is invalid (a line break, NUL or a character outside Latin-1)';
    else message = message.split(url.href).join(redactUrl(url));
  }
  const full = detail ? `${message} (${detail})` : message;
  return {
    why: unsent
      ? causes.length > 0
        ? `the upstream could not be reached: ${full}`
        : `the request could not be sent: ${full}`
      : `the exchange with the upstream failed: ${full}`,
    ...(code ? { cause: code } : {}),
    mayHaveRun: !unsent,
  };
}

/** Longest part of an upstream's error body quoted in an error, in characters. */
const QUOTED_BODY_CHARS = 200;

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  '#39': "'",
};

/**
 * The body of an upstream's error answer, as an error quotes it (the SDK's message for a failed
 * POST, `Streamable HTTP error: Error POSTing to endpoint: <body>`, without its prefix): an HTML
 * page reduced to its text (no `<head>` styles or scripts, a few entities decoded), white space
 * collapsed to one line, at most {@link QUOTED_BODY_CHARS} characters.
 */
function quotedBody(message: string): string {
  // Its first 64 Ki characters are plenty for 200 of text, and bound the work on a hostile body.
  let text = message.replace(/^(Streamable HTTP error: )?Error POSTing to endpoint: /, '').slice(0, 65_536);
  if (/<(!doctype|html|head|body)\b/i.test(text)) {
    text = text
      .replace(/<(script|style)\b[\s\S]*?(<\/\1\s*>|$)/gi, ' ')
      .replace(/<!--[\s\S]*?(-->|$)/g, ' ')
      .replace(/<[^<>]*>/g, ' ')
      .replace(/&(#39|[a-z]+);/gi, (entity, name: string) => HTML_ENTITIES[name.toLowerCase()] ?? entity);
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > QUOTED_BODY_CHARS ? `${text.slice(0, QUOTED_BODY_CHARS).trimEnd()}...` : text;
}

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

  oncountedfailure?: MessageTransport['oncountedfailure'];

  /** The current upstream session. */
  private leg: Leg | undefined;
  private readonly url: URL;
  /** {@link redactUrl} of the URL: the only form of it that is logged or sent to the client. */
  private readonly shownUrl: string;
  /** Errors of failed POSTs, which {@link post} reports: not passed on again through `onerror`. */
  private readonly postFailures = new WeakSet<object>();
  private readonly log: ProxyLogger;
  /** Cap on one message from the server, in bytes (see {@link HttpUpstreamOptions.maxMessageBytes}). */
  private readonly cap: number;
  private readonly pending = new Map<string, Pending>();
  /** The client's `initialize` request, replayed to re-initialise an expired session. */
  private initialize: Obj | undefined;
  private protocolVersion: string | undefined;
  /** A re-initialisation in progress; messages wait for it. */
  private reinit: Promise<UpstreamFailure | undefined> | undefined;
  /**
   * Settles once every notification and response POSTed so far has been answered, and the last
   * `initialize` request has been (see the module comment).
   */
  private accepted: Promise<void> = Promise.resolve();
  /** Releases the messages held behind an `initialize` request, by its id key (see {@link send}). */
  private readonly initializing = new Map<string, () => void>();
  /** Settles when the client's latest `initialize` is answered (or failed). */
  private initializeAnswered: Promise<void> | undefined;
  private reinitCount = 0;
  private readonly internal = new Map<string, (m: Obj) => void>();
  /** Messages whose text (`raw`) differs from what `JSON.stringify` makes of them (`built`; see `keepText`). */
  private readonly texts = new WeakMap<Obj, { raw: string; built: string }>();
  /** Texts to POST instead of the SDK's body, by that body, oldest first (see `rawBody`). */
  private readonly rawBodies = new Map<string, string[]>();
  private closed = false;
  /** {@link close} has begun: a re-initialisation under way is abandoned. */
  private ending = false;
  private closing: Promise<void> | undefined;
  /** The leg a re-initialisation is opening, until it is the current one (or given up). */
  private connecting: Leg | undefined;
  private generation = 0;
  /** Legs of expired sessions, closed once nothing is in flight on them (see `releaseRetired`). */
  private readonly retiring = new Set<Leg>();
  /**
   * Server-to-client requests awaiting the client's answer, oldest first, by the id key the
   * client was given: the leg they came from and their id there (see {@link answerFor}).
   */
  private readonly serverRequests = new Map<string, { leg: Leg; id: JsonRpcId; shown: JsonRpcId }>();
  /** Prefix of the ids given to server-to-client requests of re-initialised sessions. */
  private readonly serverIdPrefix = `tollgate-${randomBytes(6).toString('hex')}-s`;
  private nextServerId = 1;
  /** The leg whose server-to-client request a client response answers (see {@link post}). */
  private readonly answering = new WeakMap<Obj, Leg>();
  /** Id keys of withdrawn requests (see {@link withdraw}) whose cancellation is not POSTed. */
  private readonly withdrawn = new Set<string>();

  constructor(private readonly opts: HttpUpstreamOptions) {
    this.url = new URL(opts.url);
    this.shownUrl = redactUrl(this.url);
    this.log = opts.logger ?? silentLogger;
    this.cap = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** The SDK transport of the current upstream session. */
  private get sdk(): StreamableHTTPClientTransport | undefined {
    return this.leg?.sdk;
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
    this.leg = await this.connect();
  }

  private async connect(): Promise<Leg> {
    const leg: Leg = {
      sdk: undefined as unknown as StreamableHTTPClientTransport,
      generation: ++this.generation,
      posting: 0,
      retired: false,
      closed: false,
      resumeFailures: new Map(),
      abandoned: new Set(),
      resumptions: new Map(),
      toResume: [],
    };
    const r = this.opts.reconnection ?? {};
    const sdk = new StreamableHTTPClientTransport(this.url, {
      requestInit: { headers: { ...(this.opts.headers ?? {}) } },
      fetch: (input, init) => this.fetchWatched(input, init, leg),
      reconnectionOptions: {
        initialReconnectionDelay: r.initialDelayMs ?? 250,
        maxReconnectionDelay: r.maxDelayMs ?? 2000,
        reconnectionDelayGrowFactor: 2,
        maxRetries: r.maxRetries ?? 3,
      },
    });
    leg.sdk = sdk;
    sdk.onmessage = (message) => this.received(message as unknown as Obj, leg);
    sdk.onerror = (err) => this.sdkError(err, leg);
    await sdk.start();
    if (this.protocolVersion) sdk.setProtocolVersion(this.protocolVersion);
    return leg;
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
    // The text each message arrived as: what the policy judged is what the server gets.
    const texts = Array.isArray(message) ? arrayElements(bytes) : [bytes];
    for (const [index, sent] of messages.entries()) {
      if (!isObj(sent)) continue;
      let m = sent;
      if (isResponse(sent)) {
        const answer = this.answerFor(sent);
        if (!answer) continue;
        m = answer;
      } else if (sent.method === 'notifications/cancelled' && !this.cancelling(sent)) continue;
      const raw = texts?.[index]?.toString('utf8');
      // (A response given back its server's id is POSTed as built: only its id changed.)
      if (raw !== undefined && m === sent) this.keepText(m, raw);
      let p: Pending | undefined;
      if (isRequest(m)) {
        const id = m.id as JsonRpcId;
        p = { id, method: m.method as string, resuming: false, sent: false };
        this.pending.set(idKey(id), p);
        if (m.method === 'initialize') this.initialize = m;
      }
      const posted = this.post(m, true, this.accepted, p);
      // Requests are never waited for (their answers may need the client first); the rest are.
      if (!isRequest(m)) this.accepted = posted.catch(() => {});
      // Except `initialize`: what follows it waits for its answer, which carries the session id
      // (a client piping `initialize` and `notifications/initialized` at once would otherwise
      // have the notification POSTed without one, refused, and a second session opened).
      else if (m.method === 'initialize') {
        const key = idKey(m.id as JsonRpcId);
        this.accepted = new Promise<void>((resolve) => this.initializing.set(key, resolve));
        this.initializeAnswered = this.accepted;
      }
    }
  }

  /**
   * Whether to POST the client's `notifications/cancelled`: not for a request withdrawn before it
   * was sent (the server never heard of it). A request already sent is marked cancelled: a
   * retired session is not kept open for its answer (see {@link releaseRetired}).
   */
  private cancelling(notification: Obj): boolean {
    const requestId = isObj(notification.params) ? notification.params.requestId : undefined;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return true;
    const key = idKey(requestId);
    if (this.withdrawn.delete(key)) {
      this.log.debug({ id: requestId }, 'cancellation of a request never sent upstream: not sent either');
      return false;
    }
    const p = this.pending.get(key);
    if (p) {
      p.cancelled = true;
      if (p.leg?.retired) this.releaseRetired();
    }
    return true;
  }

  /**
   * The client's response to a server-to-client request, as it is to be POSTed (under the id the
   * server gave the request, and bound to the leg of the session that sent it: {@link post} drops
   * it when that session has expired since), or undefined when it is dropped at once: after a
   * re-initialisation, a response to no request Tollgate passed on (it cannot tell which session
   * it was meant for, and must not let it answer a request of the new one).
   */
  private answerFor(response: Obj): Obj | undefined {
    const key = idKey(response.id as JsonRpcId);
    const asked = this.serverRequests.get(key);
    if (!asked) {
      if (this.generation <= 1) return response;
      this.log.warn(
        { url: this.shownUrl, id: response.id },
        "dropped the client's answer to a request no upstream session is waiting for",
      );
      return undefined;
    }
    this.serverRequests.delete(key);
    const answer = idKey(asked.id) === key ? response : { ...response, id: asked.id };
    this.answering.set(answer, asked.leg);
    return answer;
  }

  /**
   * A server-to-client request from `leg` as the client is to see it: under its own id from the
   * first session (Tollgate stays transparent), under an id of Tollgate's from a re-initialised
   * one. Each new session numbers its requests from the start again (the SDK's servers from 0),
   * so passing them on unchanged would give the client a second request 0 while the first may
   * still be open, and its answer to the first would answer the second.
   */
  private toClientRequest(request: Obj, leg: Leg): Obj {
    const id = request.id as JsonRpcId;
    const shown = leg.generation === 1 ? id : `${this.serverIdPrefix}${this.nextServerId++}`;
    this.serverRequests.delete(idKey(shown));
    this.serverRequests.set(idKey(shown), { leg, id, shown });
    if (this.serverRequests.size > MAX_SERVER_REQUESTS) {
      this.serverRequests.delete(this.serverRequests.keys().next().value as string);
    }
    return shown === id ? request : { ...request, id: shown };
  }

  /**
   * A server's `notifications/cancelled` for a request of its own, naming the request by the id
   * the client was given (and forgetting it: no answer is expected any more).
   */
  private toClientCancellation(notification: Obj, leg: Leg): Obj {
    const params = notification.params;
    if (!isObj(params) || params.requestId === undefined) return notification;
    const id = idKey(params.requestId as JsonRpcId);
    for (const [key, asked] of this.serverRequests) {
      if (asked.leg !== leg || idKey(asked.id) !== id) continue;
      this.serverRequests.delete(key);
      return key === id ? notification : { ...notification, params: { ...params, requestId: asked.shown } };
    }
    return notification;
  }

  /** Logs a client answer to a server-to-client request whose session expired, which is dropped. */
  private dropAnswer(answer: Obj, leg: Leg): void {
    this.log.warn(
      { url: this.shownUrl, id: answer.id, session: leg.sdk.sessionId },
      "dropped the client's answer to a request of a previous upstream session (it expired)",
    );
  }

  /**
   * Remembers that `message` is to be POSTed as `raw`, the bytes it arrived in, when they differ
   * from `JSON.stringify(message)` (the body the SDK builds): a number a double rounds
   * (`9007199254740993`, `1e400`), `-0`, spacing. {@link post} hands it to {@link fetchWatched},
   * which puts it back in the body.
   */
  private keepText(message: Obj, raw: string): void {
    const built = JSON.stringify(message);
    if (built !== raw) this.texts.set(message, { raw, built });
  }

  /** The body to POST for `body` built by the SDK: the text it came in as, when that differed. */
  private rawBody(body: string): string {
    const queue = this.rawBodies.get(body);
    if (!queue) return body;
    const raw = queue.shift()!;
    if (queue.length === 0) this.rawBodies.delete(body);
    return raw;
  }

  /** Takes back `raw` queued for `built` when the SDK never POSTed it (it failed before fetch). */
  private dropRawBody(built: string, raw: string): void {
    const queue = this.rawBodies.get(built);
    const at = queue?.indexOf(raw) ?? -1;
    if (at === -1) return;
    queue!.splice(at, 1);
    if (queue!.length === 0) this.rawBodies.delete(built);
  }

  /** POSTs `message` (`p`: its pending entry, for a request) once `after` and any re-initialisation are done. */
  private async post(message: Obj, mayRetry: boolean, after?: Promise<void>, p?: Pending): Promise<void> {
    if (after) await after;
    if (this.reinit) await this.reinit;
    // Withdrawn while it waited (see `withdraw`): it is not sent.
    if (p && this.pending.get(idKey(p.id)) !== p) return;
    // The last re-initialisation failed, so there is no session to send on: a request tries once
    // more (one attempt at a time, shared, and none within REINIT_RETRY_MS of a failure: the
    // requests in between get that failure), so an upstream that was down for a while is used
    // again once it is back, without a restart.
    if (p && mayRetry && this.leg?.initFailure && message.method !== 'initialize') {
      const failedLeg = this.leg;
      const failed =
        Date.now() - (failedLeg.initFailedAt ?? 0) < REINIT_RETRY_MS
          ? failedLeg.initFailure
          : await this.reinitialize(failedLeg);
      if (this.ending) return;
      if (this.pending.get(idKey(p.id)) !== p) return;
      if (failed) {
        // Never sent: it does not count.
        this.fail(message, {
          why: `the upstream session expired and could not be re-initialised: ${failed.why}`,
          ...(failed.status !== undefined ? { status: failed.status } : {}),
          ...(failed.cause !== undefined ? { cause: failed.cause } : {}),
          mayHaveRun: false,
        });
        return;
      }
    }
    const leg = this.leg;
    if (this.closed || this.ending || !leg) {
      this.fail(message, { why: 'the upstream connection is closed', mayHaveRun: false });
      return;
    }
    // An answer to a server-to-client request goes to the session that asked, or nowhere.
    const asker = this.answering.get(message);
    if (asker && (asker !== leg || asker.retired)) {
      this.dropAnswer(message, asker);
      return;
    }
    const text = this.texts.get(message);
    if (text) {
      const queue = this.rawBodies.get(text.built);
      if (queue) queue.push(text.raw);
      else this.rawBodies.set(text.built, [text.raw]);
    }
    // Only a message sent with a session id can have met an expired session.
    const session = leg.sdk.sessionId;
    try {
      await this.sendOn(leg, message, p);
    } catch (err) {
      if (text) this.dropRawBody(text.built, text.raw);
      if (this.closed) return;
      const status = httpStatus(err);
      const expired =
        sessionLost(status, err) &&
        session !== undefined &&
        message.method !== 'initialize' &&
        this.initialize;
      if (expired && mayRetry && (this.opts.reinitializeExpiredSession ?? true)) {
        // Refused before it ran: until it is sent again it has not reached the server.
        if (p) p.sent = false;
        const failed = await this.reinitialize(leg);
        if (this.ending) return;
        // The request it answered died with the session: the new one never asked it.
        if (asker) return this.dropAnswer(message, asker);
        // Withdrawn meanwhile (its id may even be in use again by a new request): nothing to do.
        if (p && this.pending.get(idKey(p.id)) !== p) return;
        if (p?.cancelled) {
          // Cancelled while its POST met the expired session: the client no longer wants it, and
          // sending it now would run it. (It counted when cancelled, as any cancelled call.)
          this.pending.delete(idKey(p.id));
          this.releaseRetired();
          return;
        }
        if (!failed) return this.post(message, false, undefined, p);
        // Not run (it only met the 404), so it does not count; the error names what failed.
        this.fail(message, {
          why: `the upstream session expired (HTTP ${status}) and could not be re-initialised: ${failed.why}`,
          ...(failed.status !== undefined ? { status: failed.status } : {}),
          ...(failed.cause !== undefined ? { cause: failed.cause } : {}),
          mayHaveRun: false,
        });
        return;
      }
      this.fail(
        message,
        classifyFailure(err, this.url, session !== undefined, (t) => this.withoutSecrets(t)),
      );
    }
  }

  /**
   * `message` POSTed on `leg`, counted in its `posting` while in flight (see {@link retire}). A
   * request's answer is then expected on that leg's streams (`p.leg`).
   */
  private async sendOn(leg: Leg, message: Obj, p?: Pending): Promise<void> {
    leg.posting++;
    if (p) {
      const before = p.leg;
      p.leg = leg;
      p.sent = true;
      if (before?.retired) this.releaseRetired();
    }
    try {
      await leg.sdk.send(
        message as unknown as JSONRPCMessage,
        // The SDK reports each event id of the answer's stream, and of the streams resuming it.
        p
          ? {
              onresumptiontoken: (token) => {
                p.lastEventId = token;
              },
            }
          : undefined,
      );
    } finally {
      leg.posting--;
      if (leg.retired) this.releaseRetired();
    }
  }

  /**
   * Marks the leg of an expired session; it is closed once nothing is in flight on it any more
   * (see {@link releaseRetired}).
   */
  private retire(expired: Leg): void {
    expired.retired = true;
    this.retiring.add(expired);
    this.releaseRetired();
  }

  /**
   * Closes each expired leg on which nothing is in flight any more: no POST (closing it at once
   * would abort those sent before the server's 404 to the first came back: they would fail as
   * cut exchanges, which count, instead of getting their own 404 and being sent again on the
   * new session), and no request whose answer is still to come on its streams (a call streaming
   * its answer over SSE, or resuming it, on the old session: closing would cut it off). A
   * request the client cancelled keeps nothing open: nobody awaits its answer, which a server
   * need not send; it is forgotten with its leg.
   */
  private releaseRetired(): void {
    if (this.retiring.size === 0) return;
    const busy = new Set<Leg>();
    for (const p of this.pending.values()) if (p.leg?.retired && !p.cancelled) busy.add(p.leg);
    for (const leg of [...this.retiring]) {
      if (leg.posting > 0 || busy.has(leg)) continue;
      this.retiring.delete(leg);
      for (const [key, p] of [...this.pending]) if (p.leg === leg) this.pending.delete(key);
      void this.closeLeg(leg);
    }
  }

  /** Closes a leg's SDK transport (aborting its streams), marking it as closed by Tollgate. */
  private closeLeg(leg: Leg): Promise<void> {
    leg.closed = true;
    leg.sdk.onclose = undefined;
    return leg.sdk.close().catch(() => {});
  }

  /**
   * Starts a new upstream session with the client's own `initialize` request (under an id of
   * ours), then `notifications/initialized`. Concurrent callers share one attempt. The messages
   * still in flight on the expired session get their own 404 and are sent again on the new one.
   * Resolves undefined once the new session is ready, else with why it could not be opened
   * (its error body masked like any other the client or the log sees).
   */
  private reinitialize(expired: Leg): Promise<UpstreamFailure | undefined> {
    // Someone already did it (or tried: the same failure).
    if (this.leg !== expired) return Promise.resolve(this.leg?.initFailure);
    if (this.reinit) return this.reinit;
    const attempt = (async () => {
      if (expired.initFailure) {
        this.log.warn({ url: this.shownUrl }, 'trying again to re-initialise the upstream session');
      } else {
        this.log.warn(
          { url: this.shownUrl, session: expired.sdk.sessionId },
          'upstream session expired; re-initialising',
        );
      }
      this.retire(expired);
      const leg = await this.connect();
      this.connecting = leg;
      const sdk = leg.sdk;
      const id = `tollgate-reinit-${++this.reinitCount}`;
      const answered = new Promise<Obj>((resolve) => this.internal.set(idKey(id), resolve));
      let failure: UpstreamFailure | undefined;
      let relisting = false;
      try {
        await sdk.send({ ...this.initialize, id } as unknown as JSONRPCMessage);
        const answer = await Promise.race([
          answered,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000).unref()),
        ]);
        if (this.ending) return await this.abandon(leg);
        if (!answer)
          failure = { why: 'the upstream did not answer initialize within 10 s', mayHaveRun: false };
        else if (!isObj(answer.result)) {
          const error = isObj(answer.error) ? answer.error : {};
          failure = {
            why: `the upstream answered initialize with an error: ${quotedBody(String(error.message ?? JSON.stringify(answer.error)))}`,
            mayHaveRun: false,
          };
        } else {
          await sdk.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
          if (this.ending) return await this.abandon(leg);
          // The server may have changed while the session was lost (a restart with a new release):
          // the client lists its tools again, and with it the proxy's inputSchemas are renewed.
          if (isObj(answer.result.capabilities) && isObj(answer.result.capabilities.tools)) {
            relisting = true;
          }
        }
      } catch (err) {
        if (this.ending) return await this.abandon(leg);
        failure = classifyFailure(err, this.url, false, (t) => this.withoutSecrets(t));
      } finally {
        this.internal.delete(idKey(id));
        this.connecting = undefined;
      }
      this.leg = leg;
      if (!failure) {
        if (relisting) this.deliver({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
        return undefined;
      }
      failure = { ...failure, why: this.withoutSecrets(failure.why) };
      leg.initFailure = failure;
      leg.initFailedAt = Date.now();
      this.log.error(
        {
          url: this.shownUrl,
          ...(failure.status !== undefined ? { status: failure.status } : {}),
          ...(failure.cause !== undefined ? { cause: failure.cause } : {}),
        },
        `upstream re-initialisation failed: ${failure.why}`,
      );
      return failure;
    })();
    this.reinit = attempt.finally(() => {
      this.reinit = undefined;
    });
    return this.reinit;
  }

  /**
   * Gives up the session a re-initialisation opened, because the transport is closing: DELETEd
   * when the server gave it an id (else it would stay open on the server, and its GET stream
   * too), then closed. Resolves with the re-initialisation's result: it failed.
   */
  private async abandon(leg: Leg): Promise<UpstreamFailure> {
    this.log.debug(
      { url: this.shownUrl, session: leg.sdk.sessionId },
      'upstream re-initialisation abandoned',
    );
    if (leg.sdk.sessionId) await this.terminate(leg);
    await this.closeLeg(leg);
    return { why: 'Tollgate closed the session', mayHaveRun: false };
  }

  /** DELETEs a leg's session, waiting at most `closeTimeoutMs` for the answer. */
  private async terminate(leg: Leg): Promise<void> {
    await this.withinCloseTimeout(leg.sdk.terminateSession().catch(() => {}));
  }

  /** Waits for `work`, at most `closeTimeoutMs` (default 2000 ms). */
  private withinCloseTimeout(work: Promise<unknown>): Promise<unknown> {
    const timeout = new Promise<void>((r) => setTimeout(r, this.opts.closeTimeoutMs ?? 2000).unref());
    return Promise.race([work, timeout]);
  }

  /**
   * Takes back a request that has not reached the server: it waits to be POSTed, behind earlier
   * messages or a re-initialisation, or the expired session refused it (HTTP 404) and it waits to
   * be sent again. It is then never sent, and never answered. False when it may have reached
   * the server (its POST is under way or was accepted), or is not pending.
   *
   * @param id - the request's id
   * @returns true when the request was withdrawn: the server never ran it
   */
  withdraw(id: JsonRpcId): boolean {
    const key = idKey(id);
    const p = this.pending.get(key);
    if (!p || p.sent) return false;
    this.pending.delete(key);
    this.withdrawn.add(key);
    if (this.withdrawn.size > MAX_SERVER_REQUESTS) {
      this.withdrawn.delete(this.withdrawn.values().next().value as string);
    }
    this.initialized(key);
    if (p.leg?.retired) this.releaseRetired();
    return true;
  }

  private received(message: Obj, leg: Leg): void {
    if (isRequest(message)) message = this.toClientRequest(message, leg);
    else if (message.method === 'notifications/cancelled') message = this.toClientCancellation(message, leg);
    else if (isResponse(message)) {
      const key = idKey(message.id as JsonRpcId);
      const own = this.internal.get(key);
      if (own) {
        own(message);
        return;
      }
      this.initialized(key);
      const p = this.pending.get(key);
      this.pending.delete(key);
      if (p?.leg?.retired) this.releaseRetired();
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

  /** The request under `key` was answered (or failed): if it was `initialize`, what waited on it goes. */
  private initialized(key: string): void {
    const release = this.initializing.get(key);
    if (!release) return;
    this.initializing.delete(key);
    release();
  }

  private deliver(message: Obj): void {
    if (this.closed) return;
    const bytes = encode(message);
    const cap = this.cap;
    if (bytes.length > cap) {
      this.onoversize?.({
        bytes: bytes.length,
        limit: cap,
        head: bytes.subarray(0, 4096),
        tail: bytes.subarray(Math.max(0, bytes.length - 4096)),
      });
      return;
    }
    this.onmessage?.(bytes);
  }

  /**
   * Answers a request whose exchange failed, once, and logs why; other messages only go to
   * `onerror`. When the server may have run the request, the answer goes through
   * `oncountedfailure`: a `tools/call` counts against its limits, as it would over stdio had the
   * server answered, since a client must not escape a limit because a gateway timed out or a
   * connection broke after the call was sent.
   */
  private fail(message: Obj, failure: UpstreamFailure): void {
    const { status, cause, mayHaveRun } = failure;
    const why = this.withoutSecrets(failure.why);
    // Closing: whoever closed the transport answers what is still pending (Router.endSession).
    if (this.closed || this.ending) {
      this.log.debug({ url: this.shownUrl, method: message.method }, `upstream request ended: ${why}`);
      return;
    }
    if (!isRequest(message)) {
      this.onerror?.(
        new Error(`could not deliver ${String(message.method ?? 'a response')} upstream: ${why}`),
      );
      return;
    }
    const id = message.id as JsonRpcId;
    this.initialized(idKey(id));
    const p = this.pending.get(idKey(id));
    if (!p) return;
    this.pending.delete(idKey(id));
    if (p.leg?.retired) this.releaseRetired();
    const call = message.method === 'tools/call';
    this.log.warn(
      {
        url: this.shownUrl,
        method: message.method,
        ...(status ? { status } : {}),
        ...(cause ? { cause } : {}),
        ...(call ? { counted: mayHaveRun } : {}),
      },
      `upstream request failed: ${why}`,
    );
    const text =
      call && mayHaveRun
        ? `MCP server over HTTP: ${why}; the request may have reached the server, so the call counts against the policy's limits`
        : `MCP server over HTTP: ${why}`;
    const reply = errorResponse(id, ErrorCode.UpstreamClosed, text, {
      url: this.shownUrl,
      ...(status ? { status } : {}),
      ...(cause ? { cause } : {}),
    });
    if (this.closed) return;
    if (mayHaveRun && this.oncountedfailure) this.oncountedfailure(encode(reply));
    else this.onmessage?.(encode(reply));
  }

  /**
   * `text` (an error the upstream's answer may have shaped: a 4xx body is quoted in it) with the
   * values of the `--header`s Tollgate sends replaced by `***`, each whole and its last word (the
   * token of `Bearer <token>`): an upstream that echoes a credential must not hand it to the
   * agent, which never had it.
   */
  private withoutSecrets(text: string): string {
    let out = text;
    // Regardless of case: an upstream may echo a token lower-cased or upper-cased.
    const mask = (secret: string) => {
      out = out.replace(new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '***');
    };
    for (const value of Object.values(this.opts.headers ?? {})) {
      const token = value.trim().split(/\s+/).at(-1) ?? '';
      for (const secret of [value.trim(), token]) if (secret.length >= 4) mask(secret);
    }
    // The URL's query values and userinfo (`?api_key=...`): an upstream may echo its request URL.
    for (const secret of this.urlSecrets) mask(secret);
    return out;
  }

  /** Query values and userinfo of the upstream URL, raw and decoded, 4 characters or longer. */
  private get urlSecrets(): string[] {
    const url = new URL(this.url);
    const found = new Set<string>();
    const add = (v: string) => {
      if (v.length < 4) return;
      found.add(v);
      try {
        found.add(decodeURIComponent(v));
      } catch {}
    };
    for (const [, v] of url.searchParams) {
      add(v);
      add(encodeURIComponent(v));
    }
    add(url.username);
    add(url.password);
    return [...found].sort((a, b) => b.length - a.length);
  }

  private sdkError(err: Error, leg: Leg): void {
    if (this.closed) return;
    // Tollgate closed this leg (an expired session's connection, once nothing was in flight on
    // it): the SDK reports its aborted streams ("SSE stream disconnected: AbortError"), which is
    // no error.
    if (leg.closed && (err.name === 'AbortError' || /AbortError|operation was aborted/.test(err.message))) {
      this.log.debug(
        { err: this.withoutSecrets(err.message), session: leg.sdk.sessionId },
        'an expired upstream session was closed',
      );
      return;
    }
    // The SDK gave up resuming. Each resumption is judged in `fetchWatched`, which answers the
    // requests of a stream given up on; only without any attempt (`maxRetries: 0`) is that left
    // to this error: whatever waited on a lost stream of this leg will never be answered.
    if (/Maximum reconnection attempts/.test(err.message) && this.maxRetries === 0) {
      for (const p of [...this.pending.values()]) {
        if (p.resuming && p.leg === leg)
          this.fail(
            { jsonrpc: '2.0', id: p.id, method: p.method },
            { why: 'the SSE stream was lost and could not be resumed', mayHaveRun: true },
          );
      }
    }
    this.log.debug({ err: this.withoutSecrets(err.message) }, 'upstream transport error');
    // A failed POST is thrown to post() too, which reports it with its cause: once is enough.
    if (this.postFailures.has(err) || /Error POSTing to endpoint|Unexpected content type/.test(err.message))
      return;
    const shown = this.withoutSecrets(err.message);
    // Not chained to the original: a logger printing causes would print the secret.
    this.onerror?.(shown === err.message ? err : new Error(shown));
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
    leg: Leg,
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
    const postBody =
      init?.method === 'POST' && typeof init.body === 'string' ? this.rawBody(init.body) : init?.body;
    // A GET with `Last-Event-ID` resumes a lost stream: the requests whose answers it carries.
    let resumedFrom =
      init?.method === 'GET' ? (new Headers(init.headers).get('last-event-id') ?? undefined) : undefined;
    if (init?.method === 'GET' && resumedFrom === undefined) {
      // The SDK resumes a resumed stream that ended without a new event id with a GET naming no
      // event: it would open a plain GET stream (or meet a 409), and the answer the stream was
      // waiting for would never come. A server that polls (spec 2025-11-25, "Resumability and
      // Redelivery") closes the resumed stream again and again while its tool runs: this GET
      // resumes, from the same event, the stream that ended first.
      while (leg.toResume.length > 0 && resumedFrom === undefined) {
        const from = leg.toResume.shift()!;
        if (!leg.abandoned.has(from) && this.resumedBy(leg, from).length > 0) resumedFrom = from;
      }
      if (resumedFrom !== undefined) {
        const headers = new Headers(init.headers);
        headers.set('last-event-id', resumedFrom);
        init = { ...init, headers };
      }
    }
    if (resumedFrom !== undefined && leg.abandoned.has(resumedFrom)) {
      // A stream given up on (its requests were answered): the SDK would try it again and again
      // (a resumed stream that ends without a new event id is resumed from the same id). A 405
      // is how it learns that there is nothing to resume.
      release();
      return new Response(null, { status: 405, statusText: 'stream abandoned by Tollgate' });
    }
    const resumed = resumedFrom === undefined ? [] : this.resumedBy(leg, resumedFrom);
    /** This resumption's count (see `Leg.resumptions`). */
    let resumption: { started: number; accepted: number } | undefined;
    if (resumed.length > 0) {
      const from = resumedFrom!;
      const i = leg.toResume.indexOf(from);
      if (i !== -1) leg.toResume.splice(i, 1);
      resumption = leg.resumptions.get(from);
      if (!resumption) {
        // Forget the streams nothing waits on any more before remembering another.
        for (const id of leg.resumptions.keys())
          if (this.resumedBy(leg, id).length === 0) leg.resumptions.delete(id);
        resumption = { started: 0, accepted: 0 };
        leg.resumptions.set(from, resumption);
      }
      // Each accepted resumption from this event ended without bringing a new one.
      if (resumption.accepted >= this.maxEmptyResumptions) {
        release();
        this.abandonStream(
          leg,
          from,
          resumed,
          `the resumed stream ended without the answer ${resumption.accepted} times in a row`,
        );
        return new Response(null, { status: 405, statusText: 'stream abandoned by Tollgate' });
      }
      resumption.started++;
    }
    try {
      // undici's fetch with its agent (see UPSTREAM_AGENT_OPTIONS), from the same package: Node's
      // global fetch is the undici bundled with Node, whose version varies with Node's and
      // cannot be imported, so an agent of the package's is not sure to fit it.
      response = (await undiciFetch(input, {
        ...(init as UndiciRequestInit),
        body: postBody as UndiciRequestInit['body'],
        signal: own.signal,
        dispatcher: agent(),
      })) as unknown as Response;
    } catch (err) {
      release();
      if (typeof err === 'object' && err !== null) {
        if (provesNotSent(err)) notSent.add(err);
        if (init?.method === 'POST') this.postFailures.add(err);
      }
      if (resumed.length > 0 && !leg.closed) {
        const failure = classifyFailure(err, this.url, true, (t) => this.withoutSecrets(t));
        this.resumeFailed(leg, resumedFrom!, resumed, failure.why);
      }
      throw err;
    }
    if (resumption && response.ok) resumption.accepted++;
    if (resumed.length > 0 && !response.ok) {
      this.resumeFailed(
        leg,
        resumedFrom!,
        resumed,
        `the upstream answered HTTP ${response.status}`,
        response.status,
      );
    }
    // The requests this POST carried, judged once its answer's body has ended. An SSE stream
    // that ended before answering some of them is resumed by the SDK when it carried event ids
    // (they are marked resuming), else they are answered with an error. A 2xx answer that is not
    // an SSE stream (a JSON body, or a 202 that servers may send only for notifications and
    // responses) is the whole answer: what it leaves unanswered never will be (spec "Sending
    // Messages to the Server").
    const sent = this.requestKeys(init);
    const sse = (response.headers.get('content-type') ?? '').includes('text/event-stream');
    let sawEventId = false;
    /** Why this answer's stream was cut by the proxy (a message over the cap): not resumed. */
    let cutWhy: string | undefined;
    const judge = () => {
      if (resumed.length > 0 && response.ok) {
        // A resumed stream that ended: the SDK resumes it again, after the server's `retry`
        // delay, from the last event id it carried, or, when it carried none, with a GET naming
        // no event, which resumes it from the same one (above), at most `maxEmptyResumptions`
        // times in a row. Should no resumption come (the SDK gave up), its requests are answered.
        const from = resumedFrom!;
        const started = resumption?.started;
        if (!leg.toResume.includes(from)) leg.toResume.push(from);
        setTimeout(() => {
          const i = leg.toResume.indexOf(from);
          if (i !== -1 && leg.resumptions.get(from)?.started === started) leg.toResume.splice(i, 1);
          else return;
          const left = resumed.filter((key) => this.pending.get(key)?.lastEventId === from);
          if (left.length > 0 && !leg.closed)
            this.abandonStream(leg, from, left, 'the resumed stream ended without the answer');
        }, this.resumeDelayMs(leg) + RESUME_GRACE_MS).unref();
        return;
      }
      if (sent.length === 0 || (!sse && !response.ok)) return;
      // Let the SDK's parser deliver what it already has before judging (it runs on promise
      // jobs, which a timer always follows; the margin covers a loaded machine).
      setTimeout(() => {
        const why =
          cutWhy ??
          (sse
            ? 'the SSE stream ended before the answer'
            : `the upstream's HTTP ${response.status} answer held no response to the request`);
        for (const key of sent) {
          const p = this.pending.get(key);
          if (!p || (!sse && p.resuming)) continue;
          // The SDK resumes a stream that carried event ids, unless its transport was closed.
          if (sse && sawEventId && cutWhy === undefined && !leg.closed) p.resuming = true;
          else this.fail({ jsonrpc: '2.0', id: p.id, method: p.method }, { why, mayHaveRun: true });
        }
      }, 250).unref();
    };
    if (!response.body || [101, 204, 205, 304].includes(response.status)) {
      release();
      if (!sse) judge();
      return response;
    }
    const postFailures = init?.method === 'POST' ? this.postFailures : undefined;
    const reader = response.body.getReader();
    const cap = this.cap;
    const log = this.log;
    const shownUrl = this.shownUrl;
    let pastBoundary = 0;
    let lastByte = -1;
    const decoder = new TextDecoder();
    let tail = '';
    const ended = () => {
      release();
      judge();
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            // A stream that ends on a lone CR: the SDK's SSE parser waits to see whether a LF
            // follows (CRLF is one line end) and so never dispatches the last event, often the
            // answer. A LF after it settles that (CR LF: the line end the CR began).
            if (sse && lastByte === CR) controller.enqueue(new Uint8Array([LF]));
            controller.close();
            ended();
            return;
          }
          // Bytes since the last blank line (the end of an SSE event); a JSON body is one message.
          const end = sse ? lastEventEnd(lastByte, value) : -1;
          if (value.length > 0) lastByte = value[value.length - 1]!;
          pastBoundary = end === -1 ? pastBoundary + value.length : value.length - end;
          if (pastBoundary > cap + SSE_FRAMING_BYTES) {
            throw new UpstreamMessageTooLarge(
              `a message from the server is over the cap of ${cap} bytes (--max-message-bytes); its stream was cut`,
            );
          }
          if (sse && sent.length > 0 && !sawEventId) {
            const text = tail + decoder.decode(value, { stream: true });
            if (/(^|\n)id:/.test(text)) sawEventId = true;
            tail = text.slice(-4);
          }
          controller.enqueue(value);
        } catch (err) {
          if (typeof err === 'object' && err !== null) postFailures?.add(err);
          if (err instanceof UpstreamMessageTooLarge) {
            cutWhy = err.message;
            log.warn({ url: shownUrl }, err.message);
            void reader.cancel(err).catch(() => {});
          }
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

  /** `reconnection.maxEmptyResumptions` (default {@link DEFAULT_MAX_EMPTY_RESUMPTIONS}). */
  private get maxEmptyResumptions(): number {
    return this.opts.reconnection?.maxEmptyResumptions ?? DEFAULT_MAX_EMPTY_RESUMPTIONS;
  }

  /**
   * How long the SDK waits before it resumes a stream that ended: the server's last `retry`
   * field (the SDK keeps it), else the first reconnection delay.
   */
  private resumeDelayMs(leg: Leg): number {
    const retry = (leg.sdk as unknown as { _serverRetryMs?: unknown })._serverRetryMs;
    return typeof retry === 'number' && Number.isFinite(retry) && retry >= 0
      ? retry
      : (this.opts.reconnection?.initialDelayMs ?? 250);
  }

  /** Attempts at resuming a lost stream (`reconnection.maxRetries`, default 3). */
  private get maxRetries(): number {
    return this.opts.reconnection?.maxRetries ?? 3;
  }

  /** Keys of the pending requests whose answer a GET resuming from `lastEventId` on `leg` carries. */
  private resumedBy(leg: Leg, lastEventId: string): string[] {
    const keys: string[] = [];
    for (const [key, p] of this.pending) if (p.leg === leg && p.lastEventId === lastEventId) keys.push(key);
    return keys;
  }

  /**
   * A resumption from `lastEventId` failed (`detail`: how). A 404 (the session is gone) or 405
   * (no GET stream: the SDK takes it for "none" and stops) is final; after another failure the
   * SDK tries again, `maxRetries` times in all, and the requests are answered after the last.
   */
  private resumeFailed(leg: Leg, lastEventId: string, keys: string[], detail: string, status?: number): void {
    const final = status === 404 || status === 405;
    const failures = (leg.resumeFailures.get(lastEventId) ?? 0) + 1;
    if (!final && failures < this.maxRetries) {
      leg.resumeFailures.set(lastEventId, failures);
      return;
    }
    const why = final ? detail : `${failures} attempts, the last: ${detail}`;
    this.abandonStream(leg, lastEventId, keys, why, status);
  }

  /**
   * Gives up the stream that was resuming from `lastEventId`: its requests get -32000 and count
   * (the server may have run them), and the SDK's further attempts at it are refused.
   */
  private abandonStream(leg: Leg, lastEventId: string, keys: string[], why: string, status?: number): void {
    leg.resumeFailures.delete(lastEventId);
    leg.resumptions.delete(lastEventId);
    leg.abandoned.add(lastEventId);
    if (leg.abandoned.size > MAX_ABANDONED)
      leg.abandoned.delete(leg.abandoned.values().next().value as string);
    for (const key of keys) {
      const p = this.pending.get(key);
      if (!p || p.leg !== leg || p.lastEventId !== lastEventId) continue;
      this.fail(
        { jsonrpc: '2.0', id: p.id, method: p.method },
        {
          why: `the SSE stream was lost and could not be resumed (${why})`,
          ...(status !== undefined ? { status } : {}),
          mayHaveRun: true,
        },
      );
    }
  }

  /** Keys of the requests a POST carried (none for another method). */
  private requestKeys(init: RequestInit | undefined): string[] {
    if (init?.method !== 'POST' || typeof init.body !== 'string') return [];
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
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.ending = true;
    const reinit = this.reinit;
    if (reinit) {
      // A re-initialisation under way is abandoned (see `abandon`). Waited for, up to the close
      // timeout, so that the session it opens is DELETEd; one still unanswered then is cut off.
      await this.withinCloseTimeout(reinit);
      if (this.connecting) await this.closeLeg(this.connecting);
    }
    if (this.initializing.size > 0 && this.initializeAnswered && !this.leg?.sdk.sessionId) {
      // The client's `initialize` is still on its way (its client gave up on it): its answer
      // carries the session id, so it is waited for, up to the close timeout, and the session
      // it opens is DELETEd rather than left open on the server.
      await this.withinCloseTimeout(this.initializeAnswered);
    }
    const leg = this.leg;
    // An expired session (being replaced) is already gone on the server.
    if (leg?.sdk.sessionId && !leg.retired) await this.terminate(leg);
    this.closed = true;
    for (const key of [...this.initializing.keys()]) this.initialized(key);
    const retiring = [...this.retiring];
    this.retiring.clear();
    await Promise.allSettled(retiring.map((l) => this.closeLeg(l)));
    if (leg) await this.closeLeg(leg);
    this.onclose?.({ reason: 'upstream HTTP session closed' });
  }
}

const LF_LF = Buffer.from('\n\n');
const CR_CR = Buffer.from('\r\r');
const LF_CR = Buffer.from('\n\r');
const LF = 0x0a;
const CR = 0x0d;

/**
 * Where the last blank line of an SSE stream ends in `chunk`, as an index from which the bytes
 * after it are counted (-1: none in it). An SSE line ends with CRLF, LF or a lone CR (WHATWG
 * "Server-sent events", parsing), so two line ends in a row (an event's end) always hold `\n\n`,
 * `\r\r` or `\n\r` (CRLF CRLF holds `\n\r`; a lone CR then LF is one CRLF, never two). `before`
 * is the last byte of the previous chunk (-1 for none), for a pair split across two chunks.
 */
export function lastEventEnd(before: number, chunk: Uint8Array): number {
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const end = Math.max(buf.lastIndexOf(LF_LF), buf.lastIndexOf(CR_CR), buf.lastIndexOf(LF_CR));
  if (end !== -1) return end;
  const first = buf[0];
  const split = (before === LF && (first === LF || first === CR)) || (before === CR && first === CR);
  return split ? 0 : -1;
}
