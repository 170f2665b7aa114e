// evaluate() over a leased SQLite store: rate limits far from the bound use leases; counters read
// by conditions the store cannot check (non-numeric ops), or touched by more than one rule, are
// marked exact and never leased.
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

  /** The policy's `tools:` entry of echo, which counts its calls against 1,000 a day. */
  const ECHO_BUDGET = `
  echo:
    rules:
      - name: echo budget
        conditions: [{ path: state.echo.n, op: lte, value: 1000 }]
        state: { counter: n, window: day }`;

  /** echo's budget, and get-sum reading echo's counter with `op` `value`. */
  const readByAnother = (op: string, value: number) =>
    compile(`
version: "1"
tools:${ECHO_BUDGET}
  get-sum:
    rules:
      - name: after echoes
        conditions: [{ path: state.echo.n, op: ${op}, value: ${value} }]
`);

  it('a counter another rule reads is decided in arrival order, not after a lease is taken', async () => {
    const p = readByAnother('lte', 0);
    const counting = new CountingStore(new SqliteCounterStore({ file: join(dir, 'order.sqlite') }));
    const store = new LeasedCounterStore(counting);
    const ctx = { store, now: () => T0 };
    // Back to back, as a proxy decides the calls of one read: two echoes, then get-sum.
    const decisions = await Promise.all([
      evaluate(p, { tool: 'echo', args: {} }, ctx),
      evaluate(p, { tool: 'echo', args: {} }, ctx),
      evaluate(p, { tool: 'get-sum', args: {} }, ctx),
    ]);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(decisions[2]!.message).toContain('state.echo.n would be 2, which is not lte 0');
    expect(store.stats.leases).toBe(0);
    await store.close();
  });

  it("a counter another rule reads shows its calls, not a lease's unused units", async () => {
    for (const [op, value, allowed] of [
      ['gte', 10, false],
      ['lte', 50, true],
    ] as const) {
      const p = readByAnother(op, value);
      const store = new LeasedCounterStore(
        new SqliteCounterStore({ file: join(dir, `unused-${op}.sqlite`) }),
      );
      const ctx = { store, now: () => T0 };
      // Two echoes still running (their calls in flight, as behind a proxy) when get-sum comes.
      const echoes = [];
      for (let i = 0; i < 2; i++) echoes.push(await evaluate(p, { tool: 'echo', args: {} }, ctx));
      const d = await evaluate(p, { tool: 'get-sum', args: {} }, ctx);
      expect(d.allowed, `${op} ${value}`).toBe(allowed);
      if (!allowed) expect(d.message).toContain(`state.echo.n would be 2, which is not ${op} ${value}`);
      for (const e of echoes) await store.commit(e.reservation!, T0);
      expect(await store.read('ctr:echo.n', 'fixed', 86_400_000, T0)).toBe(2);
      await store.close();
    }
  });

  it('a counter that only its own rule touches is still leased', async () => {
    const p = compile(`version: "1"\ntools:${ECHO_BUDGET}\n`);
    const counting = new CountingStore(new SqliteCounterStore({ file: join(dir, 'solo.sqlite') }));
    const store = new LeasedCounterStore(counting);
    for (let i = 0; i < 10; i++) {
      const d = await evaluate(p, { tool: 'echo', args: {} }, { store, now: () => T0 });
      await store.commit(d.reservation!, T0);
    }
    expect(store.stats.leases).toBe(1);
    expect(counting.counts.reserve).toBe(1);
    await store.close();
  });
});
