import { randomUUID } from 'node:crypto';
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

/** Removals between two exact recounts of a {@link PendingSet}'s running sum (bounds float drift). */
const RECOUNT_EVERY = 1024;

/**
 * The uncommitted reservations of one counter cell, with their running total, so that reading a
 * counter costs O(1) however many calls are in flight. Expired entries (and, for sliding windows,
 * entries reserved before the window) are dropped by {@link prune}, which only walks the entries
 * when one of them may be due: `nextExpiry` and `oldestAt` are lower bounds (a removed entry may
 * leave them early, which costs one walk that resets them).
 */
class PendingSet {
  readonly entries = new Map<string, Pending>();
  /** Sum of the entries' amounts. */
  sum = 0;
  /** No entry expires before this (epoch ms). */
  nextExpiry = Number.POSITIVE_INFINITY;
  /** No entry was reserved before this (epoch ms). */
  oldestAt = Number.POSITIVE_INFINITY;
  private removals = 0;

  get size(): number {
    return this.entries.size;
  }

  add(id: string, p: Pending): void {
    this.entries.set(id, p);
    this.sum += p.amount;
    if (p.expiresAt < this.nextExpiry) this.nextExpiry = p.expiresAt;
    if (p.at < this.oldestAt) this.oldestAt = p.at;
  }

  /** Removes one entry; true when it was there. */
  delete(id: string): boolean {
    const p = this.entries.get(id);
    if (p === undefined) return false;
    this.entries.delete(id);
    if (this.entries.size === 0) this.reset();
    else if (++this.removals % RECOUNT_EVERY === 0)
      this.recount(Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY);
    else this.sum -= p.amount;
    return true;
  }

  /** Drops entries expired at `now` or reserved at or before `from` (epoch ms). */
  prune(now: number, from = Number.NEGATIVE_INFINITY): void {
    if (now < this.nextExpiry && from < this.oldestAt) return;
    this.recount(now, from);
  }

  /** Walks every entry: drops the due ones and sets the running values exactly. */
  private recount(now: number, from: number): void {
    let sum = 0;
    let nextExpiry = Number.POSITIVE_INFINITY;
    let oldestAt = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.entries) {
      if (p.expiresAt <= now || p.at <= from) {
        this.entries.delete(id);
        continue;
      }
      sum += p.amount;
      if (p.expiresAt < nextExpiry) nextExpiry = p.expiresAt;
      if (p.at < oldestAt) oldestAt = p.at;
    }
    this.sum = sum;
    this.nextExpiry = nextExpiry;
    this.oldestAt = oldestAt;
  }

  private reset(): void {
    this.sum = 0;
    this.nextExpiry = Number.POSITIVE_INFINITY;
    this.oldestAt = Number.POSITIVE_INFINITY;
  }
}

interface FixedCell {
  /** Epoch ms at which the window ends. */
  readonly end: number;
  committed: number;
  readonly pending: PendingSet;
}

interface SlidingLog {
  /** Committed call timestamps, ascending from `head` (the clock may be injected, so inserts keep order). */
  committed: number[];
  /** Index of the first timestamp still inside the window; the array is compacted now and then. */
  head: number;
  readonly pending: PendingSet;
}

/**
 * An in-process {@link CounterStore}: exact within one process, gone when it exits. For tests,
 * `tollgate test`, `tollgate explain` and `--state-dsn memory:`.
 *
 * Cost per call does not grow with the number of calls in flight: each counter keeps the running
 * total of its pending reservations (see {@link PendingSet}), and cells are found through maps
 * keyed by the counter key, window length and window start, with no key text built per call.
 */
export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory' as const;
  /** key -> window length (ms) -> window start (epoch ms) -> cell. */
  private readonly fixed = new Map<string, Map<number, Map<number, FixedCell>>>();
  /** key -> window length (ms) -> log. */
  private readonly sliding = new Map<string, Map<number, SlidingLog>>();
  private readonly ttlMs: number;
  private readonly idPrefix = `mem-${randomUUID()}-`;
  private nextId = 0;
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
    let byLength = this.fixed.get(key);
    if (byLength === undefined) {
      if (!create) return undefined;
      byLength = new Map();
      this.fixed.set(key, byLength);
    }
    let byStart = byLength.get(windowMs);
    if (byStart === undefined) {
      if (!create) return undefined;
      byStart = new Map();
      byLength.set(windowMs, byStart);
    }
    let cell = byStart.get(windowStart);
    if (cell === undefined && create) {
      cell = { end: windowStart + windowMs, committed: 0, pending: new PendingSet() };
      byStart.set(windowStart, cell);
    }
    return cell;
  }

  private slidingLog(key: string, windowMs: number, create: boolean): SlidingLog | undefined {
    let byLength = this.sliding.get(key);
    if (byLength === undefined) {
      if (!create) return undefined;
      byLength = new Map();
      this.sliding.set(key, byLength);
    }
    let log = byLength.get(windowMs);
    if (log === undefined && create) {
      log = { committed: [], head: 0, pending: new PendingSet() };
      byLength.set(windowMs, log);
    }
    return log;
  }

  /** Moves a log's head past the timestamps at or before `from`, compacting the array when half of it is dead. */
  private static age(log: SlidingLog, from: number): void {
    const ts = log.committed;
    let head = log.head;
    while (head < ts.length && ts[head]! <= from) head++;
    if (head > 0 && head * 2 >= ts.length) {
      ts.splice(0, head);
      head = 0;
    }
    log.head = head;
  }

  /** Current value (pending included); expired entries are dropped on the way. */
  private current(item: { key: string; kind: 'fixed' | 'sliding'; windowMs: number }, now: number): number {
    if (item.kind === 'fixed') {
      const cell = this.fixedCell(item.key, fixedWindowStart(now, item.windowMs), item.windowMs, false);
      if (!cell) return 0;
      cell.pending.prune(now);
      return cell.committed + cell.pending.sum;
    }
    const log = this.slidingLog(item.key, item.windowMs, false);
    if (!log) return 0;
    const from = now - item.windowMs;
    MemoryCounterStore.age(log, from);
    log.pending.prune(now, from);
    return log.committed.length - log.head + log.pending.size;
  }

  /** Timestamps counted in a sliding window, ascending (only needed to compute a retry time). */
  private timestamps(item: CounterItem, now: number): number[] {
    const log = this.slidingLog(item.key, item.windowMs, false);
    if (!log) return [];
    const from = now - item.windowMs;
    const ts = log.committed.slice(log.head).filter((t) => t > from);
    for (const p of log.pending.entries.values()) if (p.expiresAt > now && p.at > from) ts.push(p.at);
    return ts.sort((a, b) => a - b);
  }

  private evaluate(items: readonly CounterItem[], now: number): ReserveResult {
    const cur = new Array<number>(items.length);
    for (let i = 0; i < items.length; i++) cur[i] = this.current(items[i]!, now);
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
    const values = new Array<number>(items.length);
    for (let i = 0; i < items.length; i++) values[i] = cur[i]! + items[i]!.amount;
    return { ok: true, values };
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
    const reservation = makeReservation(
      items,
      now,
      this.ttlMs,
      `${this.idPrefix}${++this.nextId}`,
      options?.expiresAt,
    );
    const { id, expiresAt } = reservation;
    for (const it of reservation.items) {
      const p: Pending = { amount: it.amount, at: now, expiresAt };
      if (it.kind === 'fixed') this.fixedCell(it.key, it.windowStart, it.windowMs, true)!.pending.add(id, p);
      else this.slidingLog(it.key, it.windowMs, true)!.pending.add(id, p);
    }
    return { ok: true, values: r.values, reservation };
  }

  async read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number> {
    return this.current({ key, kind, windowMs }, now);
  }

  async commit(reservation: Reservation, now = Date.now(), amounts?: readonly number[]): Promise<void> {
    if (reservation.expiresAt <= now) return this.rollback(reservation);
    const items = reservation.items;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      const amount = committedAmount(it.amount, amounts, i);
      if (it.kind === 'fixed') {
        const cell = this.fixedCell(it.key, it.windowStart, it.windowMs, false);
        if (cell?.pending.delete(reservation.id)) cell.committed += amount;
      } else {
        const log = this.slidingLog(it.key, it.windowMs, false);
        if (log?.pending.delete(reservation.id) && (!amounts || amount > 0)) {
          const at = reservation.at;
          const ts = log.committed;
          let j = ts.length;
          while (j > log.head && ts[j - 1]! > at) j--;
          if (j === ts.length) ts.push(at);
          else ts.splice(j, 0, at);
        }
      }
    }
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
    for (const [key, byLength] of this.fixed) {
      for (const [windowMs, byStart] of byLength) {
        for (const [start, cell] of byStart) if (cell.end <= now) byStart.delete(start);
        if (byStart.size === 0) byLength.delete(windowMs);
      }
      if (byLength.size === 0) this.fixed.delete(key);
    }
    for (const [key, byLength] of this.sliding) {
      for (const [windowMs, log] of byLength) {
        const from = now - windowMs;
        if ((log.committed.at(-1) ?? Number.NEGATIVE_INFINITY) > from) continue;
        log.pending.prune(now, from);
        if (log.pending.size === 0) byLength.delete(windowMs);
      }
      if (byLength.size === 0) this.sliding.delete(key);
    }
  }

  async close(): Promise<void> {
    this.fixed.clear();
    this.sliding.clear();
  }
}
