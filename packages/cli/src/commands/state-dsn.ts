/**
 * The counter store DSN: `--state-dsn`, else `TOLLGATE_STATE_DSN` (set and not blank) unless
 * `--state-dir` was given, else none (SQLite under the state directory). Shared by the proxy and
 * `explain`, so both read the same counters.
 */
export function stateDsnOf(
  opts: { stateDsn?: string; stateDir?: string },
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (opts.stateDsn !== undefined) return opts.stateDsn;
  if (opts.stateDir !== undefined) return undefined;
  const fromEnv = env.TOLLGATE_STATE_DSN;
  return fromEnv?.trim() ? fromEnv : undefined;
}

/**
 * Why the counter store options are unusable as given, or undefined: an empty `--state-dsn`
 * (`"$REDIS_URL"` with the variable unset) would count in local SQLite unsaid, and an empty
 * `--state-prefix` would mean different keys to the proxy and to `explain`. Shared by both.
 */
export function emptyStateOptionProblem(opts: {
  stateDsn?: string;
  statePrefix?: string;
}): string | undefined {
  if (opts.stateDsn !== undefined && opts.stateDsn.trim() === '') {
    return '--state-dsn is empty (an unset variable?): give the store, or leave it out for SQLite under the state directory';
  }
  if (opts.statePrefix === '')
    return '--state-prefix is empty: leave it out for the default prefix "tollgate:"';
  return undefined;
}
