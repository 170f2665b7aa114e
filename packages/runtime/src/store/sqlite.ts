import { randomUUID } from 'node:crypto';
import { renameSync, rmSync, statSync } from 'node:fs';
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
  slidingExpiryIndex,
  slidingRetryAfter,
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
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merged (id TEXT PRIMARY KEY) WITHOUT ROWID;
`;

/** Purge expired rows once every this many reservations (amortised housekeeping). */
const SWEEP_EVERY = 256;

/**
 * How long past their end, by the sweeping proxy's clock, expired rows stay in the file (ms): the
 * clock skew between proxies sharing it that the sweep tolerates. Reads judge expiry by their
 * own clock and ignore old rows anyway; the sweep only reclaims space, so a proxy whose clock runs
 * ahead must not delete the windows and reservations the others still count (a proxy an hour and
 * five minutes fast had emptied every hourly limit of the file).
 */
const SWEEP_SKEW_MS = 60 * 60 * 1000;

/** The prepared statements of one connection. */
function prepareStatements(db: Database.Database) {
  return {
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
    // The oldest @n timestamps of a sliding window, from each table along its index (a denied
    // call needs one of them, most often the oldest, never the whole window).
    slidingOldestEvents: db
      .prepare(
        `SELECT ts FROM sliding_event WHERE key = @key AND window_ms = @w AND ts > @from
         ORDER BY ts LIMIT @n`,
      )
      .pluck(),
    slidingOldestPending: db
      .prepare(
        `SELECT window_start FROM pending WHERE key = @key AND kind = 'sliding' AND window_ms = @w
           AND window_start > @from AND expires_at > @now
         ORDER BY window_start LIMIT @n`,
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
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * Most a transaction blocks the event loop waiting for another process's write lock, ms: SQLite's
 * busy wait is synchronous, so a longer wait is made of such slices with the loop free between them.
 */
const BUSY_SLICE_MS = 25;
/** Pause between two slices of a busy wait, ms. */
const BUSY_PAUSE_MS = 5;

/** True for SQLite's "another connection holds the lock" errors, which are worth retrying. */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

/** A string as an SQL literal. */
function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The device and inode a path names now, or undefined when nothing is there. */
function identityOf(file: string): string | undefined {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}` : undefined;
}

/**
 * Removes the sidecar file `file` of a database that is gone, by renaming it aside first and then
 * unlinking it: when `expected` (its device and inode) is given and the file renamed is another
 * (a process created a new one meanwhile), it is renamed back. Processes that have the file open
 * keep using it. Does nothing when the file is not there.
 */
function moveAside(file: string, expected?: string): void {
  const aside = `${file}.stale-${process.pid}-${randomUUID()}`;
  try {
    renameSync(file, aside);
  } catch {
    return;
  }
  if (expected !== undefined && identityOf(aside) !== expected) {
    try {
      renameSync(aside, file);
    } catch {
      // The path was taken again meanwhile: the copy is stale either way.
    }
    return;
  }
  rmSync(aside, { force: true });
}

/** Options of {@link SqliteCounterStore}. */
export interface SqliteCounterStoreOptions {
  /** Path of the SQLite file; parent directories are created. */
  readonly file: string;
  /** How long to wait for another process's write lock, ms (default 5000); see {@link BUSY_SLICE_MS}. */
  readonly busyTimeoutMs?: number;
  /** Life of an uncommitted reservation, ms (default 15 min). */
  readonly reservationTtlMs?: number;
  /**
   * Told when the file was deleted or replaced while in use and the store moved to the file now at
   * the path, carrying its counts over (see {@link SqliteCounterStore}).
   */
  readonly onWarning?: (message: string) => void;
}

/**
 * The default {@link CounterStore}: one SQLite file (WAL) shared by every proxy process on the host.
 *
 * Each reserve/commit/rollback is one `BEGIN IMMEDIATE` transaction: the write lock is taken before
 * reading, so two processes can never both read "99" and both admit the 100th call. Waiting for the
 * lock is bounded by `busyTimeoutMs`; past it the store reports {@link StateUnavailableError}. The
 * wait does not stop the process: it is taken in slices of at most {@link BUSY_SLICE_MS}, and
 * messages that need no counter keep flowing meanwhile.
 *
 * The path is followed, not the file first opened: before each transaction the store checks that
 * the path still names the file it has open. When the file was deleted or replaced (an agent with
 * file-system tools removing `~/.tollgate/state`, a cleanup job), the store opens the file now at
 * the path (creating it) and adds to it every count of the old one, once per old file however many
 * processes do the same (an `id` in its `meta` table, recorded in the new file's `merged` table).
 * Without that, processes holding the old file and processes that opened the new one would count
 * apart, each up to the limit. `onWarning` is told.
 */
export class SqliteCounterStore implements CounterStore {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private db!: Database.Database;
  /** Device and inode of the file `db` has open (undefined for `:memory:`). */
  private identity: string | undefined;
  /** Device and inode of the connection's `-wal` and `-shm` files, in {@link sidecars} order. */
  private sidecarIdentities: Array<string | undefined> = [];
  private readonly ttlMs: number;
  private readonly busyTimeoutMs: number;
  private readonly onWarning: ((message: string) => void) | undefined;
  private reserves = 0;
  private stmt!: Statements;
  private reserveTx!: Database.Transaction<
    (
      items: readonly CounterItem[],
      now: number,
      write: boolean,
      expiresAt: number | undefined,
    ) => ReserveResult
  >;
  private commitTx!: Database.Transaction<
    (r: Reservation, now: number, amounts: readonly number[] | undefined) => void
  >;
  private rollbackTx!: Database.Transaction<(r: Reservation) => void>;

  /**
   * Open (creating if needed) the database file and its schema.
   *
   * @throws StateUnavailableError when the file cannot be opened
   */
  constructor(opts: SqliteCounterStoreOptions) {
    this.file = opts.file;
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
    this.onWarning = opts.onWarning;
    try {
      this.use(this.connect());
    } catch (err) {
      throw new StateUnavailableError(`cannot open SQLite state ${opts.file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * Opens the file at the path with the schema and this store's settings. Waits up to the whole
   * busy timeout for a lock while setting up (a new file's first writer may hold it), then slices.
   */
  private connect(): Database.Database {
    if (this.file !== ':memory:') {
      makeDir(dirname(this.file));
      // A `-wal` or `-shm` without its database belongs to a database file deleted while in use:
      // SQLite would pair it with the new file (replaying the old file's pages into it, or failing
      // with "disk I/O error"). Processes still holding the old file keep theirs open.
      if (identityOf(this.file) === undefined) for (const f of this.sidecars()) moveAside(f);
    }
    const db = new Database(this.file, { timeout: this.busyTimeoutMs });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      db.prepare("INSERT OR IGNORE INTO meta (k, v) VALUES ('id', ?)").run(randomUUID());
      db.pragma(`busy_timeout = ${Math.min(this.busyTimeoutMs, BUSY_SLICE_MS)}`);
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Makes `db` the connection of the store: its statements and transactions. */
  private use(db: Database.Database): void {
    this.db = db;
    this.identity = this.file === ':memory:' ? undefined : identityOf(this.file);
    // Connected in WAL mode with a write done: both sidecar files exist, and stay the same files
    // while this connection is open (SQLite removes them only when the last connection closes).
    this.sidecarIdentities = this.identity === undefined ? [] : this.sidecars().map(identityOf);
    const stmt = prepareStatements(db);
    this.stmt = stmt;
    this.reserveTx = db.transaction(
      (items: readonly CounterItem[], now: number, write: boolean, expiresAt: number | undefined) =>
        this.evaluateAndWrite(items, now, write, expiresAt),
    );
    this.commitTx = db.transaction((r: Reservation, now: number, amounts: readonly number[] | undefined) => {
      const live = r.expiresAt > now;
      r.items.forEach((it, i) => {
        const removed = stmt.deletePending.run(it.key, it.kind, it.windowMs, it.windowStart, r.id).changes;
        const amount = committedAmount(it.amount, amounts, i);
        if (!removed || !live || (amounts && amount <= 0)) return;
        if (it.kind === 'fixed') stmt.addFixed.run(it.key, it.windowMs, it.windowStart, amount);
        else stmt.addSliding.run(it.key, it.windowMs, r.at, r.id);
      });
    });
    this.rollbackTx = db.transaction((r: Reservation) => {
      for (const it of r.items) stmt.deletePending.run(it.key, it.kind, it.windowMs, it.windowStart, r.id);
    });
  }

  /** The write-ahead log and shared-memory index files of the database at the path. */
  private sidecars(): string[] {
    return [`${this.file}-wal`, `${this.file}-shm`];
  }

  /**
   * Moves to the file now at the path when it is not the one open (see the class comment).
   * @throws Error when the new file cannot be opened or the counts cannot be carried over
   */
  private followPath(): void {
    if (this.identity === undefined || identityOf(this.file) === this.identity) return;
    const old = this.db;
    // The sidecars at the path that are still this connection's belong to the old file, not to
    // the file now at the path (replaced by a rename, or deleted by a plain `rm`): moved aside.
    this.sidecars().forEach((f, i) => {
      const mine = this.sidecarIdentities[i];
      if (mine !== undefined && identityOf(f) === mine) moveAside(f, mine);
    });
    const fresh = this.connect();
    try {
      const oldId = old.prepare("SELECT v FROM meta WHERE k = 'id'").pluck().get() as string;
      old.exec(`ATTACH DATABASE ${sqlString(this.file)} AS fresh`);
      let carried: number | undefined;
      try {
        old
          .transaction(() => {
            const freshId = old.prepare("SELECT v FROM fresh.meta WHERE k = 'id'").pluck().get();
            if (freshId === oldId) return;
            if (old.prepare('INSERT OR IGNORE INTO fresh.merged (id) VALUES (?)').run(oldId).changes === 0)
              return;
            carried = old
              .prepare(
                `INSERT INTO fresh.fixed_counter (key, window_ms, window_start, committed)
                 SELECT key, window_ms, window_start, committed FROM main.fixed_counter WHERE true
                 ON CONFLICT (key, window_ms, window_start) DO UPDATE SET committed = committed + excluded.committed`,
              )
              .run().changes;
            carried += old
              .prepare('INSERT OR IGNORE INTO fresh.sliding_event SELECT * FROM main.sliding_event')
              .run().changes;
            carried += old
              .prepare('INSERT OR IGNORE INTO fresh.pending SELECT * FROM main.pending')
              .run().changes;
            old.prepare('INSERT OR IGNORE INTO fresh.merged (id) SELECT id FROM main.merged').run();
          })
          .immediate();
      } finally {
        old.exec('DETACH DATABASE fresh');
      }
      old.close();
      this.use(fresh);
      this.onWarning?.(
        carried === undefined
          ? `SQLite state ${this.file} was deleted or replaced while in use; now using the file at that path, which already holds the old file's counts`
          : `SQLite state ${this.file} was deleted or replaced while in use; now using the file at that path, with the old file's counts added to it (${carried} rows)`,
      );
    } catch (err) {
      fresh.close();
      throw err;
    }
  }

  /**
   * Runs one transaction against the file at the path, retrying while another process holds the
   * lock (up to `busyTimeoutMs`, with the event loop free between slices).
   * @throws StateUnavailableError when it fails for another reason or the lock stays taken
   */
  private async attempt<T>(what: string, fn: () => T): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (;;) {
      try {
        this.followPath();
        return fn();
      } catch (err) {
        if (isBusy(err) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, BUSY_PAUSE_MS));
          continue;
        }
        throw new StateUnavailableError(
          `SQLite state ${this.file}: ${what} failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
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

  /**
   * The `index`-th oldest (0-based) timestamp counted in a sliding window at `now`, committed or
   * pending; undefined for a negative index or past the end. Reads index + 1 rows of each table.
   */
  private slidingTimestampAt(
    it: { key: string; windowMs: number },
    now: number,
    index: number,
  ): number | undefined {
    if (!Number.isInteger(index) || index < 0) return undefined;
    const args = { key: it.key, w: it.windowMs, from: now - it.windowMs, now, n: index + 1 };
    const events = this.stmt.slidingOldestEvents.all(args) as number[];
    const pending = this.stmt.slidingOldestPending.all(args) as number[];
    // Merge the two ascending lists up to the index.
    let i = 0;
    let j = 0;
    for (let k = 0; ; k++) {
      const a = events[i];
      const b = pending[j];
      if (a === undefined && b === undefined) return undefined;
      const takeA = b === undefined || (a !== undefined && a <= b);
      const v = takeA ? a! : b!;
      if (takeA) i++;
      else j++;
      if (k === index) return v;
    }
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
      return {
        ok: false,
        tag: fail.check.tag,
        item: fail.item,
        value: fail.value,
        retryAfterMs:
          item.kind === 'sliding'
            ? slidingRetryAfter(
                item,
                now,
                this.slidingTimestampAt(item, now, slidingExpiryIndex(item, cur[fail.item] ?? 0, fail.check)),
              )
            : retryAfter(item, now, undefined, fail.check),
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
      const before = now - SWEEP_SKEW_MS;
      this.stmt.sweepPending.run(before);
      this.stmt.sweepFixed.run(before);
      this.stmt.sweepSliding.run(before);
    }
    return { ok: true, values, reservation };
  }

  async reserve(
    items: readonly CounterItem[],
    now: number,
    options?: ReserveOptions,
  ): Promise<ReserveResult> {
    return this.attempt('reserve', () => this.reserveTx.immediate(items, now, true, options?.expiresAt));
  }

  async peek(items: readonly CounterItem[], now: number): Promise<ReserveResult> {
    return this.attempt('read', () => this.reserveTx.deferred(items, now, false, undefined));
  }

  async read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number> {
    return this.attempt('read', () => this.currentValue({ key, kind, windowMs }, now));
  }

  async commit(reservation: Reservation, now = Date.now(), amounts?: readonly number[]): Promise<void> {
    await this.attempt('commit', () => this.commitTx.immediate(reservation, now, amounts));
  }

  async rollback(reservation: Reservation): Promise<void> {
    await this.attempt('rollback', () => this.rollbackTx.immediate(reservation));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
