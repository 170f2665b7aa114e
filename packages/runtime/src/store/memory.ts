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
} from './counter-store.js';

interface Pending {
  readonly amount: number;
  readonly at: number;
  readonly expiresAt: number;
}

interface FixedCell {
  /** Epoch ms at which the window ends. */
  readonly end: number;
  committed: number;
  pending: Map<string, Pending>;
}

interface SlidingLog {
  readonly windowMs: number;
  /** Committed call timestamps, ascending (clock may be injected, so we insert in order). */
  committed: number[];
  pending: Map<string, Pending>;
}

/**
 * An in-process {@link CounterStore}: exact within one process, gone when it exits. For tests,
 * `tollgate test`, `tollgate explain` and `--state-dsn memory:`.
 */
export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory' as const;
  private readonly fixed = new Map<string, FixedCell>();
  private readonly sliding = new Map<string, SlidingLog>();
  private readonly ttlMs: number;
  private reserves = 0;

  /** @param opts.reservationTtlMs - life of an uncommitted reservation in ms (default 15 min) */
  constructor(opts: { reservationTtlMs?: number } = {}) {
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
  }

  private fixedCell(
    key: string,
    windowStart: number,
    windowMs: number,
    create: boolean,
  ): FixedCell | undefined {
    const k = `${key}\u0000${windowStart}\u0000${windowMs}`;
    let cell = this.fixed.get(k);
    if (!cell && create) {
      cell = { end: windowStart + windowMs, committed: 0, pending: new Map() };
      this.fixed.set(k, cell);
    }
    return cell;
  }

  private slidingLog(key: string, windowMs: number, create: boolean): SlidingLog | undefined {
    const k = `${key}\u0000${windowMs}`;
    let log = this.sliding.get(k);
    if (!log && create) {
      log = { windowMs, committed: [], pending: new Map() };
      this.sliding.set(k, log);
    }
    return log;
  }

  /** Current value (pending included); expired entries are dropped on the way. */
  private current(item: { key: string; kind: 'fixed' | 'sliding'; windowMs: number }, now: number): number {
    if (item.kind === 'fixed') {
      const cell = this.fixedCell(item.key, fixedWindowStart(now, item.windowMs), item.windowMs, false);
      if (!cell) return 0;
      let v = cell.committed;
      for (const [id, p] of cell.pending) {
        if (p.expiresAt <= now) cell.pending.delete(id);
        else v += p.amount;
      }
      return v;
    }
    const log = this.slidingLog(item.key, item.windowMs, false);
    if (!log) return 0;
    const from = now - item.windowMs;
    let drop = 0;
    while (drop < log.committed.length && (log.committed[drop] ?? 0) <= from) drop++;
    if (drop) log.committed.splice(0, drop);
    let n = log.committed.length;
    for (const [id, p] of log.pending) {
      if (p.expiresAt <= now || p.at <= from) log.pending.delete(id);
      else n++;
    }
    return n;
  }

  /** Timestamps counted in a sliding window, ascending (only needed to compute a retry time). */
  private timestamps(item: CounterItem, now: number): number[] {
    const log = this.slidingLog(item.key, item.windowMs, false);
    if (!log) return [];
    const from = now - item.windowMs;
    const ts = log.committed.filter((t) => t > from);
    for (const p of log.pending.values()) if (p.expiresAt > now && p.at > from) ts.push(p.at);
    return ts.sort((a, b) => a - b);
  }

  private evaluate(items: readonly CounterItem[], now: number): ReserveResult {
    const cur = items.map((it) => this.current(it, now));
    const fail = firstFailure(items, cur);
    if (fail) {
      const item = items[fail.item]!;
      const ts = item.kind === 'sliding' ? this.timestamps(item, now) : undefined;
      return {
        ok: false,
        tag: fail.check.tag,
        item: fail.item,
        value: fail.value,
        retryAfterMs: retryAfter(item, now, ts, fail.check),
      };
    }
    return { ok: true, values: items.map((it, i) => (cur[i] ?? 0) + it.amount) };
  }

  async peek(items: readonly CounterItem[], now: number): Promise<ReserveResult> {
    return this.evaluate(items, now);
  }

  async reserve(
    items: readonly CounterItem[],
    now: number,
    options?: ReserveOptions,
  ): Promise<ReserveResult> {
    return this.reserveNow(items, now, options);
  }

  /** {@link reserve}, synchronously: a memory store never waits on anything. */
  reserveNow(items: readonly CounterItem[], now: number, options?: ReserveOptions): ReserveResult {
    const r = this.evaluate(items, now);
    if (!r.ok || items.length === 0) return r;
    if (++this.reserves % 1024 === 0) this.sweep(now);
    const reservation = makeReservation(items, now, this.ttlMs, undefined, options?.expiresAt);
    const pending: Pending = { amount: 0, at: now, expiresAt: reservation.expiresAt };
    for (const it of reservation.items) {
      const p = { ...pending, amount: it.amount };
      if (it.kind === 'fixed')
        this.fixedCell(it.key, it.windowStart, it.windowMs, true)!.pending.set(reservation.id, p);
      else this.slidingLog(it.key, it.windowMs, true)!.pending.set(reservation.id, p);
    }
    return { ...r, reservation };
  }

  async read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number> {
    return this.current({ key, kind, windowMs }, now);
  }

  async commit(reservation: Reservation, now = Date.now(), amounts?: readonly number[]): Promise<void> {
    if (reservation.expiresAt <= now) return this.rollback(reservation);
    reservation.items.forEach((it, i) => {
      const amount = committedAmount(it.amount, amounts, i);
      if (it.kind === 'fixed') {
        const cell = this.fixedCell(it.key, it.windowStart, it.windowMs, false);
        if (cell?.pending.delete(reservation.id)) cell.committed += amount;
      } else {
        const log = this.slidingLog(it.key, it.windowMs, false);
        if (log?.pending.delete(reservation.id) && (!amounts || amount > 0)) {
          const at = reservation.at;
          let j = log.committed.length;
          while (j > 0 && (log.committed[j - 1] ?? 0) > at) j--;
          log.committed.splice(j, 0, at);
        }
      }
    });
  }

  async rollback(reservation: Reservation): Promise<void> {
    for (const it of reservation.items) {
      if (it.kind === 'fixed')
        this.fixedCell(it.key, it.windowStart, it.windowMs, false)?.pending.delete(reservation.id);
      else this.slidingLog(it.key, it.windowMs, false)?.pending.delete(reservation.id);
    }
  }

  /** Drop ended fixed windows and sliding logs whose every entry has aged out (their pending entries no longer count). */
  private sweep(now: number): void {
    for (const [k, cell] of this.fixed) if (cell.end <= now) this.fixed.delete(k);
    for (const [k, log] of this.sliding) {
      const from = now - log.windowMs;
      if ((log.committed.at(-1) ?? Number.NEGATIVE_INFINITY) > from) continue;
      let live = false;
      for (const p of log.pending.values()) if (p.at > from && p.expiresAt > now) live = true;
      if (!live) this.sliding.delete(k);
    }
  }

  async close(): Promise<void> {
    this.fixed.clear();
    this.sliding.clear();
  }
}
