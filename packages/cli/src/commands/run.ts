/**
 * The root command: `tollgate -c policy.yaml [options] -- <server command> [args...]`, the
 * transparent stdio MCP proxy (DESIGN section 3). Options sit on the root program so the
 * command line matches PolicyLayer Intercept's (`-c`, `--state-dir`, `--state-dsn`); the
 * program uses positional options, so `tollgate validate -c x` still reaches its subcommand.
 * This module only declares the command; `run-action.ts` runs it.
 *
 * Exit codes: the child's exit code (128 + signal number when a signal ended it); 2 for usage
 * errors, an unreadable or invalid policy, a state store that cannot open, or a command that
 * cannot be started.
 */

import { type Command, InvalidArgumentError, Option } from 'commander';
import { notAnOption } from '../option-once.js';
import { decimalWholeNumber, directoryGiven, MAX_TIMER_MS } from '../option-values.js';
import { addRemoteOptions, positiveInteger, type RemoteOptions } from './remote.js';

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

/**
 * `--shutdown-grace`: 0 is meaningful (no wait: stdin EOF, SIGTERM and SIGKILL at once); at most
 * {@link MAX_TIMER_MS}, as the wait is a timer's delay (Node would cut a longer one to 1 ms).
 */
function nonNegativeInt(value: string): number {
  const n = decimalWholeNumber(value);
  if (n === undefined || n > MAX_TIMER_MS)
    throw usage(
      `must be a whole number of milliseconds from 0 (kill the server at once) to ${MAX_TIMER_MS} (about 24.8 days, the longest timer Node keeps)`,
    );
  return n;
}

/** Registers the proxy on the ROOT program (no subcommand): `tollgate -c FILE -- CMD ARGS...`. */
export function registerRun(program: Command): void {
  program
    .usage('-c <policy.yaml> [options] -- <server command> [args...]\n       tollgate <command> [options]')
    .option('-c, --config <file>', 'policy file (YAML) to enforce', notAnOption)
    .option(
      '--state-dir <dir>',
      'directory of the SQLite counter store (default: $TOLLGATE_STATE_DIR, else $TOLLGATE_HOME/state, else ~/.tollgate/state)',
      directoryGiven,
    )
    .option(
      '--state-dsn <url>',
      'shared counter store, e.g. redis://127.0.0.1:6379/0 (default $TOLLGATE_STATE_DSN; instead of --state-dir)',
    )
    .option('--state-prefix <prefix>', 'Redis key prefix (default "tollgate:"; Redis only)')
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
        .env('TOLLGATE_LOG_LEVEL')
        .default('info'),
    )
    .option('--log-args', 'record tool arguments in the decision log (off: they may hold secrets)')
    .option(
      '--max-message-bytes <n>',
      'largest accepted message in either direction, in bytes (default: 67108864, 64 MiB)',
      positiveInteger('bytes'),
    )
    .option('--no-watch', 'do not reload the policy when the file changes (SIGHUP still reloads it)')
    .option(
      '--shutdown-grace <ms>',
      'wait between stdin EOF, SIGTERM and SIGKILL for the server (0: no wait, SIGKILL at once)',
      nonNegativeInt,
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
  tollgate help scan                 (the same as tollgate scan --help)

Stdout carries only MCP messages; logs go to stderr. The stdio proxy exits with the server's
exit code; --transport http and --upstream exit 0 on a signal or the client's EOF, 2 on usage
errors.`,
    )
    .action(async (command: string[], opts: RunOptions, cmd: Command) => {
      // The proxy's modules (SQLite, Redis client, JSON Schema compiler, file watcher) load only
      // when the proxy runs: `tollgate --help` and the subcommands stay quick.
      const { runProxyCommand, UsageError } = await import('./run-action.js');
      try {
        const given = (key: string) => {
          const source = cmd.getOptionValueSource(key);
          return source !== undefined && source !== 'default';
        };
        const code = await runProxyCommand(command, opts, rawArgs(cmd), given);
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
