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
