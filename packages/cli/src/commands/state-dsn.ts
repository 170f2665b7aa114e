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
