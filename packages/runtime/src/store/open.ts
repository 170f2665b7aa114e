import { join } from 'node:path';
import { defaultPaths } from '../paths.js';
import type { CounterStore } from './counter-store.js';
import { LeasedCounterStore, type LeaseOptions } from './lease.js';
import { MemoryCounterStore } from './memory.js';
import { RedisCounterStore } from './redis.js';
import { SqliteCounterStore } from './sqlite.js';

/** Options of {@link openCounterStore} (the CLI's `--state-dir`, `--state-dsn`, `--state-prefix`). */
export interface OpenCounterStoreOptions {
  /** Directory of the SQLite file `tollgate.sqlite` (default {@link defaultPaths}().stateDir). */
  stateDir?: string;
  /**
   * `memory:` for an in-process store, `redis://...` / `rediss://...` for Redis,
   * `sqlite:<file>` or a bare file path for an explicit SQLite file. Unset: SQLite under `stateDir`.
   */
  stateDsn?: string;
  /** Redis key prefix (default `tollgate:`). */
  prefix?: string;
  /**
   * Only affects start-up: with `open`, a Redis that is down at start is not waited for. The
   * per-call fail mode lives in the enforcer.
   */
  failMode?: 'closed' | 'open';
  /** Life of an uncommitted reservation in ms (default 15 min). */
  reservationTtlMs?: number;
  /**
   * Called once when a Redis store cannot be reached within the start-up wait (2000 ms with fail
   * mode `closed`, 500 ms with `open`), with a one-line message naming the DSN (password hidden)
   * and what the fail mode does meanwhile. The CLI logs it as a warning on stderr.
   */
  onUnreachable?: (message: string) => void;
  /**
   * Counter leases in front of SQLite and Redis (default `true`; the CLI's `--no-state-leases`
   * sets `false`): fixed-window counters far from their bound are admitted from blocks of quota
   * reserved in one transaction ({@link LeasedCounterStore}). An object tunes them. Never used for
   * the memory store.
   */
  leases?: boolean | LeaseOptions;
}

/** `dsn` with any password replaced by `***`, for logs. */
export function redactDsn(dsn: string): string {
  try {
    const u = new URL(dsn);
    if (!u.password) return dsn;
    u.password = '***';
    return u.toString();
  } catch {
    return dsn;
  }
}

/**
 * The start-up warning for a Redis store that is not reachable yet (see
 * {@link OpenCounterStoreOptions.onUnreachable}).
 *
 * @param waitedMs - how long start-up waited for the connection, ms
 */
export function unreachableStoreMessage(dsn: string, failMode: 'closed' | 'open', waitedMs: number): string {
  const effect =
    failMode === 'closed'
      ? 'calls that use counters will be denied (state_unavailable) until it is reachable'
      : 'calls that use counters will pass uncounted until it is reachable';
  return `counter store ${redactDsn(dsn)} is not reachable (waited ${waitedMs} ms); state fail mode is ${failMode}: ${effect}. Reconnecting in the background.`;
}

/**
 * Open the counter store selected by the options (DESIGN section 4). SQLite and Redis come
 * wrapped in a {@link LeasedCounterStore} unless `leases: false`.
 *
 * A Redis that is unreachable at start does not throw: `onUnreachable` is told, the store keeps
 * reconnecting and calls meanwhile report `state_unavailable` (fail-closed) or pass (fail-open).
 * Opening SQLite never waits unboundedly: a state directory that cannot be created (`/proc/x`,
 * `/dev/null/x`, read-only) fails at once.
 *
 * @throws StateUnavailableError when the SQLite file or its directory cannot be opened
 * @throws Error when `stateDsn` has an unknown scheme
 */
export async function openCounterStore(opts: OpenCounterStoreOptions = {}): Promise<CounterStore> {
  const dsn = opts.stateDsn;
  const ttl = opts.reservationTtlMs;
  const leased = (store: CounterStore): CounterStore =>
    opts.leases === false
      ? store
      : new LeasedCounterStore(store, typeof opts.leases === 'object' ? opts.leases : {});
  if (dsn === 'memory:' || dsn === 'memory') return new MemoryCounterStore({ reservationTtlMs: ttl });
  if (dsn && /^rediss?:\/\//.test(dsn)) {
    const store = new RedisCounterStore({ url: dsn, prefix: opts.prefix, reservationTtlMs: ttl });
    const failMode = opts.failMode ?? 'closed';
    const waitMs = failMode === 'open' ? 500 : 2000;
    if (!(await store.ready(waitMs))) opts.onUnreachable?.(unreachableStoreMessage(dsn, failMode, waitMs));
    return leased(store);
  }
  if (dsn && /^[a-z][a-z0-9+.-]*:\/\//i.test(dsn)) {
    throw new Error(`unsupported --state-dsn ${dsn}: use memory:, redis://host:port, or a SQLite file path`);
  }
  const file = dsn
    ? dsn.replace(/^sqlite:/, '')
    : join(opts.stateDir ?? defaultPaths().stateDir, 'tollgate.sqlite');
  return leased(new SqliteCounterStore({ file, reservationTtlMs: ttl }));
}
