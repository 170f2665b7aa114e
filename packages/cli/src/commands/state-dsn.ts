import { isAbsolute, resolve } from 'node:path';
import { sqliteFileOf } from '@tollgate/runtime';

/**
 * The counter store DSN: `--state-dsn`, else `TOLLGATE_STATE_DSN` (set and not blank) unless
 * `--state-dir` was given, else none (SQLite under the state directory). Shared by the proxy and
 * `explain`, so both read the same counters.
 */
export function stateDsnOf(
  opts: { stateDsn?: string; stateDir?: string },
  env: NodeJS.ProcessEnv,
): string | undefined {
  // Spaces around a pasted DSN would make `  redis://...` a SQLite file name.
  if (opts.stateDsn !== undefined) return opts.stateDsn.trim();
  if (opts.stateDir !== undefined) return undefined;
  const fromEnv = env.TOLLGATE_STATE_DSN;
  return fromEnv?.trim() ? fromEnv.trim() : undefined;
}

/**
 * Why the counter store options are unusable as given, or undefined: an empty `--state-dsn`
 * (`"$REDIS_URL"` with the variable unset), or a set but blank `TOLLGATE_STATE_DSN` in `env`
 * (when no `--state-dsn` or `--state-dir` decides), would count in local SQLite unsaid, and an
 * empty `--state-prefix` would mean different keys to the proxy and to `explain`. Shared by both.
 */
export function emptyStateOptionProblem(
  opts: {
    stateDsn?: string;
    stateDir?: string;
    statePrefix?: string;
  },
  env: NodeJS.ProcessEnv = {},
): string | undefined {
  if (opts.stateDsn !== undefined && opts.stateDsn.trim() === '') {
    return '--state-dsn is empty (an unset variable?): give the store, or leave it out for SQLite under the state directory';
  }
  // The same mistake made in a client's `env` block (`"TOLLGATE_STATE_DSN": "${REDIS_URL}"`): each
  // machine would count on its own, every limit multiplied by the number of proxies.
  const fromEnv = env.TOLLGATE_STATE_DSN;
  if (
    opts.stateDsn === undefined &&
    opts.stateDir === undefined &&
    fromEnv !== undefined &&
    fromEnv.trim() === ''
  ) {
    return 'TOLLGATE_STATE_DSN is set but empty (an unset variable?): give the store, or remove the variable for SQLite under the state directory';
  }
  if (opts.statePrefix === '')
    return '--state-prefix is empty: leave it out for the default prefix "tollgate:"';
  return undefined;
}

/** The path settings of Tollgate's own files, as given: options first, then the environment. */
function pathSettings(
  opts: { stateDsn?: string; stateDir?: string },
  env: NodeJS.ProcessEnv,
): [name: string, value: string][] {
  const out: [string, string][] = [];
  const dsn = stateDsnOf(opts, env);
  // Only a SQLite DSN is a path (`sqlite:<file>` or a bare file name); other URLs are refused
  // when the store opens.
  const file = dsn && !/^[a-z][a-z0-9+.-]*:\/\//i.test(dsn) ? sqliteFileOf({ stateDsn: dsn }) : undefined;
  if (file !== undefined)
    out.push([opts.stateDsn !== undefined ? '--state-dsn' : 'TOLLGATE_STATE_DSN', file]);
  if (opts.stateDir !== undefined) out.push(['--state-dir', opts.stateDir]);
  else if (!dsn && env.TOLLGATE_STATE_DIR) out.push(['TOLLGATE_STATE_DIR', env.TOLLGATE_STATE_DIR]);
  // The decision log's directory, whatever the store.
  if (env.TOLLGATE_HOME) out.push(['TOLLGATE_HOME', env.TOLLGATE_HOME]);
  return out;
}

/**
 * Why a path setting of Tollgate's own files cannot be used as given, or undefined: a value
 * starting with `~` (`--state-dir ~/.tollgate/x`, `"TOLLGATE_HOME": "~/tg"` in a client's JSON
 * config) is not expanded by anything but a shell, so it would name a directory called `~` in the
 * working directory: counters and the decision log apart from every other run, where `tollgate
 * status` never looks. Checks `--state-dsn` (a SQLite path), `--state-dir`, `TOLLGATE_STATE_DSN`,
 * `TOLLGATE_HOME` and `TOLLGATE_STATE_DIR`.
 */
export function unexpandedTildeProblem(
  opts: { stateDsn?: string; stateDir?: string },
  env: NodeJS.ProcessEnv,
): string | undefined {
  for (const [name, value] of pathSettings(opts, env)) {
    if (value.startsWith('~'))
      return `${name} ${value} starts with ~, which is not expanded here (only a shell expands it; MCP clients pass it as written): write the absolute path`;
  }
  return undefined;
}

/**
 * The path settings (see {@link unexpandedTildeProblem}) that are relative, each with the
 * absolute path it resolves to against `cwd`. MCP clients start the proxy in a working directory
 * of their choosing, so a relative path lands somewhere else for each client.
 */
export function relativePathSettings(
  opts: { stateDsn?: string; stateDir?: string },
  env: NodeJS.ProcessEnv,
  cwd: string,
): { name: string; value: string; resolved: string }[] {
  return pathSettings(opts, env)
    .filter(([, value]) => !isAbsolute(value))
    .map(([name, value]) => ({ name, value, resolved: resolve(cwd, value) }));
}
