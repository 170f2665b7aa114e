// evaluate() over a leased SQLite store: rate limits far from the bound use leases; counters read
// by conditions the store cannot check (non-numeric ops) are marked exact and never leased.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy } from '@tollgate/policy';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate } from '../src/evaluate.js';
import { LeasedCounterStore } from '../src/store/lease.js';
import { SqliteCounterStore } from '../src/store/sqlite.js';
import { CountingStore } from './counting-store.js';

const T0 = Date.UTC(2026, 10, 29, 10, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'tollgate-lease-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compile(yaml: string) {
  const r = loadPolicy(yaml, { filename: 'test.yaml' });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.policy;
}

describe('evaluate with counter leases', () => {
  it('a rate limit far from its bound is admitted from a lease', async () => {
    const p = compile(`
version: "1"
tools:
  t:
    rules:
      - { name: many, rate_limit: 10000/hour }
`);
    const counting = new CountingStore(new SqliteCounterStore({ file: join(dir, 'rl.sqlite') }));
    const store = new LeasedCounterStore(counting);
    for (let i = 0; i < 20; i++) {
      const d = await evaluate(p, { tool: 't', args: {} }, { store, now: () => T0 });
      expect(d.allowed).toBe(true);
      await store.commit(d.reservation!, T0);
    }
    expect(counting.counts.reserve).toBe(1);
    expect(store.stats.local).toBe(20);
    await store.close();
  });

  it('a counter read by a non-numeric condition is exact: every call goes to the store', async () => {
    const p = compile(`
version: "1"
tools:
  t:
    rules:
      - name: odd calls only
        conditions: [{ path: state.t.n, op: in, value: [1, 3, 5] }]
        state: { counter: n, window: hour }
      - { name: many, rate_limit: 10000/hour }
`);
    const counting = new CountingStore(new SqliteCounterStore({ file: join(dir, 'exact.sqlite') }));
    const store = new LeasedCounterStore(counting);
    const allowed: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const d = await evaluate(p, { tool: 't', args: {} }, { store, now: () => T0 });
      allowed.push(d.allowed);
      if (d.allowed) await store.commit(d.reservation!, T0);
    }
    // n = 1 allowed, 2 denied (rolled back), 2 again denied... exactly as without leases.
    expect(allowed).toEqual([true, false, false, false]);
    expect(counting.counts.reserve).toBe(4);
    expect(counting.reserved[0]!.items.find((it) => it.key === 'ctr:t.n')?.exact).toBe(true);
    expect(store.stats.leases).toBe(0);
    expect(await store.read('ctr:t.n', 'fixed', 3_600_000, T0)).toBe(1);
    await store.close();
  });
});
