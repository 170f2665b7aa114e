import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { makeDir } from '../make-dir.js';
import { fixedWindowStart } from '../windows.js';
import {
  type CounterItem,
  type CounterStore,
  committedAmount,
  DEFAULT_RESERVATION_TTL_MS,
  firstFailure,
  makeReservation,
  type Reservation,
  type ReserveOptions,
  type ReserveResult,
  retryAfter,
  StateUnavailableError,
} from './counter-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fixed_counter (
  key TEXT NOT NULL, window_ms INTEGER NOT NULL, window_start INTEGER NOT NULL,
  committed REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (key, window_ms, window_start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sliding_event (
  key TEXT NOT NULL, window_ms INTEGER NOT NULL, ts INTEGER NOT NULL, id TEXT NOT NULL,
  PRIMARY KEY (key, window_ms, ts, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
  key TEXT NOT NULL, kind TEXT NOT NULL, window_ms INTEGER NOT NULL, window_start INTEGER NOT NULL,
  id TEXT NOT NULL, ts INTEGER NOT NULL, amount REAL NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (key, kind, window_ms, window_start, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_expiry ON pending (expires_at);
`;

/** Purge expired rows once every this many reservations (amortised housekeeping). */
const SWEEP_EVERY = 256;

/**
 * The default {@link CounterStore}: one SQLite file (WAL) shared by every proxy process on the host.
 *
 * Each reserve/commit/rollback is one `BEGIN IMMEDIATE` transaction: the write lock is taken before
 * reading, so two processes can never both read "99" and both admit the 100th call. Waiting for the
 * lock is bounded by `busyTimeoutMs`; past it the store reports {@link StateUnavailableError}.
 */
export class SqliteCounterStore implements CounterStore {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly ttlMs: number;
  private reserves = 0;
  private readonly stmt;
  private readonly reserveTx;
  private readonly commitTx;
  private readonly rollbackTx;

  /**
   * Open (creating if needed) the database file and its schema.
   *
   * @param opts.file - path of the SQLite file; parent directories are created
   * @param opts.busyTimeoutMs - how long to wait for another process's write lock, ms (default 5000)
   * @param opts.reservationTtlMs - life of an uncommitted reservation, ms (default 15 min)
   * @throws StateUnavailableError when the file cannot be opened
   */
  constructor(opts: { file: string; busyTimeoutMs?: number; reservationTtlMs?: number }) {
    this.file = opts.file;
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    try {
      if (opts.file !== ':memory:') makeDir(dirname(opts.file));
      this.db = new Database(opts.file, { timeout: opts.busyTimeoutMs ?? 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new StateUnavailableError(`cannot open SQLite state ${opts.file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const db = this.db;
    this.stmt = {
      fixedCommitted: db
        .prepare('SELECT committed FROM fixed_counter WHERE key = ? AND window_ms = ? AND window_start = ?')
        .pluck(),
      fixedPending: db
        .prepare(
          `SELECT COALESCE(SUM(amount), 0) FROM pending
           WHERE key = ? AND kind = 'fixed' AND window_ms = ? AND window_start = ? AND expires_at > ?`,
        )
        .pluck(),
      slidingCount: db
        .prepare(
          `SELECT (SELECT COUNT(*) FROM sliding_event WHERE key = @key AND window_ms = @w AND ts > @from)
                + (SELECT COUNT(*) FROM pending WHERE key = @key AND kind = 'sliding' AND window_ms = @w
                   AND window_start > @from AND expires_at > @now)`,
        )
        .pluck(),
      slidingTimestamps: db
        .prepare(
          `SELECT ts FROM sliding_event WHERE key = @key AND window_ms = @w AND ts > @from
           UNION ALL
           SELECT ts FROM pending WHERE key = @key AND kind = 'sliding' AND window_ms = @w
             AND window_start > @from AND expires_at > @now
           ORDER BY ts`,
        )
        .pluck(),
      insertPending: db.prepare(
        `INSERT INTO pending (key, kind, window_ms, window_start, id, ts, amount, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deletePending: db.prepare(
        'DELETE FROM pending WHERE key = ? AND kind = ? AND window_ms = ? AND window_start = ? AND id = ?',
      ),
      addFixed: db.prepare(
        `INSERT INTO fixed_counter (key, window_ms, window_start, committed) VALUES (?, ?, ?, ?)
         ON CONFLICT (key, window_ms, window_start) DO UPDATE SET committed = committed + excluded.committed`,
      ),
      addSliding: db.prepare(
        'INSERT OR IGNORE INTO sliding_event (key, window_ms, ts, id) VALUES (?, ?, ?, ?)',
      ),
      sweepPending: db.prepare('DELETE FROM pending WHERE expires_at <= ?'),
      sweepFixed: db.prepare('DELETE FROM fixed_counter WHERE window_start + window_ms < ?'),
      sweepSliding: db.prepare('DELETE FROM sliding_event WHERE ts <= ? - window_ms'),
    };
    this.reserveTx = db.transaction(
      (items: readonly CounterItem[], now: number, write: boolean, expiresAt: number | undefined) =>
        this.evaluateAndWrite(items, now, write, expiresAt),
    );
    this.commitTx = db.transaction((r: Reservation, now: number, amounts: readonly number[] | undefined) => {
      const live = r.expiresAt > now;
      r.items.forEach((it, i) => {
        const removed = this.stmt.deletePending.run(
          it.key,
          it.kind,
          it.windowMs,
          it.windowStart,
          r.id,
        ).changes;
        const amount = committedAmount(it.amount, amounts, i);
        if (!removed || !live || (amounts && amount <= 0)) return;
        if (it.kind === 'fixed') this.stmt.addFixed.run(it.key, it.windowMs, it.windowStart, amount);
        else this.stmt.addSliding.run(it.key, it.windowMs, r.at, r.id);
      });
    });
    this.rollbackTx = db.transaction((r: Reservation) => {
      for (const it of r.items)
        this.stmt.deletePending.run(it.key, it.kind, it.windowMs, it.windowStart, r.id);
    });
  }

  private currentValue(
    it: { key: string; kind: 'fixed' | 'sliding'; windowMs: number },
    now: number,
  ): number {
    if (it.kind === 'fixed') {
      const ws = fixedWindowStart(now, it.windowMs);
      const committed = (this.stmt.fixedCommitted.get(it.key, it.windowMs, ws) as number | undefined) ?? 0;
      return committed + (this.stmt.fixedPending.get(it.key, it.windowMs, ws, now) as number);
    }
    return this.stmt.slidingCount.get({
      key: it.key,
      w: it.windowMs,
      from: now - it.windowMs,
      now,
    }) as number;
  }

  private evaluateAndWrite(
    items: readonly CounterItem[],
    now: number,
    write: boolean,
    expiresAt: number | undefined,
  ): ReserveResult {
    const cur = items.map((it) => this.currentValue(it, now));
    const fail = firstFailure(items, cur);
    if (fail) {
      const item = items[fail.item]!;
      const ts =
        item.kind === 'sliding'
          ? (this.stmt.slidingTimestamps.all({
              key: item.key,
              w: item.windowMs,
              from: now - item.windowMs,
              now,
            }) as number[])
          : undefined;
      return {
        ok: false,
        tag: fail.check.tag,
        item: fail.item,
        value: fail.value,
        retryAfterMs: retryAfter(item, now, ts, fail.check),
      };
    }
    const values = items.map((it, i) => (cur[i] ?? 0) + it.amount);
    if (!write || items.length === 0) return { ok: true, values };
    const reservation = makeReservation(items, now, this.ttlMs, undefined, expiresAt);
    for (const it of reservation.items) {
      this.stmt.insertPending.run(
        it.key,
        it.kind,
        it.windowMs,
        it.windowStart,
        reservation.id,
        now,
        it.amount,
        reservation.expiresAt,
      );
    }
    if (++this.reserves % SWEEP_EVERY === 0) {
      this.stmt.sweepPending.run(now);
      this.stmt.sweepFixed.run(now);
      this.stmt.sweepSliding.run(now);
    }
    return { ok: true, values, reservation };
  }

  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new StateUnavailableError(
        `SQLite state ${this.file}: ${what} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async reserve(
    items: readonly CounterItem[],
    now: number,
    options?: ReserveOptions,
  ): Promise<ReserveResult> {
    return this.guard('reserve', () => this.reserveTx.immediate(items, now, true, options?.expiresAt));
  }

  async peek(items: readonly CounterItem[], now: number): Promise<ReserveResult> {
    return this.guard('read', () => this.reserveTx.deferred(items, now, false, undefined));
  }

  async read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number> {
    return this.guard('read', () => this.currentValue({ key, kind, windowMs }, now));
  }

  async commit(reservation: Reservation, now = Date.now(), amounts?: readonly number[]): Promise<void> {
    this.guard('commit', () => this.commitTx.immediate(reservation, now, amounts));
  }

  async rollback(reservation: Reservation): Promise<void> {
    this.guard('rollback', () => this.rollbackTx.immediate(reservation));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
