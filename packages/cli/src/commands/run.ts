/**
 * The root command: `tollgate -c policy.yaml [options] -- <server command> [args...]`, the
 * transparent stdio MCP proxy (DESIGN section 3). Options sit on the root program so the
 * command line matches PolicyLayer Intercept's (`-c`, `--state-dir`, `--state-dsn`); the
 * program uses positional options, so `tollgate validate -c x` still reaches its subcommand.
 *
 * Exit codes: the child's exit code (128 + signal number when a signal ended it); 2 for usage
 * errors, an unreadable or invalid policy, a state store that cannot open, or a command that
 * cannot be started.
 */
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { runStdioProxy } from '@tollgate/proxy';
import {
  createEnforcer,
  createLogger,
  defaultPaths,
  openCounterStore,
  openDecisionLog,
  PolicyLoadError,
} from '@tollgate/runtime';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  addRemoteOptions,
  type RemoteOptions,
  remoteUsageProblem,
  runRemote,
  wantsRemote,
} from './remote.js';

/** A bad option value: commander prints it; exit code 2 (usage), not commander's default 1. */
function usage(message: string): InvalidArgumentError {
  const err = new InvalidArgumentError(message);
  err.exitCode = 2;
  return err;
}

/** Parsed options of the root command. */
export interface RunOptions extends RemoteOptions {
  config?: string;
  stateDir?: string;
  stateDsn?: string;
  statePrefix?: string;
  stateFailMode: 'closed' | 'open';
  /** `--no-state-leases` sets false: every counter call goes to the store (no counter leases). */
  stateLeases: boolean;
  logLevel: string;
  logArgs?: boolean;
  maxMessageBytes?: number;
  watch: boolean;
  shutdownGrace: number;
}

/** A usage problem: printed with a hint, exit code 2. */
class UsageError extends Error {}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw usage('must be a positive integer');
  return n;
}

/** Registers the proxy on the ROOT program (no subcommand): `tollgate -c FILE -- CMD ARGS...`. */
export function registerRun(program: Command): void {
  program
    .usage('-c <policy.yaml> [options] -- <server command> [args...]\n       tollgate <command> [options]')
    .option('-c, --config <file>', 'policy file (YAML) to enforce')
    .option(
      '--state-dir <dir>',
      'directory of the SQLite counter store (default: $TOLLGATE_STATE_DIR, else $TOLLGATE_HOME/state, else ~/.tollgate/state)',
    )
    .option(
      '--state-dsn <url>',
      'shared counter store, e.g. redis://127.0.0.1:6379/0 (instead of --state-dir)',
    )
    .option('--state-prefix <prefix>', 'key prefix in a shared counter store')
    .addOption(
      new Option(
        '--state-fail-mode <mode>',
        'when the counter store is unreachable: refuse calls or let them pass',
      )
        .choices(['closed', 'open'])
        .default('closed'),
    )
    .option(
      '--no-state-leases',
      'send every counter call to the store (default: far-from-bound fixed windows are admitted from leases)',
    )
    .addOption(
      new Option('--log-level <level>', 'log level on stderr')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .option('--log-args', 'record tool arguments in the decision log (off: they may hold secrets)')
    .option('--max-message-bytes <n>', 'largest accepted message in either direction, in bytes', positiveInt)
    .option('--no-watch', 'do not reload the policy when the file changes')
    .option(
      '--shutdown-grace <ms>',
      'wait between stdin EOF, SIGTERM and SIGKILL for the server',
      positiveInt,
      2000,
    )
    .argument('[command...]', 'the MCP server to launch, after --')
    .addHelpText(
      'after',
      `
Examples:
  tollgate -c policy.yaml -- npx -y @modelcontextprotocol/server-filesystem ~/work
  tollgate -c policy.yaml --state-dsn redis://127.0.0.1:6379 -- node server.js
  tollgate validate -c policy.yaml

Stdout carries only MCP messages; logs go to stderr. Tollgate exits with the server's exit code.`,
    )
    .action(async (command: string[], opts: RunOptions, cmd: Command) => {
      try {
        const code = await runProxyCommand(command, opts, rawArgs(cmd));
        process.exit(code);
      } catch (err) {
        if (err instanceof UsageError) {
          process.stderr.write(`tollgate: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
    });
  // Remote MCP (Streamable HTTP upstream / listener), implemented in remote.ts.
  addRemoteOptions(program);
}

function rawArgs(cmd: Command): string[] {
  return (cmd as unknown as { rawArgs?: string[] }).rawArgs ?? process.argv;
}

/**
 * Runs the proxy and resolves with the exit code. Throws {@link UsageError} for usage problems.
 */
async function runProxyCommand(command: string[], opts: RunOptions, argv: string[]): Promise<number> {
  if (!opts.config) {
    if (command.length === 0) {
      throw new UsageError('missing -c <policy.yaml> and the server command (see tollgate --help)');
    }
    throw new UsageError(`missing -c <policy.yaml> (did you mean a subcommand? "${command[0]}" is not one)`);
  }
  const remote = wantsRemote(opts);
  if (remote) {
    const problem = remoteUsageProblem(command, opts);
    if (problem) throw new UsageError(problem);
  } else if (command.length === 0) {
    throw new UsageError('missing the server command: tollgate -c policy.yaml -- <command> [args...]');
  }
  if (command.length > 0 && !argv.includes('--')) {
    throw new UsageError(
      `put -- before the server command, so its flags are not read as Tollgate's: tollgate -c ${opts.config} -- ${command.join(' ')}`,
    );
  }
  if (opts.stateDir && opts.stateDsn) throw new UsageError('use either --state-dir or --state-dsn, not both');

  const policyFile = resolve(opts.config);
  // Fail before touching the store when the file cannot be read; the enforcer parses it (once).
  try {
    accessSync(policyFile, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`cannot read policy ${opts.config}: ${code}`);
  }

  const logger = createLogger({ level: opts.logLevel });
  const paths = defaultPaths();
  let store: Awaited<ReturnType<typeof openCounterStore>>;
  try {
    store = await openCounterStore({
      ...(opts.stateDsn ? { stateDsn: opts.stateDsn } : { stateDir: opts.stateDir ?? paths.stateDir }),
      ...(opts.statePrefix ? { prefix: opts.statePrefix } : {}),
      failMode: opts.stateFailMode,
      leases: opts.stateLeases,
      // The proxy keeps running: the store reconnects by itself, and the fail mode decides meanwhile.
      onUnreachable: (message) => logger.warn({ failMode: opts.stateFailMode }, message),
    });
  } catch (err) {
    throw new UsageError(
      `cannot open the counter store: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const decisionLog = openDecisionLog({
    dir: paths.eventsDir,
    logArgs: opts.logArgs ?? false,
    onError: (err) => logger.warn({ err: err.message }, 'decision log write failed'),
  });
  let enforcer: Awaited<ReturnType<typeof createEnforcer>>;
  try {
    enforcer = await createEnforcer({
      policyFile,
      watch: opts.watch,
      store,
      failMode: opts.stateFailMode,
      decisionLog,
      logger,
    });
  } catch (err) {
    await store.close().catch(() => {});
    if (err instanceof PolicyLoadError) {
      for (const line of err.formatted) process.stderr.write(`${line}\n`);
      throw new UsageError(
        `policy ${opts.config} is invalid (${err.errors.length || 1} error(s)); not starting`,
      );
    }
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  // SIGHUP re-reads the policy (the daemon convention) instead of reaching the server.
  const onHup = () => {
    void enforcer.reload().then((ok) => logger.info({ ok }, 'policy reloaded on SIGHUP'));
  };
  process.on('SIGHUP', onHup);

  if (remote) {
    try {
      return await runRemote(command, opts, {
        enforcer,
        logger,
        decisionLog,
        policyFile,
        failMode: opts.stateFailMode,
        watch: opts.watch,
        shutdownGraceMs: opts.shutdownGrace,
        ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
      });
    } finally {
      process.off('SIGHUP', onHup);
      await enforcer.close().catch(() => {});
    }
  }

  const [cmd, ...args] = command as [string, ...string[]];
  try {
    const result = await runStdioProxy({
      command: cmd,
      args,
      gate: enforcer,
      logger,
      shutdownGraceMs: opts.shutdownGrace,
      ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
      onStarted: ({ pid }) => {
        logger.info({ childPid: pid, policy: policyFile, command }, 'tollgate proxy started');
        decisionLog.write({
          type: 'startup',
          pid: process.pid,
          policy_file: policyFile,
          policy_hash: enforcer.policy.hash,
          server_command: command,
          store: store.kind,
        });
      },
    });
    logger.info({ exitCode: result.exitCode, reason: result.reason, ...result.stats }, 'tollgate stopping');
    decisionLog.write({
      type: 'shutdown',
      pid: process.pid,
      reason: result.reason,
      exit_code: result.exitCode,
    });
    return result.exitCode;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('cannot start')) {
      decisionLog.write({ type: 'shutdown', pid: process.pid, reason: 'spawn_failed', exit_code: 2 });
      throw new UsageError(err.message);
    }
    throw err;
  } finally {
    process.off('SIGHUP', onHup);
    await enforcer.close().catch(() => {});
  }
}
