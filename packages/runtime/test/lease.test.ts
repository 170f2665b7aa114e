// Counter leases (LeasedCounterStore) over real stores: SQLite files, a real redis-server, memory.
// Multi-process races and the SIGKILL test are in admission.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CounterItem, type CounterStore, StateUnavailableError } from '../src/store/counter-store.js';
import { LeasedCounterStore } from '../src/store/lease.js';
import { MemoryCounterStore } from '../src/store/memory.js';
import { RedisCounterStore } from '../src/store/redis.js';
import { SqliteCounterStore } from '../src/store/sqlite.js';
import { CountingStore } from './counting-store.js';
import { type RedisServer, redisAvailability, startRedisServer } from './redis-server.js';

const T0 = Date.UTC(2026, 10, 29, 10, 30, 0, 0); // a minute boundary
const MIN = 60_000;

function fixed(key: string, max: number, amount = 1, op: 'lte' | 'lt' | 'gte' = 'lte'): CounterItem {
  return { key, kind: 'fixed', windowMs: MIN, amount, checks: [{ op, value: max, tag: 0 }] };
}

/** Poll (no timing assertion) until `fn` holds; fails after 5 s. */
async function until(fn: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Forwards to a real store but leaves it open on close() (the test closes it itself). */
class KeepOpen extends CountingStore {
  override async close(): Promise<void> {}
}

let dir = '';
let redis: RedisServer | undefined;
let n = 0;
const redisState = redisAvailability();

interface Backend {
  name: string;
  skip?: boolean;
  /** Two connections to the same state (two "processes"), or one store twice for memory. */
  open(): Promise<[CounterStore, CounterStore]>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    open: async () => {
      const file = join(dir, `l${n++}.sqlite`);
      return [new SqliteCounterStore({ file }), new SqliteCounterStore({ file })];
    },
  },
  {
    name: 'redis',
    skip: !redisState.run,
    open: async () => {
      const prefix = `l${n++}:`;
      const a = new RedisCounterStore({ url: redis!.url, prefix });
      const b = new RedisCounterStore({ url: redis!.url, prefix });
      await Promise.all([a.ready(), b.ready()]);
      return [a, b];
    },
  },
  {
    name: 'memory',
    open: async () => {
      // One in-process store seen twice; the lease layer's close() must not wipe it before the test reads it.
      const m = new MemoryCounterStore();
      return [new KeepOpen(m), m];
    },
  },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-lease-'));
  if (redisState.run) redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

for (const b of backends) {
  describe.skipIf(Boolean(b.skip))(`leases over ${b.name}`, () => {
    it('far from the bound, calls are admitted from one lease: one read and one reserve for 64 calls', async () => {
      const [inner, other] = await b.open();
      const counting = new CountingStore(inner);
      const s = new LeasedCounterStore(counting);
      const item = fixed('far', 10_000);
      for (let i = 1; i <= 64; i++) {
        const r = await s.reserve([item], T0 + i);
        expect(r.ok && r.values).toEqual([i]);
        if (r.ok) await s.commit(r.reservation!, T0 + i);
      }
      // min(10,000 / 16, 64 x 1) = 64 units in one reservation expiring at the end of the window.
      // Exhausted: settled at once, all 64 committed in one commit.
      expect(counting.counts).toMatchObject({ read: 1, reserve: 1, commit: 1, rollback: 0 });
      expect(counting.reserved[0]!.items[0]!.amount).toBe(64);
      expect(counting.reserved[0]!.options).toEqual({ expiresAt: T0 + MIN });
      expect(s.stats.local).toBe(64);
      await s.flush();
      expect(await other.read('far', 'fixed', MIN, T0 + 100)).toBe(64);
      await s.close();
      if (other !== inner) await other.close();
    });

    it('near the bound there are no leases: every call goes to the store, exactly', async () => {
      const [inner, other] = await b.open();
      const counting = new CountingStore(inner);
      const s = new LeasedCounterStore(counting);
      const item = fixed('near', 20);
      let admitted = 0;
      for (let i = 0; i < 25; i++) {
        const r = await s.reserve([item], T0);
        if (r.ok) {
          admitted++;
          await s.commit(r.reservation!, T0);
        }
      }
      expect(admitted).toBe(20);
      // room 20 / 16 < 2 calls: never a lease; 25 reserves + 20 commits, as without leases.
      expect(counting.counts).toMatchObject({ reserve: 25, commit: 20 });
      expect(counting.reserved.every((r) => r.items[0] === item)).toBe(true);
      expect(s.stats.leases).toBe(0);
      expect(await other.read('near', 'fixed', MIN, T0)).toBe(20);
      await s.close();
      if (other !== inner) await other.close();
    });

    it('leases shrink towards the bound and stop there; the bound is never exceeded', async () => {
      const [inner, other] = await b.open();
      const s = new LeasedCounterStore(inner);
      const item = fixed('shrink', 500);
      let admitted = 0;
      for (let i = 0; i < 600; i++) {
        const r = await s.reserve([item], T0);
        if (r.ok) {
          admitted++;
          await s.commit(r.reservation!, T0);
        }
      }
      expect(admitted).toBe(500);
      await s.close();
      expect(await other.read('shrink', 'fixed', MIN, T0)).toBe(500);
      if (other !== inner) await other.close();
    });

    it('rollback returns the units to the lease for reuse; only committed units reach the store', async () => {
      const [inner, other] = await b.open();
      const counting = new CountingStore(inner);
      const s = new LeasedCounterStore(counting);
      const item = fixed('rb', 10_000);
      const a = await s.reserve([item], T0);
      const c = await s.reserve([item], T0);
      expect(a.ok && a.values).toEqual([1]);
      expect(c.ok && c.values).toEqual([2]);
      if (!a.ok || !c.ok) throw new Error('unreachable');
      await s.rollback(a.reservation!);
      await s.rollback(a.reservation!); // idempotent
      await s.commit(c.reservation!, T0);
      // The rolled-back unit is free again: 63 more calls fit in the 64-unit lease.
      for (let i = 0; i < 63; i++) {
        const r = await s.reserve([item], T0);
        expect(r.ok).toBe(true);
        if (r.ok) await s.commit(r.reservation!, T0);
      }
      expect(counting.counts.reserve).toBe(1);
      // A partial local commit keeps part of a call's amount.
      const big = fixed('rb2', 100_000, 10);
      const p = await s.reserve([big], T0);
      if (p.ok) await s.commit(p.reservation!, T0, [4]);
      await s.close();
      expect(await other.read('rb', 'fixed', MIN, T0)).toBe(64);
      expect(await other.read('rb2', 'fixed', MIN, T0)).toBe(4);
      if (other !== inner) await other.close();
    });

    it('an unused lease is settled after ~100 ms and its units return to other processes', async () => {
      const [inner, other] = await b.open();
      const s = new LeasedCounterStore(inner);
      const item = fixed('idle', 1_000);
      const r = await s.reserve([item], T0);
      if (r.ok) await s.commit(r.reservation!, T0);
      // The lease (min(1,000 / 16, 64) = 62 units) counts as pending in the store meanwhile.
      expect(await other.read('idle', 'fixed', MIN, T0)).toBe(62);
      await until(() => s.openLeases === 0);
      await s.flush();
      expect(await other.read('idle', 'fixed', MIN, T0)).toBe(1);
      // Another process can now take everything else, exactly.
      let admitted = 0;
      for (let i = 0; i < 1_001; i++) {
        const x = await other.reserve([item], T0);
        if (x.ok) {
          admitted++;
          await other.commit(x.reservation!, T0);
        }
      }
      expect(admitted).toBe(999);
      await s.close();
      if (other !== inner) await other.close();
    });

    it('the committed part is written while a lease stays in use (at least every ~100 ms)', async () => {
      const [inner, other] = await b.open();
      const s = new LeasedCounterStore(inner, { maxCallsPerLease: 1_000_000 });
      const item = fixed('busy', 1_000_000);
      let committed = 0;
      let written = 0;
      // Keep the lease busy (a call every few ms) until the store shows committed units.
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        const r = await s.reserve([item], T0);
        if (r.ok) {
          await s.commit(r.reservation!, T0);
          committed++;
        }
        await new Promise((res) => setTimeout(res, 2));
        await s.flush();
        const leased = await other.read('busy', 'fixed', MIN, T0);
        // Read = committed + pending lease; settled units make it drop back to the committed count.
        if (leased === committed) {
          written = leased;
          break;
        }
      }
      expect(written).toBeGreaterThan(0);
      await s.close();
      expect(await other.read('busy', 'fixed', MIN, T0)).toBe(committed);
      if (other !== inner) await other.close();
    });

    it('a lease never crosses a window boundary: the old one settles, the new window starts at the new count', async () => {
      const [inner, other] = await b.open();
      const counting = new CountingStore(inner);
      const s = new LeasedCounterStore(counting);
      const item = fixed('roll', 10_000);
      for (let i = 0; i < 3; i++) {
        const r = await s.reserve([item], T0 + 59_000);
        if (r.ok) await s.commit(r.reservation!, T0 + 59_000);
      }
      const next = await s.reserve([item], T0 + MIN);
      expect(next.ok && next.values).toEqual([1]);
      expect(next.ok && next.reservation!.items[0]!.windowStart).toBe(T0 + MIN);
      expect(counting.reserved.map((r) => r.options?.expiresAt)).toEqual([T0 + MIN, T0 + 2 * MIN]);
      await s.flush();
      // The previous window's lease settled with its 3 committed units.
      expect(await other.read('roll', 'fixed', MIN, T0 + 59_999)).toBe(3);
      if (next.ok) await s.commit(next.reservation!, T0 + MIN);
      await s.close();
      expect(await other.read('roll', 'fixed', MIN, T0 + MIN)).toBe(1);
      if (other !== inner) await other.close();
    });

    it('a changed bound (policy reload) never reuses the old lease', async () => {
      const [inner, other] = await b.open();
      const counting = new CountingStore(inner);
      const s = new LeasedCounterStore(counting);
      const r1 = await s.reserve([fixed('bound', 10_000)], T0);
      if (r1.ok) await s.commit(r1.reservation!, T0);
      expect(counting.counts.reserve).toBe(1);
      // The bound drops to 1: the old lease (64 units) must not admit this call.
      const r2 = await s.reserve([fixed('bound', 1)], T0);
      expect(r2.ok).toBe(false);
      expect(counting.counts.reserve).toBe(2);
      expect(counting.reserved[1]!.items[0]!.checks[0]!.value).toBe(1);
      await s.close();
      expect(await other.read('bound', 'fixed', MIN, T0)).toBe(1);
      if (other !== inner) await other.close();
    });

    it('ineligible calls bypass leases wholly: sliding, gte, exact, zero amount, and mixed calls', async () => {
      const [inner, other] = await b.open();
      const counting = new CountingStore(inner);
      const s = new LeasedCounterStore(counting);
      const sliding: CounterItem = {
        key: 'sl',
        kind: 'sliding',
        windowMs: MIN,
        amount: 1,
        checks: [{ op: 'lte', value: 10_000, tag: 0 }],
      };
      const calls: CounterItem[][] = [
        [sliding],
        [fixed('gte', 0, 1, 'gte')],
        [{ ...fixed('ex', 10_000), exact: true }],
        [fixed('zero', 10_000, 0)],
        [fixed('mix', 10_000), sliding],
      ];
      for (const items of calls) {
        for (let i = 0; i < 3; i++) {
          const r = await s.reserve(items, T0);
          expect(r.ok).toBe(true);
          if (r.ok) await s.commit(r.reservation!, T0);
        }
      }
      expect(s.stats.leases).toBe(0);
      expect(counting.counts.reserve).toBe(15);
      expect(counting.reserved.map((r) => r.items)).toEqual(calls.flatMap((c) => [c, c, c]));
      expect(await other.read('mix', 'fixed', MIN, T0)).toBe(3);
      expect(await other.read('sl', 'sliding', MIN, T0)).toBe(6);
      await s.close();
      if (other !== inner) await other.close();
    });

    it('a counter seen with different checks in one window (or unchecked) is never leased', async () => {
      const [inner, other] = await b.open();
      const s = new LeasedCounterStore(inner);
      const a = await s.reserve([fixed('shared', 10_000)], T0);
      expect(s.openLeases).toBe(1);
      // Another rule increments the same counter without a check: the lease is retired.
      const unchecked: CounterItem = { key: 'shared', kind: 'fixed', windowMs: MIN, amount: 5, checks: [] };
      const u = await s.reserve([unchecked], T0);
      expect(u.ok && u.values).toEqual([69]); // 64 leased + 5
      if (a.ok) await s.commit(a.reservation!, T0);
      await s.flush();
      expect(s.openLeases).toBe(0);
      const c = await s.reserve([fixed('shared', 10_000)], T0);
      expect(c.ok && c.values).toEqual([7]);
      expect(s.stats.leases).toBe(1);
      if (u.ok) await s.commit(u.reservation!, T0);
      if (c.ok) await s.commit(c.reservation!, T0);
      await s.close();
      expect(await other.read('shared', 'fixed', MIN, T0)).toBe(7);
      if (other !== inner) await other.close();
    });

    it('multi-counter calls are admitted from several leases all or nothing', async () => {
      const [inner, other] = await b.open();
      const s = new LeasedCounterStore(inner);
      const calls = fixed('m-calls', 10_000);
      const spend = fixed('m-spend', 100_000, 7.5);
      for (let i = 0; i < 10; i++) {
        const r = await s.reserve([calls, spend], T0);
        expect(r.ok && r.values).toEqual([i + 1, (i + 1) * 7.5]);
        if (r.ok) await s.commit(r.reservation!, T0);
      }
      expect(s.stats).toMatchObject({ leases: 2, local: 10 });
      await s.close();
      expect(await other.read('m-calls', 'fixed', MIN, T0)).toBe(10);
      expect(await other.read('m-spend', 'fixed', MIN, T0)).toBe(75);
      if (other !== inner) await other.close();
    });

    it('concurrent calls share one lease acquisition', async () => {
      const [inner, other] = await b.open();
      const counting = new CountingStore(inner);
      const s = new LeasedCounterStore(counting);
      const item = fixed('conc', 10_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => s.reserve([item], T0)));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(counting.counts).toMatchObject({ read: 1, reserve: 1 });
      for (const r of results) if (r.ok) await s.commit(r.reservation!, T0);
      await s.close();
      expect(await other.read('conc', 'fixed', MIN, T0)).toBe(50);
      if (other !== inner) await other.close();
    });

    it('close() with calls in flight counts them as committed (the safe side)', async () => {
      const [inner, other] = await b.open();
      const s = new LeasedCounterStore(inner);
      const item = fixed('fly', 10_000);
      await s.reserve([item], T0);
      await s.reserve([item], T0);
      await s.close();
      expect(await other.read('fly', 'fixed', MIN, T0)).toBe(2);
      if (other !== inner) await other.close();
    });
  });
}

describe('leases and store failures', () => {
  it('a store failure while taking a lease rejects like the store would; local admission never throws', async () => {
    const inner = new SqliteCounterStore({ file: join(dir, 'broken.sqlite') });
    const s = new LeasedCounterStore(inner);
    const item = fixed('f', 10_000);
    const ok = await s.reserve([item], T0);
    expect(ok.ok).toBe(true);
    // The lease is in memory: admission and commit keep working with the store gone.
    await inner.close();
    const local = await s.reserve([item], T0);
    expect(local.ok && local.values).toEqual([2]);
    if (local.ok) await s.commit(local.reservation!, T0);
    // A new counter needs the store: the error is the store's own.
    await expect(s.reserve([fixed('g', 10_000)], T0)).rejects.toBeInstanceOf(StateUnavailableError);
    await expect(s.reserve([fixed('g', 10_000)], T0)).rejects.toThrow(/SQLite state .*: read failed/);
    await s.close().catch(() => {});
  });
});

describe('leases and abandoned calls', () => {
  it('a call never committed nor rolled back is counted as committed once its window is over', async () => {
    const file = join(dir, 'abandoned.sqlite');
    const s = new LeasedCounterStore(new SqliteCounterStore({ file }));
    const other = new SqliteCounterStore({ file });
    const item = fixed('ab', 10_000);
    const lost = await s.reserve([item], T0 + 1_000);
    expect(lost.ok).toBe(true);
    // The next window begins: the old lease stops admitting but waits for its call in flight.
    const next = await s.reserve([item], T0 + MIN);
    if (next.ok) await s.commit(next.reservation!, T0 + MIN);
    await until(() => s.openLeases === 1);
    await s.flush();
    expect(await other.read('ab', 'fixed', MIN, T0 + 59_999)).toBe(1);
    await s.close();
    expect(await other.read('ab', 'fixed', MIN, T0 + MIN)).toBe(1);
    await other.close();
  });
});

describe('lease sizing follows the call rate', () => {
  it('a lease used up within one settlement period is followed by one twice as large, up to the growth cap', async () => {
    const counting = new CountingStore(new SqliteCounterStore({ file: join(dir, 'grow.sqlite') }));
    // A settlement period far longer than the test: every lease is used up "fast".
    const s = new LeasedCounterStore(counting, {
      maxCallsPerLease: 4,
      maxLeaseGrowth: 4,
      settleIntervalMs: 60_000,
    });
    const item = fixed('grow', 100_000);
    for (let i = 1; i <= 4 + 8 + 16 + 16 + 16; i++) {
      const r = await s.reserve([item], T0 + i);
      expect(r.ok && r.values).toEqual([i]);
      if (r.ok) await s.commit(r.reservation!, T0 + i);
    }
    expect(counting.reserved.map((r) => r.items[0]!.amount)).toEqual([4, 8, 16, 16, 16]);
    await s.close();
  });

  it('the room bound still caps a grown lease', async () => {
    const counting = new CountingStore(new SqliteCounterStore({ file: join(dir, 'grow-room.sqlite') }));
    const s = new LeasedCounterStore(counting, {
      maxCallsPerLease: 4,
      maxLeaseGrowth: 64,
      settleIntervalMs: 60_000,
    });
    const item = fixed('grow-room', 400);
    for (let i = 1; i <= 4 + 8 + 16; i++) {
      const r = await s.reserve([item], T0 + i);
      if (r.ok) await s.commit(r.reservation!, T0 + i);
    }
    // Sizes 4, 8, 16; then 32 would pass (400 - 28) / 16 = 23.25: the lease is 23.
    await s.reserve([item], T0 + 100);
    expect(counting.reserved.map((r) => r.items[0]!.amount)).toEqual([4, 8, 16, 23]);
    await s.close();
  });

  it('a lease settled mostly unused is followed by one half as large', async () => {
    const counting = new CountingStore(new SqliteCounterStore({ file: join(dir, 'shrink.sqlite') }));
    const s = new LeasedCounterStore(counting, {
      maxCallsPerLease: 2,
      maxLeaseGrowth: 8,
      settleIntervalMs: 100,
    });
    const item = fixed('shrink', 100_000);
    // Two leases used up back to back (a few microseconds each, far inside 100 ms): sizes 2, 4, then 8.
    for (let i = 1; i <= 2 + 4 + 1; i++) {
      const r = await s.reserve([item], T0 + i);
      if (r.ok) await s.commit(r.reservation!, T0 + i);
    }
    expect(counting.reserved.map((r) => r.items[0]!.amount)).toEqual([2, 4, 8]);
    // The 8-lease holds 1 committed call; left idle, it settles with 7 of 8 unused.
    await until(() => s.openLeases === 0);
    const r = await s.reserve([item], T0 + 50);
    if (r.ok) await s.commit(r.reservation!, T0 + 50);
    expect(counting.reserved.at(-1)!.items[0]!.amount).toBe(4);
    await s.close();
  });
});
