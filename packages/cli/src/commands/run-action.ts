/**
 * Runs the root command (see run.ts): opens the counter store, the decision log and the
 * enforcer, then the stdio proxy, or hands over to the remote modes (remote-action.ts).
 */

import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { didYouMean } from '@tollgate/policy';
import { bearerTokenProblem, DEFAULT_MAX_MESSAGE_BYTES, runStdioProxy } from '@tollgate/proxy';
import {
  createEnforcer,
  createLogger,
  defaultPaths,
  loadArgsKey,
  openCounterStore,
  openDecisionLog,
  PolicyLoadError,
  redactDsn,
  sqliteFileOf,
} from '@tollgate/runtime';
import { SUBCOMMANDS } from '../commands-tree.js';
import { takeOverSighup } from '../early-sighup.js';
import { serverCommandProblem } from '../option-values.js';
import { plural } from '../plural.js';
import { procStartField } from '../process-start.js';
import { redactCommand } from '../redact-command.js';
import { childEnvironment, SECRET_VARIABLES } from './child-env.js';
import { listenerOnlyProblem, type RemoteOptions, remoteUsageProblem, wantsRemote } from './remote.js';
import { runRemote } from './remote-action.js';
import type { RunOptions } from './run.js';
import {
  emptyStateOptionProblem,
  relativePathSettings,
  stateDsnOf,
  unexpandedTildeProblem,
} from './state-dsn.js';

/** A usage problem: printed with a hint, exit code 2. */
export class UsageError extends Error {}

/**
 * The paths one server argument may name: the argument, the value of `--name=value`, a `~/` path
 * under the home directory, a `file://` URL's path, and each part of a `,` or `:` separated list
 * (`--dirs=/a,/b`, `-v /data:/data`).
 */
function directoryCandidates(arg: string): string[] {
  const value = /^--?[\w-]+=(.+)$/.exec(arg)?.[1] ?? arg;
  if (value.startsWith('-') || value === '') return [];
  const out = [value];
  // JSON client configs pass `~` as written; servers such as server-filesystem expand it.
  if (value === '~' || value.startsWith('~/')) out.push(join(homedir(), value.slice(1)));
  if (value.startsWith('file:')) {
    try {
      out.push(fileURLToPath(value));
    } catch {
      // not a file URL after all
    }
  }
  for (const part of value.split(/[,:]/)) if (part !== '' && part !== value) out.push(part);
  return out;
}

/**
 * The first directory among the server's arguments (`/srv/work`, `--root=/srv/work`,
 * `file:///srv/work`, `--dirs=/a,/srv/work`) that holds `file`, both with symlinks resolved;
 * undefined when none does, or when `file`'s directory does not exist. A filesystem-like server given
 * that directory can write the policy (docs/clients.md, "Keep the policy where the agent cannot
 * write").
 */
export function directoryArgumentHolding(file: string, args: readonly string[]): string | undefined {
  // The path as Tollgate reads it (its directory resolved: a symlink named `policy.yaml` inside
  // the directory can be replaced there) and the file it points to now.
  const paths: string[] = [];
  try {
    paths.push(join(realpathSync(dirname(file)), basename(file)));
    paths.push(realpathSync(file));
  } catch {
    // A file not created yet (a log's next file) is judged by its directory alone.
    if (paths.length === 0) return undefined;
  }
  for (const candidate of args.flatMap(directoryCandidates)) {
    let dir: string;
    try {
      if (!statSync(candidate).isDirectory()) continue;
      dir = realpathSync(candidate);
    } catch {
      continue;
    }
    const inside = dir.endsWith(sep) ? dir : `${dir}${sep}`;
    if (paths.some((p) => p.startsWith(inside))) return candidate;
  }
  return undefined;
}

/**
 * Whether a directory given to the server holds this process's `/proc/<pid>` while the process
 * holds a secret there: a variable of {@link SECRET_VARIABLES} in its environment (the DSN only
 * when it carries credentials; `/proc/<pid>/environ` keeps the environment the process started
 * with, whatever it deletes later) or a credential among its own options, before `--`
 * (`--state-dsn redis://:pw@host`, `--auth-token`: what {@link redactCommand} masks). A server
 * running as the same user reads both files.
 *
 * @param args - the server's arguments (after the executable)
 * @returns the directory argument and what it would expose, or undefined
 */
export function ownSecretsReadableIn(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv,
): { directory: string; secrets: string[] } | undefined {
  // A DSN is a secret when it carries credentials (`memory:` and a SQLite path are none).
  const secrets: string[] = SECRET_VARIABLES.filter((name) => {
    const value = env[name]?.trim();
    if (!value) return false;
    return name !== 'TOLLGATE_STATE_DSN' || redactDsn(value) !== value;
  });
  // Tollgate's own options only: the server has the words after `--` anyway.
  const end = argv.indexOf('--');
  const own = end === -1 ? argv : argv.slice(0, end);
  const shown = redactCommand(own);
  if (shown.some((word, i) => word !== own[i])) secrets.push('the credentials on its command line');
  if (secrets.length === 0) return undefined;
  const directory = directoryArgumentHolding(`/proc/${process.pid}/environ`, args);
  return directory === undefined ? undefined : { directory, secrets };
}

/**
 * Runs the proxy and resolves with the exit code. Throws {@link UsageError} for usage problems.
 *
 * @param argv - the raw command line (to check that `--` precedes the server command)
 * @param given - whether the user set an option (rather than commander filling in its default,
 *   as for `--bind` and `--port`); `getOptionValueSource` of the command tells
 */
export async function runProxyCommand(
  command: string[],
  opts: RunOptions,
  argv: string[],
  given: (key: keyof RemoteOptions) => boolean,
): Promise<number> {
  // `tollgate valdate -c p.yaml`: a misspelt subcommand reads as a server command.
  const meant = command.length > 0 ? didYouMean(command[0]!, [...SUBCOMMANDS]) : undefined;
  if (!opts.config) {
    if (command.length === 0) {
      throw new UsageError('missing -c <policy.yaml> and the server command (see tollgate --help)');
    }
    // `tollgate -- node server.js -c p.yaml`: everything after -- is the server's. Only a value
    // that looks like a policy file is taken for Tollgate's (`bash -c "..."` is the server's own).
    const late = command.findIndex((a) => a === '-c' || a === '--config' || a.startsWith('--config='));
    if (argv.includes('--') && late >= 0) {
      const value = command[late]!.includes('=') ? command[late]!.split('=')[1]! : (command[late + 1] ?? '');
      throw new UsageError(
        /\.(ya?ml|json)$/i.test(value)
          ? `missing -c <policy.yaml>: the ${command[late]!.split('=')[0]} ${value} after -- goes to the server command; put it before --: tollgate -c ${value} -- <command> [args...]`
          : 'missing -c <policy.yaml> for Tollgate (options after -- are passed to the server command): tollgate -c <policy.yaml> -- <command> [args...]',
      );
    }
    // With --, the words after it are plainly a server command: no subcommand was meant.
    if (argv.includes('--'))
      throw new UsageError('missing -c <policy.yaml>: tollgate -c <policy.yaml> -- <command> [args...]');
    throw new UsageError(
      `missing -c <policy.yaml> (did you mean a subcommand? "${command[0]}" is not one${meant ? `; did you mean \`tollgate ${meant}\`?` : ''})`,
    );
  }
  // Listener flags without the listener would be silently ignored (a --bind 0.0.0.0 the user
  // believes in, an --auth-token that protects nothing).
  const listenerProblem = listenerOnlyProblem(opts, given);
  if (listenerProblem) throw new UsageError(listenerProblem);
  const remote = wantsRemote(opts);
  if (remote) {
    const problem = remoteUsageProblem(command, opts) ?? authTokenProblem(opts, process.env);
    if (problem) throw new UsageError(problem);
  } else if (opts.header?.length) {
    throw new UsageError('--header only applies to --upstream (the stdio proxy sends no HTTP requests)');
  } else if (command.length === 0) {
    throw new UsageError('missing the server command: tollgate -c policy.yaml -- <command> [args...]');
  } else {
    const problem = serverCommandProblem(command);
    if (problem) throw new UsageError(problem);
  }
  if (command.length > 0 && !argv.includes('--')) {
    if (meant)
      throw new UsageError(
        `"${command[0]}" is not a command: did you mean \`tollgate ${meant}\`? (a server command goes after --)`,
      );
    throw new UsageError(
      `put -- before the server command, so its flags are not read as Tollgate's: tollgate -c ${opts.config} -- ${redactCommand(command).join(' ')}`,
    );
  }
  if (opts.stateDir && opts.stateDsn) throw new UsageError('use either --state-dir or --state-dsn, not both');
  // Each listener session then counts in its own memory store: a shared store named here would
  // never be used, and its author would believe the counters shared.
  if (opts.perSessionCounters && (opts.stateDsn !== undefined || opts.statePrefix !== undefined)) {
    throw new UsageError(
      `--per-session-counters counts each session in its own memory store: ${opts.stateDsn !== undefined ? '--state-dsn' : '--state-prefix'} would not be used (leave one of them out)`,
    );
  }
  // `TOLLGATE_STATE_DSN` keeps a Redis password off the command line (and out of `ps`); a flag wins.
  const stateDsn = stateDsnOf(opts, process.env);
  const emptyOption = emptyStateOptionProblem(opts, process.env) ?? unexpandedTildeProblem(opts, process.env);
  if (emptyOption) throw new UsageError(emptyOption);
  if (opts.statePrefix !== undefined && !/^rediss?:\/\//.test(stateDsn ?? '')) {
    // Silently ignoring it would leave the counters shared that the user meant to separate.
    throw new UsageError(
      '--state-prefix applies to a Redis store (--state-dsn redis://...); to keep the counters of this server apart in SQLite, give it its own --state-dir',
    );
  }

  if (opts.config === '-') {
    // Standard input carries the MCP stream here; the one-shot commands read `-c -`.
    throw new UsageError(
      `the proxy cannot read its policy from standard input (-c -): ${remote ? '' : 'stdin carries the MCP messages, and '}the policy is read again when it changes and on SIGHUP; save it to a file (tollgate validate and tollgate explain read -c -)`,
    );
  }
  const policyFile = resolve(opts.config);
  // Fail before touching the store when the file cannot be read; the enforcer parses it (once).
  try {
    accessSync(policyFile, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    // MCP clients start Tollgate in a directory of their own and pass `~` unexpanded (JSON).
    const where = policyFile === opts.config ? '' : ` (looked for ${policyFile})`;
    const tilde = opts.config.startsWith('~') ? '; ~ is not expanded here: write the absolute path' : '';
    throw new UsageError(`cannot read policy ${opts.config}: ${code}${where}${tilde}`);
  }
  // A pipe (`-c <(...)`, `-c /dev/stdin`) can be read once; the proxy reads its policy again on
  // every change and on SIGHUP, so it takes a regular file only (the one-shot commands take pipes).
  const st = statSync(policyFile);
  if (st.isDirectory()) throw new UsageError(`cannot read policy ${opts.config}: EISDIR`);
  if (!st.isFile()) {
    throw new UsageError(
      `policy ${opts.config} is not a regular file: the proxy re-reads its policy when the file changes and on SIGHUP, so -c needs a file that can be read again (save the policy to a file; tollgate validate, explain and test also read pipes)`,
    );
  }

  const logger = createLogger({ level: opts.logLevel });
  // The listener in front of `-- CMD` gives the child the same arguments; only --upstream has none.
  const exposedIn = opts.upstream ? undefined : directoryArgumentHolding(policyFile, command.slice(1));
  if (exposedIn !== undefined) {
    logger.warn(
      { policyFile, directory: exposedIn },
      `the policy file is inside ${exposedIn}, a directory the server is given: an agent that can write there can rewrite the policy, and Tollgate reloads it. Keep the policy outside every directory the server or the client can write (or run with --no-watch and reload with SIGHUP)`,
    );
  }
  const paths = defaultPaths();
  let store: Awaited<ReturnType<typeof openCounterStore>>;
  try {
    store = await openCounterStore({
      ...(stateDsn ? { stateDsn } : { stateDir: opts.stateDir ?? paths.stateDir }),
      ...(opts.statePrefix !== undefined ? { prefix: opts.statePrefix } : {}),
      failMode: opts.stateFailMode,
      leases: opts.stateLeases,
      // The proxy keeps running: the store reconnects by itself, and the fail mode decides meanwhile.
      onUnreachable: (message) => logger.warn({ failMode: opts.stateFailMode }, message),
      onWarning: (message) => logger.error(message),
    });
  } catch (err) {
    throw new UsageError(
      `cannot open the counter store: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const sqliteFile = sqliteFileOf(stateDsn ? { stateDsn } : { stateDir: opts.stateDir ?? paths.stateDir });
  // Which store counts is the first thing to check when limits are not shared as meant.
  const storeLabel = opts.perSessionCounters
    ? 'memory: (one store per listener session)'
    : stateDsn
      ? redactDsn(stateDsn)
      : `sqlite:${sqliteFile}`;
  logger.info(
    { store: storeLabel, failMode: opts.stateFailMode },
    `counting in ${storeLabel} (state fail mode ${opts.stateFailMode})`,
  );
  const envDsn = process.env.TOLLGATE_STATE_DSN?.trim();
  if (opts.stateDir !== undefined && opts.stateDsn === undefined && envDsn && !opts.perSessionCounters) {
    logger.warn(
      { stateDir: opts.stateDir, ignored: redactDsn(envDsn) },
      `--state-dir wins over TOLLGATE_STATE_DSN (${redactDsn(envDsn)}): this proxy counts in its own SQLite file and shares no limit with the proxies using that store; leave out --state-dir to use it`,
    );
  }
  // Once the store opened: a mistyped DSN (`redis//host`) is reported as that, not as a path.
  for (const { name, value, resolved } of relativePathSettings(opts, process.env, process.cwd())) {
    logger.warn(
      { [name]: value, resolved },
      `${name} ${value} is a relative path: it resolves to ${resolved}, against the working directory, which each MCP client chooses for itself; write the absolute path`,
    );
  }
  let argsKey: Uint8Array | undefined;
  try {
    argsKey = loadArgsKey(paths.argsKeyFile);
  } catch (err) {
    logger.warn(
      { file: paths.argsKeyFile, err: err instanceof Error ? err.message : String(err) },
      "cannot read or create the decision log's arguments key: this process hashes arguments with a key of its own, so its args_hmac values match no other process's",
    );
  }
  const decisionLog = openDecisionLog({
    dir: paths.eventsDir,
    logArgs: opts.logArgs ?? false,
    ...(argsKey ? { argsKey } : {}),
    onError: (err) => logger.warn({ err: err.message }, 'decision log write failed'),
  });
  // The counts and the audit trail are Tollgate's to keep, as the policy is: in a directory the
  // server is given, an agent could empty the SQLite file (every limit starts over) or the log.
  // Checked once the store and the log have created their directories (the check resolves them).
  if (!opts.upstream) {
    for (const [file, what, risk] of [
      [
        sqliteFile,
        `the counter state (${sqliteFile})`,
        'reset every rate limit and counter by emptying or deleting it',
      ],
      [paths.eventsDir, `the decision log (${paths.eventsDir})`, 'rewrite or delete the record of its calls'],
    ] as const) {
      const dir = file === undefined ? undefined : directoryArgumentHolding(file, command.slice(1));
      if (dir !== undefined) {
        logger.warn(
          { file, directory: dir },
          `${what} is inside ${dir}, a directory the server is given: an agent that can write there can ${risk}. Keep TOLLGATE_HOME (or --state-dir) outside every directory the server can write`,
        );
      }
    }
  }
  const procExposed = opts.upstream ? undefined : ownSecretsReadableIn(command.slice(1));
  if (procExposed !== undefined) {
    logger.warn(
      { directory: procExposed.directory, secrets: procExposed.secrets },
      `the server is given ${procExposed.directory}, which holds /proc: its file tools can read /proc/${process.pid}/environ and cmdline, Tollgate's own environment and command line, with ${procExposed.secrets.join(' and ')}, which Tollgate keeps from the server otherwise. Give the server narrower directories, or run it as another user`,
    );
  }
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
        `policy ${opts.config} is invalid (${plural(err.errors.length || 1, 'error')}); not starting`,
      );
    }
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  // SIGHUP re-reads the policy (the daemon convention) instead of reaching the server.
  const onHup = () => {
    void enforcer
      .reload()
      .then((ok) =>
        ok
          ? logger.info({ ok }, 'policy reloaded on SIGHUP')
          : logger.warn({ ok }, 'policy reload on SIGHUP failed; the policy in force is kept'),
      );
  };
  takeOverSighup(onHup);

  // `--max-message-bytes`, or the one default every mode shares (the stdio proxy, upstream mode,
  // the listener), both directions.
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (remote) {
    try {
      return await runRemote(command, opts, {
        enforcer,
        logger,
        decisionLog,
        policyFile,
        shutdownGraceMs: opts.shutdownGrace,
        maxMessageBytes,
      });
    } finally {
      process.off('SIGHUP', onHup);
      await closeEnforcer(enforcer);
    }
  }

  const [cmd, ...args] = command as [string, ...string[]];
  try {
    const result = await runStdioProxy({
      command: cmd,
      args,
      env: childEnvironment(process.env),
      gate: enforcer,
      logger,
      shutdownGraceMs: opts.shutdownGrace,
      maxMessageBytes,
      onStarted: ({ pid }) => {
        // Credentials given to the server as arguments are masked in both (see redactCommand).
        const shown = redactCommand(command);
        logger.info({ childPid: pid, policy: policyFile, command: shown }, 'tollgate proxy started');
        decisionLog.write({
          type: 'startup',
          pid: process.pid,
          policy_file: policyFile,
          policy_hash: enforcer.policy.hash,
          server_command: shown,
          store: store.kind,
          ...procStartField(),
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
    await closeEnforcer(enforcer);
  }
}

/**
 * The listener's bearer token (`--auth-token`, else `TOLLGATE_AUTH_TOKEN`) when no client could
 * send it as `Authorization: Bearer <token>` (see `bearerTokenProblem`): every request would get 401
 * with nothing to say why. A trailing newline is the usual cause (`echo "$SECRET" > file`). The
 * token is never shown.
 */
function authTokenProblem(opts: RemoteOptions, env: NodeJS.ProcessEnv): string | undefined {
  if (opts.transport !== 'http') return undefined;
  const [source, token] =
    opts.authToken !== undefined
      ? ['--auth-token', opts.authToken]
      : ['TOLLGATE_AUTH_TOKEN', env.TOLLGATE_AUTH_TOKEN?.trim() ? env.TOLLGATE_AUTH_TOKEN : undefined];
  return token === undefined ? undefined : bearerTokenProblem(source, token);
}

/**
 * Closes the enforcer (the decision log, then the counter store: a Redis store waits, bounded by
 * its command timeout plus 250 ms, for the commits still on their way). A SIGINT or SIGTERM
 * meanwhile (an MCP client sends SIGTERM 2 s after closing stdin) does not cut that short: the
 * proxy is already stopping.
 */
async function closeEnforcer(enforcer: { close(): Promise<void> }): Promise<void> {
  const stopping = () => {};
  process.on('SIGINT', stopping);
  process.on('SIGTERM', stopping);
  try {
    await enforcer.close().catch(() => {});
  } finally {
    process.off('SIGINT', stopping);
    process.off('SIGTERM', stopping);
  }
}
