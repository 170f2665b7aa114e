// Test helper: a CounterStore that forwards to a real store and counts the calls that reach it,
// so tests can see how many store transactions the lease layer saved (not a mock: every call runs).
import type {
  CounterItem,
  CounterStore,
  Reservation,
  ReserveOptions,
  ReserveResult,
} from '../src/store/counter-store.js';

/** Calls that reached the wrapped store, by method. */
export interface CallCounts {
  reserve: number;
  commit: number;
  rollback: number;
  read: number;
  peek: number;
}

/** Wraps a real store; `counts` says how often each method was called, `reserved` records reserve arguments. */
export class CountingStore implements CounterStore {
  readonly counts: CallCounts = { reserve: 0, commit: 0, rollback: 0, read: 0, peek: 0 };
  readonly reserved: { items: readonly CounterItem[]; options?: ReserveOptions }[] = [];
  constructor(readonly inner: CounterStore) {}
  get kind() {
    return this.inner.kind;
  }
  /** reserve + commit + rollback: the write transactions. */
  get transactions(): number {
    return this.counts.reserve + this.counts.commit + this.counts.rollback;
  }
  reserve(items: readonly CounterItem[], now: number, options?: ReserveOptions): Promise<ReserveResult> {
    this.counts.reserve++;
    this.reserved.push({ items, options });
    return this.inner.reserve(items, now, options);
  }
  peek(items: readonly CounterItem[], now: number): Promise<ReserveResult> {
    this.counts.peek++;
    return this.inner.peek(items, now);
  }
  read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number> {
    this.counts.read++;
    return this.inner.read(key, kind, windowMs, now);
  }
  commit(reservation: Reservation, now?: number, amounts?: readonly number[]): Promise<void> {
    this.counts.commit++;
    return this.inner.commit(reservation, now, amounts);
  }
  rollback(reservation: Reservation): Promise<void> {
    this.counts.rollback++;
    return this.inner.rollback(reservation);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
