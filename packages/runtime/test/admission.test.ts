// Exact admission across real OS processes: 4 processes x 250 concurrent calls, limit 100.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/store/counter-store.js';
import { RedisCounterStore } from '../src/store/redis.js';
import { SqliteCounterStore } from '../src/store/sqlite.js';
import { type RedisServer, redisAvailability, startRedisServer } from './redis-server.js';

const WORKER = new URL('./fixtures/admission-worker.ts', import.meta.url).pathname;
const PROCESSES = 4;
const CALLS = 250;
const LIMIT = 100;
const NOW = Date.UTC(2026, 10, 29, 12, 0, 30);

function once<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

interface WorkerReport {
  admitted: number;
  /** Calls made (with `clients`: admitted + one denied call per client). */
  calls: number;
  /** reserve + commit + rollback calls that reached the real store (with `leases`). */
  transactions: number;
}

/** Fork workers, wait until all have opened the store, release them together; return admitted per worker. */
async function race(job: Record<string, unknown>): Promise<number[]> {
  return (await raceReports(job)).map((d) => d.admitted);
}

/** {@link race}, returning each worker's whole report. */
async function raceReports(job: Record<string, unknown>): Promise<WorkerReport[]> {
  const children = Array.from({ length: PROCESSES }, () =>
    fork(WORKER, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    const ready = children.map((c) => once(c));
    for (const c of children) c.send(job);
    await Promise.all(ready);
    const done = children.map((c) => once<WorkerReport>(c));
    for (const c of children) c.send('go');
    return await Promise.all(done);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}

const items: Record<string, CounterItem> = {
  fixed: {
    key: 'race',
    kind: 'fixed',
    windowMs: 60_000,
    amount: 1,
    checks: [{ op: 'lte', value: LIMIT, tag: 0 }],
  },
  sliding: {
    key: 'race',
    kind: 'sliding',
    windowMs: 60_000,
    amount: 1,
    checks: [{ op: 'lte', value: LIMIT, tag: 0 }],
  },
};

let dir = '';
let redis: RedisServer | undefined;
const redisState = redisAvailability();
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-admission-'));
  if (redisState.run) redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite: 4 processes x 250 concurrent calls against a limit of 100', () => {
  for (const kind of ['fixed', 'sliding'] as const) {
    it(`${kind} window admits exactly 100`, async () => {
      const file = join(dir, `${kind}.sqlite`);
      const admitted = await race({
        kind: 'sqlite',
        target: file,
        calls: CALLS,
        item: items[kind],
        now: NOW,
      });
      expect(admitted.reduce((a, b) => a + b, 0)).toBe(LIMIT);
      const s = new SqliteCounterStore({ file });
      expect(await s.read('race', kind, 60_000, NOW)).toBe(LIMIT);
      await s.close();
    }, 120_000);
  }

  it('rolled-back calls give their quota back: every call admitted when each rolls back', async () => {
    const file = join(dir, 'rollback.sqlite');
    const admitted = await race({
      kind: 'sqlite',
      target: file,
      calls: CALLS,
      item: items.fixed,
      now: NOW,
      rollback: true,
    });
    // Each process reserves concurrently before any rollback, so at most 100 are admitted at once,
    // but no quota is burnt: afterwards the counter is back to zero.
    expect(admitted.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(LIMIT);
    const s = new SqliteCounterStore({ file });
    expect(await s.read('race', 'fixed', 60_000, NOW)).toBe(0);
    await s.close();
  }, 120_000);
});

describe.skipIf(!redisState.run)('Redis: 4 processes x 250 concurrent calls against a limit of 100', () => {
  for (const kind of ['fixed', 'sliding'] as const) {
    it(`${kind} window admits exactly 100`, async () => {
      const prefix = `adm-${kind}:`;
      const admitted = await race({
        kind: 'redis',
        target: redis!.url,
        prefix,
        calls: CALLS,
        item: items[kind],
        now: NOW,
      });
      expect(admitted.reduce((a, b) => a + b, 0)).toBe(LIMIT);
      const s = new RedisCounterStore({ url: redis!.url, prefix });
      await s.ready();
      expect(await s.read('race', kind, 60_000, NOW)).toBe(LIMIT);
      await s.close();
    }, 120_000);
  }
});

// The same races with counter leases on (LeasedCounterStore in every process). Near the bound a
// lease would be smaller than two calls, so admission there is the backing store's, exactly.
const BIG = 10_000;
const bigItem: CounterItem = {
  key: 'lease-race',
  kind: 'fixed',
  windowMs: 60_000,
  amount: 1,
  checks: [{ op: 'lte', value: BIG, tag: 0 }],
};

for (const kind of ['sqlite', 'redis'] as const) {
  describe.skipIf(kind === 'redis' && !redisState.run)(`${kind} with counter leases`, () => {
    const target = (name: string) => (kind === 'sqlite' ? join(dir, `${name}.sqlite`) : redis!.url);
    const reader = async (name: string) => {
      if (kind === 'sqlite') return new SqliteCounterStore({ file: target(name) });
      const s = new RedisCounterStore({ url: redis!.url, prefix: `${name}:` });
      await s.ready();
      return s;
    };

    it('4 processes x 250 concurrent calls against a limit of 100 admit exactly 100', async () => {
      const name = `lease-small-${kind}`;
      const reports = await raceReports({
        kind,
        target: target(name),
        prefix: `${name}:`,
        calls: CALLS,
        item: items.fixed,
        now: NOW,
        leases: true,
      });
      expect(reports.reduce((a, r) => a + r.admitted, 0)).toBe(LIMIT);
      const s = await reader(name);
      expect(await s.read('race', 'fixed', 60_000, NOW)).toBe(LIMIT);
      await s.close();
    }, 120_000);

    it('4 processes x 50 clients calling until denied against a limit of 10,000 admit exactly 10,000, in far fewer store transactions than calls', async () => {
      const name = `lease-big-${kind}`;
      const reports = await raceReports({
        kind,
        target: target(name),
        prefix: `${name}:`,
        calls: 0,
        clients: 50,
        item: bigItem,
        now: NOW,
        leases: true,
      });
      const admitted = reports.reduce((a, r) => a + r.admitted, 0);
      const calls = reports.reduce((a, r) => a + r.calls, 0);
      const transactions = reports.reduce((a, r) => a + r.transactions, 0);
      expect(admitted).toBe(BIG);
      expect(calls).toBe(BIG + 4 * 50);
      // Without leases every call is a reserve and every admitted call a commit: 20,200 here.
      process.stderr.write(
        `${kind} leases: ${calls} calls, ${transactions} store transactions (${(transactions / calls).toFixed(3)} per call)\n`,
      );
      expect(transactions).toBeLessThan(calls / 4);
      const s = await reader(name);
      expect(await s.read('lease-race', 'fixed', 60_000, NOW)).toBe(BIG);
      await s.close();
    }, 180_000);

    it('a process killed with SIGKILL while holding a lease leaves it counted until the window ends', async () => {
      const name = `lease-crash-${kind}`;
      const child = fork(WORKER, {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      try {
        const ready = once(child);
        // A reservation TTL far shorter than the window: the lease must outlive it.
        child.send({
          kind,
          target: target(name),
          prefix: `${name}:`,
          calls: 5,
          item: bigItem,
          now: NOW,
          crash: true,
          leases: true,
          reservationTtlMs: 1_000,
        });
        await ready;
        const report = once<{ admitted: number; transactions: number }>(child);
        child.send('go');
        const { admitted, transactions } = await report;
        expect(admitted).toBe(5);
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
        // One read (room unknown) aside, the 5 calls took one lease reservation and nothing else.
        expect(transactions).toBe(1);
        const s = await reader(name);
        const windowEnd = Math.floor(NOW / 60_000) * 60_000 + 60_000;
        for (const at of [NOW, NOW + 2_000, windowEnd - 1]) {
          expect(await s.read('lease-race', 'fixed', 60_000, at)).toBeGreaterThanOrEqual(admitted);
        }
        // The whole lease (min(10,000 / 16, 64 x 1) = 64 units) stays counted: over-count, never under.
        expect(await s.read('lease-race', 'fixed', 60_000, windowEnd - 1)).toBe(64);
        expect(await s.read('lease-race', 'fixed', 60_000, windowEnd)).toBe(0);
        await s.close();
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }, 60_000);
  });
}
