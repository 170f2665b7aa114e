/**
 * The stdio proxy as one call: spawn the server, connect it to our stdin/stdout through the
 * router, forward signals, and resolve with the exit code Tollgate should exit with (the
 * child's). This is what `tollgate -c policy.yaml -- <command>` runs.
 */
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { ChildExit, ChildProcessHandle } from '@tollgate/process';
import { BACKLOG_BYTES } from './framing/frame-writer.js';
import type { Gate, GateDecision } from './gate.js';
import { type ProxyLogger, silentLogger } from './logger.js';
import { Router } from './router.js';
import { ChildStdioTransport } from './transport/stdio-child.js';
import { StreamTransport } from './transport/stdio-stream.js';

/** Options of {@link runStdioProxy}. */
export interface StdioProxyOptions<D extends GateDecision = GateDecision> {
  /** The server command and its arguments. */
  readonly command: string;
  readonly args?: readonly string[];
  /** The child's environment (default: ours, i.e. the client's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly gate: Gate<D>;
  readonly logger?: ProxyLogger;
  /** Cap on one message in either direction, in bytes (default 64 MiB). */
  readonly maxMessageBytes?: number;
  /** Wait between the shutdown steps (stdin EOF, SIGTERM, SIGKILL), in milliseconds (default 2000). */
  readonly shutdownGraceMs?: number;
  /**
   * After client EOF: the longest wait, in milliseconds, for queued messages to be decided and
   * forwarded, and then for forwarded requests to be answered, before the shutdown ladder starts
   * (default 30000).
   */
  readonly drainTimeoutMs?: number;
  /** Client side streams (default `process.stdin` / `process.stdout`). */
  readonly input?: Readable;
  readonly output?: Writable;
  /** Forward SIGINT and SIGTERM to the child's process group (default true). */
  readonly forwardSignals?: boolean;
  /** Called once the child is running. */
  readonly onStarted?: (info: { pid: number | undefined; sessionId: string }) => void;
}

/** How the proxy ended. */
export interface StdioProxyExit {
  /** The code to exit with: the child's code, 128 + signal number when a signal ended it. */
  readonly exitCode: number;
  readonly child: ChildExit;
  /** Counters of the session. */
  readonly stats: Router['stats'];
  /** The session id given to the gate. */
  readonly sessionId: string;
  /**
   * Why it ended: `child_exit`, `client_eof`, `signal:SIGTERM`, or `server_eof` (the server closed
   * its stdout while still running): the first that happened.
   */
  readonly reason: string;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Longest wait (ms) for a server to exit on a signal that came once the session was already
 * ending, before SIGKILL: under the 2 s an MCP SDK client leaves between its SIGTERM and SIGKILL,
 * whatever `--shutdown-grace` is.
 */
const URGENT_MAX_MS = 1000;

/**
 * Runs the proxy until the child exits (on its own, after client EOF, after a signal, or after
 * it closed its stdout: then it is stopped with the shutdown ladder).
 *
 * @throws Error when the command cannot be spawned (message names the command and the errno code).
 */
export async function runStdioProxy<D extends GateDecision>(
  opts: StdioProxyOptions<D>,
): Promise<StdioProxyExit> {
  const log = opts.logger ?? silentLogger;
  const shutdownGraceMs = opts.shutdownGraceMs ?? 2000;
  const server = new ChildStdioTransport({
    command: opts.command,
    args: opts.args ?? [],
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
    ...(opts.shutdownGraceMs !== undefined ? { shutdownGraceMs: opts.shutdownGraceMs } : {}),
  });
  const client = new StreamTransport({
    input: opts.input ?? process.stdin,
    output: opts.output ?? process.stdout,
    ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
  });
  const router = new Router({ client, server, gate: opts.gate, logger: log });

  // Set once the client or Tollgate's operator ends the session (client EOF, SIGINT/SIGTERM): a
  // server that exits after that, however it exits, leaves its pending calls counted
  // (Router.endSession). A server that exits on EOF or on the forwarded signal with a call in
  // flight may well have run it; giving the quota back would let a client run a limited tool
  // without limit by closing its input, or having Tollgate signalled, after each call.
  let endedBy: string | undefined;
  let reason: string | undefined;
  const serverClosed = new Promise<ChildExit>((resolve) => {
    server.onclose = (info) => {
      const pending = router.pendingRequests;
      if (endedBy !== undefined) router.endSession(endedBy);
      router.serverClosed(info);
      if (info.exitCode !== undefined || info.signal != null) {
        resolve({ code: info.exitCode ?? null, signal: info.signal ?? null });
        return;
      }
      // EOF on the server's stdout while it keeps running: the end of its side of the stdio
      // transport, since it can never answer again. Pending requests were answered above as if it
      // had exited (later ones are answered at once); it is stopped with the ladder, and Tollgate
      // exits with its code once it is reaped, as when the server exits on its own.
      reason ??= 'server_eof';
      log.warn(
        { childPid: server.process?.pid, pending, graceMs: shutdownGraceMs },
        'the server closed its stdout but is still running; ending the session and stopping it',
      );
      void server.close();
      void server.process?.exited.then(resolve);
    };
  });
  // Flow control, as `pipe()` has it: while one side's output piles up unread, the other side
  // is not read, so a slow reader costs the proxy a bounded buffer instead of a copy of all the
  // other side sends (measured without it: a paused client, four 30 MB results, +240 MiB).
  // A client that does not read its answers is not read either: what it sends gets answers the
  // proxy writes itself (parse errors, denials, refusals), and those would pile up unbounded
  // (measured without it: 16 MiB of `x` lines unread, 101 -> 813 MiB RSS). This cannot stall a
  // client that reads as it writes; one that reads only after writing would stall after 8 MiB of
  // unread answers, where a server it ran directly would stop reading it after a pipe's 64 KiB.
  // Two reasons may hold the client's input, each ended by its own drain: it resumes once
  // neither holds (the server's stdin drained, and the client read its backlog).
  let clientHolds = 0;
  const holdClient = (full: boolean) => {
    if (full) {
      if (clientHolds++ === 0) client.pauseInput();
    } else if (--clientHolds === 0) client.resumeInput();
  };
  client.onbacklog = (full) => {
    log.debug(
      { boundBytes: BACKLOG_BYTES },
      full
        ? 'the client is not reading its output; reading neither it nor the server until it does'
        : 'the client read its output; reading it and the server again',
    );
    if (full) server.pauseInput();
    else server.resumeInput();
    holdClient(full);
  };
  server.onbacklog = holdClient;
  server.onerror = (err) => log.warn({ err }, 'server transport error');
  client.onerror = (err) => log.debug({ err }, 'client transport error');
  const drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
  const serverGone = () => server.process?.hasExited ?? true;
  // Client EOF ends the session the way a client running the server directly would end it
  // (MCP spec, Lifecycle > Shutdown > stdio), without losing what the client sent before EOF:
  // 1. messages still awaiting a policy decision are forwarded first, so the server never sees
  //    EOF ahead of a request that arrived before it;
  // 2. the server gets EOF, and the SIGTERM/SIGKILL ladder starts only once no forwarded request
  //    awaits an answer (servers answer what they have read before exiting), or after
  //    `drainTimeoutMs` for a server that never answers.
  const closeAfterClientEof = async () => {
    await waitUntil(() => router.queuedMessages === 0 || serverGone(), drainTimeoutMs);
    server.endInput();
    await waitUntil(() => router.pendingRequests === 0 || serverGone(), drainTimeoutMs);
    await server.close();
  };
  client.onclose = (info) => {
    reason ??= 'client_eof';
    endedBy ??= 'the client closed its input';
    log.info({ reason: info.reason }, 'client disconnected; stopping the server');
    router.clientClosed();
    void closeAfterClientEof();
  };

  // The signal handlers are installed before the server is started: a SIGINT or SIGTERM while it
  // starts would otherwise take Node's default action and end Tollgate without stopping the
  // server it had just spawned. Such a signal is forwarded once the server runs.
  let handle: ChildProcessHandle | undefined;
  let early: NodeJS.Signals | undefined;
  let escalation: NodeJS.Timeout | undefined;
  let urgent: NodeJS.Timeout | undefined;
  const forward = (sig: NodeJS.Signals) => {
    if (handle === undefined) {
      early ??= sig;
      return;
    }
    // A signal after the session began to end (client EOF, or an earlier signal) means whoever
    // runs Tollgate wants it gone now: the MCP SDK's client closes stdin, sends SIGTERM 2 s later
    // and SIGKILL 2 s after that, which the whole shutdown ladder would outlast (Tollgate killed
    // before its shutdown record). The server, which has had its grace already, gets half a grace
    // period (at most a second) to exit on the signal, then SIGKILL for its group.
    const ending = endedBy !== undefined;
    reason ??= `signal:${sig}`;
    endedBy ??= `Tollgate received ${sig}`;
    log.info({ signal: sig }, 'forwarding signal to the server');
    handle.signal(sig);
    if (ending) {
      const waitMs = Math.min(shutdownGraceMs / 2, URGENT_MAX_MS);
      urgent ??= setTimeout(() => {
        if (serverGone()) return;
        log.warn(
          { signal: sig, waitMs },
          'signalled while stopping and the server is still running; killing it',
        );
        handle?.signal('SIGKILL');
      }, waitMs);
      urgent.unref();
    }
    // A server that ignores the signal is not left running, nor Tollgate with it: after one
    // grace period the shutdown ladder follows (stdin EOF, SIGTERM, SIGKILL, a grace period apart).
    escalation ??= setTimeout(() => {
      if (serverGone()) return;
      log.warn(
        { signal: sig, graceMs: shutdownGraceMs },
        'the server outlived the forwarded signal; stopping it',
      );
      void server.close();
    }, shutdownGraceMs);
    escalation.unref();
  };
  const listeners = new Map<NodeJS.Signals, () => void>();
  if (opts.forwardSignals ?? true) {
    for (const sig of SIGNALS) {
      const l = () => forward(sig);
      listeners.set(sig, l);
      process.on(sig, l);
    }
  }
  try {
    await server.start();
  } catch (err) {
    for (const [sig, l] of listeners) process.off(sig, l);
    throw err;
  }
  handle = server.process!;
  if (early !== undefined) forward(early);
  opts.onStarted?.({ pid: handle.pid, sessionId: router.sessionId });
  await client.start();

  const child = await serverClosed;
  clearTimeout(escalation);
  clearTimeout(urgent);
  for (const [sig, l] of listeners) process.off(sig, l);
  await client.flush();
  return {
    exitCode: exitCodeOf(child),
    child,
    stats: router.stats,
    sessionId: router.sessionId,
    reason: reason ?? 'child_exit',
  };
}

/**
 * Resolves once `done()` holds or `timeoutMs` has passed. Shutdown only: it polls every 20 ms,
 * which costs nothing while the proxy is serving.
 */
export async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

/** The shell convention: the exit code, or 128 + the signal number (`os.constants.signals`). */
export function exitCodeOf(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  const signo = exit.signal
    ? (osConstants.signals as Record<string, number | undefined>)[exit.signal]
    : undefined;
  return signo ? 128 + signo : 1;
}
