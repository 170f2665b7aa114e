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

/** Fork workers, wait until all have opened the store, release them together; return admitted per worker. */
async function race(job: Record<string, unknown>): Promise<number[]> {
  const children = Array.from({ length: PROCESSES }, () =>
    fork(WORKER, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    const ready = children.map((c) => once(c));
    for (const c of children) c.send(job);
    await Promise.all(ready);
    const done = children.map((c) => once<{ admitted: number }>(c));
    for (const c of children) c.send('go');
    return (await Promise.all(done)).map((d) => d.admitted);
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
