import { join } from 'node:path';
import { defaultPaths } from '../paths.js';
import type { CounterStore } from './counter-store.js';
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
}

/**
 * Open the counter store selected by the options (DESIGN section 4).
 *
 * A Redis that is unreachable at start does not throw: the store keeps reconnecting and calls
 * meanwhile report `state_unavailable` (fail-closed) or pass (fail-open).
 *
 * @throws StateUnavailableError when the SQLite file cannot be opened
 * @throws Error when `stateDsn` has an unknown scheme
 */
export async function openCounterStore(opts: OpenCounterStoreOptions = {}): Promise<CounterStore> {
  const dsn = opts.stateDsn;
  const ttl = opts.reservationTtlMs;
  if (dsn === 'memory:' || dsn === 'memory') return new MemoryCounterStore({ reservationTtlMs: ttl });
  if (dsn && /^rediss?:\/\//.test(dsn)) {
    const store = new RedisCounterStore({ url: dsn, prefix: opts.prefix, reservationTtlMs: ttl });
    await store.ready(opts.failMode === 'open' ? 500 : 2000);
    return store;
  }
  if (dsn && /^[a-z][a-z0-9+.-]*:\/\//i.test(dsn)) {
    throw new Error(`unsupported --state-dsn ${dsn}: use memory:, redis://host:port, or a SQLite file path`);
  }
  const file = dsn
    ? dsn.replace(/^sqlite:/, '')
    : join(opts.stateDir ?? defaultPaths().stateDir, 'tollgate.sqlite');
  return new SqliteCounterStore({ file, reservationTtlMs: ttl });
}
