/**
 * Counter leases: a process reserves a block of a fixed-window counter's quota in ONE store
 * transaction, admits calls against it in memory, and settles (commits what was used, returns the
 * rest) in one more. A counter far from its bound then costs no store round trip per call; near
 * the bound every call goes to the backing store exactly as without leases. docs/runtime.md
 * "Leases".
 */

import { SETTLED } from '../settled.js';
import { fixedWindowStart } from '../windows.js';
import type {
  CounterCheck,
  CounterItem,
  CounterStore,
  Reservation,
  ReserveOptions,
  ReserveResult,
} from './counter-store.js';

/** Tuning of {@link LeasedCounterStore}; the defaults are what `openCounterStore` uses. */
export interface LeaseOptions {
  /**
   * Settlement period in ms (default 100): a lease in use writes its committed units to the
   * backing store at least this often, and a lease unused for this long is settled and released.
   */
  settleIntervalMs?: number;
  /** A lease takes at most 1/`roomDivisor` of the room left under the bound (default 16). */
  roomDivisor?: number;
  /**
   * A counter's first lease in a window holds at most this many times the amount of the call that
   * asks for it (default 64). A lease that runs out within one settlement period is followed by
   * one twice as large, up to `maxLeaseGrowth` times this (a busy counter then costs a store
   * transaction per few hundred calls instead of per 64); one settled mostly unused is followed
   * by one half as large. The room bound (`roomDivisor`) applies whatever the size.
   */
  maxCallsPerLease?: number;
  /** How many times `maxCallsPerLease` a lease may grow to (default 16). */
  maxLeaseGrowth?: number;
}

/** One block of quota reserved in the backing store for one counter, window and set of checks. */
interface Lease {
  /** Counter + window + checks: what may share this lease. */
  readonly key: string;
  /** Counter + window: the entry in `counters` this lease belongs to. */
  readonly counter: string;
  /** Epoch ms at which the lease's fixed window ends (also its inner reservation's expiry). */
  readonly windowEnd: number;
  /** The inner reservation holding `reserved` units (one fixed item). */
  readonly reservation: Reservation;
  readonly reserved: number;
  /** Inner value of the counter before this lease, for the `values` of local admissions. */
  readonly base: number;
  /** Units admitted locally and committed (written to the inner store when the lease settles). */
  committed: number;
  /** Units admitted locally whose calls are still in flight. */
  inflight: number;
  /** Number of calls in flight (an integer, so "drained" never depends on float sums). */
  calls: number;
  /** Units admitted and not rolled back (committed + in flight), for `values`. */
  consumed: number;
  /** Clock (caller's epoch ms) of the latest admission: the `now` the settlement commits with. */
  lastNow: number;
  /** `performance.now()` of creation and of the latest use (ms), for periodic and idle settlement. */
  readonly createdAt: number;
  lastUse: number;
  state: 'active' | 'retired' | 'settled';
}

/** What the lease layer remembers about one counter in one fixed window. */
interface CounterInfo {
  /** Epoch ms at which the window ends (entries are dropped after it). */
  readonly end: number;
  /** Post-increment value the inner store reported last (undefined: read it before leasing). */
  last?: number;
  /** Check signature of the first item seen; another signature marks the counter mixed. */
  readonly signature: string;
  /** Seen with different checks (or none) in this window: never leased until the window ends. */
  mixed: boolean;
  /** Calls the next lease is sized for (before the room bound): grows on fast use, shrinks on idle. */
  scale: number;
}

interface PlanEntry {
  readonly item: CounterItem;
  readonly windowStart: number;
  readonly leaseKey: string;
  readonly counter: string;
  lease?: Lease;
}

/**
 * What {@link LeasedCounterStore.plan} worked out for a single-item call on one counter key, kept
 * so that the next call on that key in the same window is admitted without rebuilding keys and
 * plan entries (the fast path of {@link LeasedCounterStore.reserve}). Valid while the item has the
 * same window length and the same checks (compared by value) and `now` is inside the window.
 */
interface Route {
  readonly windowMs: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly checks: readonly CounterCheck[];
  readonly leaseKey: string;
  readonly info: CounterInfo;
}

interface LocalReservation {
  readonly leases: readonly Lease[];
  readonly amounts: readonly number[];
  /** End of the earliest window among its leases (epoch ms): forgotten after it if never settled. */
  readonly expiresAt: number;
}

const SETTLE_INTERVAL_MS = 100;
const ROOM_DIVISOR = 16;
const MAX_CALLS_PER_LEASE = 64;
const MAX_LEASE_GROWTH = 16;
/** Most single-item routes remembered (one per counter key in use); the map is cleared beyond it. */
const MAX_ROUTES = 4096;
/** Rounds of "acquire a lease, try again" before a call goes to the inner store. */
const ATTEMPTS = 3;

let instances = 0;

/**
 * A {@link CounterStore} that admits calls on fixed-window counters from leases: blocks of quota
 * reserved in the inner store (SQLite or Redis) in one transaction and used in memory.
 *
 * Eligible calls: every item `fixed`, not {@link CounterItem.exact}, amount finite and > 0, at
 * least one check and every check `lt`/`lte`, and the counter seen with one set of checks only in
 * this window. Any other call goes wholly to the inner store, as do calls on a counter whose room
 * (bound minus the value the inner store reported last) is too small for a lease of at least
 * twice the call's amount: a lease is `min(room / 16, 64 x amount)`, so near the bound admission
 * is exactly the inner store's.
 *
 * Guarantees: never admits more than the bound (every locally admitted unit is covered by a lease
 * reservation in the inner store, or already committed there); a lease's inner reservation expires
 * at the end of its window, so a killed process leaves the whole lease counted until then (never
 * under-counted). Leases settle at least every `settleIntervalMs` while in use, when they run out,
 * when the window changes, after `settleIntervalMs` unused, and on {@link close}; a lease with calls
 * in flight settles once they resolve. `read` and `peek` go to the inner store, which counts unused
 * lease units as pending: values may run ahead by them for about `settleIntervalMs`.
 *
 * Local admission, commit and rollback never throw; a failure of the inner store while acquiring
 * a lease rejects the call's `reserve` with the inner store's error, as the inner store would.
 */
export class LeasedCounterStore implements CounterStore {
  readonly kind: CounterStore['kind'];
  /** The backing store. */
  readonly inner: CounterStore;
  private readonly interval: number;
  private readonly divisor: number;
  private readonly maxCalls: number;
  private readonly maxScale: number;
  private readonly active = new Map<string, Lease>();
  private readonly leases = new Set<Lease>();
  private readonly acquiring = new Map<string, Promise<boolean>>();
  private readonly counters = new Map<string, CounterInfo>();
  private readonly local = new Map<string, LocalReservation>();
  /** Single-item routes by counter key (see {@link Route}). */
  private readonly routes = new Map<string, Route>();
  private readonly settling = new Set<Promise<void>>();
  private readonly idPrefix = `lease-${process.pid}-${++instances}-`;
  private nextId = 0;
  private latestNow = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setInterval> | undefined;
  private calls = 0;
  private closed = false;
  /** Counts of what happened, for tests and benchmarks. */
  readonly stats = { local: 0, leases: 0, settlements: 0, bypassed: 0 };

  /**
   * @param inner - the store that holds the counters (SQLite or Redis; memory works but gains nothing)
   * @param options - see {@link LeaseOptions}
   */
  constructor(inner: CounterStore, options: LeaseOptions = {}) {
    this.inner = inner;
    this.kind = inner.kind;
    this.interval = options.settleIntervalMs ?? SETTLE_INTERVAL_MS;
    this.divisor = options.roomDivisor ?? ROOM_DIVISOR;
    this.maxCalls = options.maxCallsPerLease ?? MAX_CALLS_PER_LEASE;
    this.maxScale = this.maxCalls * (options.maxLeaseGrowth ?? MAX_LEASE_GROWTH);
  }

  reserve(items: readonly CounterItem[], now: number, options?: ReserveOptions): Promise<ReserveResult> {
    if (options === undefined) {
      const admitted = this.reserveNow(items, now);
      if (admitted) return Promise.resolve(admitted);
    } else this.observe(now);
    return this.reservePlanned(items, now, options);
  }

  /**
   * The fast path of {@link reserve}, synchronous: a single-counter call whose active lease has
   * room (most calls of a busy counter). `undefined` otherwise, with nothing changed.
   */
  reserveNow(items: readonly CounterItem[], now: number): ReserveResult | undefined {
    this.observe(now);
    if (items.length !== 1 || this.closed) return undefined;
    return this.admitOne(items[0]!, now);
  }

  /** Bookkeeping of every reserve: the latest clock seen, and a prune every 1,024 calls. */
  private observe(now: number): void {
    if (now > this.latestNow) this.latestNow = now;
    if (++this.calls % 1024 === 0) this.prune();
  }

  /**
   * Admits a single-item call from its counter's active lease when the item's route is known and
   * the lease has room; undefined sends the call down the planned path. Allocates only what the
   * result and its reservation hold.
   */
  private admitOne(item: CounterItem, now: number): ReserveResult | undefined {
    const route = this.routes.get(item.key);
    if (
      route === undefined ||
      route.windowMs !== item.windowMs ||
      item.kind !== 'fixed' ||
      item.exact === true ||
      now < route.windowStart ||
      now >= route.windowEnd ||
      route.info.mixed ||
      !(Number.isFinite(item.amount) && item.amount > 0) ||
      !sameChecks(route.checks, item.checks)
    ) {
      return undefined;
    }
    const lease = this.active.get(route.leaseKey);
    const amount = item.amount;
    if (
      lease === undefined ||
      now >= lease.windowEnd ||
      lease.committed + lease.inflight + amount > lease.reserved
    ) {
      return undefined;
    }
    const t = performance.now();
    const value = this.take(lease, amount, now, t);
    if (lease.committed + lease.inflight >= lease.reserved) this.ranOut(lease, t);
    const id = this.recordLocal([lease], [amount], lease.windowEnd);
    const reservation: Reservation = {
      id,
      at: now,
      expiresAt: lease.windowEnd,
      items: [
        { key: item.key, kind: 'fixed', windowStart: route.windowStart, windowMs: item.windowMs, amount },
      ],
    };
    return { ok: true, values: [value], reservation };
  }

  /** Admits `amount` from `lease` (clock `now`, `performance.now()` `t`); returns the counter's value after it. */
  private take(lease: Lease, amount: number, now: number, t: number): number {
    lease.inflight += amount;
    lease.consumed += amount;
    lease.calls++;
    lease.lastUse = t;
    if (now > lease.lastNow) lease.lastNow = now;
    return lease.base + lease.consumed;
  }

  /** Remembers a locally admitted call (for its commit or rollback) under a new reservation id. */
  private recordLocal(leases: readonly Lease[], amounts: readonly number[], expiresAt: number): string {
    const id = `${this.idPrefix}${++this.nextId}`;
    this.local.set(id, { leases, amounts, expiresAt });
    this.stats.local++;
    return id;
  }

  /** A lease has no room left: settle it once its calls resolve; the next lease doubles if this one lasted under a period. */
  private ranOut(lease: Lease, t: number): void {
    const info = this.counters.get(lease.counter);
    if (info && t - lease.createdAt < this.interval) info.scale = Math.min(info.scale * 2, this.maxScale);
    this.retire(lease);
  }

  private async reservePlanned(
    items: readonly CounterItem[],
    now: number,
    options?: ReserveOptions,
  ): Promise<ReserveResult> {
    const plan = options?.expiresAt === undefined && !this.closed ? this.plan(items, now) : undefined;
    if (!plan) return this.reserveInner(items, now, options);
    for (let attempt = 0; ; attempt++) {
      const local = this.admitLocally(plan, now);
      if (local) return local;
      if (attempt === ATTEMPTS) break;
      // The counters whose active lease (if any) cannot cover this call's amount.
      const missing = plan.filter((p) => {
        const lease = this.active.get(p.leaseKey);
        p.lease = lease;
        return !lease || lease.committed + lease.inflight + p.item.amount > lease.reserved;
      });
      if (missing.length === 0) break;
      const acquired = await Promise.all(missing.map((p) => this.acquire(p, now)));
      if (acquired.includes(false) || this.closed) break;
    }
    this.stats.bypassed++;
    return this.reserveInner(items, now);
  }

  peek(items: readonly CounterItem[], now: number): Promise<ReserveResult> {
    return this.inner.peek(items, now);
  }

  read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number> {
    return this.inner.read(key, kind, windowMs, now);
  }

  commit(reservation: Reservation, now = Date.now(), amounts?: readonly number[]): Promise<void> {
    const local = this.local.get(reservation.id);
    if (!local) return this.inner.commit(reservation, now, amounts);
    this.local.delete(reservation.id);
    const live = reservation.expiresAt > now;
    for (let i = 0; i < local.leases.length; i++) {
      const lease = local.leases[i]!;
      const amount = local.amounts[i] ?? 0;
      const kept = live ? (amounts ? Math.min(Math.max(amounts[i] ?? amount, 0), amount) : amount) : 0;
      lease.committed += kept;
      lease.consumed -= amount - kept;
      this.release(lease, amount);
    }
    return SETTLED;
  }

  rollback(reservation: Reservation): Promise<void> {
    const local = this.local.get(reservation.id);
    if (!local) return this.inner.rollback(reservation);
    this.local.delete(reservation.id);
    for (let i = 0; i < local.leases.length; i++) {
      const lease = local.leases[i]!;
      const amount = local.amounts[i] ?? 0;
      lease.consumed -= amount;
      this.release(lease, amount);
    }
    return SETTLED;
  }

  /** Settle every lease (calls still in flight count as committed: the safe side), then close the inner store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.acquiring.values()]);
    for (const lease of [...this.leases]) {
      if (lease.state === 'settled') continue;
      lease.state = 'retired';
      this.active.delete(lease.key);
      this.settle(lease, true);
    }
    await Promise.allSettled([...this.settling]);
    this.stopTimer();
    await this.inner.close();
  }

  /** Wait until every settlement started so far has reached the inner store (tests). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.settling]);
  }

  /** Leases not yet settled (tests and diagnostics). */
  get openLeases(): number {
    return this.leases.size;
  }

  private async reserveInner(
    items: readonly CounterItem[],
    now: number,
    options?: ReserveOptions,
  ): Promise<ReserveResult> {
    const r = await this.inner.reserve(items, now, options);
    // Remember what the inner store reported, to size the next lease.
    if (r.ok) {
      items.forEach((it, i) => {
        if (it.kind === 'fixed') this.remember(it, now, r.values[i]);
      });
    } else {
      const it = items[r.item];
      if (it?.kind === 'fixed') this.remember(it, now, r.value - it.amount);
    }
    return r;
  }

  private remember(item: CounterItem, now: number, value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value)) return;
    const info = this.counters.get(counterKey(item.key, item.windowMs, fixedWindowStart(now, item.windowMs)));
    if (info) info.last = value;
  }

  /** The lease plan of a call, or undefined when any item is not eligible (the call goes to the inner store). */
  private plan(items: readonly CounterItem[], now: number): PlanEntry[] | undefined {
    if (items.length === 0) return undefined;
    let eligible = true;
    const plan: PlanEntry[] = [];
    for (const item of items) {
      if (item.kind !== 'fixed') {
        eligible = false;
        continue;
      }
      const windowStart = fixedWindowStart(now, item.windowMs);
      const counter = counterKey(item.key, item.windowMs, windowStart);
      const signature = checkSignature(item);
      let info = this.counters.get(counter);
      if (!info) {
        info = { end: windowStart + item.windowMs, signature, mixed: false, scale: this.maxCalls };
        this.counters.set(counter, info);
      } else if (!info.mixed && info.signature !== signature) {
        // The same counter under different bounds (or unchecked increments): a lease sized for one
        // bound would admit later calls that the other bound's increments have put over it.
        info.mixed = true;
        for (const lease of this.active.values()) if (lease.counter === counter) this.retire(lease);
      }
      if (!eligible || info.mixed || !leasable(item)) {
        eligible = false;
        continue;
      }
      const leaseKey = `${counter}\u0000${signature}`;
      plan.push({ item, windowStart, leaseKey, counter, lease: this.active.get(leaseKey) });
      if (items.length === 1) {
        if (this.routes.size >= MAX_ROUTES) this.routes.clear();
        this.routes.set(item.key, {
          windowMs: item.windowMs,
          windowStart,
          windowEnd: info.end,
          checks: item.checks,
          leaseKey,
          info,
        });
      }
    }
    return eligible ? plan : undefined;
  }

  /** Admit the call from its leases if every one has room (all or nothing); undefined otherwise. */
  private admitLocally(plan: PlanEntry[], now: number): ReserveResult | undefined {
    for (const p of plan) {
      const lease = this.active.get(p.leaseKey);
      if (!lease || now >= lease.windowEnd) return undefined;
    }
    // A call names each counter once (the evaluator merges them); be safe if it does not.
    const need = new Map<Lease, number>();
    for (const p of plan) {
      p.lease = this.active.get(p.leaseKey)!;
      need.set(p.lease, (need.get(p.lease) ?? 0) + p.item.amount);
    }
    for (const [lease, amount] of need) {
      if (lease.committed + lease.inflight + amount > lease.reserved) return undefined;
    }
    const t = performance.now();
    const leases: Lease[] = [];
    const amounts: number[] = [];
    const values: number[] = [];
    let expiresAt = Number.POSITIVE_INFINITY;
    for (const p of plan) {
      const lease = p.lease!;
      const amount = p.item.amount;
      leases.push(lease);
      amounts.push(amount);
      values.push(this.take(lease, amount, now, t));
      expiresAt = Math.min(expiresAt, lease.windowEnd);
    }
    for (const lease of need.keys()) {
      // Run out: settle as soon as the calls in flight resolve; the next call takes a new lease,
      // twice as large when this one lasted less than a settlement period.
      if (lease.committed + lease.inflight >= lease.reserved) this.ranOut(lease, t);
    }
    const id = this.recordLocal(leases, amounts, expiresAt);
    const reservation: Reservation = {
      id,
      at: now,
      expiresAt,
      items: plan.map((p) => ({
        key: p.item.key,
        kind: 'fixed' as const,
        windowStart: p.windowStart,
        windowMs: p.item.windowMs,
        amount: p.item.amount,
      })),
    };
    return { ok: true, values, reservation };
  }

  /**
   * Make sure an active lease exists for the entry's counter, sharing one acquisition among
   * concurrent callers. Resolves false when no lease can be taken (too little room, or the inner
   * store refused); rejects with the inner store's error.
   */
  private acquire(p: PlanEntry, now: number): Promise<boolean> {
    // Another caller already replaced the lease this call found too small: try that one.
    const current = this.active.get(p.leaseKey);
    if (current && p.lease !== current) return Promise.resolve(true);
    let pending = this.acquiring.get(p.leaseKey);
    if (!pending) {
      pending = this.takeLease(p, now).finally(() => this.acquiring.delete(p.leaseKey));
      this.acquiring.set(p.leaseKey, pending);
    }
    return pending;
  }

  private async takeLease(p: PlanEntry, now: number): Promise<boolean> {
    const { item, windowStart } = p;
    const windowEnd = windowStart + item.windowMs;
    this.retireEnded(now);
    const info = this.counters.get(p.counter);
    if (!info || info.mixed) return false;
    if (info.last === undefined) info.last = await this.inner.read(item.key, 'fixed', item.windowMs, now);
    const last = info.last;
    let bound = Number.POSITIVE_INFINITY;
    for (const c of item.checks) bound = Math.min(bound, c.value);
    const room = bound - last;
    const amount = item.amount;
    const size = Math.floor(Math.min(room / this.divisor, info.scale * amount) / amount) * amount;
    if (!(size >= 2 * amount) || this.closed) return false;
    const leaseItem: CounterItem = {
      key: item.key,
      kind: 'fixed',
      windowMs: item.windowMs,
      amount: size,
      checks: item.checks,
    };
    const r = await this.inner.reserve([leaseItem], now, { expiresAt: windowEnd });
    if (!r.ok) {
      info.last = r.value - size;
      return false;
    }
    const value = r.values[0] ?? last + size;
    info.last = value;
    if (!r.reservation) return false;
    const t = performance.now();
    const lease: Lease = {
      key: p.leaseKey,
      counter: p.counter,
      windowEnd,
      reservation: r.reservation,
      reserved: size,
      base: value - size,
      committed: 0,
      inflight: 0,
      calls: 0,
      consumed: 0,
      lastNow: now,
      createdAt: t,
      lastUse: t,
      state: 'active',
    };
    this.stats.leases++;
    this.leases.add(lease);
    const previous = this.active.get(p.leaseKey);
    if (previous) this.retire(previous);
    if (this.closed || info.mixed) {
      lease.state = 'retired';
      this.settle(lease, false);
      return false;
    }
    this.active.set(p.leaseKey, lease);
    this.startTimer();
    return true;
  }

  /** A call admitted from `lease` resolved: its `amount` is no longer in flight. */
  private release(lease: Lease, amount: number): void {
    lease.calls--;
    lease.inflight = lease.calls > 0 ? lease.inflight - amount : 0;
    lease.lastUse = performance.now();
    if (lease.state === 'retired' && lease.calls === 0) this.settle(lease, false);
  }

  /** Stop admitting from a lease; it settles once its calls in flight resolve. */
  private retire(lease: Lease): void {
    if (lease.state !== 'active') return;
    lease.state = 'retired';
    if (this.active.get(lease.key) === lease) this.active.delete(lease.key);
    if (lease.calls === 0) this.settle(lease, false);
  }

  /**
   * Commit the lease's committed units and return the rest in one inner transaction. With
   * `closing`, units still in flight are committed too (they can no longer be settled later).
   * A failure leaves the inner reservation pending until the window ends: over-counted, never under.
   */
  private settle(lease: Lease, closing: boolean): void {
    if (lease.state === 'settled') return;
    lease.state = 'settled';
    this.leases.delete(lease);
    this.stats.settlements++;
    const used = Math.min(lease.committed + (closing ? Math.max(lease.inflight, 0) : 0), lease.reserved);
    if (used < lease.reserved / 2) {
      // Mostly unused (idle, or the window ended): the next lease of this counter is smaller.
      const info = this.counters.get(lease.counter);
      if (info) info.scale = Math.max(this.maxCalls, Math.floor(info.scale / 2));
    }
    const done =
      used > 0
        ? this.inner.commit(lease.reservation, lease.lastNow, [used])
        : this.inner.rollback(lease.reservation);
    const tracked: Promise<void> = done
      .catch(() => {})
      .finally(() => {
        this.settling.delete(tracked);
      });
    this.settling.add(tracked);
  }

  /** Retire leases whose window has ended by the latest clock seen. */
  private retireEnded(now: number): void {
    if (now > this.latestNow) this.latestNow = now;
    for (const lease of this.active.values()) if (this.latestNow >= lease.windowEnd) this.retire(lease);
  }

  private tick(): void {
    const t = performance.now();
    this.retireEnded(this.latestNow);
    for (const lease of this.leases) {
      // Calls never committed nor rolled back: once the window is over nothing can use the lease;
      // count them as committed (the safe side) so it does not stay in memory for ever.
      if (lease.state === 'retired' && this.latestNow >= lease.windowEnd) this.settle(lease, true);
    }
    for (const lease of this.active.values()) {
      const idle = t - lease.lastUse >= this.interval;
      const due = lease.committed > 0 && t - lease.createdAt >= this.interval;
      if (idle || due) this.retire(lease);
    }
    if (this.leases.size === 0) this.stopTimer();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.max(1, this.interval / 2));
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Forget counters whose window has ended (bounded memory in a long-running process). */
  private prune(): void {
    for (const [k, info] of this.counters) if (info.end <= this.latestNow) this.counters.delete(k);
    for (const [id, r] of this.local) if (r.expiresAt <= this.latestNow) this.local.delete(id);
    for (const [k, route] of this.routes) if (route.windowEnd <= this.latestNow) this.routes.delete(k);
  }
}

function counterKey(key: string, windowMs: number, windowStart: number): string {
  return `${key}\u0000${windowMs}\u0000${windowStart}`;
}

/** The checks of an item as a string: equal strings mean equal bounds (tags do not matter). */
function checkSignature(item: CounterItem): string {
  // An exact item (never leased) differs from every leasable one: after a policy reload that
  // makes a leased counter one that other rules read, its first such call retires the leases.
  let s = item.exact === true ? 'exact;' : '';
  for (const c of item.checks) s += `${c.op}${c.value};`;
  return s;
}

/** Whether two check lists have the same ops and bounds in the same order (tags do not matter). */
function sameChecks(a: readonly CounterCheck[], b: readonly CounterCheck[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.op !== b[i]!.op || a[i]!.value !== b[i]!.value) return false;
  return true;
}

/** Whether an item may be admitted from a lease (see {@link LeasedCounterStore}). */
function leasable(item: CounterItem): boolean {
  if (item.kind !== 'fixed' || item.exact === true) return false;
  if (!(Number.isFinite(item.amount) && item.amount > 0) || item.checks.length === 0) return false;
  for (const c of item.checks) if ((c.op !== 'lt' && c.op !== 'lte') || Number.isNaN(c.value)) return false;
  return true;
}
