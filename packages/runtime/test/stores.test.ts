import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterItem, CounterStore } from '../src/store/counter-store.js';
import { MemoryCounterStore } from '../src/store/memory.js';
import { RedisCounterStore } from '../src/store/redis.js';
import { SqliteCounterStore } from '../src/store/sqlite.js';
import { type RedisServer, redisAvailability, startRedisServer } from './redis-server.js';

const T0 = Date.UTC(2026, 10, 29, 10, 30, 0, 0); // a minute boundary
const MIN = 60_000;

function fixed(key: string, max: number, amount = 1, tag = 0): CounterItem {
  return { key, kind: 'fixed', windowMs: MIN, amount, checks: [{ op: 'lte', value: max, tag }] };
}
function sliding(key: string, max: number, windowMs = MIN, tag = 0): CounterItem {
  return { key, kind: 'sliding', windowMs, amount: 1, checks: [{ op: 'lte', value: max, tag }] };
}

interface Factory {
  name: string;
  skip?: string;
  open(opts?: { reservationTtlMs?: number }): Promise<CounterStore>;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

let dir = '';
let redis: RedisServer | undefined;
let n = 0;
const redisState = redisAvailability();

const factories: Factory[] = [
  { name: 'memory', open: async (o) => new MemoryCounterStore(o) },
  {
    name: 'sqlite',
    open: async (o) => new SqliteCounterStore({ file: join(dir, `s${n++}.sqlite`), ...o }),
  },
  {
    name: 'redis',
    skip: redisState.run ? undefined : redisState.reason,
    open: async (o) => {
      const s = new RedisCounterStore({ url: redis!.url, prefix: `t${n++}:`, ...o });
      await s.ready();
      return s;
    },
  },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-stores-'));
  if (redisState.run) redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

for (const f of factories) {
  describe.skipIf(Boolean(f.skip))(`${f.name} counter store`, () => {
    it('admits up to the bound in a calendar-aligned fixed window, then reopens at the next UTC minute', async () => {
      const s = await f.open();
      const item = fixed('calls', 3);
      for (let i = 0; i < 3; i++) {
        const r = await s.reserve([item], T0 + 59_000 + i);
        expect(r.ok).toBe(true);
        if (r.ok) await s.commit(r.reservation!, T0 + 59_000 + i);
      }
      const denied = await s.reserve([item], T0 + 59_500);
      expect(denied).toEqual({ ok: false, tag: 0, item: 0, value: 4, retryAfterMs: 500 });
      expect(await s.read('calls', 'fixed', MIN, T0 + 59_999)).toBe(3);
      const next = await s.reserve([item], T0 + MIN);
      expect(next.ok).toBe(true);
      expect(next.ok && next.values).toEqual([1]);
      await s.close();
    });

    it('sliding window admits at most max in any rolling window, exactly', async () => {
      const s = await f.open();
      const item = sliding('s', 2);
      for (const t of [0, 10_000]) {
        const r = await s.reserve([item], T0 + t);
        expect(r.ok).toBe(true);
        if (r.ok) await s.commit(r.reservation!, T0 + t);
      }
      const denied = await s.reserve([item], T0 + 20_000);
      expect(denied).toEqual({ ok: false, tag: 0, item: 0, value: 3, retryAfterMs: 40_000 });
      expect((await s.reserve([item], T0 + 59_999)).ok).toBe(false);
      // The call at T0 ages out exactly one window later; the one at T0+10s still counts.
      const ok = await s.reserve([item], T0 + 60_000);
      expect(ok.ok && ok.values).toEqual([2]);
      if (ok.ok) await s.commit(ok.reservation!, T0 + 60_000);
      const again = await s.reserve([item], T0 + 60_001);
      expect(again).toMatchObject({ ok: false, retryAfterMs: 9_999 });
      await s.close();
    });

    it('a denied sliding call waits for the timestamp whose aging out admits it, committed or pending', async () => {
      const s = await f.open();
      // T0 committed, T0+10s pending (not answered yet), T0+20s committed: three in the window.
      for (const [t, commit] of [
        [0, true],
        [10_000, false],
        [20_000, true],
      ] as const) {
        const r = await s.reserve([sliding('mixed', 3)], T0 + t);
        expect(r.ok).toBe(true);
        if (r.ok && commit) await s.commit(r.reservation!, T0 + t);
      }
      // At the bound: the oldest ages out at T0 + 60 s.
      expect(await s.reserve([sliding('mixed', 3)], T0 + 30_000)).toMatchObject({
        ok: false,
        retryAfterMs: 30_000,
      });
      // A bound lowered to 2 (a reload): two must age out, the second is the pending one.
      expect(await s.reserve([sliding('mixed', 2)], T0 + 30_000)).toMatchObject({
        ok: false,
        retryAfterMs: 40_000,
      });
      // A fractional bound (the store API takes any number): count + 1 <= 2.5 once two have aged out.
      expect(
        await s.reserve(
          [{ ...sliding('mixed', 3), checks: [{ op: 'lte', value: 2.5, tag: 0 }] }],
          T0 + 30_000,
        ),
      ).toMatchObject({ ok: false, retryAfterMs: 40_000 });
      // Lowered to 1: three must age out; the third oldest decides.
      expect(await s.reserve([sliding('mixed', 1)], T0 + 30_000)).toMatchObject({
        ok: false,
        retryAfterMs: 50_000,
      });
      await s.close();
    });

    it('pending reservations count; rollback returns the quota; commit and rollback are idempotent', async () => {
      const s = await f.open();
      const item = fixed('r', 2);
      const a = await s.reserve([item], T0);
      const b = await s.reserve([item], T0);
      expect(a.ok && b.ok).toBe(true);
      expect((await s.reserve([item], T0)).ok).toBe(false);
      if (!a.ok || !b.ok) throw new Error('unreachable');
      await s.rollback(a.reservation!);
      await s.rollback(a.reservation!);
      expect(await s.read('r', 'fixed', MIN, T0)).toBe(1);
      await s.commit(b.reservation!, T0);
      await s.commit(b.reservation!, T0);
      await s.rollback(b.reservation!);
      expect(await s.read('r', 'fixed', MIN, T0)).toBe(1);
      const c = await s.reserve([item], T0);
      expect(c.ok && c.values).toEqual([2]);
      await s.close();
    });

    it('sliding rollback returns the slot', async () => {
      const s = await f.open();
      const item = sliding('sr', 1);
      const a = await s.reserve([item], T0);
      expect((await s.reserve([item], T0 + 1)).ok).toBe(false);
      if (a.ok) await s.rollback(a.reservation!);
      expect((await s.reserve([item], T0 + 2)).ok).toBe(true);
      await s.close();
    });

    it('reserves all counters of one call or none', async () => {
      const s = await f.open();
      const full = fixed('full', 0, 1, 1);
      const free = fixed('free', 10, 1, 0);
      const r = await s.reserve([free, full], T0);
      expect(r).toMatchObject({ ok: false, tag: 1, item: 1, value: 1 });
      expect(await s.read('free', 'fixed', MIN, T0)).toBe(0);
      await s.close();
    });

    it('reports the lowest failing tag when several checks fail', async () => {
      const s = await f.open();
      const r = await s.reserve([fixed('a', 0, 1, 7), fixed('b', 0, 1, 3)], T0);
      expect(r).toMatchObject({ ok: false, tag: 3, item: 1 });
      await s.close();
    });

    it('sums fractional amounts and checks the post-increment value', async () => {
      const s = await f.open();
      const spend = (amount: number): CounterItem => ({
        key: 'spend',
        kind: 'fixed',
        windowMs: 86_400_000,
        amount,
        checks: [{ op: 'lte', value: 20, tag: 0 }],
      });
      const a = await s.reserve([spend(12.5)], T0);
      if (a.ok) await s.commit(a.reservation!, T0);
      expect(await s.reserve([spend(7.75)], T0)).toMatchObject({ ok: false, value: 20.25 });
      expect(await s.reserve([spend(7.5)], T0)).toMatchObject({ ok: true, values: [20] });
      await s.close();
    }, 10_000);

    it('reports counter values past 14 significant digits exactly (denial value, read, values)', async () => {
      const s = await f.open();
      const spend = (amount: number): CounterItem => ({
        key: 'big',
        kind: 'fixed',
        windowMs: 86_400_000,
        amount,
        checks: [{ op: 'lte', value: 246913578024690, tag: 0 }],
      });
      for (let i = 0; i < 2; i++) {
        const r = await s.reserve([spend(123456789012345)], T0);
        if (!r.ok) throw new Error('unreachable');
        await s.commit(r.reservation!, T0);
      }
      expect(await s.read('big', 'fixed', 86_400_000, T0)).toBe(246913578024690);
      expect(await s.reserve([spend(1)], T0)).toMatchObject({ ok: false, value: 246913578024691 });
      expect(await s.peek([spend(0.5)], T0)).toMatchObject({ ok: false, value: 246913578024690.5 });
      await s.close();
    }, 10_000);

    it('peek evaluates without writing', async () => {
      const s = await f.open();
      expect(await s.peek([fixed('p', 1)], T0)).toEqual({ ok: true, values: [1] });
      expect(await s.peek([fixed('p', 1)], T0)).toEqual({ ok: true, values: [1] });
      expect(await s.read('p', 'fixed', MIN, T0)).toBe(0);
      await s.close();
    });

    it('partial commit adds only the given part and returns the rest, atomically and once', async () => {
      const s = await f.open();
      const a = await s.reserve([fixed('pc', 100, 10), fixed('pc2', 100, 4)], T0);
      if (!a.ok) throw new Error('unreachable');
      expect(await s.read('pc', 'fixed', MIN, T0)).toBe(10);
      await s.commit(a.reservation!, T0, [3, 0]);
      expect(await s.read('pc', 'fixed', MIN, T0)).toBe(3);
      expect(await s.read('pc2', 'fixed', MIN, T0)).toBe(0);
      // Idempotent: the reservation is gone, a second commit or a rollback changes nothing.
      await s.commit(a.reservation!, T0, [10, 4]);
      await s.rollback(a.reservation!);
      expect(await s.read('pc', 'fixed', MIN, T0)).toBe(3);
      // Fractions, and parts larger than the reservation are clamped to it.
      const b = await s.reserve([fixed('pc', 100, 2.5)], T0);
      if (b.ok) await s.commit(b.reservation!, T0, [1.25]);
      expect(await s.read('pc', 'fixed', MIN, T0)).toBe(4.25);
      const c = await s.reserve([fixed('pc', 100, 2)], T0);
      if (c.ok) await s.commit(c.reservation!, T0, [50]);
      expect(await s.read('pc', 'fixed', MIN, T0)).toBe(6.25);
      await s.close();
    });

    it('a reservation with an explicit expiresAt counts until then, not for the default TTL', async () => {
      const s = await f.open({ reservationTtlMs: 1_000 });
      const end = T0 + MIN;
      const a = await s.reserve([fixed('exp', 10, 7)], T0 + 5_000, { expiresAt: end });
      expect(a.ok && a.reservation!.expiresAt).toBe(end);
      expect(await s.read('exp', 'fixed', MIN, T0 + 59_999)).toBe(7);
      expect((await s.reserve([fixed('exp', 10, 4)], T0 + 59_999)).ok).toBe(false);
      // Without the option: the end of the reservation's window, since the TTL (1 s) is shorter.
      const b = await s.reserve([fixed('exp2', 10, 7)], T0);
      expect(b.ok && b.reservation!.expiresAt).toBe(T0 + MIN);
      expect(await s.read('exp2', 'fixed', MIN, T0 + 1_000)).toBe(7);
      // A window shorter than the TTL: the TTL.
      const c = await s.reserve([{ ...fixed('exp3', 10, 7), windowMs: 100 }], T0);
      expect(c.ok && c.reservation!.expiresAt).toBe(T0 + 1_000);
      await s.close();
    });

    it('an unsettled reservation counts as long as the committed call would, past the TTL; then a late commit is a no-op', async () => {
      // A call in flight longer than the TTL (a long tool, or a proxy that died) keeps its quota
      // until its window would have dropped it anyway: one per hour stays one per hour.
      const s = await f.open({ reservationTtlMs: 5_000 });
      const item = sliding('crash', 1, 3_600_000);
      const a = await s.reserve([item], T0);
      expect(a.ok && a.reservation!.expiresAt).toBe(T0 + 3_600_000);
      expect((await s.reserve([item], T0 + 5_000)).ok).toBe(false);
      expect((await s.reserve([item], T0 + 3_599_999)).ok).toBe(false);
      const b = await s.reserve([item], T0 + 3_600_000);
      expect(b.ok).toBe(true);
      if (a.ok) await s.commit(a.reservation!, T0 + 3_600_001);
      if (b.ok) await s.commit(b.reservation!, T0 + 3_600_001);
      expect(await s.read('crash', 'sliding', 3_600_000, T0 + 3_600_002)).toBe(1);
      await s.close();
    });

    it('stays exact with hundreds of calls in flight, settled out of order, some expiring', async () => {
      // A seeded walk checked against a plain model after every step: fractional amounts, partial
      // commits, rollbacks, reservations left to expire, fixed windows rolling over and sliding
      // entries ageing out while pending.
      // Unsettled calls count for 30 s, longer than the sliding window: pending entries age out of it.
      const s = await f.open({ reservationTtlMs: 30_000 });
      let seed = 42;
      const rnd = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const SLIDE = 10_000;
      interface Call {
        at: number;
        expiresAt: number;
        amount: number;
        kept?: number; // fixed amount committed
        slid?: number; // sliding timestamp committed
        res: NonNullable<Extract<Awaited<ReturnType<CounterStore['reserve']>>, { ok: true }>['reservation']>;
      }
      const open: Call[] = [];
      const done: Call[] = [];
      const modelFixed = (t: number) => {
        const start = Math.floor(t / MIN) * MIN;
        let v = 0;
        for (const c of done) if (c.kept !== undefined && Math.floor(c.at / MIN) * MIN === start) v += c.kept;
        for (const c of open) if (c.expiresAt > t && Math.floor(c.at / MIN) * MIN === start) v += c.amount;
        return v;
      };
      const modelSliding = (t: number) =>
        done.filter((c) => c.slid !== undefined && c.slid > t - SLIDE).length +
        open.filter((c) => c.expiresAt > t && c.at > t - SLIDE).length;
      let t = T0;
      for (let step = 0; step < 600; step++) {
        t += 250 * Math.floor(rnd() * 3); // steps of 250 ms: window edges are hit exactly
        if (open.length === 0 || rnd() < 0.55) {
          const amount = [1, 0.1, 0.25, 2.5][Math.floor(rnd() * 4)]!;
          const short = rnd() < 0.2;
          const r = await s.reserve(
            [fixed('many', 1e9, amount), sliding('many-s', 1e9, SLIDE)],
            t,
            short ? { expiresAt: t + 1_500 } : undefined,
          );
          expect(r.ok).toBe(true);
          if (r.ok) open.push({ at: t, expiresAt: r.reservation!.expiresAt, amount, res: r.reservation! });
        } else {
          const c = open.splice(Math.floor(rnd() * open.length), 1)[0]!;
          const how = rnd();
          if (how < 0.5) {
            await s.commit(c.res, t);
            if (c.expiresAt > t) {
              c.kept = c.amount;
              c.slid = c.at;
            }
          } else if (how < 0.75) {
            const part = c.amount / 2;
            await s.commit(c.res, t, [part, 0]);
            if (c.expiresAt > t) c.kept = part;
          } else {
            await s.rollback(c.res);
          }
          done.push(c);
        }
        expect(await s.read('many', 'fixed', MIN, t)).toBeCloseTo(modelFixed(t), 9);
        expect(await s.read('many-s', 'sliding', SLIDE, t)).toBe(modelSliding(t));
      }
      expect(open.length).toBeGreaterThan(30);
      await s.close();
    });
  });
}

describe('memory store past 2^53', () => {
  it('refuses a reserve whose counter a double could no longer count in ones', async () => {
    const s = new MemoryCounterStore();
    const cap = 2 ** 53 + 2;
    const big = await s.reserve([fixed('spend', cap, Number.MAX_SAFE_INTEGER)], T0);
    if (!big.ok) throw new Error('2^53 - 1 must be admitted under a cap of 2^53 + 2');
    await s.commit(big.reservation!, T0);
    // From 2^53 on a double stops counting in ones (2^53 + 1 is 2^53): each +1 could add nothing.
    const one = await s.reserve([fixed('spend', cap, 1)], T0);
    expect(one).toMatchObject({ ok: false, tag: 0 });
    expect(await s.read('spend', 'fixed', MIN, T0)).toBe(Number.MAX_SAFE_INTEGER);
    // The tester's sequence: 2^53 at once is refused too, not admitted and then never counted.
    expect((await new MemoryCounterStore().reserve([fixed('spend', cap, 2 ** 53)], T0)).ok).toBe(false);
  });
});

describe('SQLite housekeeping under clock skew', () => {
  it('a proxy whose clock runs ahead does not sweep the windows and reservations others count', async () => {
    const file = join(dir, `skew${n++}.sqlite`);
    const honest = new SqliteCounterStore({ file });
    const fast = new SqliteCounterStore({ file });
    const HOUR = 60 * MIN;
    const hourly = (key: string): CounterItem => ({ ...fixed(key, 5), windowMs: HOUR });
    const slidingHour = (key: string): CounterItem => sliding(key, 5, HOUR);
    // 5 of 5 used this hour, fixed and sliding; one more call in flight (reserved, not settled).
    for (let i = 0; i < 5; i++) {
      const r = await honest.reserve([hourly('f'), slidingHour('s')], T0 + i);
      if (!r.ok) throw new Error('the first five calls are admitted');
      await honest.commit(r.reservation!, T0 + i);
    }
    const inFlight = await honest.reserve([hourly('g')], T0 + 10, { expiresAt: T0 + 20 * MIN });
    expect(inFlight.ok).toBe(true);
    // A proxy 65 minutes fast makes enough reservations on another key to sweep (every 256th).
    for (let i = 0; i < 300; i++) {
      const r = await fast.reserve([fixed('other', 1e9)], T0 + 65 * MIN + i);
      if (r.ok) await fast.commit(r.reservation!, T0 + 65 * MIN + i);
    }
    const later = T0 + 20;
    expect(await honest.read('f', 'fixed', HOUR, later)).toBe(5);
    expect(await honest.read('s', 'sliding', HOUR, later)).toBe(5);
    expect(await honest.read('g', 'fixed', HOUR, later)).toBe(1);
    expect((await honest.reserve([hourly('f')], later)).ok).toBe(false);
    expect((await honest.reserve([slidingHour('s')], later)).ok).toBe(false);
    // Rows that ended more than an hour before the sweeper's clock do go: a proxy three hours on
    // (or that far fast) reclaims them, so the file does not grow without bound.
    const late = new SqliteCounterStore({ file });
    for (let i = 0; i < 300; i++) {
      const r = await late.reserve([fixed('other', 1e9)], T0 + 180 * MIN + i);
      if (r.ok) await late.commit(r.reservation!, T0 + 180 * MIN + i);
    }
    expect(await honest.read('f', 'fixed', HOUR, later)).toBe(0);
    expect(await honest.read('s', 'sliding', HOUR, later)).toBe(0);
    await late.close();
    await honest.close();
    await fast.close();
  });
});

describe('memory store housekeeping', () => {
  it('forgets ended windows so a long-running process does not grow without bound', async () => {
    const s = new MemoryCounterStore();
    for (let i = 0; i < 3000; i++) {
      const r = await s.reserve([fixed(`k${i % 5}`, 1e9), sliding(`s${i % 5}`, 1e9, 1000)], T0 + i * 1000);
      if (r.ok) await s.commit(r.reservation!, T0 + i * 1000);
    }
    const internals = s as unknown as {
      fixed: Map<string, Map<number, Map<number, unknown>>>;
      sliding: Map<string, Map<number, { committed: number[]; head: number }>>;
    };
    // 3000 s span 50 minute-windows x 5 keys; only windows still open at the last sweep remain.
    let cells = 0;
    for (const byLength of internals.fixed.values())
      for (const byStart of byLength.values()) cells += byStart.size;
    expect(cells).toBeGreaterThan(0);
    expect(cells).toBeLessThanOrEqual(5 * 18);
    expect(internals.sliding.size).toBeLessThanOrEqual(5);
    // A sliding log keeps only about a window of timestamps, not every call ever committed.
    for (const byLength of internals.sliding.values())
      for (const log of byLength.values()) expect(log.committed.length).toBeLessThanOrEqual(4);
    expect(await s.read('k0', 'fixed', MIN, T0 + 2999 * 1000)).toBeGreaterThan(0);
  });
});

describe('openCounterStore', () => {
  it('selects the store from the DSN and state dir', async () => {
    const { openCounterStore } = await import('../src/store/open.js');
    const { SqliteCounterStore: Sqlite } = await import('../src/store/sqlite.js');
    expect(await openCounterStore({ stateDsn: 'memory:' })).toBeInstanceOf(MemoryCounterStore);
    const { LeasedCounterStore: Leased } = await import('../src/store/lease.js');
    const byDir = await openCounterStore({ stateDir: join(dir, 'state-x') });
    // Leases are on by default in front of SQLite and Redis.
    expect(byDir).toBeInstanceOf(Leased);
    expect(byDir.kind).toBe('sqlite');
    const innerByDir = (byDir as InstanceType<typeof Leased>).inner;
    expect(innerByDir).toBeInstanceOf(Sqlite);
    expect((innerByDir as InstanceType<typeof Sqlite>).file).toBe(join(dir, 'state-x', 'tollgate.sqlite'));
    await byDir.close();
    const byFile = await openCounterStore({ stateDsn: `sqlite:${join(dir, 'explicit.db')}`, leases: false });
    expect(byFile).toBeInstanceOf(Sqlite);
    expect((byFile as InstanceType<typeof Sqlite>).file).toBe(join(dir, 'explicit.db'));
    await byFile.close();
    await expect(openCounterStore({ stateDsn: 'postgres://x' })).rejects.toThrow(/unsupported --state-dsn/);
    if (redisState.run) {
      const r = await openCounterStore({ stateDsn: redis!.url, prefix: 'open:' });
      expect(r.kind).toBe('redis');
      expect(r).toBeInstanceOf(Leased);
      await r.close();
      const plain = await openCounterStore({ stateDsn: redis!.url, prefix: 'open:', leases: false });
      expect(plain).toBeInstanceOf(RedisCounterStore);
      await plain.close();
    }
  });

  it('fails at once for a state dir that cannot be created (/proc, /dev/null)', async () => {
    const { openCounterStore } = await import('../src/store/open.js');
    // Node's recursive mkdir never returns under /proc; this must reject, not spin.
    await expect(openCounterStore({ stateDir: '/proc/tollgate-x' })).rejects.toThrow(
      "cannot open SQLite state /proc/tollgate-x/tollgate.sqlite: ENOENT: no such file or directory, mkdir '/proc/tollgate-x'",
    );
    await expect(openCounterStore({ stateDir: '/dev/null/x' })).rejects.toThrow(
      "cannot open SQLite state /dev/null/x/tollgate.sqlite: ENOTDIR: not a directory, stat '/dev/null/x'",
    );
  });

  it('reports an unreachable Redis once at start-up, naming the DSN and the fail mode', async () => {
    const { openCounterStore } = await import('../src/store/open.js');
    for (const [failMode, waited, effect] of [
      ['closed', 2000, 'calls that use counters will be denied (state_unavailable) until it is reachable'],
      ['open', 500, 'calls that use counters will pass uncounted until it is reachable'],
    ] as const) {
      const warnings: string[] = [];
      const s = await openCounterStore({
        stateDsn: 'redis://:hunter2@127.0.0.1:1/0',
        failMode,
        onUnreachable: (m) => warnings.push(m),
      });
      expect(s.kind).toBe('redis');
      expect(warnings).toEqual([
        `counter store redis://:***@127.0.0.1:1/0 is not reachable (waited ${waited} ms; last error: connect ECONNREFUSED 127.0.0.1:1); state fail mode is ${failMode}: ${effect}. Reconnecting in the background.`,
      ]);
      await s.close();
    }
  });

  it('says so when what answers on the address is not Redis (an HTTP server), without "please report this"', async () => {
    const { openCounterStore } = await import('../src/store/open.js');
    const { createServer } = await import('node:http');
    const http = createServer((_req, res) => res.end('not redis'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const port = (http.address() as { port: number }).port;
    const warnings: string[] = [];
    const s = await openCounterStore({
      stateDsn: `redis://127.0.0.1:${port}/0`,
      failMode: 'closed',
      onUnreachable: (m) => warnings.push(m),
    });
    await s.close();
    http.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      'what answers on that address does not speak the Redis protocol: is the host and port a Redis server?',
    );
    expect(warnings[0]).not.toContain('Please report this');
  });

  it('says where a private CA goes when the last error is about a certificate', async () => {
    const { unreachableStoreMessage } = await import('../src/store/open.js');
    expect(
      unreachableStoreMessage(
        'rediss://h:6380',
        'closed',
        2000,
        undefined,
        'self-signed certificate in certificate chain',
      ),
    ).toContain(
      'is not reachable (waited 2000 ms; last error: self-signed certificate in certificate chain; for a private CA set NODE_EXTRA_CA_CERTS=/path/to/ca.pem)',
    );
  });
});
