/**
 * Runs the remote modes of the root command (see remote.ts for the options): `--upstream URL`
 * and `--transport http`. Loaded only when the proxy runs.
 */

import { redactUrl, runHttpListener, runHttpUpstreamProxy } from '@tollgate/proxy';
import { openCounterStore } from '@tollgate/runtime';
import { procStartField } from '../process-start.js';
import { redactCommand } from '../redact-command.js';
import { childEnvironment } from './child-env.js';
import { headerObject } from './headers.js';
import { type RemoteContext, type RemoteOptions, remoteUsageProblem } from './remote.js';

/**
 * Runs upstream mode or the listener; resolves with the exit code (0 after client EOF or a
 * signal; 2 when the listener cannot start). Usage problems are printed to stderr.
 */
export async function runRemote(command: string[], opts: RemoteOptions, ctx: RemoteContext): Promise<number> {
  const { logger, enforcer, decisionLog } = ctx;
  const problem = remoteUsageProblem(command, opts);
  if (problem) {
    process.stderr.write(`tollgate: ${problem}\n`);
    return 2;
  }
  const abort = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    logger.info({ signal: sig }, 'stopping');
    abort.abort();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.on(s, stop);
  // The listener's startup event names its URL, known once it listens (or without it when it
  // cannot listen, before the shutdown event saying so).
  const startup = (listen?: URL) =>
    decisionLog.write({
      type: 'startup',
      pid: process.pid,
      policy_file: ctx.policyFile,
      policy_hash: enforcer.policy.hash,
      server_command: opts.upstream ? [redactUrl(opts.upstream)] : redactCommand(command),
      store: enforcer.store.kind,
      ...(listen ? { listen: listen.href } : {}),
      ...procStartField(),
    });
  if (opts.transport !== 'http') startup();
  try {
    if (opts.transport !== 'http') {
      const result = await runHttpUpstreamProxy({
        url: opts.upstream!,
        headers: headerObject(opts.header),
        gate: enforcer,
        logger,
        signal: abort.signal,
        maxMessageBytes: ctx.maxMessageBytes,
        onStarted: () =>
          logger.info({ upstream: redactUrl(opts.upstream!) }, 'tollgate upstream mode started'),
      });
      decisionLog.write({
        type: 'shutdown',
        pid: process.pid,
        reason: 'client_eof',
        exit_code: result.exitCode,
      });
      return result.exitCode;
    }
    // Per-session counters: each session counts in its own memory store; the policy (one file
    // watcher, reloaded by SIGHUP for all) and the decision log are the shared enforcer's.
    const perSession = async () => enforcer.forStore(await openCounterStore({ stateDsn: 'memory:' }));
    if (opts.perSessionCounters)
      logger.warn(
        {},
        '--per-session-counters: every session counts from zero, so a client that opens a new session (a reconnect) gets every limit afresh; use it only where each session is an agent of its own',
      );
    const [cmd, ...args] = command;
    let listener: Awaited<ReturnType<typeof runHttpListener>>;
    try {
      listener = await runHttpListener({
        gate: opts.perSessionCounters ? perSession : enforcer,
        upstream: opts.upstream
          ? { kind: 'http', url: opts.upstream, headers: headerObject(opts.header) }
          : {
              kind: 'stdio',
              command: cmd!,
              args,
              env: childEnvironment(process.env),
              shutdownGraceMs: ctx.shutdownGraceMs,
            },
        host: opts.bind ?? '127.0.0.1',
        port: opts.port ?? 8787,
        ...(opts.authToken ? { authTokens: [opts.authToken] } : {}),
        ...(opts.allowedOrigin ? { allowedOrigins: opts.allowedOrigin } : {}),
        ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
        ...(opts.maxSessions ? { maxSessions: opts.maxSessions } : {}),
        ...(opts.sessionIdleTimeout !== undefined ? { sessionIdleMs: opts.sessionIdleTimeout * 1000 } : {}),
        maxMessageBytes: ctx.maxMessageBytes,
        logger,
      });
    } catch (err) {
      process.stderr.write(`tollgate: ${(err as Error).message}\n`);
      startup();
      decisionLog.write({ type: 'shutdown', pid: process.pid, reason: 'listen_failed', exit_code: 2 });
      return 2;
    }
    startup(listener.url);
    process.stderr.write(`tollgate: listening on ${listener.url.href}\n`);
    await new Promise<void>((resolve) => {
      if (abort.signal.aborted) resolve();
      abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await listener.close();
    decisionLog.write({ type: 'shutdown', pid: process.pid, reason: 'signal', exit_code: 0 });
    return 0;
  } finally {
    for (const s of signals) process.off(s, stop);
  }
}
