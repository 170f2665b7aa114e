/**
 * The counter store contract: atomic, all-or-nothing reservation of every counter one `tools/call`
 * touches, then commit (upstream returned a result) or rollback (upstream returned a JSON-RPC
 * error, or never answered). DESIGN section 4; Intercept POLICY.md "Reserve and rollback".
 */
import { randomUUID } from 'node:crypto';
import { fixedWindowStart } from '../windows.js';

/** Numeric comparisons a store can check atomically against a counter's post-increment value. */
export type NumericOp = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte';

/** One bound a counter must satisfy after this call's increment for the call to be admitted. */
export interface CounterCheck {
  readonly op: NumericOp;
  readonly value: number;
  /**
   * Caller's label for the check, reported back on failure. The evaluator uses the index of the
   * rule in evaluation order, so the lowest failing tag names the denial.
   */
  readonly tag: number;
}

/**
 * One counter touched by a call.
 * - `fixed`: a sum over the calendar-aligned UTC window of `windowMs` containing `now`.
 * - `sliding`: the number of admitted calls in the rolling `windowMs` ending at `now` (per-call
 *   timestamps, exact); `amount` must be 1.
 */
export interface CounterItem {
  /** Store key, independent of the policy hash so counters survive reloads. */
  readonly key: string;
  readonly kind: 'fixed' | 'sliding';
  /** Window length in milliseconds. */
  readonly windowMs: number;
  /** Amount added when admitted (a non-negative finite number). */
  readonly amount: number;
  readonly checks: readonly CounterCheck[];
  /**
   * Set by the evaluator when it needs this counter's exact post-increment value (a condition the
   * store cannot check, such as a non-numeric op on a counter). Such items are never admitted from
   * a lease (`LeasedCounterStore`); they always go to the backing store.
   */
  readonly exact?: boolean;
}

/** Options of {@link CounterStore.reserve}. */
export interface ReserveOptions {
  /**
   * Epoch ms at which the reservation stops counting if it is never committed or rolled back
   * (default {@link defaultExpiry}: the end of its longest window, at least `now` + the store's
   * reservation TTL of 15 min). Leases pass the end of their fixed window, so a process killed
   * while holding one leaves it counted until the window ends.
   */
  readonly expiresAt?: number;
}

/** What a reservation holds, so commit/rollback can find it again (also across processes). */
export interface ReservedItem {
  readonly key: string;
  readonly kind: 'fixed' | 'sliding';
  /** For fixed windows: start of the window (epoch ms) the amount was added to. */
  readonly windowStart: number;
  readonly windowMs: number;
  readonly amount: number;
}

/** Pending increments of one admitted call. Commit or roll back exactly once (repeats are no-ops). */
export interface Reservation {
  /** Random unique id. */
  readonly id: string;
  /** Clock time (epoch ms) of the reservation; also the sliding-window timestamp of the call. */
  readonly at: number;
  /**
   * Epoch ms after which an uncommitted reservation stops counting (its quota returns), so a
   * proxy that crashes between reserve and commit cannot hold quota forever. By default this is
   * no earlier than the end of the windows the reservation counts in ({@link defaultExpiry}): by
   * then a committed call would have stopped counting too, so a call still in flight (a long
   * tool) keeps its quota taken for as long as a finished one would. Committing after this moment
   * is a no-op.
   */
  readonly expiresAt: number;
  readonly items: readonly ReservedItem[];
}

/**
 * When a reservation stops counting if it is never settled: the latest end of the windows it
 * counts in (a fixed window's calendar end, `now` + the length of a sliding one), and no earlier
 * than `now + ttlMs`. Until then an unsettled reservation counts exactly as the committed call
 * would, so expiry never hands back quota that a finished call would still hold (a tester kept a
 * call in flight past a 15-minute TTL under a one-hour limit, and a second call got in).
 *
 * @param now clock time in epoch ms
 * @param ttlMs the store's minimum reservation life in ms
 * @returns epoch ms
 */
export function defaultExpiry(
  items: readonly { kind: 'fixed' | 'sliding'; windowMs: number }[],
  now: number,
  ttlMs: number,
): number {
  let end = now + ttlMs;
  for (const it of items) {
    const windowEnd =
      it.kind === 'fixed' ? fixedWindowStart(now, it.windowMs) + it.windowMs : now + it.windowMs;
    if (windowEnd > end) end = windowEnd;
  }
  return end;
}

/**
 * The reservation record every store returns from `reserve`: each item with the window it counts
 * in (a fixed window's calendar-aligned UTC start, or `now` as the call's sliding-window timestamp).
 *
 * @param now clock time in epoch ms
 * @param ttlMs the store's minimum life, in ms, of a reservation never committed or rolled back
 * @param id the reservation id (default: a random UUID; Redis passes the one its script stored)
 * @param expiresAt explicit expiry in epoch ms ({@link ReserveOptions.expiresAt}); default
 *   {@link defaultExpiry}
 */
export function makeReservation(
  items: readonly CounterItem[],
  now: number,
  ttlMs: number,
  id: string = randomUUID(),
  expiresAt: number = defaultExpiry(items, now, ttlMs),
): Reservation {
  return {
    id,
    at: now,
    expiresAt,
    items: items.map((it) => ({
      key: it.key,
      kind: it.kind,
      windowMs: it.windowMs,
      windowStart: it.kind === 'fixed' ? fixedWindowStart(now, it.windowMs) : now,
      amount: it.amount,
    })),
  };
}

/** Outcome of {@link CounterStore.reserve} / {@link CounterStore.peek}. */
export type ReserveResult =
  | {
      readonly ok: true;
      /** Present for `reserve` when at least one item was given; absent for `peek`. */
      readonly reservation?: Reservation;
      /** Post-increment value of each item, in input order. */
      readonly values: readonly number[];
    }
  | {
      readonly ok: false;
      /** Lowest {@link CounterCheck.tag} that failed. */
      readonly tag: number;
      /** Index (in input order) of the item whose check failed. */
      readonly item: number;
      /** Post-increment value that failed the check. */
      readonly value: number;
      /** Milliseconds until the failing counter can admit this call again (window roll-over or oldest sliding entry ageing out). */
      readonly retryAfterMs: number;
    };

/** Raised by stores when the backing state cannot be reached; the evaluator maps it to fail-open/fail-closed. */
export class StateUnavailableError extends Error {
  override readonly name = 'StateUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A counter store. Implementations: memory (one process), SQLite (default, many processes on one
 * host), Redis (many hosts). All admissions are exact: N concurrent reserves against a bound of K
 * admit exactly K.
 */
export interface CounterStore {
  readonly kind: 'memory' | 'sqlite' | 'redis';
  /**
   * Atomically check every item's `checks` against its post-increment value and, only if all
   * hold, add every amount as one pending reservation (all-or-nothing).
   *
   * @param items - counters of one call; amounts must be finite and >= 0
   * @param now - clock, epoch ms
   * @param options - `expiresAt`: when an unsettled reservation stops counting (epoch ms)
   * @throws StateUnavailableError when the store cannot be reached
   */
  reserve(items: readonly CounterItem[], now: number, options?: ReserveOptions): Promise<ReserveResult>;
  /**
   * Optional: {@link reserve} done synchronously when the store can decide without I/O (a lease
   * with room, say); `undefined` when it cannot, and nothing was changed (call `reserve` then).
   * Never throws. Lets the proxy decide a call within the turn it arrived in.
   */
  reserveNow?(items: readonly CounterItem[], now: number): ReserveResult | undefined;
  /** Same evaluation as {@link reserve} without writing anything (used by `tollgate explain`). */
  peek(items: readonly CounterItem[], now: number): Promise<ReserveResult>;
  /** Current value of one counter (pending reservations included) without writing. */
  read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number>;
  /**
   * Make a reservation permanent. Idempotent. A reservation already past its
   * {@link Reservation.expiresAt} at `now` is not applied (its quota was returned at expiry).
   *
   * Partial commit: with `amounts`, item `i` adds `amounts[i]` (clamped to `0..items[i].amount`)
   * to its counter and the rest of its reserved amount is returned, in one atomic step. A sliding
   * item is committed when its amount is > 0 and returned otherwise. Leases settle this way.
   *
   * @param now - clock, epoch ms (default `Date.now()`)
   * @param amounts - per item, in reservation order, the part to keep (default: all of it)
   */
  commit(reservation: Reservation, now?: number, amounts?: readonly number[]): Promise<void>;
  /** Return a reservation's quota. Idempotent. */
  rollback(reservation: Reservation): Promise<void>;
  /** Release connections and handles. */
  close(): Promise<void>;
}

/**
 * The amount of reserved item `i` a (partial) commit makes permanent: `amounts[i]` clamped to
 * `0..reserved`, or all of it when `amounts` is absent.
 */
export function committedAmount(reserved: number, amounts: readonly number[] | undefined, i: number): number {
  if (!amounts) return reserved;
  const a = amounts[i] ?? reserved;
  return Number.isFinite(a) ? Math.min(Math.max(a, 0), reserved) : 0;
}

/** Default life of an uncommitted reservation: 15 minutes (longer than any sane tool call). */
export const DEFAULT_RESERVATION_TTL_MS = 15 * 60_000;

/** True when `value` satisfies `op` against `bound`. */
export function checkHolds(op: NumericOp, value: number, bound: number): boolean {
  switch (op) {
    case 'eq':
      return value === bound;
    case 'neq':
      return value !== bound;
    case 'lt':
      return value < bound;
    case 'lte':
      return value <= bound;
    case 'gt':
      return value > bound;
    case 'gte':
      return value >= bound;
  }
}

/**
 * Milliseconds until a counter admits again: for fixed windows the end of the window; for sliding
 * windows the moment enough of the oldest timestamps age out that `count + 1 <= max` holds again.
 *
 * @param sortedTimestamps - timestamps (epoch ms) counted in the sliding window, ascending
 */
export function retryAfter(
  item: CounterItem,
  now: number,
  sortedTimestamps: readonly number[] | undefined,
  failedCheck: CounterCheck | undefined,
): number {
  if (item.kind === 'fixed') {
    return Math.floor(now / item.windowMs) * item.windowMs + item.windowMs - now;
  }
  const ts = sortedTimestamps ?? [];
  return slidingRetryAfter(item, now, ts[slidingExpiryIndex(item, ts.length, failedCheck)]);
}

/**
 * For a sliding window holding `count` timestamps: the 0-based index, oldest first, of the one
 * whose aging out lets the call in (only an upper bound can be satisfied by waiting: for other
 * checks, the newest), or -1 when the window is empty. Lets a store fetch that one timestamp
 * instead of all of them.
 */
export function slidingExpiryIndex(
  item: CounterItem,
  count: number,
  failedCheck: CounterCheck | undefined,
): number {
  let mustDrop = count;
  if (failedCheck && (failedCheck.op === 'lte' || failedCheck.op === 'lt')) {
    const allowed = failedCheck.op === 'lte' ? failedCheck.value : Math.ceil(failedCheck.value) - 1;
    // Whole timestamps age out: a fractional bound or amount rounds up.
    mustDrop = Math.ceil(count + item.amount - allowed);
  }
  return Math.min(Math.max(mustDrop, 1), count) - 1;
}

/**
 * Milliseconds until a sliding window admits again, given the timestamp (epoch ms) at
 * {@link slidingExpiryIndex}: when it leaves the window, at least 1; the whole window when there
 * is none.
 */
export function slidingRetryAfter(item: CounterItem, now: number, expiring: number | undefined): number {
  if (expiring === undefined) return item.windowMs;
  return Math.max(1, expiring + item.windowMs - now);
}

/**
 * Evaluate every check of every item given current values; returns the failure with the lowest tag.
 * Shared by the memory and SQLite stores (Redis does the same inside its Lua script).
 */
export function firstFailure(
  items: readonly CounterItem[],
  current: readonly number[],
): { item: number; check: CounterCheck; value: number } | undefined {
  let best: { item: number; check: CounterCheck; value: number } | undefined;
  items.forEach((it, i) => {
    const value = (current[i] ?? 0) + it.amount;
    // From 2^53 on a double no longer counts in ones (2^53 + 1 is 2^53): the sum may be rounded,
    // so no bound can vouch for it, and the call is refused (the memory and SQLite stores share
    // this check; the denial says why).
    const rounded = Math.abs(value) > Number.MAX_SAFE_INTEGER;
    for (const c of it.checks) {
      if ((rounded || !checkHolds(c.op, value, c.value)) && (!best || c.tag < best.check.tag)) {
        best = { item: i, check: c, value };
      }
    }
  });
  return best;
}
