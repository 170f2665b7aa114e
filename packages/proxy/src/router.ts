/**
 * The router: what happens to each message between the MCP client (downstream) and the MCP
 * server (upstream). DESIGN section 3 is its specification.
 *
 * Client -> server
 * - `tools/call` request: params checked (-32602 when malformed, MCP spec 2025-11-25 "Tools >
 *   Error Handling"), then the gate decides. Denied: answered here with an `isError` result,
 *   never forwarded. Allowed: forwarded as the raw bytes it arrived as; its reservation is
 *   committed on any result, `isError: true` included (the tool ran and failed: it counts, so a
 *   retry loop still meets its rate limit), and rolled back on a JSON-RPC error or the server's
 *   death; an error the server transport made for a call it had sent (`oncountedfailure`: an
 *   HTTP exchange that broke after the request went out) commits. A task-augmented call
 *   (`params.task`) is committed on a JSON-RPC error too (see `PendingCall.countsOnError`).
 * - Batch (JSON array, JSON-RPC 2.0 section 6): unbatched. Every element goes through the same
 *   path as a single message; elements are forwarded one by one (servers on MCP >= 2025-06-18
 *   reject arrays), and the client gets ONE array holding the responses to all of the batch's
 *   requests, in element order, once the last one is in. A batch of only notifications and
 *   responses gets no answer (JSON-RPC 2.0 section 6).
 * - Anything else valid: forwarded as raw bytes. Invalid JSON: -32700; valid JSON that is not
 *   JSON-RPC 2.0: -32600. Neither is forwarded: a lenient server might act on it unevaluated.
 * - Order is kept: a message never overtakes one that arrived before it, even while a
 *   decision is pending (a `notifications/cancelled` cannot reach the server before its call).
 *
 * Server -> client
 * - Responses to `tools/list`: hidden tools removed (see tools-list.ts).
 * - Response to `initialize`: `capabilities.tools.listChanged` set, because the proxy itself
 *   emits `notifications/tools/list_changed` when a reload changes what is hidden.
 *   Both edits are made in the message's text: no other byte changes (jsonrpc/json-edit.ts).
 * - Responses to the proxy's own requests: consumed.
 * - Everything else (results, errors, notifications, server-to-client requests such as
 *   sampling, elicitation, roots and ping): forwarded as raw bytes.
 * - Lines that are not JSON-RPC (a server printing a banner to stdout): logged to stderr.
 * - Cut-through: a server message still arriving after 256 KiB is forwarded as it streams in
 *   when nothing the proxy must change or consume can be awaiting it: no `tools/list` or
 *   `initialize` response, no request of the proxy's own, no batch member pending (then only
 *   forwarding can happen to it). Its envelope is read as it passes (jsonrpc/envelope-stream.ts),
 *   without keeping it, to settle its call at its end.
 *   A 20 MiB result then crosses both hops at once instead of one after the other.
 *
 * Id spaces: client-to-server request ids and server-to-client request ids are separate
 * spaces (JSON-RPC is symmetric); only the former is tracked, since only those get answers
 * the proxy must inspect. Ids the proxy invents for its own requests to the server carry a
 * random per-process prefix and are checked against the client's pending ids; a client
 * request that reuses one is refused (-32600) instead of being confused with ours.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { argumentsAsSent } from '@tollgate/runtime';
import { denialResponse, taskDenialResponse } from './denial.js';
import type { Gate, GateCall, GateContext, GateDecision, PolicyView } from './gate.js';
import { countMembers, type Envelope, type JsonRpcId, scanEnvelope } from './jsonrpc/envelope.js';
import { EnvelopeStream } from './jsonrpc/envelope-stream.js';
import { ErrorCode, encode, errorResponse } from './jsonrpc/errors.js';
import { idKey } from './jsonrpc/id.js';
import { applyEdits, setMember } from './jsonrpc/json-edit.js';
import { arrayElements, memberAt, skipWs } from './jsonrpc/json-text.js';
import {
  caseCollision,
  caseVariantOf,
  invisibleVariantOf,
  withoutInvisible,
} from './jsonrpc/member-names.js';
import { findIdInEdges, kindInEdges } from './jsonrpc/oversize.js';
import { type ProxyLogger, silentLogger } from './logger.js';
import { ToolNameIndex } from './tool-name-variants.js';
import { filterToolsList, type ListedTool, ToolCatalogue } from './tools-list.js';
import type {
  CloseInfo,
  IncomingMessageStream,
  MessageTransport,
  OversizeReport,
} from './transport/types.js';

/** Options of {@link Router}. */
export interface RouterOptions<D extends GateDecision = GateDecision> {
  /** The MCP client side. */
  readonly client: MessageTransport;
  /** The MCP server side. */
  readonly server: MessageTransport;
  readonly gate: Gate<D>;
  readonly logger?: ProxyLogger;
  /** Passed to the gate with every decision; defaults to a random UUID per router. */
  readonly sessionId?: string;
  /**
   * Before the first `tools/call`, if the client has not listed tools yet, fetch `tools/list`
   * (all pages) so the gate has the `inputSchema`s. Default true.
   */
  readonly prefetchToolSchemas?: boolean;
  /**
   * A call waits for the prefetch at most this many milliseconds (default 5000); the listing goes
   * on, and its late answer is still used.
   */
  readonly prefetchTimeoutMs?: number;
  /** After a prefetch that got no listing (an error answer), the least time before the next (ms, default 10000). */
  readonly prefetchRetryMs?: number;
}

/** Counters of what the router did, for logs and status. */
export interface RouterStats {
  forwardedToServer: number;
  forwardedToClient: number;
  callsAllowed: number;
  callsDenied: number;
  callsMalformed: number;
  noiseLines: number;
  /** Server responses answering no request the client has pending (dropped). */
  unmatchedResponses: number;
}

/** An allowed `tools/call`: its decision (reservation) until the server answers. */
interface PendingCall<D> {
  readonly decision: D;
  readonly tool: string;
  /**
   * Task-augmented (`params.task`, MCP spec 2025-11-25 "Tasks"): a JSON-RPC error answering it
   * commits too. The server may have started the tool before it failed to create the task (the
   * TypeScript SDK runs a plain tool's handler, then refuses its result as "Invalid task creation
   * result"), and the client chooses to send `task`: rolling back would let any client run a
   * limited tool without limit. Also set once the server sent the client a request while the
   * call was pending (sampling, elicitation, roots: see `serverRequested`): its handler runs, and
   * the client's answer may end it in a JSON-RPC error (the SDK passes a client's `-32042` on as
   * one), so a client could otherwise have every call of a limited tool given back.
   */
  countsOnError: boolean;
}

/** A well-formed `tools/call` as read from its params (`task` always set). */
interface ReadCall extends GateCall {
  readonly task: boolean;
}

/** A client request awaiting the server's answer. */
interface PendingRequest<D> {
  readonly id: JsonRpcId;
  /** The batch it belongs to, if any. */
  readonly batch: BatchState | undefined;
  /** For an allowed `tools/call`: settled (committed or rolled back) once, then cleared. */
  call: PendingCall<D> | undefined;
}

/** What a client message turns into once decided. */
interface Outcome<D> {
  /** Raw frame for the server. */
  toServer?: Buffer;
  /** Frame for the client (a reply made by the proxy), or a batch member's reply. */
  reply?: Buffer;
  /** Registrations to make when the frame is actually sent (`tools/list`, `initialize`, cancellation). */
  register?: () => void;
  /** For a request: the id that now awaits an answer from the server. */
  awaitsId?: JsonRpcId;
  /**
   * For an allowed `tools/call`: becomes the pending request's call when forwarded; rolled back
   * when it is not forwarded after all.
   */
  call?: PendingCall<D>;
  /** For a batch element that is a request: its place in the batch's answer. */
  index?: number;
}

interface Slot<D> {
  ready: boolean;
  outcomes: Outcome<D>[];
  /** idKey of the request queued in this slot (not for batches), until it is applied. */
  key?: string;
  /** The request queued in this slot, when it is one (for an answer before it is decided). */
  request?: { id: JsonRpcId; isCall: boolean };
  /** For a batch: its bytes, read for its requests only if the session ends while it is queued. */
  batchBytes?: Buffer;
  /** The session ended while it was queued, and the client was answered: its outcome is not applied. */
  answered?: boolean;
  /** When set, this slot is a batch: replies are collected instead of sent. */
  batch?: BatchState;
  /**
   * A `tools/call` queued under an id that a request ahead of it still holds: decided only when it
   * reaches the head of the queue, and refused then if the id is still in use (see `drain`).
   */
  deferred?: { bytes: Buffer; env: ReturnType<typeof scanEnvelope> };
}

interface BatchState {
  /**
   * Reply for each request of the batch, in element order; undefined while awaited, null for a
   * request the client cancelled (it gets no entry: MCP "Cancellation", the receiver does not
   * answer a cancelled request).
   */
  replies: Array<Buffer | null | undefined>;
  /** idKey -> index in `replies`, for requests forwarded to the server. */
  awaiting: Map<string, number>;
  sent: boolean;
}

/** A settled promise: `.then` on it runs a callback in the next microtask checkpoint. */
const SETTLED: Promise<void> = Promise.resolve();

const CR = 0x0d;

/** The proxy's own requests are given up after this long without an answer (ms). */
const OWN_REQUEST_GIVE_UP_MS = 60_000;

/** Most cancelled requests whose ids are kept taken (see `Router.noteCancelled`). */
const MAX_CANCELLED = 10_000;

/**
 * A client message with a carriage return inside it is refused, never forwarded. MCP spec
 * 2025-11-25 "Transports > stdio": messages MUST NOT contain embedded newlines. JSON allows a
 * bare CR only as whitespace between tokens, which no client needs; but a server that reads its
 * stdin with universal newlines (Python's text I/O, the default of the Python MCP SDK) ends a
 * line at every CR. A line the proxy reads as one harmless notification, with a `tools/call`
 * tucked between two CRs inside its params, would reach such a server as that `tools/call` on a
 * line of its own, never evaluated.
 */
function carriageReturnRefusal(env: Envelope): Envelope {
  const problem = 'a message must not contain a carriage return (MCP stdio: no embedded newlines)';
  return env.kind === 'request' || (env.kind === 'invalid' && env.id !== undefined)
    ? { kind: 'invalid', problem, id: env.id }
    : { kind: 'invalid', problem };
}

const LIST_CHANGED = encode({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });

/**
 * Connects a client transport to a server transport through a {@link Gate}. Create it, then
 * start both transports. The router installs the transports' `onmessage`/`onoversize`
 * handlers; `onclose` stays with the caller, who calls {@link serverClosed} and
 * {@link clientClosed}.
 */
export class Router<D extends GateDecision = GateDecision> {
  readonly stats: RouterStats = {
    forwardedToServer: 0,
    forwardedToClient: 0,
    callsAllowed: 0,
    callsDenied: 0,
    callsMalformed: 0,
    noiseLines: 0,
    unmatchedResponses: 0,
  };
  /** Random per-process session id given to the gate. */
  readonly sessionId: string;

  private readonly client: MessageTransport;
  private readonly server: MessageTransport;
  private readonly gate: Gate<D>;
  private readonly log: ProxyLogger;
  /** Allowed calls are logged (at debug) only when that level is on: see {@link ProxyLogger}. */
  private readonly logAllowed: boolean;
  private readonly prefetch: boolean;
  private readonly prefetchTimeoutMs: number;
  private readonly prefetchRetryMs: number;

  private readonly queue: Slot<D>[] = [];
  /** Client requests awaiting the server, by idKey. */
  private readonly pending = new Map<string, PendingRequest<D>>();
  /**
   * Requests the client cancelled, by idKey, oldest first: no longer awaited, but their ids stay
   * taken until the server answers them (see `noteCancelled`). At most {@link MAX_CANCELLED}.
   */
  private readonly cancelled = new Map<string, PendingRequest<D>>();
  /** Answered calls whose reservations settle in the next microtask (see `settleSoon`). */
  private toSettle: PendingCall<D>[] = [];
  private toSettleFailed: boolean[] = [];
  private readonly toolsListIds = new Set<string>();
  private initializeId: string | undefined;
  /** Who is calling, given to the gate with every decision (one object, replaced when the client names itself). */
  private gateContext: GateContext;
  private readonly catalogue = new ToolCatalogue();
  /** Listed and policy tool names, for {@link toolNameProblem}; rebuilt when either changes. */
  private toolNames: ToolNameIndex | undefined;
  private readonly invented = new Map<string, (bytes: Buffer) => void>();
  private readonly idPrefix = `tollgate-${randomBytes(6).toString('hex')}-`;
  private nextInvented = 1;
  private schemaFetch: Promise<void> | undefined;
  /** The listing `schemaDeadline` belongs to, and the wait every call shares for it (see `waitForSchemas`). */
  private schemaDeadlineOf: Promise<void> | undefined;
  private schemaDeadline: Promise<void> | undefined;
  /** A call waited the whole prefetch timeout for the listing in flight (see `awaitsSchemas`). */
  private schemaWaitExpired = false;
  /** After a failed listing, no new one before this time (`Date.now()` ms). */
  private schemaRetryAt = 0;
  private serverGone: CloseInfo | undefined;
  /**
   * Why the server can no longer be sent anything although it still runs (it closed its stdin),
   * for the errors of requests that cannot reach it; see {@link serverInputClosed}.
   */
  private inputGone: string | undefined;
  /** The error message of a request that arrives after the server is gone. */
  private goneMessage = 'MCP server is not running';
  private clientGone = false;
  private unsubscribe: (() => void) | undefined;

  constructor(opts: RouterOptions<D>) {
    this.client = opts.client;
    this.server = opts.server;
    this.gate = opts.gate;
    this.log = opts.logger ?? silentLogger;
    this.logAllowed = this.log.isLevelEnabled?.('debug') ?? false;
    this.sessionId = opts.sessionId ?? randomUUID();
    this.gateContext = { sessionId: this.sessionId };
    this.prefetch = opts.prefetchToolSchemas ?? true;
    this.prefetchTimeoutMs = opts.prefetchTimeoutMs ?? 5000;
    this.prefetchRetryMs = opts.prefetchRetryMs ?? 10_000;
    this.client.onmessage = (bytes) => this.fromClient(bytes);
    this.server.onmessage = (bytes) => this.fromServer(bytes);
    this.server.oncountedfailure = (bytes) => this.fromServer(bytes, true);
    this.client.onoversize = (r) => this.clientOversize(r);
    this.server.onoversize = (r) => this.serverOversize(r);
    this.server.onlongmessage = (head) => this.streamFromServer(head);
    this.server.oninputclosed = (info) => this.serverInputClosed(info);
    this.unsubscribe = this.gate.onPolicyChange?.((prev, next) => this.policyChanged(prev, next));
  }

  /** Number of client messages received but not yet forwarded or answered (awaiting a decision). */
  get queuedMessages(): number {
    return this.queue.length;
  }

  /** Number of client requests still awaiting the server. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /**
   * The server is gone: the child exited, or closed its stdout (then `info` has no exit code nor
   * signal), or an HTTP upstream ended its session. Every client request still pending gets a
   * JSON-RPC error; reservations of pending calls are rolled back. Requests that arrive later are
   * answered with an error at once.
   */
  serverClosed(info: CloseInfo): void {
    if (this.serverGone) return;
    const how =
      info.signal != null
        ? `MCP server was killed by ${info.signal}`
        : info.exitCode !== undefined
          ? `MCP server exited with code ${info.exitCode ?? 'unknown'}`
          : `MCP server closed the session (${info.reason ?? 'connection ended'})`;
    // A server whose side closed without an exit (it closed its stdout; an HTTP upstream ended
    // its session) may still be running while it is stopped: later requests are told what ended.
    if (info.signal == null && info.exitCode === undefined) this.goneMessage = how;
    const data = { exitCode: info.exitCode ?? null, signal: info.signal ?? null };
    if (info.mayStillRun) {
      // Alive with the calls in its stdin: it may still run them, so they count.
      this.endPending(
        info,
        (isCall) =>
          isCall
            ? `${how} before answering; the server is still running and may run the call, so it counts against the policy's limits`
            : `${how} before answering`,
        'commit',
        data,
      );
      return;
    }
    this.endPending(info, `${how} before answering`, 'rollback', data);
  }

  /**
   * The server can no longer be sent anything but is still running: it closed its stdin (EPIPE on
   * a write). Requests it was sent before may still be answered, and stay pending; those whose
   * write failed never reached it and are answered with -32000 as the transport reports them
   * (`undelivered`), their calls rolled back; later requests are answered so at once, never sent.
   */
  serverInputClosed(info: { reason: string; error?: Error }): void {
    if (this.serverGone || this.inputGone !== undefined) return;
    this.inputGone = `MCP server closed the session (${info.reason}) before the request reached it`;
    this.log.warn(
      { reason: info.reason, err: info.error, pending: this.pending.size },
      'the server closed its stdin but is still running; requests it can no longer be sent are answered with an error',
    );
  }

  /** The error of a request that cannot reach the server (see {@link serverInputClosed}). */
  private unreachable(id: JsonRpcId, isCall: boolean): Buffer {
    const message = isCall
      ? `${this.inputGone}; the call does not count against the policy's limits`
      : this.inputGone!;
    return encode(errorResponse(id, ErrorCode.UpstreamClosed, message));
  }

  /**
   * A request sent to the server never reached it (see {@link serverInputClosed}): answered with
   * -32000 and its call rolled back, if it is still the one pending under its id. One the client
   * cancelled meanwhile is forgotten: the server will never answer it.
   */
  private undelivered(key: string, entry: PendingRequest<D>): void {
    if (this.pending.get(key) === entry) {
      this.answerFromProxy(key, entry.id, this.unreachable(entry.id, entry.call !== undefined), 'rollback');
    } else if (this.cancelled.get(key) === entry) {
      this.cancelled.delete(key);
      this.toolsListIds.delete(key);
    }
  }

  /**
   * The proxy ends the session itself while requests may be pending: the client closed its input
   * and the drain wait is over, the client deleted its HTTP session, the session idled out, or
   * Tollgate is shutting down. Every request still pending gets a JSON-RPC error, and the
   * reservations of pending calls are **committed**: each was forwarded, so the server may run it
   * whatever happens to the session. Rolling them back would let a client escape any limit by
   * hanging up after each call. (A server that dies on its own, {@link serverClosed}, or answers
   * with a JSON-RPC error still gives the reservation back.) Later calls to `serverClosed` do
   * nothing.
   *
   * @param reason - why, for the error message, e.g. "the client closed its input"
   */
  endSession(reason: string): void {
    const message = (isCall: boolean, unsent: boolean) =>
      unsent
        ? isCall
          ? `Tollgate closed the session (${reason}) before the request was sent to the MCP server; the call does not count against the policy's limits`
          : `Tollgate closed the session (${reason}) before the request was sent to the MCP server`
        : isCall
          ? `Tollgate closed the session (${reason}) before the MCP server answered; a forwarded tools/call counts against the policy's limits`
          : `Tollgate closed the session (${reason}) before the MCP server answered`;
    if (this.serverGone) {
      // The server's side ended first (an HTTP upstream ended the session): the pending requests
      // were answered then, but requests still queued for their decision wait for the client
      // that is about to go. They are answered now.
      this.answerQueued((isCall) => message(isCall, true), { reason });
      return;
    }
    this.endPending({ reason }, message, 'commit', { reason }, true);
  }

  /**
   * Answers every pending request with an error and settles its call. With `settle` `commit`, a
   * request the server transport still held unsent (it withdraws it: see
   * `MessageTransport.withdraw`) is rolled back instead: the server never got it.
   */
  private endPending(
    info: CloseInfo,
    message: string | ((isCall: boolean, unsent: boolean) => string),
    settle: 'commit' | 'rollback',
    data: Record<string, unknown>,
    answerQueued = false,
  ): void {
    this.serverGone = info;
    for (const [key, entry] of [...this.pending]) {
      const unsent = settle === 'commit' && this.server.withdraw?.(entry.id) === true;
      const text = typeof message === 'string' ? message : message(entry.call !== undefined, unsent);
      this.answerFromProxy(
        key,
        entry.id,
        encode(errorResponse(entry.id, ErrorCode.UpstreamClosed, text, data)),
        unsent ? 'rollback' : settle,
      );
    }
    if (answerQueued)
      this.answerQueued((isCall) => (typeof message === 'string' ? message : message(isCall, true)), data);
    for (const resolve of this.invented.values()) resolve(Buffer.alloc(0));
    this.invented.clear();
    // Cancelled requests are not awaited by anyone: nothing to answer.
    for (const key of this.cancelled.keys()) this.toolsListIds.delete(key);
    this.cancelled.clear();
  }

  /**
   * The proxy ends the session (the client is about to go): every request still queued (waiting
   * for its decision, or behind one that is) is answered now, while the client can still read it,
   * and never sent; a queued batch gets one -32000 per request in it. Their outcomes, once
   * decided, are not applied (see `drain`).
   */
  private answerQueued(message: (isCall: boolean) => string, data: Record<string, unknown>): void {
    for (const slot of this.queue) {
      if (slot.answered || (!slot.request && !slot.batchBytes)) continue;
      slot.answered = true;
      const requests = slot.request ? [slot.request] : batchRequests(slot.batchBytes!);
      const replies = requests.map(({ id, isCall }) =>
        encode(errorResponse(id, ErrorCode.UpstreamClosed, message(isCall), data)),
      );
      if (slot.request) this.toClient(replies[0]!);
      else if (replies.length > 0) this.toClient(jsonArray(replies));
    }
  }

  /**
   * True when a client request with this id awaits its answer: forwarded, still queued for its
   * decision, or cancelled but not yet answered. A new request may not use it (MCP spec 2025-11-25 "Base Protocol > Requests"). Lets a
   * transport refuse such a request before it reaches anything that routes answers by id.
   */
  awaitsAnswer(id: JsonRpcId): boolean {
    const key = idKey(id);
    return this.pending.has(key) || this.cancelled.has(key) || this.queue.some((slot) => slot.key === key);
  }

  /**
   * The client finished sending (EOF on stdin). Answers still in flight are delivered: a client
   * may close its side and keep reading (`tollgate ... < requests > answers`). A client whose
   * output side broke is handled by its transport, which drops what cannot be written.
   */
  clientClosed(): void {
    this.clientGone = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  // ---------------------------------------------------------------- client -> server

  private fromClient(bytes: Buffer): void {
    const env = clientEnvelope(bytes);
    // Fast path: nothing waiting ahead, nothing to decide -> forward now.
    if (
      this.queue.length === 0 &&
      !(env.kind === 'request' && env.method === 'tools/call') &&
      env.kind !== 'batch'
    ) {
      this.apply(this.classifyClient(bytes, env), undefined);
      return;
    }
    // A tools/call with nothing waiting ahead, decided within this turn when the gate can decide
    // it without I/O (most calls): no queue slot, no promise. Malformed params are answered here
    // too; what it read is handed on when the decision has to wait.
    let read: ReadCall | Outcome<D> | undefined;
    if (env.kind === 'request' && env.method === 'tools/call' && this.queue.length === 0) {
      // An id still awaiting its answer is refused before the policy runs (see `apply`): nothing
      // is reserved for it, so its refusal cannot hold a slot of a rate limit while a store with
      // I/O (SQLite, Redis) rolls a reservation back, and so deny the next call in the same read.
      const reused = this.reusedId(env.id as JsonRpcId);
      if (reused !== undefined) {
        this.toClient(reused);
        return;
      }
    }
    if (
      env.kind === 'request' &&
      env.method === 'tools/call' &&
      this.queue.length === 0 &&
      this.gate.decideNow !== undefined
    ) {
      const text = bytes.toString('utf8');
      const message = parseJson(text);
      if (message !== undefined) {
        read = this.readCall(env.id as JsonRpcId, message, text, env.paramsMembers);
        const outcome = !isGateCall(read)
          ? read
          : this.awaitsSchemas(read.tool)
            ? undefined
            : this.decideCallNow(env.id as JsonRpcId, bytes, read);
        if (outcome !== undefined) {
          this.apply(outcome, undefined);
          return;
        }
      }
    }
    const slot: Slot<D> = { ready: false, outcomes: [] };
    if (env.kind === 'request') {
      slot.key = idKey(env.id as JsonRpcId);
      slot.request = { id: env.id as JsonRpcId, isCall: env.method === 'tools/call' };
    } else if (env.kind === 'invalid' && env.id !== undefined) {
      // Answered with its id in any case (an error): at the session's end, too.
      slot.request = { id: env.id, isCall: false };
    } else if (env.kind === 'batch') {
      slot.batchBytes = bytes;
    }
    if (slot.request?.isCall && this.awaitsAnswer(slot.request.id)) {
      // Deciding it now would reserve for a call that is refused unless the id is free by its
      // turn: meanwhile the reservation would count against the calls behind it.
      slot.deferred = { bytes, env };
      this.queue.push(slot);
      return;
    }
    this.queue.push(slot);
    void this.decideSlot(slot, bytes, env, read);
  }

  /**
   * True while a call to `tool` must wait for the tools/list prefetch (see `fetchSchemas`): no
   * schema is known yet, and the policy validates this tool's arguments against its inputSchema.
   */
  private awaitsSchemas(tool: string): boolean {
    return (
      this.prefetch &&
      this.catalogue.size === 0 &&
      !this.serverGone &&
      this.inputGone === undefined &&
      // One wait per listing: once a call has waited the whole timeout, later calls do not wait
      // for that listing again; after a failed one, none is asked for until the retry delay.
      !this.schemaWaitExpired &&
      Date.now() >= this.schemaRetryAt &&
      (this.gate.needsToolSchema?.(tool) ?? true)
    );
  }

  /** Decides a queued message, marks its slot ready and sends what is ready. Never rejects. */
  private async decideSlot(
    slot: Slot<D>,
    bytes: Buffer,
    env: ReturnType<typeof scanEnvelope>,
    read?: ReadCall | Outcome<D>,
  ): Promise<void> {
    try {
      if (env.kind === 'batch') {
        await this.decideBatch(slot, bytes);
      } else if (env.kind === 'request' && env.method === 'tools/call') {
        const id = env.id as JsonRpcId;
        if (read === undefined) {
          const text = bytes.toString('utf8');
          const message = parseJson(text);
          read =
            message === undefined
              ? { reply: encode(errorResponse(null, ErrorCode.ParseError, 'Parse error')) }
              : this.readCall(id, message, text, env.paramsMembers);
        }
        slot.outcomes.push(isGateCall(read) ? await this.decideCall(id, bytes, read) : read);
      } else {
        slot.outcomes.push(this.classifyClient(bytes, env));
      }
    } catch (err) {
      // Never drop a request silently: it gets an error, and is not forwarded. Calls already
      // decided in it (a batch) give their reservations back.
      this.log.error({ err }, 'internal error while routing a client message');
      for (const o of slot.outcomes) if (o.call) this.finishCall(o.call, true);
      slot.outcomes = [];
      slot.batch = undefined;
      if (env.kind === 'request' || env.kind === 'batch') {
        slot.outcomes.push({
          reply: encode(
            errorResponse(
              env.kind === 'request' ? (env.id as JsonRpcId) : null,
              ErrorCode.InternalError,
              'Internal error',
            ),
          ),
        });
      }
    }
    slot.ready = true;
    this.drain();
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.deferred !== undefined) {
        const { bytes, env } = head.deferred;
        head.deferred = undefined;
        // Answered already (the session ended): nothing to decide.
        const reused = head.answered ? undefined : this.reusedId(head.request!.id);
        if (reused !== undefined) head.outcomes.push({ reply: reused });
        else if (!head.answered) {
          // The id came free: decided now; its decision drains the queue again.
          void this.decideSlot(head, bytes, env);
          return;
        }
        head.ready = true;
      }
      if (!head.ready) return;
      const slot = this.queue.shift()!;
      if (slot.answered) {
        // Answered when the session ended (see `endPending`): never sent, its reservation goes back.
        for (const o of slot.outcomes) if (o.call) this.finishCall(o.call, true);
        continue;
      }
      for (const o of slot.outcomes) this.apply(o, slot.batch);
      if (slot.batch) this.maybeSendBatch(slot.batch);
    }
  }

  /** Turns a non-`tools/call`, non-batch client message into an outcome. */
  private classifyClient(bytes: Buffer, env: ReturnType<typeof scanEnvelope>): Outcome<D> {
    switch (env.kind) {
      case 'invalid': {
        if (env.answers !== undefined) {
          // A malformed answer to a server request: its id is the server's, which the client
          // would take for one of its own requests (and a response is never answered: JSON-RPC
          // 2.0 section 5). The server, which awaits it, is told instead.
          this.log.warn(
            { problem: env.problem, id: env.answers },
            'refused an invalid answer from the client',
          );
          if (this.serverGone) return {};
          return {
            toServer: encode(
              errorResponse(
                env.answers,
                ErrorCode.InternalError,
                `The client's answer could not be passed on: not a JSON-RPC response (${env.problem})`,
              ),
            ),
          };
        }
        const parseError = env.problem?.startsWith('malformed JSON') ?? false;
        this.log.warn({ problem: env.problem }, 'refused an invalid message from the client');
        return {
          reply: encode(
            errorResponse(
              parseError ? null : (env.id ?? null),
              parseError ? ErrorCode.ParseError : ErrorCode.InvalidRequest,
              parseError ? 'Parse error' : `Invalid Request: ${env.problem}`,
            ),
          ),
        };
      }
      case 'request': {
        const id = env.id as JsonRpcId;
        if (this.invented.has(idKey(id))) {
          return {
            reply: encode(
              errorResponse(id, ErrorCode.InvalidRequest, 'Invalid Request: id is in use by the proxy'),
            ),
          };
        }
        if (env.method === 'tools/list') {
          return { toServer: bytes, awaitsId: id, register: () => this.toolsListIds.add(idKey(id)) };
        }
        if (env.method === 'initialize') {
          return { toServer: bytes, awaitsId: id, register: () => this.noteInitialize(id, bytes) };
        }
        return { toServer: bytes, awaitsId: id };
      }
      case 'notification':
        if (env.method === 'notifications/cancelled') {
          return { toServer: bytes, register: () => this.noteCancelled(bytes) };
        }
        return { toServer: bytes };
      default:
        // Responses to server-to-client requests (sampling, elicitation, roots, ping).
        return { toServer: bytes };
    }
  }

  /** Evaluates one `tools/call` request. `message` is its parsed form. */
  /**
   * The call a `tools/call` request asks for, or its `-32602` answer when its params are
   * malformed (see {@link callParamsProblem}). `message` is the parsed request.
   */
  private readCall(
    id: JsonRpcId,
    message: unknown,
    text: string,
    paramsMembers: number | undefined,
  ): ReadCall | Outcome<D> {
    const params = (message as { params?: unknown }).params;
    const problem =
      callParamsProblem(params) ??
      // A name written twice in one object of the params: JSON.parse kept the last, a server's
      // decoder may keep the first, so what is judged may not be what runs.
      (paramsMembers !== undefined && countMembers(params) !== paramsMembers
        ? DUPLICATE_MEMBER
        : undefined) ??
      this.toolNameProblem((params as { name: string }).name);
    if (problem) {
      this.stats.callsMalformed++;
      return { reply: encode(errorResponse(id, ErrorCode.InvalidParams, `Invalid params: ${problem}`)) };
    }
    const p = params as { name: string; arguments?: Record<string, unknown>; task?: unknown };
    const args = p.arguments ?? {};
    // The bytes go upstream unchanged: numbers JSON.parse rounded reach the conditions as sent.
    const argsAsSent = argumentsAsSent(text, args, ARGUMENTS_PATH);
    return argsAsSent === undefined
      ? { tool: p.name, args, task: p.task !== undefined }
      : { tool: p.name, args, argsAsSent, task: p.task !== undefined };
  }

  /**
   * Why the called tool name must not be forwarded: it is no known tool's name, but reads as one
   * once case and invisible characters are set aside (see tool-name-variants.ts). Undefined
   * otherwise.
   */
  private toolNameProblem(name: string): string | undefined {
    this.toolNames ??= new ToolNameIndex(this.catalogue.names(), this.gate.policyToolNames?.());
    return this.toolNames.problem(name, (tool) => this.gate.isHidden(tool));
  }

  /** Evaluates one well-formed `tools/call` (see {@link readCall}). */
  private async decideCall(id: JsonRpcId, bytes: Buffer, call: ReadCall): Promise<Outcome<D>> {
    const name = call.tool;
    if (this.awaitsSchemas(name)) await this.waitForSchemas();
    let decision: D;
    try {
      decision = await this.gate.decide(call, this.gateContext);
    } catch (err) {
      this.log.error({ err, tool: name }, 'policy could not be evaluated; call refused');
      return {
        reply: encode(
          errorResponse(
            id,
            ErrorCode.PolicyUnavailable,
            `Tollgate could not evaluate the policy: ${errMessage(err)}`,
          ),
        ),
      };
    }
    return this.outcomeOf(id, bytes, call, decision);
  }

  /**
   * {@link decideCall} within the turn, when the gate can decide without waiting; undefined to
   * take the asynchronous path (nothing was decided or reserved then).
   */
  private decideCallNow(id: JsonRpcId, bytes: Buffer, call: ReadCall): Outcome<D> | undefined {
    let decision: D | undefined;
    try {
      decision = this.gate.decideNow!(call, this.gateContext);
    } catch {
      return undefined;
    }
    return decision === undefined ? undefined : this.outcomeOf(id, bytes, call, decision);
  }

  /** What a decided call turns into: its denial, or the request to forward with its decision. */
  private outcomeOf(id: JsonRpcId, bytes: Buffer, call: ReadCall, decision: D): Outcome<D> {
    const name = call.tool;
    if (!decision.allowed) {
      this.stats.callsDenied++;
      this.log.info({ tool: name, rule: decision.rule, reason: decision.reason }, 'tools/call denied');
      const meta = {
        reason: decision.reason,
        ...(decision.rule !== undefined ? { rule: decision.rule } : {}),
        ...(decision.retryAfterMs !== undefined ? { retryAfterMs: decision.retryAfterMs } : {}),
        ...(decision.policyHash !== undefined ? { policyHash: decision.policyHash } : {}),
      };
      return {
        reply: encode(
          call.task
            ? taskDenialResponse(id, decision.message, meta)
            : denialResponse(id, decision.message, meta),
        ),
      };
    }
    this.stats.callsAllowed++;
    if (this.logAllowed) this.log.debug({ tool: name, id, rule: decision.rule }, 'tools/call allowed');
    return { toServer: bytes, awaitsId: id, call: { decision, tool: name, countsOnError: call.task } };
  }

  private async decideBatch(slot: Slot<D>, bytes: Buffer): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      slot.outcomes.push({ reply: encode(errorResponse(null, ErrorCode.ParseError, 'Parse error')) });
      return;
    }
    // Each element goes on as the bytes the client sent, like a message outside a batch.
    const elements = Array.isArray(parsed) ? arrayElements(bytes) : undefined;
    if (elements === undefined || elements.length === 0) {
      slot.outcomes.push({
        reply: encode(errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request: empty batch')),
      });
      return;
    }
    const batch: BatchState = { replies: [], awaiting: new Map(), sent: false };
    slot.batch = batch;
    for (const elementBytes of elements) {
      // The whole batch was parsed above: its elements are JSON.
      const env = clientEnvelope(elementBytes, true);
      let outcome: Outcome<D>;
      if (env.kind === 'batch') {
        outcome = {
          reply: encode(errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request: nested batch')),
        };
      } else if (
        env.kind === 'request' &&
        env.method === 'tools/call' &&
        batch.awaiting.has(idKey(env.id as JsonRpcId))
      ) {
        // A later call under the id of one this batch forwards: refused below, not decided (a
        // reservation taken and rolled back would hold a rate limit's slot meanwhile).
        outcome = { toServer: elementBytes, awaitsId: env.id as JsonRpcId };
      } else if (env.kind === 'request' && env.method === 'tools/call') {
        const text = elementBytes.toString('utf8');
        const read = this.readCall(env.id as JsonRpcId, JSON.parse(text), text, env.paramsMembers);
        outcome = isGateCall(read) ? await this.decideCall(env.id as JsonRpcId, elementBytes, read) : read;
      } else {
        outcome = this.classifyClient(elementBytes, env);
      }
      const isRequest = env.kind === 'request' || env.kind === 'invalid' || env.kind === 'batch';
      if (isRequest) {
        const index = batch.replies.length;
        batch.replies.push(outcome.reply);
        outcome.index = index;
        if (outcome.awaitsId !== undefined) {
          const key = idKey(outcome.awaitsId);
          if (batch.awaiting.has(key)) {
            // Two requests of one batch under one id (MCP forbids reusing ids): the later one is
            // refused, as it would be outside a batch.
            const reused = outcome.awaitsId;
            if (outcome.call) this.finishCall(outcome.call, true);
            delete outcome.call;
            delete outcome.toServer;
            delete outcome.awaitsId;
            batch.replies[index] = reusedIdReply(reused);
          } else batch.awaiting.set(key, index);
        }
      }
      slot.outcomes.push(outcome);
    }
  }

  /** Performs an outcome: registrations, then frames to the server and replies to the client. */
  private apply(o: Outcome<D>, batch: BatchState | undefined): void {
    if (o.toServer) {
      if (this.serverGone) {
        if (o.awaitsId !== undefined) {
          const reply = encode(errorResponse(o.awaitsId, ErrorCode.UpstreamClosed, this.goneMessage));
          if (batch) batch.replies[batch.awaiting.get(idKey(o.awaitsId)) ?? -1] = reply;
          else this.toClient(reply);
          // A call decided while the server died: give its reservation back.
          if (o.call) this.finishCall(o.call, true);
        }
        return;
      }
      if (this.inputGone !== undefined) {
        if (o.awaitsId !== undefined) {
          const reply = this.unreachable(o.awaitsId, o.call !== undefined);
          if (batch) batch.replies[batch.awaiting.get(idKey(o.awaitsId)) ?? -1] = reply;
          else this.toClient(reply);
          if (o.call) this.finishCall(o.call, true);
        } else {
          // A notification: a cancellation still stops the wait for its request.
          o.register?.();
        }
        return;
      }
      const key = o.awaitsId === undefined ? undefined : idKey(o.awaitsId);
      const reply = key === undefined ? undefined : this.reusedId(o.awaitsId!, key);
      if (reply !== undefined) {
        if (o.call) this.finishCall(o.call, true);
        if (batch && o.index !== undefined) {
          batch.replies[o.index] = reply;
          this.maybeSendBatch(batch);
        } else if (!batch) this.toClient(reply);
        return;
      }
      o.register?.();
      this.stats.forwardedToServer++;
      if (key === undefined) {
        this.server.send(o.toServer);
        return;
      }
      const entry: PendingRequest<D> = { id: o.awaitsId!, batch, call: o.call };
      this.pending.set(key, entry);
      this.server.send(o.toServer, () => this.undelivered(key, entry));
    } else if (o.reply && !batch) {
      this.toClient(o.reply);
    }
  }

  /**
   * The refusal of a request under `id`, or undefined when the id is free. MCP spec 2025-11-25
   * "Base Protocol > Requests": a request id MUST NOT be reused within a session. Forwarding a
   * second request under a pending id would let one answer stand for the other (an unfiltered
   * tools/list, a call settled by someone else's result). A cancelled request holds its id until
   * the server answers it.
   */
  private reusedId(id: JsonRpcId, key = idKey(id)): Buffer | undefined {
    // While the server is gone or its input closed, `apply` answers every request with that.
    if (this.serverGone || this.inputGone !== undefined) return undefined;
    if (this.pending.has(key)) return reusedIdReply(id);
    if (this.cancelled.has(key)) return reusedIdReply(id, true);
    return undefined;
  }

  private maybeSendBatch(batch: BatchState): void {
    if (batch.sent || batch.replies.some((r) => r === undefined)) return;
    batch.sent = true;
    const replies = batch.replies.filter((r): r is Buffer => r !== null);
    // JSON-RPC 2.0 "Batch": no response objects -> nothing at all, never an empty array.
    if (replies.length === 0) return;
    this.toClient(jsonArray(replies));
  }

  private noteInitialize(id: JsonRpcId, bytes: Buffer): void {
    this.initializeId = idKey(id);
    try {
      const name = JSON.parse(bytes.toString('utf8'))?.params?.clientInfo?.name;
      if (typeof name === 'string') {
        this.gateContext = { sessionId: this.sessionId, clientId: name };
      }
    } catch {
      // Already scanned as valid JSON; unreachable in practice.
    }
  }

  /**
   * A cancelled call may or may not have run on the server, and the server should not answer
   * it (MCP spec 2025-11-25 "Cancellation"). Its reservation is committed: counting a call that
   * maybe ran is the safe side of a limit. Unless the server transport can still withdraw it
   * (`MessageTransport.withdraw`): then it never reaches the server and is rolled back.
   */
  private noteCancelled(bytes: Buffer): void {
    let requestId: unknown;
    try {
      requestId = JSON.parse(bytes.toString('utf8'))?.params?.requestId;
    } catch {
      return;
    }
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const key = idKey(requestId);
    const held = this.pending.get(key);
    if (held && !held.batch && this.server.withdraw?.(held.id)) {
      // The server transport still held it (an HTTP upstream re-initialising its session):
      // withdrawn, it never reaches the server, which neither runs nor answers it. Its
      // reservation goes back and its id is free again.
      this.settleCall(key, true);
      this.pending.delete(key);
      this.toolsListIds.delete(key);
      this.log.debug({ id: requestId }, 'a cancelled request was withdrawn before it reached the server');
      return;
    }
    this.settleCall(key, false);
    // The server should not answer a cancelled request, and the client ignores an answer that
    // comes anyway (same section): it no longer awaits one. So it stops being pending: shutdown
    // after client EOF does not wait for it and the server's death does not answer it. Its id
    // stays taken until the server answers after all (that answer is forwarded, a tools/list
    // one filtered): a request reusing it is refused. Otherwise a late answer to the cancelled
    // request (an error, say) would be taken for the new request's: a call rolled back while its
    // own result passes as unknown (a rate limit never reached), or a tools/list answer read as
    // a call's (never filtered). MCP forbids reusing ids anyway ("Base Protocol > Requests").
    // A batch member leaves its batch: the array goes to the client without an entry for it once
    // the other members are in, instead of waiting for an answer that should never come.
    const entry = this.pending.get(key);
    if (entry) {
      const batch = entry.batch;
      this.pending.delete(key);
      this.cancelled.set(key, batch ? { ...entry, batch: undefined } : entry);
      if (batch) {
        const index = batch.awaiting.get(key);
        batch.awaiting.delete(key);
        if (index !== undefined && batch.replies[index] === undefined) batch.replies[index] = null;
        this.maybeSendBatch(batch);
      }
      if (this.cancelled.size > MAX_CANCELLED) {
        // Memory stays bounded; the oldest cancelled id is forgotten (its answer, if it ever
        // comes, answers no known request and is dropped).
        const oldest = this.cancelled.keys().next().value as string;
        this.cancelled.delete(oldest);
        this.toolsListIds.delete(oldest);
      }
    }
  }

  // ---------------------------------------------------------------- server -> client

  /** `counts`: an error the server transport made for a request that may have run (see `oncountedfailure`). */
  private fromServer(bytes: Buffer, counts = false): void {
    const env = scanEnvelope(bytes);
    switch (env.kind) {
      case 'response': {
        const key = idKey(env.id as JsonRpcId);
        const ours = this.invented.get(key);
        if (ours) {
          this.invented.delete(key);
          ours(bytes);
          return;
        }
        let out = bytes;
        let entry = this.pending.get(key);
        if (entry) this.pending.delete(key);
        else {
          entry = this.cancelled.get(key);
          if (entry) this.cancelled.delete(key);
        }
        if (!entry) {
          // It answers no request of the client's: a second answer to one already answered, or
          // an id of another type ("2" for 2). Clients that match ids loosely (the MCP SDK reads
          // Number(id)) would take it for an answer, unfiltered: a tools/list with hidden tools.
          this.stats.unmatchedResponses++;
          // After the session ended (the client went away, every pending request was answered
          // by the proxy), late answers are expected: not worth a warning.
          if (this.serverGone)
            this.log.debug({ id: env.id }, 'a server response after the session ended was dropped');
          else this.log.warn({ id: env.id }, 'a server response answering no pending request was dropped');
          return;
        }
        const call = entry?.call;
        if (call) {
          entry!.call = undefined;
          // Answer first, count after: the store write is not on the client's critical path.
          this.settleSoon(call, env.isError === true && !call.countsOnError && !counts);
        }
        if (this.toolsListIds.delete(key)) out = this.filterList(bytes);
        else if (this.initializeId === key) {
          this.initializeId = undefined;
          out = advertiseListChanged(bytes);
        }
        if (entry?.batch) {
          const index = entry.batch.awaiting.get(key);
          if (index !== undefined) {
            entry.batch.replies[index] = out;
            this.maybeSendBatch(entry.batch);
            return;
          }
        }
        this.toClient(out);
        return;
      }
      case 'request':
        this.serverRequested();
        this.toClient(bytes);
        return;
      case 'notification':
        this.toClient(bytes);
        return;
      case 'batch':
        this.serverBatch(bytes);
        return;
      default: {
        this.stats.noiseLines++;
        const text = bytes.length > 2000 ? `${bytes.toString('utf8', 0, 2000)}...` : bytes.toString('utf8');
        this.log.warn(
          { line: text, problem: env.problem },
          'non-JSON-RPC output on the server stdout (not forwarded)',
        );
        // A response followed by stray bytes: its request gets an error now, not at session end.
        if (env.kind === 'invalid' && env.answers !== undefined) {
          this.answerUnpassable(env.answers, `not a JSON-RPC message (${env.problem})`);
        }
      }
    }
  }

  /**
   * The server sent the client a request: every call pending now counts even if a JSON-RPC error
   * ends it (see `PendingCall.countsOnError`). Which call a request belongs to is not on the wire
   * (stdio has no `relatedRequestId`), so all of them do: the safe side of a limit.
   */
  private serverRequested(): void {
    for (const entry of this.pending.values()) if (entry.call) entry.call.countsOnError = true;
  }

  /**
   * Cut-through for a long server message (see the module comment): returns a stream that
   * forwards its bytes to the client as they arrive, or undefined to have it handled whole.
   */
  private streamFromServer(head: Buffer): IncomingMessageStream | undefined {
    if (!this.client.openStream || this.clientGone) return undefined;
    if (head[skipWs(head, 0)] !== 0x7b /* { */) return undefined;
    if (this.toolsListIds.size > 0 || this.initializeId !== undefined || this.invented.size > 0) {
      return undefined;
    }
    for (const entry of this.pending.values()) if (entry.batch) return undefined;
    const out = this.client.openStream();
    if (!out) return undefined;
    const envelope = new EnvelopeStream();
    // The message's top-level closing brace, and whatever follows it, is held back until the whole
    // envelope is known: its id may come last, and name a request whose answer the proxy must read
    // whole (a tools/list that started after this message did), and bytes after the brace make
    // the line no message. So is everything from a malformed byte on. A refused message ends
    // without its closing brace: no client takes it for a message, whatever the server wrote
    // after it (`{...} 0` must not reach the client as `{...} `).
    const held: Buffer[] = [];
    return {
      write: (part) => {
        const forward = envelope.push(part);
        if (forward > 0) out.write(forward === part.length ? part : part.subarray(0, forward));
        if (forward < part.length) held.push(part.subarray(forward));
      },
      end: (oversize) => {
        // Over the cap, the client got the bytes of a line that can no longer be completed (up to
        // the cap, less what was held back): end that line, then answer the request it was for,
        // as for any oversize message. The held bytes stay back: with them, a message followed
        // by whitespace up to the cap would be whole.
        if (oversize) {
          out.end();
          this.serverOversize(oversize);
          return;
        }
        const env = envelope.result();
        const refusal = this.streamRefusal(env);
        if (refusal === undefined) for (const h of held) out.write(h);
        out.end();
        if (refusal === undefined) this.streamedFromServer(env);
        else this.refusedStream(env, refusal);
      },
    };
  }

  /**
   * Why a message forwarded while it streamed must not be completed (see `streamFromServer`), or
   * undefined: it is no JSON-RPC message, or it answers a request whose answer the proxy has to
   * read whole (a `tools/list` it filters, `initialize`, its own requests, a batch element) or no
   * pending request at all.
   */
  private streamRefusal(env: Envelope): string | undefined {
    if (env.kind === 'request' || env.kind === 'notification') return undefined;
    if (env.kind !== 'response') return `not a JSON-RPC message (${env.problem})`;
    const key = idKey(env.id as JsonRpcId);
    if (this.invented.has(key) || this.toolsListIds.has(key) || this.initializeId === key)
      return 'it answers a request whose answer Tollgate must read whole';
    const entry = this.pending.get(key) ?? this.cancelled.get(key);
    if (!entry) return 'it answers no pending request';
    if (entry.batch) return 'it answers a request of a batch, whose answers Tollgate joins';
    return undefined;
  }

  /** A streamed message cut off before its end (see `streamRefusal`): the request it answers gets an error. */
  private refusedStream(env: Envelope, why: string): void {
    this.log.warn({ problem: why }, 'a long server message was cut off before its end instead of passed on');
    if (env.kind !== 'response') {
      this.stats.noiseLines++;
      // A response followed by stray bytes still names the request it was meant to answer.
      if (env.kind === 'invalid' && env.answers !== undefined) this.answerUnpassable(env.answers, why);
      return;
    }
    this.answerUnpassable(env.id as JsonRpcId, why);
  }

  /**
   * Answers the request `id` names with -32603 because the server's answer to it could not be
   * passed on (`why`); the server did answer, so a call counts. Nothing when no request is
   * pending under `id`.
   */
  private answerUnpassable(id: JsonRpcId, why: string): void {
    const key = idKey(id);
    const reply = encode(
      errorResponse(id, ErrorCode.InternalError, `The MCP server's answer could not be passed on: ${why}`),
    );
    const ours = this.invented.get(key);
    if (ours) {
      this.invented.delete(key);
      ours(reply);
      return;
    }
    if (!this.pending.has(key) && !this.cancelled.has(key)) {
      this.stats.unmatchedResponses++;
      return;
    }
    if (this.initializeId === key) this.initializeId = undefined;
    this.cancelled.delete(key);
    // The server answered: a call it answers has run, so it counts (as an oversize answer does).
    this.answerFromProxy(key, id, reply, 'commit');
  }

  /** Bookkeeping for a server message forwarded by cut-through (a request, a notification or an allowed response). */
  private streamedFromServer(env: Envelope): void {
    this.stats.forwardedToClient++;
    if (env.kind === 'response') {
      const key = idKey(env.id as JsonRpcId);
      this.settleCall(key, env.isError === true && this.pending.get(key)?.call?.countsOnError !== true);
      this.pending.delete(key);
      this.cancelled.delete(key);
    } else if (env.kind === 'request') this.serverRequested();
  }

  /** A batch from the server (legacy): each element is routed on its own. */
  private serverBatch(bytes: Buffer): void {
    // Each element goes on as the bytes the server wrote (re-encoding would round numbers and
    // change escapes), and is routed as a message of its own.
    const elements = arrayElements(bytes);
    if (elements === undefined) {
      this.stats.noiseLines++;
      return;
    }
    for (const el of elements) {
      // JSON-RPC 2.0 batches hold objects: an array inside one is no message, and routing it as a
      // batch of its own would recurse once per level of nesting (a line of 3,000 `[` overflowed
      // the stack).
      if (el[skipWs(el, 0)] === 0x5b /* [ */) {
        this.stats.noiseLines++;
        this.log.warn(
          { line: el.length > 2000 ? `${el.toString('utf8', 0, 2000)}...` : el.toString('utf8') },
          'an array nested in a server batch is not a JSON-RPC message (not forwarded)',
        );
        continue;
      }
      this.fromServer(el);
    }
  }

  private filterList(bytes: Buffer): Buffer {
    const filtered = filterToolsList(bytes, (t) => this.gate.isHidden(t));
    this.rememberTools(filtered.tools, filtered.last);
    if (filtered.removed.length > 0) this.log.debug({ hidden: filtered.removed }, 'tools/list filtered');
    return filtered.bytes;
  }

  /** `last`: the page ends a listing (no `nextCursor`): the gate hears every name known. */
  private rememberTools(tools: readonly ListedTool[], last: boolean): void {
    if (this.catalogue.add(tools)) {
      this.toolNames = undefined;
      this.gate.setToolSchemas(
        this.catalogue.all().map((t) => ({ name: t.name, inputSchema: t.inputSchema })),
      );
    }
    if (last) this.gate.toolsListed?.(this.catalogue.names());
  }

  /** Commit (result or cancellation) or roll back (error, server death) the call pending under `key`, once. */
  private settleCall(key: string, failed: boolean): void {
    const entry = this.pending.get(key);
    const call = entry?.call;
    if (!call) return;
    entry!.call = undefined;
    this.finishCall(call, failed);
  }

  /**
   * Commit or roll back a call in a microtask, after the answers of this turn are written: the
   * calls of one turn share one microtask.
   */
  private settleSoon(call: PendingCall<D>, failed: boolean): void {
    // A reaction on a settled promise, not queueMicrotask: Node wraps each queueMicrotask callback
    // in an AsyncResource (an object, a bound function and two async-hook emits per call).
    if (this.toSettle.length === 0) void SETTLED.then(this.settleQueued);
    this.toSettle.push(call);
    this.toSettleFailed.push(failed);
  }

  private readonly settleQueued = (): void => {
    const calls = this.toSettle;
    const failed = this.toSettleFailed;
    this.toSettle = [];
    this.toSettleFailed = [];
    for (let i = 0; i < calls.length; i++) this.finishCall(calls[i]!, failed[i]!);
  };

  /** Commit or roll back a decided call's reservation (errors are logged). */
  private finishCall(call: PendingCall<D>, failed: boolean): void {
    const op = failed ? this.gate.rollback(call.decision) : this.gate.commit(call.decision);
    op.catch((err: unknown) =>
      this.log.error({ err, tool: call.tool }, failed ? 'rollback failed' : 'commit failed'),
    );
  }

  /**
   * Answers a pending client request from the proxy itself (server gone, oversize). A pending
   * call's reservation is rolled back, or committed when the server did answer it (`settle`).
   */
  private answerFromProxy(
    key: string,
    id: JsonRpcId,
    reply: Buffer,
    settle: 'commit' | 'rollback' = 'rollback',
  ): void {
    this.settleCall(key, settle === 'rollback');
    this.toolsListIds.delete(key);
    const entry = this.pending.get(key);
    this.pending.delete(key);
    if (entry?.batch) {
      const index = entry.batch.awaiting.get(key);
      if (index !== undefined) {
        entry.batch.replies[index] = reply;
        this.maybeSendBatch(entry.batch);
        return;
      }
    }
    if (entry || id !== undefined) this.toClient(reply);
  }

  private toClient(bytes: Buffer): void {
    this.stats.forwardedToClient++;
    this.client.send(bytes);
  }

  // ---------------------------------------------------------------- size cap

  /**
   * Answers a request of the server's (id in the server's id space) with a JSON-RPC error, when
   * its id is known and the server is still there: a message over the cap that never reached
   * the client, or the client's answer to it that never reached the server.
   */
  private errorToServer(id: JsonRpcId | undefined, code: number, message: string): void {
    if (id !== undefined && !this.serverGone) this.server.send(encode(errorResponse(id, code, message)));
  }

  private clientOversize(r: OversizeReport): void {
    const id = findIdInEdges(r.head, r.tail);
    if (kindInEdges(r.head) === 'response') {
      // The client's answer to a server request (a sampling result, say): a response is never
      // answered (JSON-RPC 2.0 section 5), and its id is the server's, which the client would take
      // for one of its own. The server, which awaits it, is told instead.
      this.log.warn({ bytes: r.bytes, limit: r.limit, id }, 'client response over the size cap dropped');
      this.errorToServer(
        id,
        ErrorCode.InternalError,
        `The client's response of ${r.bytes} bytes exceeds Tollgate's limit of ${r.limit} bytes (--max-message-bytes); it was not passed to the server`,
      );
      return;
    }
    this.log.warn({ bytes: r.bytes, limit: r.limit, id }, 'client message over the size cap refused');
    const reply = encode(
      errorResponse(
        id ?? null,
        ErrorCode.InvalidRequest,
        `Invalid Request: message of ${r.bytes} bytes exceeds the limit of ${r.limit} bytes (--max-message-bytes)`,
      ),
    );
    // Keep order with messages still being decided.
    const slot: Slot<D> = { ready: true, outcomes: [{ reply }] };
    if (this.queue.length === 0) this.toClient(reply);
    else this.queue.push(slot);
  }

  private serverOversize(r: OversizeReport): void {
    const id = findIdInEdges(r.head, r.tail);
    if (kindInEdges(r.head) === 'request') {
      // A request of the server's (its own id space, say sampling/createMessage): it names no
      // request of the client's. Its sender would wait for an answer the client never gets.
      this.log.warn({ bytes: r.bytes, limit: r.limit, id }, 'server request over the size cap dropped');
      // A request (it has an id; a notification has none): the tool that asked is running, and
      // the calls pending count, whatever ends them.
      if (id !== undefined) this.serverRequested();
      this.errorToServer(
        id,
        ErrorCode.InvalidRequest,
        `Invalid Request: message of ${r.bytes} bytes exceeds Tollgate's limit of ${r.limit} bytes (--max-message-bytes); it was not passed to the client`,
      );
      return;
    }
    this.log.warn({ bytes: r.bytes, limit: r.limit, id }, 'server message over the size cap dropped');
    if (id === undefined) return;
    const key = idKey(id);
    if (this.cancelled.delete(key)) {
      // Nobody awaits it; its id is free again.
      this.toolsListIds.delete(key);
      return;
    }
    if (!this.pending.has(key)) return;
    // The server answered: a call it answers has run (whatever the answer was), so it counts.
    // Rolling it back would let an agent whose tool returns huge results call it without limit.
    this.answerFromProxy(
      key,
      id,
      encode(
        errorResponse(
          id,
          ErrorCode.InternalError,
          `The MCP server's response of ${r.bytes} bytes exceeds the proxy's limit of ${r.limit} bytes (--max-message-bytes)`,
        ),
      ),
      'commit',
    );
  }

  // ---------------------------------------------------------------- proxy's own requests

  /** Fetches every page of `tools/list` once, so the gate has `inputSchema`s. */
  private fetchSchemas(): Promise<void> {
    this.schemaFetch ??= (async () => {
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const reply = await this.request('tools/list', cursor ? { cursor } : {});
        const result = reply?.result as { tools?: unknown; nextCursor?: unknown } | undefined;
        if (!result || !Array.isArray(result.tools)) break;
        const next = typeof result.nextCursor === 'string' ? result.nextCursor : undefined;
        this.rememberTools(
          result.tools.filter((t): t is ListedTool => typeof t?.name === 'string'),
          next === undefined,
        );
        if (next === undefined) return;
        cursor = next;
      }
      // Unanswered usefully (an error, no tools, the server gone): a call that needs the schemas
      // asks again, after `prefetchRetryMs` (not on every call).
      this.schemaFailed();
    })().catch((err: unknown) => {
      this.schemaFailed();
      this.log.warn({ err }, 'tools/list prefetch failed');
    });
    return this.schemaFetch;
  }

  /** The prefetch ended without a listing: the next one no sooner than `prefetchRetryMs` from now. */
  private schemaFailed(): void {
    this.schemaFetch = undefined;
    this.schemaWaitExpired = false;
    this.schemaRetryAt = Date.now() + this.prefetchRetryMs;
  }

  /**
   * Waits for the tools/list prefetch (see {@link fetchSchemas}), at most `prefetchTimeoutMs`. The
   * listing goes on after that: its late answer still teaches the gate the schemas, so a slow
   * server holds up only the calls made before it answers.
   */
  private waitForSchemas(): Promise<void> {
    const fetch = this.fetchSchemas();
    // One deadline per listing, shared by every call that waits for it: a call that arrives
    // during the wait is released with the first, not held for a timeout of its own.
    if (this.schemaDeadlineOf !== fetch) {
      this.schemaDeadlineOf = fetch;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          // Timed out with the listing still on its way: later calls do not wait for it again.
          if (this.schemaFetch === fetch) this.schemaWaitExpired = true;
          resolve();
        }, this.prefetchTimeoutMs);
      });
      void fetch.finally(() => clearTimeout(timer));
      this.schemaDeadline = Promise.race([fetch, deadline]);
    }
    return this.schemaDeadline!;
  }

  /**
   * Sends a request of the proxy's own; resolves with the parsed response, or undefined when the
   * server goes away first, answers with something that is not JSON, or has not answered within
   * OWN_REQUEST_GIVE_UP_MS. Callers bound their own wait (see {@link waitForSchemas}).
   */
  private request(
    method: string,
    params: object,
  ): Promise<{ result?: unknown; error?: unknown } | undefined> {
    let id = `${this.idPrefix}${this.nextInvented++}`;
    while (this.pending.has(idKey(id)) || this.cancelled.has(idKey(id))) {
      id = `${this.idPrefix}${this.nextInvented++}`;
    }
    const key = idKey(id);
    if (this.inputGone !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      // Given up after OWN_REQUEST_GIVE_UP_MS: an entry left here would keep cut-through off.
      const timer = setTimeout(() => {
        if (this.invented.delete(key)) resolve(undefined);
      }, OWN_REQUEST_GIVE_UP_MS);
      timer.unref?.();
      this.invented.set(key, (bytes) => {
        clearTimeout(timer);
        if (bytes.length === 0) return resolve(undefined);
        try {
          resolve(JSON.parse(bytes.toString('utf8')));
        } catch {
          resolve(undefined);
        }
      });
      this.server.send(encode({ jsonrpc: '2.0', id, method, params }), () => {
        const answered = this.invented.get(key);
        this.invented.delete(key);
        answered?.(Buffer.alloc(0));
      });
    });
  }

  // ---------------------------------------------------------------- reload

  private policyChanged(prev: PolicyView, next: PolicyView): void {
    this.toolNames = undefined;
    const changed = this.catalogue.names().filter((n) => prev.isHidden(n) !== next.isHidden(n));
    if (changed.length === 0 || this.clientGone) return;
    this.log.info({ tools: changed }, 'policy reload changed hidden tools; notifying the client');
    this.toClient(LIST_CHANGED);
  }
}

/** The elements of a client batch answered with their id (requests, and refused ones that have one). */
function batchRequests(bytes: Buffer): Array<{ id: JsonRpcId; isCall: boolean }> {
  const out: Array<{ id: JsonRpcId; isCall: boolean }> = [];
  for (const el of arrayElements(bytes) ?? []) {
    const e = clientEnvelope(el, true);
    if (e.kind === 'request' || (e.kind === 'invalid' && e.id !== undefined))
      out.push({ id: e.id as JsonRpcId, isCall: e.kind === 'request' && e.method === 'tools/call' });
  }
  return out;
}

/** One JSON array of `elements`, each as its bytes (a batch's answer). */
function jsonArray(elements: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from('[')];
  elements.forEach((e, i) => {
    if (i > 0) parts.push(Buffer.from(','));
    parts.push(e);
  });
  parts.push(Buffer.from(']'));
  return Buffer.concat(parts);
}

/**
 * The envelope of a client message (a whole message or one element of a batch), with the refusals
 * every one of them gets before it is routed: a message holding a carriage return, a `tools/call`
 * without an id or with a null one, and a method that is `tools/call` but for case or invisible
 * characters all become `invalid` (answered, never forwarded). A batch's elements go through this
 * too: otherwise `[{"method":"tools/call",...}]` would reach the server unjudged. A message that
 * is passed through as it is must also be JSON (checked with `JSON.parse`, unless `parsed`: the
 * bytes are known to be JSON, an element of a batch parsed whole).
 */
function clientEnvelope(bytes: Buffer, parsed = false): Envelope {
  const env = scanEnvelope(bytes);
  if (bytes.indexOf(CR) !== -1) return carriageReturnRefusal(env);
  if (env.kind === 'notification' && env.method === 'tools/call') {
    // A tools/call without an id is no request (MCP "Tools > Calling Tools"); a lenient server
    // might still run it, so it is refused rather than forwarded unevaluated.
    return { kind: 'invalid', problem: 'tools/call must be a request (with an id)' };
  }
  if (
    (env.kind === 'request' || env.kind === 'notification') &&
    env.method !== 'tools/call' &&
    looksLikeToolsCall(env.method ?? '')
  ) {
    // "Tools/Call", "tools/call " (a server that ignores case or trims the method would run
    // the tool unjudged): refused, as case variants of member names are.
    return {
      kind: 'invalid',
      problem: `method ${JSON.stringify(env.method)} differs from "tools/call" only by case or invisible characters`,
      ...(env.kind === 'request' ? { id: env.id } : {}),
    };
  }
  if (env.kind === 'request' && env.id === null && env.method === 'tools/call') {
    // MCP "Base Protocol > Requests": the id MUST NOT be null. Its answer could not be told
    // from an error about an unreadable request.
    return { kind: 'invalid', problem: 'tools/call must have an id that is not null' };
  }
  if (
    !parsed &&
    ((env.kind === 'request' && env.method !== 'tools/call') ||
      env.kind === 'notification' ||
      env.kind === 'response')
  ) {
    // The envelope scan checks structure only (`tru`, `1e` or a raw control byte inside `params`
    // pass it). A message forwarded as it is must be JSON, or the server drops it and the client
    // waits for an answer that never comes (JSON-RPC 2.0 section 5.1: -32700). Calls are parsed
    // whole anyway; other client messages are few, so checking them costs little.
    try {
      JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      const problem = `malformed JSON: ${(err as Error).message}`;
      // A response's id names the server request it answers (see classifyClient).
      return env.kind === 'response'
        ? { kind: 'invalid', problem, answers: env.id as JsonRpcId }
        : { kind: 'invalid', problem };
    }
  }
  return env;
}

/**
 * True when `method` is `tools/call` to a decoder that drops invisible characters or ignores case,
 * without being it: `Tools/Call`, `tools/call ` (Python's `str.strip` also drops U+0085 and
 * U+001C-U+001F, Go's `strings.TrimSpace` U+0085), `tools/call\u0000` (a C string ends there),
 * `tool\u017f/call` (Unicode simple case folding, as in `caseVariantOf`). Every control, format
 * and separator character is removed wherever it is, then the rest is folded. Cheap for every
 * other method: only 10-to-64-character methods holding `/` get that far.
 */
function looksLikeToolsCall(method: string): boolean {
  if (method.length < 10 || method.length > 64 || method.indexOf('/') === -1) return false;
  const visible = withoutInvisible(method);
  return visible === 'tools/call' || caseVariantOf(visible, TOOLS_CALL) !== undefined;
}

const TOOLS_CALL = ['tools/call'] as const;

/** The refusal of a `tools/call` whose params write a member name twice in one object. */
const DUPLICATE_MEMBER = 'a member name appears twice in one object (decoders differ on which one counts)';

/**
 * {@link DUPLICATE_MEMBER} when the JSON text of a call's `arguments` writes a member name twice
 * in one object, as the proxy refuses it (JSON-RPC `-32602`); undefined otherwise, and for text
 * that is not JSON. For `tollgate explain --args`, which reads the arguments as text.
 */
export function duplicateMemberProblem(argumentsText: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(argumentsText);
  } catch {
    return undefined;
  }
  const env = scanEnvelope(
    Buffer.from(`{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"arguments":${argumentsText}}}`),
  );
  return env.paramsMembers !== undefined && env.paramsMembers !== countMembers({ arguments: parsed })
    ? DUPLICATE_MEMBER
    : undefined;
}

/**
 * Why `tools/call` params are malformed (MCP spec 2025-11-25 "Tools > Calling Tools":
 * `params.name` a string, `params.arguments` an object), or undefined when they are fine. Also
 * refused, so that what the policy judges is what every server runs: a params member that equals
 * `name` or `arguments` regardless of case without being it, and two argument names (in any object
 * of the arguments) equal regardless of case (see jsonrpc/member-names.ts).
 *
 * @param params - the parsed `params` of the request
 * @returns a one-line reason for the `-32602` answer, or undefined
 */
export function callParamsProblem(params: unknown): string | undefined {
  if (!isPlainObject(params)) return 'params must be an object';
  const { name, arguments: args } = params as { name?: unknown; arguments?: unknown };
  if (name === undefined) return 'params.name is required';
  if (typeof name !== 'string') return 'params.name must be a string';
  if (name.length === 0) return 'params.name must not be empty';
  if (args !== undefined && !isPlainObject(args)) return 'params.arguments must be an object';
  // What the policy judges must be what every server reads: no member a case-insensitive
  // decoder would take for `name`, `arguments` or `task` (see jsonrpc/member-names.ts; a task
  // the proxy did not see as one would be rolled back on a JSON-RPC error), and no two
  // argument names equal regardless of case (such a decoder keeps the last, JavaScript the
  // exact one).
  for (const key in params) {
    const variant = caseVariantOf(key, CALL_PARAM_NAMES);
    if (variant !== undefined) {
      return `params member ${JSON.stringify(key)} differs from "${variant}" only by case`;
    }
    // `"name\u0000"` beside `"name"`: a decoder that stops at NUL reads two `name`s.
    const invisible = invisibleVariantOf(key, CALL_PARAM_NAMES);
    if (invisible !== undefined) {
      return `params member ${JSON.stringify(key)} differs from "${invisible}" only by invisible characters`;
    }
  }
  if (args !== undefined) {
    const collision = caseCollision(args);
    if (collision !== undefined) {
      return `params.arguments has member names equal regardless of case or invisible characters: ${collision}`;
    }
  }
  return undefined;
}

/** The `tools/call` params a case variant of which is refused. */
const CALL_PARAM_NAMES: readonly string[] = ['name', 'arguments', 'task'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Tells a call read by `Router.readCall` from the answer to a malformed one. */
function isGateCall<D>(read: ReadCall | Outcome<D>): read is ReadCall {
  return (read as ReadCall).tool !== undefined;
}

/** Where a `tools/call` request holds its arguments. */
const ARGUMENTS_PATH: readonly string[] = ['params', 'arguments'];

/** The parsed JSON of a message's text, or undefined when it is not valid JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Sets `result.capabilities.tools.listChanged` in an `initialize` response when tools are offered
 * (`JSON.parse` decides: `tools` an object whose `listChanged` is not `true`). Only that member
 * changes in the text: `"listChanged":true` is added to the `tools` object the parse read (the
 * last of its name at each step), or the value of its `listChanged` is replaced; every other byte
 * passes as the server wrote it (see jsonrpc/json-edit.ts).
 */
function advertiseListChanged(bytes: Buffer): Buffer {
  let msg: { result?: { capabilities?: { tools?: unknown } } } | null;
  try {
    msg = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes;
  }
  const tools = msg?.result?.capabilities?.tools;
  if (!isPlainObject(tools) || tools.listChanged === true) return bytes;
  const at = memberAt(bytes, INITIALIZE_TOOLS_PATH);
  const edit = at && setMember(bytes, at.start, 'listChanged', 'true');
  return edit ? applyEdits(bytes, [edit]) : bytes;
}

/** Where an `initialize` response holds the tools capability. */
const INITIALIZE_TOOLS_PATH: readonly string[] = ['result', 'capabilities', 'tools'];

/**
 * The -32600 answer to a request that reuses the id of one still awaiting its answer, or of a
 * cancelled one the server has not answered yet (`cancelled`).
 */
function reusedIdReply(id: JsonRpcId, cancelled = false): Buffer {
  return encode(
    errorResponse(
      id,
      ErrorCode.InvalidRequest,
      cancelled
        ? 'Invalid Request: id is still held by a cancelled request the server has not answered (MCP forbids reusing request ids)'
        : 'Invalid Request: id is already used by a request awaiting its answer',
    ),
  );
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
