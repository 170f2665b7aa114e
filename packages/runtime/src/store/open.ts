import { join } from 'node:path';
import { defaultPaths } from '../paths.js';
import { type CounterStore, StateUnavailableError } from './counter-store.js';
import { LeasedCounterStore, type LeaseOptions } from './lease.js';
import { MemoryCounterStore } from './memory.js';
import { RedisCounterStore, redactDsn } from './redis.js';
import { SqliteCounterStore } from './sqlite.js';

export { redactDsn } from './redis.js';

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
   * mode `closed`, 500 ms with `open`), refuses the credentials (at once), or is a read-only
   * replica (Redis `ROLE`, {@link replicaStoreMessage}), with a one-line
   * message naming the DSN (password hidden), the refusal if any, and what the fail mode does
   * meanwhile. The CLI logs it as a warning on stderr.
   */
  onUnreachable?: (message: string) => void;
  /**
   * Told when the SQLite state file was deleted or replaced while in use and the store moved to
   * the file now at its path, carrying the counts over (see `SqliteCounterStore`).
   */
  onWarning?: (message: string) => void;
  /**
   * Counter leases in front of SQLite and Redis (default `true`; the CLI's `--no-state-leases`
   * sets `false`): fixed-window counters far from their bound are admitted from blocks of quota
   * reserved in one transaction ({@link LeasedCounterStore}). An object tunes them. Never used for
   * the memory store.
   */
  leases?: boolean | LeaseOptions;
}

/**
 * The start-up line for a Redis DSN that leads to a read-only replica (Redis `ROLE`): it refuses
 * the writes every counted call makes. `primary` is the `host:port` it replicates.
 */
export function replicaStoreMessage(dsn: string, failMode: 'closed' | 'open', primary: string): string {
  const effect =
    failMode === 'closed'
      ? 'calls that use counters will be denied (state_unavailable)'
      : 'calls that use counters will pass uncounted';
  return `counter store ${redactDsn(dsn)} is a read-only replica of ${primary}; state fail mode is ${failMode}: ${effect} until the DSN leads to the primary (as after a failover). Point --state-dsn at the primary.`;
}

/**
 * The start-up warning for a Redis store that is not reachable yet (see
 * {@link OpenCounterStoreOptions.onUnreachable}).
 *
 * @param waitedMs - how long start-up waited for the connection, ms
 * @param refusal - what Redis refused, when it answered (`Redis refused the credentials (WRONGPASS ...)`)
 * @param lastError - what the latest attempt to connect said (`connect ECONNREFUSED 127.0.0.1:6379`)
 */
export function unreachableStoreMessage(
  dsn: string,
  failMode: 'closed' | 'open',
  waitedMs: number,
  refusal?: string,
  lastError?: string,
): string {
  const until = refusal ? 'until Redis accepts the connection' : 'until it is reachable';
  const effect =
    failMode === 'closed'
      ? `calls that use counters will be denied (state_unavailable) ${until}`
      : `calls that use counters will pass uncounted ${until}`;
  // A TLS failure is often a private CA Node does not know: say where to give it.
  const tlsHint = /certificate|CERT_|SSL|TLS|handshake/i.test(lastError ?? '')
    ? '; for a private CA set NODE_EXTRA_CA_CERTS=/path/to/ca.pem'
    : '';
  // A TLS client talking to a plain Redis gets no answer at all: nothing errs before the wait ends.
  const silentTls =
    !lastError && /^rediss:/i.test(dsn)
      ? '; no answer: is it a Redis without TLS behind a rediss:// URL?'
      : '';
  // Something other than Redis on that port (an HTTP server answers `HTTP/1.1 ...`): ioredis's
  // parser says "Unknown RESP type 72 "H". Please report this."
  const notRedis = /Unknown RESP type|Protocol error/i.test(lastError ?? '')
    ? '; what answers on that address does not speak the Redis protocol: is the host and port a Redis server?'
    : '';
  const shown = notRedis ? (lastError ?? '').replace(/\s*Please report this\.?/, '') : lastError;
  const why = lastError ? `; last error: ${shown}${tlsHint}${notRedis}` : silentTls;
  const what = refusal ? `cannot be used: ${refusal}` : `is not reachable (waited ${waitedMs} ms${why})`;
  return `counter store ${redactDsn(dsn)} ${what}; state fail mode is ${failMode}: ${effect}. Reconnecting in the background.`;
}

/**
 * Why `dsn` looks like a mistyped URL rather than the SQLite file path it would otherwise be taken
 * for (`redis//host:6379`, `redis:/host`, `memory:x`, `sqlite://file`, `http//x`), with the DSN
 * probably meant; undefined when it does not.
 */
export function mistypedStateDsn(dsn: string): string | undefined {
  const shown = redactDsn(dsn);
  const scheme = /^(rediss?|sqlite|memory)(.*)$/is.exec(dsn);
  if (scheme) {
    const word = scheme[1]!.toLowerCase();
    const rest = scheme[2]!;
    if (word === 'redis' || word === 'rediss') {
      if (rest === '' || /^[:/\\]/.test(rest)) {
        // Only the separator goes: a `:` after it starts the user information (`redis//:pw@host`).
        const tail = rest.replace(/^(?::[/\\]{0,2}|[/\\]{1,2})/, '');
        const host = tail === '' ? '127.0.0.1:6379' : /^\d+$/.test(tail) ? `127.0.0.1:${tail}` : tail;
        return `--state-dsn ${shown} is not a valid Redis URL: did you mean ${redactDsn(`${word}://${host}`)}?`;
      }
    } else if (word === 'memory') {
      // `memory:` and `memory` themselves never get here.
      if (rest === '' || /^[:/\\]/.test(rest)) {
        return `--state-dsn ${shown} is not a valid DSN: did you mean memory:?`;
      }
    } else if (rest === '' || rest === ':') {
      return `--state-dsn ${shown} names no file: use sqlite:<file>, or leave --state-dsn out for the default SQLite file`;
    } else if (/^:?\/\//.test(rest)) {
      return `--state-dsn ${shown} is not a valid DSN: did you mean sqlite:${rest.replace(/^:?\/\//, '')}?`;
    }
  }
  const missingColon = /^([a-z][a-z0-9+.-]*)\/\/(.*)$/is.exec(dsn);
  if (missingColon) {
    return `--state-dsn ${shown} looks like a URL missing the ":" after "${missingColon[1]}": did you mean ${redactDsn(`${missingColon[1]}://${missingColon[2]}`)}?`;
  }
  return undefined;
}

/**
 * Open the counter store selected by the options (DESIGN section 4). SQLite and Redis come
 * wrapped in a {@link LeasedCounterStore} unless `leases: false`.
 *
 * The DSN is checked first: a Redis URL whose database is not a non-negative integer, and a DSN
 * that looks like a mistyped URL ({@link mistypedStateDsn}), are refused instead of being read as
 * database 0 or as a SQLite file path.
 *
 * A Redis that is unreachable at start (or refuses the credentials) does not throw:
 * `onUnreachable` is told, the store keeps reconnecting and calls meanwhile report
 * `state_unavailable` (fail-closed) or pass (fail-open). A Redis that refuses to select the DSN's
 * database throws. Opening SQLite never waits unboundedly: a state directory that cannot be
 * created (`/proc/x`, `/dev/null/x`, read-only) fails at once.
 *
 * @throws StateUnavailableError when the SQLite file or its directory cannot be opened, or Redis
 *   refuses the DSN's database
 * @throws Error when `stateDsn` has an unknown scheme, looks mistyped, or names an invalid database
 *   (messages name the DSN with its password hidden)
 */
export async function openCounterStore(opts: OpenCounterStoreOptions = {}): Promise<CounterStore> {
  const dsn = opts.stateDsn;
  const ttl = opts.reservationTtlMs;
  const leased = (store: CounterStore): CounterStore =>
    opts.leases === false
      ? store
      : new LeasedCounterStore(store, typeof opts.leases === 'object' ? opts.leases : {});
  const kind = storeKindOf(dsn);
  if (kind === 'memory') return new MemoryCounterStore({ reservationTtlMs: ttl });
  if (dsn && kind === 'redis') {
    // Throws (before connecting) when the database is not a non-negative integer.
    const store = new RedisCounterStore({ url: dsn, prefix: opts.prefix, reservationTtlMs: ttl });
    const failMode = opts.failMode ?? 'closed';
    const waitMs = failMode === 'open' ? 500 : 2000;
    const ready = await store.ready(waitMs);
    if (ready && store.refusal) {
      // Only the database can be refused once connected: a setting, not an outage.
      const refusal = store.refusal;
      await store.close();
      throw new StateUnavailableError(
        `${redactDsn(dsn)}: ${refusal}; use a database below the server's "databases" setting (16 by default: 0-15)`,
      );
    }
    if (!ready)
      opts.onUnreachable?.(
        unreachableStoreMessage(dsn, failMode, waitMs, store.refusal, store.lastConnectionError),
      );
    else {
      // A replica answers every counted call with READONLY: say so now, not call by call.
      const primary = await store.replicaOf();
      if (primary !== undefined) opts.onUnreachable?.(replicaStoreMessage(dsn, failMode, primary));
    }
    return leased(store);
  }
  if (dsn) {
    const mistyped = mistypedStateDsn(dsn);
    if (mistyped) throw new Error(mistyped);
  }
  if (dsn && /^[a-z][a-z0-9+.-]*:\/\//i.test(dsn)) {
    throw new Error(
      `unsupported --state-dsn ${redactDsn(dsn)}: use memory:, redis://host:port, or a SQLite file path`,
    );
  }
  const file = sqliteFileOf(opts)!;
  return leased(new SqliteCounterStore({ file, reservationTtlMs: ttl, onWarning: opts.onWarning }));
}

/**
 * Which store a `--state-dsn` names: `memory:` (or `memory`), a `redis://` or `rediss://` URL, or
 * anything else (no DSN included), which is a SQLite file once {@link openCounterStore} has
 * checked it.
 */
function storeKindOf(dsn: string | undefined): 'memory' | 'redis' | 'sqlite' {
  if (dsn === 'memory:' || dsn === 'memory') return 'memory';
  if (dsn && /^rediss?:\/\//.test(dsn)) return 'redis';
  return 'sqlite';
}

/**
 * The SQLite file the store of `opts` keeps its counts in: `sqlite:<file>` or a bare path given as
 * the DSN, else `tollgate.sqlite` under the state directory. Undefined for `memory:` and Redis
 * DSNs. The path as given (not resolved); no check that it is valid (see {@link openCounterStore}).
 */
export function sqliteFileOf(
  opts: Pick<OpenCounterStoreOptions, 'stateDsn' | 'stateDir'>,
): string | undefined {
  const dsn = opts.stateDsn;
  if (storeKindOf(dsn) !== 'sqlite') return undefined;
  return dsn
    ? dsn.replace(/^sqlite:/, '')
    : join(opts.stateDir ?? defaultPaths().stateDir, 'tollgate.sqlite');
}
