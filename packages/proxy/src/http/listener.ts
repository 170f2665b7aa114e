/**
 * The HTTP listener: Tollgate as a Streamable HTTP MCP server at `/mcp` (MCP spec 2025-11-25,
 * "Transports > Streamable HTTP") in front of one upstream, for many clients at once. This is
 * what `tollgate -c policy.yaml --transport http (-- CMD | --upstream URL)` runs.
 *
 * Sessions: every client `initialize` opens a session with its own router and its own upstream
 * session: for a stdio upstream, a new child process per session (started before the
 * `initialize` is forwarded, stopped with the stdio shutdown ladder when the session ends);
 * for an HTTP upstream, a new upstream `Mcp-Session-Id`. A session ends on the client's DELETE,
 * when its upstream dies, when it has been idle for `sessionIdleMs` (no request; a client that
 * holds a stream open must answer a `ping`), or when the listener closes.
 *
 * Front door (security.ts), in this order: path, Host and Origin (403), the CORS preflight
 * (answered here, without the token; 403 unless the origin is in `allowedOrigins`), bearer token
 * (401), method (405 unless POST, GET or DELETE), body cap (413), then the session. Every answer
 * to an origin in `allowedOrigins` carries the CORS headers, refusals and SSE streams included. A
 * listener bound to anything but loopback refuses to start without a token unless
 * `allowUnauthenticated` is set.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InitializeRequestSchema, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../framing/line-splitter.js';
import type { Gate, GateCall, GateContext, GateDecision } from '../gate.js';
import { idProblem, type JsonRpcId, scanEnvelope } from '../jsonrpc/envelope.js';
import { ErrorCode, encode } from '../jsonrpc/errors.js';
import { idKey } from '../jsonrpc/id.js';
import { arrayElements } from '../jsonrpc/json-text.js';
import { type ProxyLogger, silentLogger } from '../logger.js';
import { Router } from '../router.js';
import { ChildStdioTransport } from '../transport/stdio-child.js';
import type { MessageTransport } from '../transport/types.js';
import { BoundedEventStore } from './event-store.js';
import {
  type AccessPolicy,
  CORS_ALLOW_HEADERS,
  CORS_EXPOSE_HEADERS,
  CORS_MAX_AGE,
  checkHostAndOrigin,
  checkToken,
  corsOrigin,
  isLoopbackHost,
  isPreflight,
  type Refusal,
  tokenDigest,
  tokenLabel,
} from './security.js';
import { HttpSessionTransport, PING_ID_PREFIX, type PostTexts, postTexts } from './session-transport.js';
import { HttpUpstreamTransport } from './upstream.js';

/** Where each session's upstream session comes from. */
export type HttpListenerUpstream =
  | {
      readonly kind: 'stdio';
      readonly command: string;
      readonly args?: readonly string[];
      readonly env?: NodeJS.ProcessEnv;
      readonly cwd?: string;
      /** Wait between the shutdown steps of a session's child, in milliseconds (default 2000). */
      readonly shutdownGraceMs?: number;
    }
  | {
      readonly kind: 'http';
      readonly url: string | URL;
      readonly headers?: Readonly<Record<string, string>>;
    };

/** Who a session belongs to; given to a per-session gate factory and to every decision. */
export interface HttpSessionInfo {
  /** The `Mcp-Session-Id` Tollgate issued. */
  readonly sessionId: string;
  /** `token:<first 8 hex of the token's SHA-256>` when a bearer token was presented, else `anonymous`. */
  readonly principal: string;
  /** The peer's IP address. */
  readonly remoteAddress: string;
}

/** The context the listener gives `Gate.decide`: the router's, plus the HTTP identity. */
export interface HttpGateContext extends GateContext {
  sessionId: string;
  /**
   * `<principal>@<remoteAddress> (<clientInfo.name>)`, e.g. `token:1a2b3c4d@10.0.0.7 (claude-code)`:
   * the decision log's `client_id`.
   */
  clientId: string;
  /** `clientInfo.name` from the client's `initialize`, when it gave one. */
  clientName?: string;
  transport: 'http';
}

/** Options of {@link runHttpListener}. */
export interface HttpListenerOptions<D extends GateDecision = GateDecision> {
  /**
   * The policy engine: one gate shared by all sessions (counters shared), or a factory called
   * once per session (e.g. an enforcer over its own memory store: per-session counters). A
   * factory's gate is closed with the session when it has a `close()` method (an `Enforcer` does).
   */
  readonly gate: Gate<D> | ((session: HttpSessionInfo) => Gate<D> | Promise<Gate<D>>);
  readonly upstream: HttpListenerUpstream;
  /**
   * Cap on one message in either direction, in bytes (`--max-message-bytes`; default 64 MiB, the
   * stdio proxy's): a client message over it is refused with HTTP 400 and `-32600`; a server
   * message over it answers its request with `-32603` (a call counts), as over stdio.
   */
  readonly maxMessageBytes?: number;
  /** Address to bind (default `127.0.0.1`). */
  readonly host?: string;
  /** Port (default 0: any free port; read it back from the result). */
  readonly port?: number;
  /** Endpoint path (default `/mcp`). */
  readonly path?: string;
  /**
   * Accepted bearer tokens; an empty or blank one is an error. Default: `TOLLGATE_AUTH_TOKEN` from
   * `env` when set to something other than blanks (an empty value counts as unset, with a
   * warning), else none.
   */
  readonly authTokens?: readonly string[];
  /** Allow a non-loopback bind without a token (default false: refuse to start). */
  readonly allowUnauthenticated?: boolean;
  /**
   * Browser origins (`https://app.example.com`) allowed to call the listener, with CORS: the
   * preflight is answered and every answer carries `Access-Control-Allow-Origin`. Loopback
   * origins are accepted on a loopback bind without being listed, but get no CORS headers.
   */
  readonly allowedOrigins?: readonly string[];
  /** Accepted `Host` names. Default: loopback names on a loopback bind, any otherwise. */
  readonly allowedHosts?: readonly string[];
  /** Cap on one POST body, in bytes (default 4 MiB). */
  readonly maxBodyBytes?: number;
  /**
   * A POST body that sends nothing for this long is refused with 408 (ms; default
   * {@link BODY_IDLE_MS}, 10 s).
   */
  readonly bodyIdleMs?: number;
  /**
   * Most bytes the POST bodies being read hold together, across connections (bytes; default the
   * larger of 64 MiB and four `maxBodyBytes`); a body that would pass it is refused with 503.
   */
  readonly bodyBudgetBytes?: number;
  /**
   * How long a POST to a session waits, unread, while the session's server has more than 8 MiB
   * of its messages unread (a stdio child not reading its stdin), before it gets 503 (ms; default
   * 30,000).
   */
  readonly inputWaitMs?: number;
  /**
   * Most bytes the listener may hold written but not yet taken by clients, across all responses
   * (bytes; default the larger of 64 MiB and two `maxMessageBytes`). Past it, the response that
   * holds the most and has not drained for a second is closed: a client that never reads its SSE
   * stream would otherwise keep everything the server sends it in the listener's memory. The
   * client can reconnect and resume the stream with `Last-Event-ID` (the replay buffer is
   * bounded, see `BoundedEventStore`).
   */
  readonly unreadBudgetBytes?: number;
  /** Cap on concurrent sessions (default 64); beyond it `initialize` gets HTTP 503. */
  readonly maxSessions?: number;
  /**
   * End a session idle this long, in milliseconds (default 30 minutes; 0 = never): no HTTP
   * request of its client began or ended for this long, and none is open, nor is a request
   * pending upstream (one pending for 4 times this long ends it anyway). A session quiet this
   * long whose client still holds a stream open (the SDK's client always keeps its GET stream) is
   * sent a `ping` on it, and ends unless the client answers within {@link idleCheckMs}: an open stream alone does not keep a session, since a client that hung
   * or vanished behind a half-open connection holds its stream open forever.
   */
  readonly sessionIdleMs?: number;
  /**
   * End a session sooner, this long (milliseconds, default 60,000) after its client closed its
   * standalone GET stream, when it has sent nothing since, has no request open and none pending
   * upstream: what the MCP SDK's `Client.close()` leaves (it drops the stream and sends no
   * `DELETE`), which would otherwise hold a `maxSessions` slot and a server child for the whole
   * idle timeout. A client whose stream dropped reconnects it within seconds (the SDK's: 1 s,
   * then 1.5 s), which keeps the session. Not applied when `sessionIdleMs` is 0.
   */
  readonly streamGoneMs?: number;
  readonly logger?: ProxyLogger;
  /** Environment to read `TOLLGATE_AUTH_TOKEN` from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A running listener. */
export interface HttpListener {
  /** The endpoint, e.g. `http://127.0.0.1:43125/mcp`. */
  readonly url: URL;
  readonly port: number;
  /** Number of open sessions. */
  readonly sessionCount: number;
  /**
   * Bytes written to clients' responses that they have not taken yet, as last seen (each
   * response's `writableLength` after its latest write or drain); bounded by `unreadBudgetBytes`.
   */
  readonly unreadBytes: number;
  /** Ids of the open sessions. */
  sessionIds(): string[];
  /** Closes every session (stopping children, DELETEing upstream sessions) and the server. */
  close(): Promise<void>;
}

interface Session {
  info: HttpSessionInfo;
  http: StreamableHTTPServerTransport;
  client: HttpSessionTransport;
  server: MessageTransport;
  router: Router<GateDecision>;
  lastSeen: number;
  openRequests: number;
  /** Open standalone streams (GET without Last-Event-ID): where an idle client's ping goes. */
  openStandalone: number;
  /** When the last standalone stream closed, while none is open (see `streamGoneMs`). */
  streamClosedAt?: number;
  /** Tollgate's own `ping` to the idle client, unanswered yet, and when it was sent. */
  ping?: { id: string; sentAt: number };
  ending?: Promise<void>;
  /** Closes a per-session gate. */
  closeGate?: () => Promise<void> | undefined;
  /**
   * Set while the server holds more than `BACKLOG_BYTES` of this session's messages unread (a
   * stdio child not reading its stdin); resolves once it has read them.
   */
  inputFull?: Promise<void>;
}

const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

/** Why `listen` failed, in words for the usual codes, with the code. */
function listenProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'EADDRINUSE: the port is in use (another process, or another Tollgate, listens there); choose another --port, or --port 0 for a free one';
    case 'EACCES':
      return 'EACCES: not allowed to listen on that port (ports below 1024 need privileges); choose one from 1024';
    case 'EADDRNOTAVAIL':
      return 'EADDRNOTAVAIL: no network interface of this machine has that address; bind to one it has (127.0.0.1, 0.0.0.0, ::)';
    default:
      return err.code ?? err.message;
  }
}

/**
 * How often idle sessions are looked for, for an idle timeout of `idleMs`: a quarter of it, at
 * least 1 s and at most 60 s. A client pinged as idle has this long to answer.
 */
export function idleCheckMs(idleMs: number): number {
  return Math.min(60_000, Math.max(1000, idleMs / 4));
}

/**
 * TCP keepalive on the listener's connections, first probe after this long without traffic: the
 * kernel notices a peer that vanished from an idle connection (host gone, network cut).
 */
const TCP_KEEPALIVE_MS = 30_000;

/** The methods of the Streamable HTTP transport at the MCP endpoint; others get 405. */
const ALLOWED_METHODS: readonly string[] = ['POST', 'GET', 'DELETE'];
const ALLOW_HEADER = 'GET, POST, DELETE';

/**
 * Writes a JSON-RPC error as the body of an HTTP error: `id: null` (the MCP SDK's convention),
 * or the id of the one request refused.
 */
function refuse(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  id: JsonRpcId = null,
) {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id }));
}

/**
 * A POST body that sends nothing for this long is refused with 408 and its connection closed
 * (ms). Node's `requestTimeout` is off for the long-lived SSE responses, so without it a client
 * could start bodies and never finish them, holding their bytes and sockets for ever.
 */
export const BODY_IDLE_MS = 10_000;

/** The bytes of POST bodies being read at once, across all connections of one listener. */
interface BodyBudget {
  used: number;
  /** Most bytes held at once (bytes). */
  readonly max: number;
  /** How long a body may send nothing (ms). */
  readonly idleMs: number;
}

/**
 * Reads a body up to `limit` bytes; resolves undefined after answering 413 when over it, 408 when
 * no byte comes for `budget.idleMs`, or 503 when the bodies being read would hold more than
 * `budget.max` bytes together.
 */
function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  budget: BodyBudget,
): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    refuse(
      res,
      413,
      ErrorCode.InvalidRequest,
      `Payload too large: ${declared} bytes over the ${limit}-byte cap`,
      {
        connection: 'close',
      },
    );
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (body: Buffer | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      budget.used -= size;
      resolve(body);
    };
    // Refuses the rest of the body (read and dropped as it comes, or, for a client that stopped
    // sending, not waited for: the connection is closed once the answer is out).
    const stop = (status: number, message: string, headers: Record<string, string> = {}, hangUp = false) => {
      refuse(res, status, ErrorCode.InvalidRequest, message, { connection: 'close', ...headers });
      req.removeAllListeners('data');
      res.once('finish', () => {
        if (hangUp) return void req.destroy();
        // The rest is dropped as it comes; a client that stops sending it is not waited for.
        const late = setTimeout(() => req.destroy(), budget.idleMs);
        late.unref();
        req.once('end', () => clearTimeout(late));
        req.once('close', () => clearTimeout(late));
      });
      req.resume();
      finish(undefined);
    };
    const idle = setTimeout(
      () => stop(408, `Request timeout: no body bytes for ${budget.idleMs / 1000} s`, {}, true),
      budget.idleMs,
    );
    idle.unref();
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      idle.refresh();
      if (size + chunk.length > limit) {
        stop(413, `Payload too large: over the ${limit}-byte cap`);
        return;
      }
      if (budget.used + chunk.length > budget.max) {
        stop(503, 'Service unavailable: too many request bodies in progress; retry later', {
          'retry-after': '5',
        });
        return;
      }
      size += chunk.length;
      budget.used += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => finish(Buffer.concat(chunks)));
    // A client that goes away mid-upload ("aborted", ECONNRESET) is no failure of ours: there is
    // nobody to answer and nothing to log above debug.
    req.on('error', (err) => {
      if (req.destroyed || res.destroyed) finish(undefined);
      else {
        finish(undefined);
        reject(err);
      }
    });
    req.on('close', () => finish(undefined));
  });
}

/**
 * The JSON text of each message of a POST body (`parsed`: the body parsed), ready to go on to a
 * stdio server: every line feed and carriage return replaced by a space. In valid JSON those
 * bytes can only be whitespace between tokens (a string holds them escaped), and a server reads
 * one message per line (MCP spec 2025-11-25, "Transports > stdio": messages MUST NOT contain
 * embedded newlines). Undefined when the body is no array or object (refused later).
 */
function messageTexts(raw: Buffer, parsed: unknown): Buffer[] | undefined {
  const texts = Array.isArray(parsed)
    ? arrayElements(raw)
    : typeof parsed === 'object' && parsed !== null
      ? [raw]
      : undefined;
  return texts?.map((t) => {
    if (t.indexOf(0x0a) === -1 && t.indexOf(0x0d) === -1) return t;
    const line = Buffer.from(t);
    for (let i = 0; i < line.length; i++) if (line[i] === 0x0a || line[i] === 0x0d) line[i] = 0x20;
    return line;
  });
}

/** A bind address as a `Host` header names it: as given, and as a URL normalizes it (no brackets). */
function bindHostNames(host: string): string[] {
  const given = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  try {
    const url = new URL(`http://${given.includes(':') ? `[${given}]` : given}/`);
    return [given, url.hostname.replace(/^\[(.*)\]$/, '$1')];
  } catch {
    return [given];
  }
}

const hasInitialize = (body: unknown): boolean =>
  Array.isArray(body)
    ? body.some(hasInitialize)
    : typeof body === 'object' && body !== null && (body as { method?: unknown }).method === 'initialize';

/**
 * Why a POST holding an `initialize` cannot open a session, or undefined when it can. Checked
 * before anything is spawned: an initialize sent as a notification (no `id`) would get `202` with
 * no `Mcp-Session-Id`, leaving a session, and its server, that no client can use or delete.
 */
function initializeProblem(body: unknown): string | undefined {
  if (Array.isArray(body)) return 'initialize must be sent alone, not in a batch';
  if (!Object.hasOwn(body as object, 'id')) {
    return 'initialize must be a request with an id (a notification cannot open a session)';
  }
  // Its id (null, unusable) is judged with every other request's by bodyRefusal, next.
  return undefined;
}

/**
 * Why an `initialize` request's params do not follow the MCP schema (`InitializeRequestSchema`,
 * MCP spec 2025-11-25 "Lifecycle > Initialization": `protocolVersion`, `capabilities`,
 * `clientInfo` with `name` and `version`), as one line naming at most three fields; undefined when
 * they do. The SDK's transport would take such a request for no initialize at all and answer
 * "Server not initialized", after a server had been started for it.
 */
function initializeParamsProblem(body: unknown): string | undefined {
  const checked = InitializeRequestSchema.safeParse(body);
  if (checked.success) return undefined;
  const issues = checked.error.issues;
  const named = issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : 'the request'}: ${i.message}`);
  const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';
  return `${named.join('; ')}${more}`;
}

/** `id` when a refusal can carry it back (present and usable, see `idProblem`), else `null`. */
function echoableId(id: unknown): JsonRpcId {
  return id !== undefined && idProblem(id) === undefined ? (id as JsonRpcId) : null;
}

/**
 * Why a POST body must be refused before it reaches the SDK transport (JSON-RPC error -32600 on
 * that POST, with the id of the one request refused or `null`), or undefined.
 *
 * - An empty batch, and an element that is no JSON-RPC message by the rules the router applies
 *   to stdio (`scanEnvelope` on the text sent; JSON-RPC 2.0 sections 4-6): the SDK would call valid JSON
 *   of the wrong shape a parse error (-32700) and accept an empty batch (202).
 * - Request ids. The SDK routes each answer to the POST that carried its request by id, so two
 *   requests under one id would make one POST wait forever (MCP spec 2025-11-25 "Base Protocol >
 *   Requests": ids must not be reused within a session), and an id the router refuses as
 *   unusable (a lone surrogate, an unsafe integer) is answered with id `null`, which no POST is
 *   waiting for. A fractional number id, which the SDK's transport takes for a parse error.
 *
 * - A message over `maxMessageBytes` (`--max-message-bytes`), and a JSON-RPC member written twice.
 *
 * @param awaits - true for an id a request of this session still awaits the answer to
 * @param texts - the JSON text of each message as sent (see `messageTexts`)
 * @param maxMessageBytes - cap on one message, in bytes
 */
function bodyRefusal(
  body: unknown,
  awaits: (id: JsonRpcId) => boolean,
  texts?: readonly Buffer[],
  maxMessageBytes = Number.POSITIVE_INFINITY,
): { id: JsonRpcId; message: string } | undefined {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  if (messages.length === 0) return { id: null, message: 'Invalid Request: empty batch' };
  const seen = new Set<string>();
  for (const [index, m] of messages.entries()) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      return { id: null, message: 'Invalid Request: not a JSON-RPC message object' };
    }
    // The text as sent (`texts`; the parsed message written out only if there is none), read
    // as the router reads stdio: besides what JSON.parse's copy shows (not JSON-RPC 2.0, a case
    // variant of a member name such as `ID`, an id that cannot be echoed), a JSON-RPC member
    // written twice (`"id":1,"id":2`), which JSON.parse resolved to its last occurrence.
    const text = texts?.[index] ?? encode(m);
    if (text.length > maxMessageBytes) {
      return {
        id: echoableId((m as { id?: unknown }).id),
        message: `Invalid Request: message of ${text.length} bytes is over the cap of ${maxMessageBytes} bytes (--max-message-bytes)`,
      };
    }
    const env = scanEnvelope(text);
    if (env.kind === 'invalid') {
      return { id: echoableId(env.id), message: `Invalid Request: ${env.problem}` };
    }
    if (env.kind === 'request') {
      // MCP spec 2025-11-25 "Base Protocol > Requests": unlike base JSON-RPC, the id MUST NOT be null.
      if (env.id === null) return { id: null, message: 'Invalid Request: a request id must not be null' };
      const key = idKey(env.id as JsonRpcId);
      if (seen.has(key) || awaits(env.id as JsonRpcId)) {
        return {
          id: env.id as JsonRpcId,
          message: 'Invalid Request: id is already used by a request awaiting its answer',
        };
      }
      seen.add(key);
    }
    // The SDK's transport reads every message with its strict schema and answers one it refuses
    // with -32700 and no id ("Parse error"), although it is JSON: a member JSON-RPC does not
    // define (`"extra": 1`), or `result` beside `method`.
    if (!JSONRPCMessageSchema.safeParse(m).success) {
      return {
        id: echoableId((m as { id?: unknown }).id),
        message:
          'Invalid Request: not a JSON-RPC 2.0 message: a member it does not define (only jsonrpc, id, method, params, result, error) or one of the wrong type',
      };
    }
  }
  return undefined;
}

/**
 * Starts the listener and resolves once it accepts connections.
 *
 * @throws Error when the address cannot be bound (message names it and the errno code), or when
 *   a non-loopback bind has no token and `allowUnauthenticated` is not set.
 */
export async function runHttpListener<D extends GateDecision>(
  opts: HttpListenerOptions<D>,
): Promise<HttpListener> {
  const log = opts.logger ?? silentLogger;
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const host = opts.host ?? '127.0.0.1';
  const path = opts.path ?? '/mcp';
  const loopback = isLoopbackHost(host);
  const env = opts.env ?? process.env;
  // An empty variable is what `TOLLGATE_AUTH_TOKEN=$UNSET` gives: no token, said out loud below.
  const envToken = env.TOLLGATE_AUTH_TOKEN?.trim() ? env.TOLLGATE_AUTH_TOKEN : undefined;
  const tokens = opts.authTokens ?? (envToken !== undefined ? [envToken] : []);
  if (tokens.some((t) => t.trim() === '')) {
    // A blank token can never be presented (`Bearer <token>`): no request would get in.
    throw new Error('an auth token is empty: give a token, or none to listen without authentication');
  }
  // Nor can one with whitespace (a trailing newline from `echo "$SECRET" > file`) or characters
  // a header cannot hold: every request would get 401 with nothing to say why. Not shown.
  const unsendable = tokens.find((t) => !bearerCarries(t));
  if (unsendable !== undefined) {
    throw new Error(
      bearerTokenProblem(
        opts.authTokens === undefined ? 'TOLLGATE_AUTH_TOKEN' : 'an auth token',
        unsendable,
      )!,
    );
  }
  const envBlank = opts.authTokens === undefined && env.TOLLGATE_AUTH_TOKEN !== undefined && !envToken;
  if (!loopback && tokens.length === 0 && !opts.allowUnauthenticated) {
    throw new Error(
      `refusing to listen on ${host} without authentication${envBlank ? ' (TOLLGATE_AUTH_TOKEN is set but empty)' : ''}: pass --auth-token (or set TOLLGATE_AUTH_TOKEN), or bind 127.0.0.1`,
    );
  }
  const access: AccessPolicy = {
    ...(loopback
      ? {
          allowedHosts: [
            'localhost',
            '127.0.0.1',
            '::1',
            // The bind address itself (127.0.0.2, ::ffff:127.0.0.1), as given and as URLs write it
            // (the listener prints http://[::ffff:7f00:1]:PORT/mcp for the latter).
            ...bindHostNames(host),
            ...(opts.allowedHosts ?? []).map((h) => h.toLowerCase()),
          ],
        }
      : opts.allowedHosts
        ? { allowedHosts: opts.allowedHosts.map((h) => h.toLowerCase()) }
        : {}),
    allowedOrigins: (opts.allowedOrigins ?? []).map((o) => o.trim().toLowerCase().replace(/\/$/, '')),
    allowLoopbackOrigins: loopback,
    tokenDigests: tokens.map(tokenDigest),
  };
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  // Bodies being read at once hold at most this much together: 64 MiB, or four of the largest.
  const bodyBudget: BodyBudget = {
    used: 0,
    max: opts.bodyBudgetBytes ?? Math.max(64 * 1024 * 1024, 4 * maxBody),
    idleMs: opts.bodyIdleMs ?? BODY_IDLE_MS,
  };
  const maxSessions = opts.maxSessions ?? 64;
  const idleMs = opts.sessionIdleMs ?? 30 * 60_000;
  const streamGoneMs = opts.streamGoneMs ?? 60_000;
  const output = new UnreadOutput(
    opts.unreadBudgetBytes ?? Math.max(64 * 1024 * 1024, 2 * maxMessageBytes),
    (unread, session) =>
      log.warn(
        { session, unreadBytes: unread },
        'a client is not reading its event stream; closing it (what it had not read is lost: events larger than the replay buffer cannot be resumed with Last-Event-ID)',
      ),
  );
  const inputWaitMs = opts.inputWaitMs ?? 30_000;
  /** The wait of a POST to a session whose server is not reading its input, if it is one. */
  const sessionInputFull = (req: IncomingMessage): Promise<void> | undefined => {
    const sid = req.headers['mcp-session-id'];
    return typeof sid === 'string' ? sessions.get(sid)?.inputFull : undefined;
  };
  const sessions = new Map<string, Session>();
  let closing = false;

  const endSession = (s: Session, reason: string): Promise<void> => {
    if (s.ending) return s.ending;
    s.ending = (async () => {
      sessions.delete(s.info.sessionId);
      log.info({ session: s.info.sessionId, client: s.info.principal, reason }, 'HTTP session ended');
      s.router.clientClosed();
      // Calls the server has not answered yet were forwarded: they count (Router.endSession).
      s.router.endSession(reason);
      await Promise.allSettled([s.client.close(), s.server.close()]);
      await Promise.resolve(s.closeGate?.()).catch((err: unknown) =>
        log.warn({ err }, 'closing a session gate failed'),
      );
    })();
    return s.ending;
  };

  const openSession = async (req: IncomingMessage, res: ServerResponse): Promise<Session | undefined> => {
    if (sessions.size >= maxSessions) {
      refuse(res, 503, ErrorCode.InternalError, `Too many sessions (cap ${maxSessions}); try again later`, {
        'retry-after': '5',
      });
      return undefined;
    }
    const info: HttpSessionInfo = {
      sessionId: randomUUID(),
      principal: tokenLabel(req) ?? 'anonymous',
      remoteAddress: req.socket.remoteAddress ?? 'unknown',
    };
    const up = opts.upstream;
    const server: MessageTransport =
      up.kind === 'stdio'
        ? new ChildStdioTransport({
            command: up.command,
            args: up.args ?? [],
            ...(up.env ? { env: up.env } : {}),
            ...(up.cwd ? { cwd: up.cwd } : {}),
            ...(up.shutdownGraceMs !== undefined ? { shutdownGraceMs: up.shutdownGraceMs } : {}),
            maxMessageBytes,
          })
        : new HttpUpstreamTransport({
            url: up.url,
            ...(up.headers ? { headers: up.headers } : {}),
            maxMessageBytes,
            logger: log,
          });
    const http = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => info.sessionId,
      eventStore: new BoundedEventStore(),
      onsessionclosed: async () => {
        const s = sessions.get(info.sessionId);
        if (!s) return;
        void endSession(s, 'client sent DELETE');
        // The SDK closes every stream of the session once this resolves: the answers the session's
        // end gave its pending requests (-32000) are written first, or they would be cut off.
        await client.settled();
      },
    });
    const client = new HttpSessionTransport(http, log);
    const perSession = typeof opts.gate === 'function';
    let base: Gate<D>;
    try {
      base = typeof opts.gate === 'function' ? await opts.gate(info) : opts.gate;
    } catch (err) {
      log.error({ err, session: info.sessionId }, 'could not create the gate of a new session');
      refuse(res, 503, ErrorCode.PolicyUnavailable, `Policy unavailable: ${(err as Error).message}`);
      return undefined;
    }
    const router = new Router<GateDecision>({
      client,
      server,
      gate: sessionGate(base as unknown as Gate<GateDecision>, info),
      logger: log,
      sessionId: info.sessionId,
    });
    const session: Session = {
      info,
      http,
      client,
      server,
      router,
      lastSeen: Date.now(),
      openRequests: 0,
      openStandalone: 0,
      ...(perSession ? { closeGate: () => (base as { close?: () => Promise<void> }).close?.() } : {}),
    };
    // Flow control, as the stdio proxy has it: while the server leaves its input unread, the
    // session's next POST waits before its body is read (see `inputWaitMs`), instead of the
    // listener buffering whatever the client sends.
    let drained: (() => void) | undefined;
    server.onbacklog = (full) => {
      if (full && drained === undefined) {
        session.inputFull = new Promise<void>((resolve) => {
          drained = resolve;
        });
        log.debug({ session: info.sessionId }, 'the server is not reading its input; holding the next POST');
      } else if (!full && drained !== undefined) {
        drained();
        drained = undefined;
        session.inputFull = undefined;
      }
    };
    server.onerror = (err) => log.warn({ err, session: info.sessionId }, 'upstream transport error');
    client.onerror = (err) => log.debug({ err, session: info.sessionId }, 'client transport error');
    server.onclose = (closeInfo) => {
      router.serverClosed(closeInfo);
      void endSession(session, closeInfo.reason ?? 'upstream closed');
    };
    // An initialize answered with an error (an unreachable --upstream) leaves a session no client
    // can use: end it, rather than keep a slot of the session cap until the idle timeout.
    client.oninitializefailed = () => void endSession(session, 'initialize failed');
    client.onpong = (id) => {
      if (session.ping?.id === id) session.ping = undefined;
    };
    try {
      await server.start();
    } catch (err) {
      log.error({ err, session: info.sessionId }, 'could not start the upstream for a new session');
      refuse(
        res,
        502,
        ErrorCode.UpstreamClosed,
        `Bad gateway: could not start the MCP server: ${(err as Error).message}`,
      );
      router.clientClosed();
      await Promise.resolve(session.closeGate?.()).catch(() => {});
      return undefined;
    }
    await client.start();
    sessions.set(info.sessionId, session);
    log.info(
      { session: info.sessionId, client: info.principal, remote: info.remoteAddress, upstream: up.kind },
      'HTTP session opened',
    );
    return session;
  };

  const refuseAccess = (req: IncomingMessage, res: ServerResponse, refusal: Refusal): void => {
    log.warn(
      { status: refusal.status, remote: req.socket.remoteAddress, why: refusal.message },
      'HTTP request refused',
    );
    refuse(res, refusal.status, ErrorCode.InvalidRequest, refusal.message, refusal.headers);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // CORS: a listed origin may read every answer, refusals included (a 401's WWW-Authenticate);
    // the SDK's own answers (SSE streams too) keep these headers, node merges them into writeHead.
    const cors = corsOrigin(req, access);
    const preflight = isPreflight(req);
    if (cors !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', cors);
      res.setHeader('Vary', 'Origin');
      if (!preflight) res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    }
    // Origin-form targets only (`/mcp`): an absolute-form one (`http://evil.com/mcp`) names a
    // host of its own, which RFC 9112 section 3.2.2 puts before the Host header the checks read.
    if (!(req.url ?? '/').startsWith('/'))
      return refuse(res, 400, ErrorCode.InvalidRequest, 'Bad Request: the request target must be a path');
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== path)
      return refuse(res, 404, ErrorCode.InvalidRequest, `Not found: the MCP endpoint is ${path}`);
    const refusal = checkHostAndOrigin(req, access);
    if (refusal) return refuseAccess(req, res, refusal);
    // A preflight carries no Authorization header (Fetch standard), so it is answered before the
    // token check; the request it clears still needs the token.
    if (preflight) {
      if (cors === undefined) {
        return refuseAccess(req, res, {
          status: 403,
          message: `Forbidden: cross-origin requests from ${req.headers.origin} are not allowed (list the origin with --allowed-origin)`,
        });
      }
      const wanted = String(req.headers['access-control-request-method']).trim();
      if (!ALLOWED_METHODS.includes(wanted)) {
        return refuse(
          res,
          405,
          ErrorCode.InvalidRequest,
          `Method not allowed: ${wanted}; the MCP endpoint accepts ${ALLOW_HEADER}`,
          { allow: ALLOW_HEADER },
        );
      }
      res.writeHead(204, {
        'Access-Control-Allow-Methods': ALLOW_HEADER,
        'Access-Control-Allow-Headers': CORS_ALLOW_HEADERS,
        'Access-Control-Max-Age': CORS_MAX_AGE,
      });
      res.end();
      return;
    }
    const unauthorized = checkToken(req, access);
    if (unauthorized) return refuseAccess(req, res, unauthorized);
    // Streamable HTTP has three methods; anything else is the method's fault, not a missing session.
    if (!ALLOWED_METHODS.includes(req.method ?? '')) {
      return refuse(
        res,
        405,
        ErrorCode.InvalidRequest,
        `Method not allowed: ${req.method}; the MCP endpoint accepts ${ALLOW_HEADER}`,
        { allow: ALLOW_HEADER },
      );
    }
    if (closing) return refuse(res, 503, ErrorCode.InternalError, 'Service unavailable: shutting down');

    let body: unknown;
    let texts: Buffer[] | undefined;
    if (req.method === 'POST') {
      const full = sessionInputFull(req);
      if (full !== undefined) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const drainedInTime = await Promise.race([
          full.then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), inputWaitMs);
          }),
        ]);
        clearTimeout(timer);
        if (!drainedInTime)
          return refuse(
            res,
            503,
            ErrorCode.InternalError,
            'Service unavailable: the MCP server of this session is not reading its input; try again later',
            { 'retry-after': '5' },
          );
      }
      const raw = await readBody(req, res, maxBody, bodyBudget);
      if (!raw) {
        if (req.destroyed) log.debug({ remote: req.socket.remoteAddress }, 'client went away mid-upload');
        return;
      }
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        return refuse(res, 400, ErrorCode.ParseError, `Parse error: ${(err as Error).message}`);
      }
      texts = messageTexts(raw, body);
    }

    const sid = req.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sid === 'string') {
      session = sessions.get(sid);
      // Spec "Session Management" point 4: an unknown or ended session is a 404. A session is
      // bound to the token that opened it; to another token it does not exist (no hijacking
      // by a guessed or leaked session id, and no hint that it is live).
      if (!session || session.info.principal !== (tokenLabel(req) ?? 'anonymous')) {
        return refuse(res, 404, ErrorCode.InvalidRequest, 'Session not found');
      }
    } else if (req.method === 'POST' && hasInitialize(body)) {
      // Every check that can refuse the body runs before a session (and its server) exists.
      const problem = initializeProblem(body);
      if (problem !== undefined) return refuse(res, 400, ErrorCode.InvalidRequest, `Bad Request: ${problem}`);
      const refusal = bodyRefusal(body, () => false, texts, maxMessageBytes);
      if (refusal) return refuse(res, 400, ErrorCode.InvalidRequest, refusal.message, {}, refusal.id);
      const params = initializeParamsProblem(body);
      if (params !== undefined) {
        const { id } = body as { id: JsonRpcId };
        return refuse(res, 400, ErrorCode.InvalidParams, `Invalid params: initialize ${params}`, {}, id);
      }
      session = await openSession(req, res);
      if (!session) return;
      const opened = session;
      // A client that goes away before the answer carrying its session id arrives can never use
      // or delete the session: end it now rather than at the idle timeout.
      const gone = () => {
        if (!res.writableFinished && !opened.ending) {
          void endSession(opened, 'the client went away before its session id reached it');
        }
      };
      // It may have gone while the server was starting, before this listener existed.
      if (res.destroyed || req.socket.destroyed) gone();
      else res.once('close', gone);
    } else {
      return refuse(res, 400, ErrorCode.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required');
    }

    const s = session;
    if (req.method === 'POST') {
      const refusal = bodyRefusal(body, (id) => s.router.awaitsAnswer(id), texts, maxMessageBytes);
      if (refusal) {
        log.warn({ session: s.info.sessionId, why: refusal.message }, 'HTTP request refused');
        return refuse(res, 400, ErrorCode.InvalidRequest, refusal.message, {}, refusal.id);
      }
    }
    s.openRequests++;
    // A GET without Last-Event-ID opens the session's standalone stream (one resuming a request's
    // stream carries only that request's messages).
    const standalone = req.method === 'GET' && req.headers['last-event-id'] === undefined;
    if (standalone) s.openStandalone++;
    // Any request shows the client is still there, stream or not (one that lost its GET stream
    // and could not reopen it calls on with POSTs): only the idle timeout applies to it now.
    s.streamClosedAt = undefined;
    s.lastSeen = Date.now();
    // Any request shows the client is there, as the answer to a ping does.
    s.ping = undefined;
    res.once('close', () => {
      s.openRequests--;
      s.lastSeen = Date.now();
      if (standalone && --s.openStandalone === 0) s.streamClosedAt = s.lastSeen;
    });
    // The SDK hands `req.auth` to the session with each message of this POST: the texts as sent.
    if (texts) (req as IncomingMessage & { auth?: PostTexts }).auth = postTexts(texts);
    output.watch(res, s.info.sessionId);
    await s.http.handleRequest(req, res, body);
    // An initialize the SDK rejected leaves a session that never began.
    if (s.http.sessionId === undefined && !s.ending) await endSession(s, 'initialize rejected');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'HTTP request failed');
      refuse(res, 500, ErrorCode.InternalError, `Internal error: ${(err as Error).message}`);
    });
  });
  server.requestTimeout = 0; // SSE streams are long-lived by design
  // SSE streams carry a `: keepalive` comment every 15 s (the SDK's transport), so a write to a
  // peer that is gone fails in time and its stream closes; TCP keepalive covers idle connections.
  server.on('connection', (socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_MS));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${opts.port ?? 0}: ${listenProblem(err)}`)),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`);
  if (envBlank) {
    log.warn({}, 'TOLLGATE_AUTH_TOKEN is set but empty: ignored, the listener runs without authentication');
  }
  log.info(
    { url: url.href, auth: tokens.length > 0, upstream: opts.upstream.kind },
    'Tollgate HTTP listener ready',
  );

  const reaper =
    idleMs > 0
      ? setInterval(
          () => {
            const now = Date.now();
            for (const s of sessions.values()) {
              const quiet = now - s.lastSeen;
              if (s.ending) continue;
              if (
                s.streamClosedAt !== undefined &&
                quiet > streamGoneMs &&
                s.openRequests === 0 &&
                s.router.pendingRequests === 0
              ) {
                // Its client closed without DELETE (the SDK's Client.close()), most likely.
                void endSession(
                  s,
                  `its client closed its stream and sent nothing for ${streamGoneMs / 1000} s (a client that closed without DELETE)`,
                );
                continue;
              }
              if (quiet <= idleMs) continue;
              if (s.openRequests > 0) {
                // No request for the whole idle timeout, but a stream is open (the SDK's client
                // keeps its GET stream open for good): an open stream proves nothing (a frozen
                // client, or one gone behind a half-open connection, holds it forever), an answer
                // to a ping does. Pinged at the last check and still silent: gone.
                if (s.ping === undefined) {
                  s.ping = { id: `${PING_ID_PREFIX}${randomUUID()}`, sentAt: now };
                  log.debug(
                    { session: s.info.sessionId },
                    'idle session with an open stream: pinging its client',
                  );
                  // On the standalone stream when one is open: a request's stream may belong to a
                  // POST the client lost (its answer would be stored for a resumption, never read).
                  s.client.ping(s.ping.id, s.openStandalone > 0);
                } else if (now - s.ping.sentAt >= idleCheckMs(idleMs)) {
                  void endSession(
                    s,
                    'idle timeout (its stream was open, but its client did not answer a ping)',
                  );
                }
                continue;
              }
              // A session with a request still pending upstream (its client's POST cut, to resume
              // with Last-Event-ID) is not idle; bounded, so a request never answered frees the
              // slot after 4 idle periods.
              if (s.router.pendingRequests === 0 || quiet > 4 * idleMs) void endSession(s, 'idle timeout');
            }
          },
          Math.min(idleCheckMs(idleMs), Math.max(250, streamGoneMs / 4)),
        ).unref()
      : undefined;

  return {
    url,
    port,
    get unreadBytes() {
      return output.total;
    },
    get sessionCount() {
      return sessions.size;
    },
    sessionIds: () => [...sessions.keys()],
    async close() {
      if (closing) return;
      closing = true;
      if (reaper) clearInterval(reaper);
      await Promise.allSettled([...sessions.values()].map((s) => endSession(s, 'listener closing')));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * True when a client can send `token` as `Authorization: Bearer <token>` (RFC 6750 section 2.1
 * allows no whitespace in it): printable ASCII only, no space or control character anywhere.
 * Latin-1 letters are refused too: clients disagree on how to send them (fetch as Latin-1, curl
 * as UTF-8), so such a token would work from some and answer 401 to others.
 */
export function bearerCarries(token: string): boolean {
  return /^[\x21-\x7e]+$/.test(token);
}

/**
 * The refusal of a token {@link bearerCarries} refuses, naming where it came from (`source`:
 * `--auth-token`, `TOLLGATE_AUTH_TOKEN`) and never showing it; undefined for a token it takes.
 * The listener and the CLI (which checks before loading the policy) give the same words.
 */
export function bearerTokenProblem(source: string, token: string): string | undefined {
  return bearerCarries(token)
    ? undefined
    : `${source} has spaces, line breaks (a trailing newline?) or non-ASCII characters, which clients cannot send alike in "Authorization: Bearer <token>" (the token is not shown)`;
}

/** The shared or per-session gate, with the session's HTTP identity added to every decision. */
function sessionGate<D extends GateDecision>(gate: Gate<D>, info: HttpSessionInfo): Gate<D> {
  const wrapped: Gate<D> = {
    decide(call: GateCall, ctx?: GateContext) {
      const who = `${info.principal}@${info.remoteAddress}`;
      const full: HttpGateContext = {
        sessionId: info.sessionId,
        clientId: ctx?.clientId ? `${who} (${ctx.clientId})` : who,
        ...(ctx?.clientId ? { clientName: ctx.clientId } : {}),
        transport: 'http',
      };
      return gate.decide(call, full);
    },
    commit: (d) => gate.commit(d),
    rollback: (d) => gate.rollback(d),
    isHidden: (tool) => gate.isHidden(tool),
    setToolSchemas: (tools) => gate.setToolSchemas(tools),
  };
  // Every optional part the gate has, the session's view has too: without them a session would
  // hold every first call for the tools/list prefetch (`needsToolSchema`) and know no policy
  // names to refuse variants of (`policyToolNames`).
  if (gate.onPolicyChange) wrapped.onPolicyChange = (listener) => gate.onPolicyChange!(listener);
  if (gate.toolsListed) wrapped.toolsListed = (names) => gate.toolsListed!(names);
  if (gate.needsToolSchema) wrapped.needsToolSchema = (tool) => gate.needsToolSchema!(tool);
  if (gate.policyToolNames) wrapped.policyToolNames = () => gate.policyToolNames!();
  return wrapped;
}

/**
 * What the listener's responses hold written but not yet taken by their clients, with a budget
 * (see `HttpListenerOptions.unreadBudgetBytes`). A response's share is its `writableLength`
 * (Node's buffer plus the socket's) after each write and each `drain`: a write that fits under the
 * stream's high-water mark leaves at most that little; one that does not is followed by `drain`.
 */
class UnreadOutput {
  private readonly unread = new Map<
    ServerResponse,
    { bytes: number; queued: number | undefined; since: number; session: string }
  >();
  /** Sum of the `bytes` in {@link unread}. */
  total = 0;
  private recheck: NodeJS.Timeout | undefined;

  /**
   * @param budget - most bytes held unread across responses
   * @param onShed - told of each response closed for holding too much unread for too long
   */
  constructor(
    private readonly budget: number,
    private readonly onShed: (unread: number, session: string) => void,
  ) {}

  /** Follows `res` (a response handed to the SDK's transport) until it closes. */
  watch(res: ServerResponse, session: string): void {
    const write = res.write;
    const update = () => this.update(res, session);
    res.write = function (this: ServerResponse, ...args: Parameters<ServerResponse['write']>) {
      const ok = write.apply(this, args);
      update();
      return ok;
    } as ServerResponse['write'];
    res.on('drain', update);
    res.once('close', () => {
      const held = this.unread.get(res);
      if (held) this.total -= held.bytes;
      this.unread.delete(res);
    });
  }

  private update(res: ServerResponse, session: string): void {
    this.sample(res, session);
    if (this.total > this.budget) this.shed();
  }

  /** Records what `res` holds unread now. */
  private sample(res: ServerResponse, session: string): void {
    const bytes = res.destroyed ? 0 : res.writableLength;
    const held = this.unread.get(res);
    this.total += bytes - (held?.bytes ?? 0);
    if (bytes === 0) {
      this.unread.delete(res);
      return;
    }
    const queued = socketQueue(res);
    // `since`: when its client last took bytes (or it first held some), i.e. how long it has
    // been behind. A stream counts a chunk as unread until the whole of it has gone, so a 16 MiB
    // answer written at once keeps its `writableLength` while its client reads it steadily; the
    // socket's own queue shrinks as the kernel takes bytes, and shows the reading.
    const took =
      held === undefined ||
      bytes < held.bytes ||
      (queued !== undefined && held.queued !== undefined && queued < held.queued);
    this.unread.set(res, { bytes, queued, since: took ? Date.now() : held.since, session });
  }

  /**
   * Closes the responses holding the most, among those whose client took nothing for at least a
   * second, until the total is within the budget; checks again in a second while it is not and
   * none qualifies.
   */
  private shed(): void {
    // A response whose client took bytes since it was last seen is being read, however much it
    // still holds (a big answer read at its client's pace): it is not behind. Only writes and
    // drains report on their own, so every response is looked at again here.
    for (const [res, h] of [...this.unread]) this.sample(res, h.session);
    if (this.total <= this.budget) return;
    const now = Date.now();
    const behind = [...this.unread.entries()]
      .filter(([, h]) => now - h.since >= UNREAD_GRACE_MS)
      .sort((a, b) => b[1].bytes - a[1].bytes);
    for (const [res, h] of behind) {
      if (this.total <= this.budget) break;
      this.total -= h.bytes;
      this.unread.delete(res);
      this.onShed(h.bytes, h.session);
      res.destroy();
    }
    if (this.total > this.budget && this.recheck === undefined) {
      this.recheck = setTimeout(() => {
        this.recheck = undefined;
        this.shed();
      }, UNREAD_GRACE_MS);
      this.recheck.unref();
    }
  }
}

/**
 * Bytes of `res`'s socket still queued for the kernel (libuv's `write_queue_size`, which Node's
 * socket handle exposes as `writeQueueSize` and `net` itself reads), or undefined when the socket
 * or the property is not there. It shrinks as the client takes bytes, also in the middle of one
 * large write, where `writableLength` does not move.
 */
function socketQueue(res: ServerResponse): number | undefined {
  const queued = (res.socket as unknown as { _handle?: { writeQueueSize?: unknown } } | null)?._handle
    ?.writeQueueSize;
  return typeof queued === 'number' ? queued : undefined;
}

/** How long a response must have been behind before the unread budget may close it (ms). */
const UNREAD_GRACE_MS = 1000;
