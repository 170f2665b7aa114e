import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CompiledPolicy, loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { type EvaluationContext, evaluate, evaluateNow } from './evaluate.js';
import type { CounterItem, CounterStore } from './store/counter-store.js';
import { MemoryCounterStore } from './store/memory.js';
import { SqliteCounterStore } from './store/sqlite.js';

export function compile(yaml: string): CompiledPolicy {
  const r = loadPolicy(yaml, { filename: 'test.yaml' });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}:${e.column} ${e.code} ${e.message}`).join('\n'));
  return r.policy;
}

const T0 = Date.UTC(2026, 10, 29, 10, 0, 0);

function ctx(store: CounterStore, now = T0, extra: Partial<EvaluationContext> = {}): EvaluationContext {
  return { store, now: () => now, ...extra };
}

const STRIPE = compile(`
version: "1"
tools:
  create_charge:
    rules:
      - name: max single charge
        conditions: [{ path: args.amount, op: lte, value: 50000 }]
        on_deny: Single charge cannot exceed $500.00
      - name: daily spend cap
        conditions: [{ path: state.create_charge.daily_spend, op: lte, value: 100000 }]
        state: { counter: daily_spend, window: day, increment_from: args.amount }
      - name: allowed currencies
        conditions: [{ path: args.currency, op: in, value: [usd, eur] }]
  delete_customer:
    rules:
      - { name: never, action: deny, on_deny: Customer deletion is not permitted }
  "*":
    rules:
      - { name: global, rate_limit: 3/minute }
`);

describe('evaluation order (DESIGN section 2)', () => {
  it('hidden wins over everything, then default deny for unlisted tools', async () => {
    const p = compile(`
version: "1"
default: deny
hide: [secret_*]
tools:
  read: { rules: [] }
  secret_read: { rules: [] }
  "*": { rules: [{ name: g, rate_limit: 1/minute }] }
`);
    const s = new MemoryCounterStore();
    expect(await evaluate(p, { tool: 'secret_read', args: {} }, ctx(s))).toMatchObject({
      allowed: false,
      reason: 'hidden',
      message: 'Tool "secret_read" is hidden by policy',
    });
    const unlisted = await evaluate(p, { tool: 'write', args: {} }, ctx(s));
    expect(unlisted).toMatchObject({ allowed: false, reason: 'not_listed' });
    expect(unlisted.rule).toBeUndefined();
    // The "*" rule applies to listed tools, and did not count the unlisted call.
    expect(await evaluate(p, { tool: 'read', args: {} }, ctx(s))).toMatchObject({ allowed: true });
    expect(await evaluate(p, { tool: 'read', args: {} }, ctx(s))).toMatchObject({
      reason: 'rate_limited',
      rule: 'g',
    });
  });

  it('the first failing rule in order names the denial, with its on_deny', async () => {
    const s = new MemoryCounterStore();
    const d = await evaluate(
      STRIPE,
      { tool: 'create_charge', args: { amount: 60000, currency: 'gbp' } },
      ctx(s),
    );
    expect(d).toMatchObject({
      allowed: false,
      rule: 'max single charge',
      reason: 'condition_failed',
      message: 'Single charge cannot exceed $500.00',
      policyHash: STRIPE.hash,
    });
    const d2 = await evaluate(
      STRIPE,
      { tool: 'create_charge', args: { amount: 100, currency: 'gbp' } },
      ctx(s),
    );
    expect(d2).toMatchObject({ rule: 'allowed currencies', reason: 'condition_failed' });
    expect(d2.message).toBe(
      'Rule "allowed currencies" denied the call: args.currency ("gbp") is not in ["usd","eur"]',
    );
    // Denied calls consumed nothing.
    expect(await s.read('ctr:create_charge.daily_spend', 'fixed', 86_400_000, T0)).toBe(0);
  });

  it('a not_regex denial names the pattern the argument matched', async () => {
    const p = compile(`
version: "1"
tools:
  run_command:
    rules:
      - name: no recursive deletes
        conditions: [{ path: args.command, op: not_regex, value: 'rm\\s+-\\w*r' }]
`);
    const s = new MemoryCounterStore();
    const denied = await evaluate(p, { tool: 'run_command', args: { command: 'rm  -fr /tmp/x' } }, ctx(s));
    expect(denied).toMatchObject({
      allowed: false,
      rule: 'no recursive deletes',
      reason: 'condition_failed',
    });
    expect(denied.message).toBe(
      'Rule "no recursive deletes" denied the call: args.command ("rm  -fr /tmp/x") fails not_regex \'rm\\s+-\\w*r\'',
    );
    expect(
      await evaluate(p, { tool: 'run_command', args: { command: 'rm -f /tmp/x' } }, ctx(s)),
    ).toMatchObject({
      allowed: true,
    });
  });

  it('a comparison that cannot be decided says so, not that the value differs', async () => {
    const p = compile(`
version: "1"
tools:
  edit_file:
    rules:
      - name: dry runs only
        conditions: [{ path: args.dryRun, op: neq, value: "false" }]
      - name: known modes
        conditions: [{ path: args.mode, op: not_in, value: [1, 2] }]
`);
    const s = new MemoryCounterStore();
    const message = async (args: Record<string, unknown>) =>
      (await evaluate(p, { tool: 'edit_file', args }, ctx(s))).message;
    expect(await message({ dryRun: 'FALSE', mode: 3 })).toBe(
      'Rule "dry runs only" denied the call: args.dryRun ("FALSE") cannot be shown to equal or differ from "false": a server may read it either way, so neq does not hold',
    );
    expect(await message({ dryRun: false, mode: 3 })).toBe(
      'Rule "dry runs only" denied the call: args.dryRun (false) is not neq "false"',
    );
    expect(await message({ dryRun: true, mode: '01' })).toBe(
      'Rule "known modes" denied the call: args.mode ("01") cannot be shown to be in or out of [1,2]: a server may read it either way, so not_in does not hold',
    );
    expect(await message({ dryRun: true, mode: '1' })).toBe(
      'Rule "known modes" denied the call: args.mode ("1") is not not_in [1,2]',
    );
  });

  it('an earlier stateful rule outranks a later stateless failure', async () => {
    const s = new MemoryCounterStore();
    const ok = await evaluate(
      STRIPE,
      { tool: 'create_charge', args: { amount: 50000, currency: 'usd' } },
      ctx(s),
    );
    await s.commit(ok.reservation!, T0);
    const ok2 = await evaluate(
      STRIPE,
      { tool: 'create_charge', args: { amount: 50000, currency: 'usd' } },
      ctx(s),
    );
    await s.commit(ok2.reservation!, T0);
    const d = await evaluate(STRIPE, { tool: 'create_charge', args: { amount: 1, currency: 'gbp' } }, ctx(s));
    expect(d).toMatchObject({
      rule: 'daily spend cap',
      reason: 'counter_exceeded',
      retryAfterMs: 14 * 3_600_000,
    });
    expect(d.message).toBe(
      'Rule "daily spend cap" denied the call: state.create_charge.daily_spend would be 100001, which is not lte 100000; the counter resets in 14h (at 2026-11-30T00:00:00.000Z)',
    );
  });

  it('deny rules deny unconditionally; "*" rules apply after tool rules', async () => {
    const s = new MemoryCounterStore();
    expect(await evaluate(STRIPE, { tool: 'delete_customer', args: {} }, ctx(s))).toMatchObject({
      rule: 'never',
      reason: 'denied_by_rule',
      message: 'Customer deletion is not permitted',
    });
    for (let i = 0; i < 3; i++) {
      const d = await evaluate(STRIPE, { tool: 'list', args: {} }, ctx(s, T0 + 30_000));
      expect(d.allowed).toBe(true);
      await s.commit(d.reservation!, T0);
    }
    const d = await evaluate(STRIPE, { tool: 'list', args: {} }, ctx(s, T0 + 30_000));
    expect(d).toMatchObject({ allowed: false, rule: 'global', reason: 'rate_limited', retryAfterMs: 30_000 });
    expect(d.message).toBe(
      'Rate limit "global" reached: 3 per minute (UTC). The next call will be admitted in 30s (at 2026-11-29T10:01:00.000Z)',
    );
  });

  it('the reset time in a denial is the one retryAfterMs counts to, even when the clock moves during evaluation', async () => {
    const s = new MemoryCounterStore();
    for (let i = 0; i < 3; i++) {
      const d = await evaluate(STRIPE, { tool: 'list', args: {} }, ctx(s, T0 + 30_000));
      await s.commit(d.reservation!, T0);
    }
    // A clock that moves 7 ms on every reading (a busy machine between the store and the message).
    let t = T0 + 30_000;
    for (const decide of [
      () => evaluate(STRIPE, { tool: 'list', args: {} }, { store: s, now: () => (t += 7) }),
      () => evaluateNow(STRIPE, { tool: 'list', args: {} }, { store: s, now: () => (t += 7) }),
    ]) {
      const d = await decide();
      expect(d).toMatchObject({ allowed: false, rule: 'global' });
      expect(d!.message).toContain('(at 2026-11-29T10:01:00.000Z)');
    }
  });

  it('all counters of one call are reserved together: a rate-limited call does not count toward the spend cap', async () => {
    const s = new MemoryCounterStore();
    for (let i = 0; i < 3; i++) {
      const d = await evaluate(STRIPE, { tool: 'other', args: {} }, ctx(s));
      await s.commit(d.reservation!, T0);
    }
    const d = await evaluate(
      STRIPE,
      { tool: 'create_charge', args: { amount: 10, currency: 'usd' } },
      ctx(s),
    );
    expect(d).toMatchObject({ reason: 'rate_limited', rule: 'global' });
    expect(await s.read('ctr:create_charge.daily_spend', 'fixed', 86_400_000, T0)).toBe(0);
  });
});

describe('validate.schema judges argument text as sent and in NFC', () => {
  it('a not-pattern refuses the KELVIN SIGN spelling of a guarded directory, in a list too', async () => {
    const p = compile(`
version: "1"
tools:
  read_multiple_files:
    rules:
      - name: no keys
        validate:
          schema:
            type: object
            properties:
              paths: { type: array, items: { type: string, not: { pattern: "/Keys(/|$)" } } }
`);
    const call = (paths: string[]) =>
      evaluate(p, { tool: 'read_multiple_files', args: { paths } }, ctx(new MemoryCounterStore()));
    expect(await call(['/srv/notes.txt', '/srv/R\u00e9sum\u00e9.txt'])).toMatchObject({ allowed: true });
    for (const bad of ['/srv/Keys/k.txt', '/srv/\u212Aeys/k.txt']) {
      expect(await call(['/srv/notes.txt', bad])).toMatchObject({
        allowed: false,
        reason: 'invalid_arguments',
        message: 'Rule "no keys" rejected the arguments of "read_multiple_files": /paths/1 must NOT be valid',
      });
    }
  });
});

describe('validate.schema on text NFC would shorten, and on deep arguments', () => {
  it('a maxLength holds for the text as sent, not only its composed form; deep nesting does not throw', async () => {
    const p = compile(`
version: "1"
tools:
  t:
    rules:
      - name: short
        validate:
          schema: { type: object, properties: { name: { type: string, maxLength: 4 } } }
`);
    const call = (args: Record<string, unknown>) =>
      evaluate(p, { tool: 't', args }, ctx(new MemoryCounterStore()));
    expect(await call({ name: 'caf\u00e9' })).toMatchObject({ allowed: true });
    // 8 code points that NFC composes into 4.
    expect(await call({ name: 'e\u0301'.repeat(4) })).toMatchObject({
      allowed: false,
      message: 'Rule "short" rejected the arguments of "t": /name must NOT have more than 4 characters',
    });
    let deep: unknown = 'e\u0301';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(await call({ other: deep })).toMatchObject({ allowed: true });
  });
});

/**
 * `pay` with a daily `spent` counter, capped at `bound`, that adds what `increment` says (by
 * default the call's `args.amount`).
 */
const payPolicy = (bound: string, increment = 'increment_from: args.amount') =>
  compile(`
version: "1"
tools:
  pay:
    rules:
      - name: spend
        conditions: [{ path: state.pay.spent, op: lte, value: ${bound} }]
        state: { counter: spent, window: day, ${increment} }
`);

describe('increment read as Intercept reads it', () => {
  const counted = (increment: string) => payPolicy('2', increment);
  it('increment: 0 counts 1 per call (a counter adding nothing would never limit)', async () => {
    const p = counted('increment: 0');
    const c = ctx(new MemoryCounterStore());
    const verdicts = [];
    for (let i = 0; i < 3; i++) verdicts.push((await evaluate(p, { tool: 'pay', args: {} }, c)).allowed);
    expect(verdicts).toEqual([true, true, false]);
  });
  it('increment beside increment_from: the argument is added', async () => {
    const p = counted('increment: 1, increment_from: args.amount');
    const c = ctx(new MemoryCounterStore());
    expect((await evaluate(p, { tool: 'pay', args: { amount: 2 } }, c)).allowed).toBe(true);
    expect((await evaluate(p, { tool: 'pay', args: { amount: 1 } }, c)).allowed).toBe(false);
  });
});

describe('increment_from', () => {
  for (const [label, amount] of [
    ['negative', -5],
    ['not finite', Number.POSITIVE_INFINITY],
    ['a string', '100'],
    ['missing', undefined],
    ['NaN', Number.NaN],
  ] as const) {
    it(`denies when the increment is ${label}`, async () => {
      const d = await evaluate(
        STRIPE,
        {
          tool: 'create_charge',
          args: amount === undefined ? { currency: 'usd' } : { amount, currency: 'usd' },
        },
        ctx(new MemoryCounterStore()),
      );
      // A missing or non-numeric amount fails "max single charge" first; the increment check is next in line.
      expect(d.allowed).toBe(false);
      expect(['condition_failed', 'invalid_increment']).toContain(d.reason);
    });
  }
  it('says why a counter taken past 2^53 - 1 is refused, whatever its bound', async () => {
    const p = payPolicy('1e300');
    const s = new SqliteCounterStore({
      file: join(mkdtempSync(join(tmpdir(), 'tollgate-big-')), 'c.sqlite'),
    });
    expect(await evaluate(p, { tool: 'pay', args: { amount: 9007199254740990 } }, ctx(s))).toMatchObject({
      allowed: true,
    });
    expect(await evaluate(p, { tool: 'pay', args: { amount: 4000000000000000000 } }, ctx(s))).toMatchObject({
      allowed: false,
      reason: 'counter_exceeded',
      message:
        'Rule "spend" denied the call: state.pay.spent would be 4009007199254741000, past 9007199254740991 (2^53 - 1), beyond which a counter cannot count exactly; the counter resets in 14h (at 2026-11-30T00:00:00.000Z)',
    });
    await s.close();
  });

  it('reports invalid_increment when no earlier rule catches the value', async () => {
    const p = payPolicy('10');
    const s = new MemoryCounterStore();
    const d = await evaluate(p, { tool: 'pay', args: { amount: -3 } }, ctx(s));
    expect(d).toMatchObject({ allowed: false, reason: 'invalid_increment', rule: 'spend' });
    expect(d.message).toBe(
      'Rule "spend" cannot count this call: args.amount must be a non-negative finite number, got -3',
    );
    // Strict on purpose: a counter is a ledger (often money), so only a JSON number is added,
    // even where a comparison would accept the integer string "3".
    expect(await evaluate(p, { tool: 'pay', args: { amount: '3' } }, ctx(s))).toMatchObject({
      reason: 'invalid_increment',
      message:
        'Rule "spend" cannot count this call: args.amount must be a non-negative finite number, got "3"',
    });
    expect(await evaluate(p, { tool: 'pay', args: { amount: 2.5 } }, ctx(s))).toMatchObject({
      allowed: true,
    });
  });
});

describe('rollback and commit', () => {
  it('a rolled-back call returns its quota; a committed one keeps it', async () => {
    const p = compile(`
version: "1"
tools:
  t: { rules: [{ name: once, rate_limit: 1/hour }] }
`);
    const s = new MemoryCounterStore();
    const a = await evaluate(p, { tool: 't', args: {} }, ctx(s));
    expect(a.allowed).toBe(true);
    expect((await evaluate(p, { tool: 't', args: {} }, ctx(s))).allowed).toBe(false);
    await s.rollback(a.reservation!);
    const b = await evaluate(p, { tool: 't', args: {} }, ctx(s));
    expect(b.allowed).toBe(true);
    await s.commit(b.reservation!, T0);
    expect(await evaluate(p, { tool: 't', args: {} }, ctx(s))).toMatchObject({
      allowed: false,
      retryAfterMs: 3_600_000,
    });
  });

  it('sliding windows name the moment the oldest call ages out', async () => {
    const p = compile(`
version: "1"
tools:
  run:
    rules:
      - action: allow
        rate_limit: { max: 2, window: 60 }
`);
    const s = new MemoryCounterStore();
    for (const t of [0, 15_000]) {
      const d = await evaluate(p, { tool: 'run', args: {} }, ctx(s, T0 + t));
      await s.commit(d.reservation!, T0 + t);
    }
    const d = await evaluate(p, { tool: 'run', args: {} }, ctx(s, T0 + 20_000));
    expect(d).toMatchObject({ allowed: false, rule: 'run#1', reason: 'rate_limited', retryAfterMs: 40_000 });
    expect(d.message).toContain('2 in any 1m');
    expect((await evaluate(p, { tool: 'run', args: {} }, ctx(s, T0 + 60_000))).allowed).toBe(true);
  });
});

describe('fail mode', () => {
  const broken: CounterStore = {
    kind: 'memory',
    reserve: () => Promise.reject(new Error('connection refused')),
    peek: () => Promise.reject(new Error('connection refused')),
    read: () => Promise.reject(new Error('connection refused')),
    commit: () => Promise.resolve(),
    rollback: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const p = compile(`
version: "1"
tools:
  t: { rules: [{ name: r, rate_limit: 5/minute }] }
  free: { rules: [{ name: c, conditions: [{ path: args.x, op: eq, value: 1 }] }] }
`);
  it('closed (default) denies with state_unavailable', async () => {
    const d = await evaluate(p, { tool: 't', args: {} }, { store: broken });
    expect(d).toMatchObject({ allowed: false, reason: 'state_unavailable' });
    expect(d.message).toBe(
      'Counter state is unavailable (connection refused); the call is denied because the state fail mode is closed',
    );
  });
  it('open admits uncounted and reports it', async () => {
    const seen: string[] = [];
    const d = await evaluate(
      p,
      { tool: 't', args: {} },
      { store: broken, failMode: 'open', onFailOpen: (e) => seen.push(e.message) },
    );
    expect(d).toMatchObject({ allowed: true, failedOpen: true });
    expect(d.reservation).toBeUndefined();
    expect(seen).toEqual(['connection refused']);
  });
  it('stateless rules never touch the store', async () => {
    expect(await evaluate(p, { tool: 'free', args: { x: 1 } }, { store: broken })).toMatchObject({
      allowed: true,
    });
  });
  it('no store at all counts as unavailable', async () => {
    expect(await evaluate(p, { tool: 't', args: {} }, {})).toMatchObject({ reason: 'state_unavailable' });
  });
});

describe('validate', () => {
  const p = compile(`
version: "1"
tools:
  run:
    rules:
      - action: allow
        validate: { required_args: true }
  typed:
    rules:
      - name: typed args
        validate:
          schema:
            type: object
            properties: { n: { type: integer, maximum: 10 } }
            required: [n]
            additionalProperties: false
`);
  const schema = {
    type: 'object',
    properties: { code: { type: 'string' }, lang: { enum: ['python', 'js'] } },
    required: ['code'],
  };
  it('checks arguments against the inputSchema from tools/list', async () => {
    expect(await evaluate(p, { tool: 'run', args: { code: 'x' } }, { inputSchema: schema })).toMatchObject({
      allowed: true,
    });
    const d = await evaluate(p, { tool: 'run', args: { lang: 'ruby' } }, { inputSchema: schema });
    expect(d).toMatchObject({ allowed: false, reason: 'invalid_arguments', rule: 'run#1' });
    expect(d.message).toBe(
      'Rule "run#1" rejected the arguments of "run": (arguments) is missing required property "code"; /lang must be equal to one of the allowed values',
    );
  });
  it("an on_deny written for a rule's limit is followed by the cause when the arguments are the problem", async () => {
    const capped = compile(`
version: "1"
tools:
  refund:
    rules:
      - name: refund cap
        rate_limit: 1/day
        validate: { required_args: true }
        on_deny: "refund: at most 1 call per UTC day"
`);
    const s = new MemoryCounterStore();
    const refund = { tool: 'refund', args: { id: 'r1' } };
    const unknown = await evaluate(capped, refund, ctx(s));
    expect(unknown).toMatchObject({ allowed: false, reason: 'schema_unavailable' });
    expect(unknown.message).toBe(
      'refund: at most 1 call per UTC day (Rule "refund cap" cannot validate the arguments: the inputSchema of "refund" is not known yet (learned from tools/list))',
    );
    const refundSchema = { type: 'object', required: ['id', 'amount'] };
    const bad = await evaluate(capped, refund, ctx(s, T0, { inputSchema: refundSchema }));
    expect(bad.message).toBe(
      'refund: at most 1 call per UTC day (Rule "refund cap" rejected the arguments of "refund": (arguments) is missing required property "amount")',
    );
    // The limit itself: the on_deny alone, as written.
    const ok = await evaluate(
      capped,
      { tool: 'refund', args: { id: 'r', amount: 1 } },
      ctx(s, T0, { inputSchema: refundSchema }),
    );
    await s.commit(ok.reservation!, T0);
    const limited = await evaluate(
      capped,
      { tool: 'refund', args: { id: 'r', amount: 1 } },
      ctx(s, T0, { inputSchema: refundSchema }),
    );
    expect(limited).toMatchObject({ reason: 'rate_limited', message: 'refund: at most 1 call per UTC day' });
  });

  it('denies with schema_unavailable while the inputSchema is unknown', async () => {
    expect(await evaluate(p, { tool: 'run', args: { code: 'x' } }, {})).toMatchObject({
      allowed: false,
      reason: 'schema_unavailable',
    });
  });
  it('honours draft-07 schemas', async () => {
    const d7 = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { xs: { type: 'array', items: [{ type: 'number' }], additionalItems: false } },
    };
    expect((await evaluate(p, { tool: 'run', args: { xs: [1] } }, { inputSchema: d7 })).allowed).toBe(true);
    expect((await evaluate(p, { tool: 'run', args: { xs: [1, 2] } }, { inputSchema: d7 })).allowed).toBe(
      false,
    );
  });
  it('checks the policy schema', async () => {
    expect((await evaluate(p, { tool: 'typed', args: { n: 3 } }, {})).allowed).toBe(true);
    expect(await evaluate(p, { tool: 'typed', args: { n: 11, y: 1 } }, {})).toMatchObject({
      reason: 'invalid_arguments',
      message:
        'Rule "typed args" rejected the arguments of "typed": (arguments) has unexpected property "y"; /n must be <= 10',
    });
  });
});

describe('peek mode and trace (tollgate explain)', () => {
  it('peek never consumes quota and traces every rule', async () => {
    const s = new MemoryCounterStore();
    const call = { tool: 'create_charge', args: { amount: 70000, currency: 'usd' } };
    const d = await evaluate(STRIPE, call, ctx(s, T0, { mode: 'peek', trace: true }));
    expect(d).toMatchObject({ allowed: false, rule: 'max single charge' });
    expect(d.trace?.map((t) => [t.rule, t.outcome])).toEqual([
      ['max single charge', 'failed'],
      ['daily spend cap', 'passed'],
      ['allowed currencies', 'passed'],
      ['global', 'passed'],
    ]);
    expect(d.trace?.[0]?.conditions[0]).toMatchObject({ path: 'args.amount', actual: 70000, passed: false });
    expect(d.trace?.[1]?.counter).toEqual({
      id: 'create_charge.daily_spend',
      increment: 70000,
      value: 70000,
    });
    expect(d.trace?.[3]?.rateLimit).toEqual({ kind: 'fixed', max: 3, windowMs: 60_000, count: 1 });
    for (let i = 0; i < 5; i++) {
      const ok = await evaluate(STRIPE, { tool: 'x', args: {} }, ctx(s, T0, { mode: 'peek' }));
      expect(ok.allowed).toBe(true);
      expect(ok.reservation).toBeUndefined();
    }
  });
});

describe('state conditions', () => {
  it('a failing condition the store cannot check (in, regex) names the denial as a bound does, with the retry time', async () => {
    const p = compile(`
version: "1"
tools:
  charge:
    rules:
      - { name: spend, action: allow, state: { counter: spent, window: day, increment_from: args.amount } }
  t_in:
    rules:
      - { name: first in, conditions: [{ path: state.charge.spent, op: in, value: [0] }] }
      - { name: second tag, conditions: [{ path: args.tag, op: eq, value: x }] }
  t_regex:
    rules:
      - { name: first regex, conditions: [{ path: state.charge.spent, op: regex, value: "^0$" }] }
      - { name: later limit, rate_limit: 5/day }
`);
    const store = new MemoryCounterStore();
    const charged = await evaluate(p, { tool: 'charge', args: { amount: 5 } }, ctx(store));
    await store.commit(charged.reservation!, T0);
    const untilMidnight = Date.UTC(2026, 10, 30) - T0;
    const firstIn = {
      allowed: false,
      rule: 'first in',
      reason: 'counter_exceeded',
      retryAfterMs: untilMidnight,
      message: expect.stringContaining(
        'state.charge.spent would be 5, which is not in [0]; the counter resets',
      ),
    };
    // The earlier rule names the denial, whether the later stateless rule fails too or not.
    expect(await evaluate(p, { tool: 't_in', args: { tag: 'y' } }, ctx(store))).toMatchObject(firstIn);
    expect(await evaluate(p, { tool: 't_in', args: { tag: 'x' } }, ctx(store))).toMatchObject(firstIn);
    const regex = await evaluate(p, { tool: 't_regex', args: {} }, ctx(store));
    expect(regex).toMatchObject({
      rule: 'first regex',
      reason: 'counter_exceeded',
      retryAfterMs: untilMidnight,
    });
    // explain's trace marks the rule failed, not only its condition.
    const traced = await evaluate(
      p,
      { tool: 't_in', args: { tag: 'y' } },
      ctx(store, T0, { trace: true, mode: 'peek' }),
    );
    expect(traced.trace!.map((t) => [t.rule, t.outcome, t.reason])).toEqual([
      ['first in', 'failed', 'counter_exceeded'],
      ['second tag', 'failed', 'condition_failed'],
    ]);
  });

  it('a rule may read a counter another tool increments, without incrementing it', async () => {
    const p = compile(`
version: "1"
tools:
  create_charge:
    rules:
      - name: spend
        conditions: [{ path: state.create_charge.spent, op: lte, value: 100 }]
        state: { counter: spent, window: day, increment_from: args.amount }
  create_refund:
    rules:
      - name: refunds only after some spend
        conditions: [{ path: state.create_charge.spent, op: gte, value: 50 }]
`);
    const s = new MemoryCounterStore();
    expect(await evaluate(p, { tool: 'create_refund', args: {} }, ctx(s))).toMatchObject({
      allowed: false,
      reason: 'counter_exceeded',
      rule: 'refunds only after some spend',
    });
    const charge = await evaluate(p, { tool: 'create_charge', args: { amount: 60 } }, ctx(s));
    await s.commit(charge.reservation!, T0);
    const refund = await evaluate(p, { tool: 'create_refund', args: {} }, ctx(s));
    expect(refund.allowed).toBe(true);
    if (refund.reservation) await s.commit(refund.reservation, T0);
    expect(await s.read('ctr:create_charge.spent', 'fixed', 86_400_000, T0)).toBe(60);
  });

  it('non-numeric operators on counters see the value this call produces, and roll back on failure', async () => {
    const p = compile(`
version: "1"
tools:
  t:
    rules:
      - name: odd calls only
        conditions: [{ path: state.t.n, op: in, value: [1, 3, 5] }]
        state: { counter: n, window: hour }
`);
    const s = new MemoryCounterStore();
    const first = await evaluate(p, { tool: 't', args: {} }, ctx(s));
    expect(first.allowed).toBe(true);
    await s.commit(first.reservation!, T0);
    const second = await evaluate(p, { tool: 't', args: {} }, ctx(s));
    expect(second).toMatchObject({
      allowed: false,
      reason: 'counter_exceeded',
      rule: 'odd calls only',
      retryAfterMs: 3_600_000,
    });
    expect(second.message).toBe(
      'Rule "odd calls only" denied the call: state.t.n would be 2, which is not in [1,3,5]; the counter resets in 1h (at 2026-11-29T11:00:00.000Z)',
    );
    expect(await s.read('ctr:t.n', 'fixed', 3_600_000, T0)).toBe(1);
  });
});

describe('schema dialects', () => {
  const p = compile(
    'version: "1"\ntools:\n  run:\n    rules:\n      - action: allow\n        validate: { required_args: true }\n',
  );
  it('accepts 2019-09 and unknown $schema values instead of rejecting the schema', async () => {
    for (const $schema of [
      'https://json-schema.org/draft/2019-09/schema',
      'https://example.com/custom-dialect',
    ]) {
      const inputSchema = { $schema, type: 'object', required: ['a'] };
      expect((await evaluate(p, { tool: 'run', args: { a: 1 } }, { inputSchema })).allowed).toBe(true);
      expect((await evaluate(p, { tool: 'run', args: {} }, { inputSchema })).reason).toBe(
        'invalid_arguments',
      );
    }
  });
  it('a schema that does not compile denies with a clear reason', async () => {
    const d = await evaluate(p, { tool: 'run', args: {} }, { inputSchema: { type: 'no-such-type' } });
    expect(d).toMatchObject({ allowed: false, reason: 'invalid_arguments' });
    expect(d.message).toContain('invalid schema');
  });
});

describe('the stateless fast path', () => {
  const A = compile(`
version: "1"
tools:
  read: { rules: [{ name: small, conditions: [{ path: args.n, op: lte, value: 5 }] }] }
`);
  const B = compile(`
version: "1"
tools:
  read: { rules: [{ name: small, conditions: [{ path: args.n, op: lte, value: 6 }] }] }
`);

  it('answers with one frozen decision per policy, carrying that policy hash', async () => {
    const a1 = await evaluate(A, { tool: 'read', args: { n: 1 } });
    const a2 = await evaluate(A, { tool: 'other', args: {} });
    const b = await evaluate(B, { tool: 'read', args: { n: 6 } });
    const a3 = await evaluate(A, { tool: 'read', args: { n: 2 } });
    expect(a1).toEqual({ allowed: true, reason: 'allowed', message: 'allowed', policyHash: A.hash });
    expect(a2).toBe(a1);
    expect(a3).toBe(a1);
    expect(Object.isFrozen(a1)).toBe(true);
    expect(b.policyHash).toBe(B.hash);
    expect(B.hash).not.toBe(A.hash);
    // A failing condition still takes the full path and names the rule.
    expect(await evaluate(A, { tool: 'read', args: { n: 6 } })).toMatchObject({
      allowed: false,
      rule: 'small',
      reason: 'condition_failed',
    });
  });

  it('turns a programming error into a rejection, not a synchronous throw', async () => {
    const p = evaluate(A, undefined as unknown as { tool: string; args: Record<string, unknown> });
    await expect(p).rejects.toBeInstanceOf(TypeError);
  });
});

describe('the counted fast path', () => {
  // Rate limits, fixed state increments and args conditions only: decided from a per-rule-list
  // set of counter items. The full path (taken with `trace`) must give the same decisions.
  const P = compile(`
version: "1"
tools:
  search:
    rules:
      - name: short queries
        conditions: [{ path: args.q, op: regex, value: "^.{1,20}$" }]
      - name: burst
        rate_limit: 3/minute
      - name: searches today
        conditions: [{ path: args.q, op: neq, value: forbidden }]
        state: { counter: searches, window: day, increment: 2 }
      - name: smooth
        rate_limit: { max: 5, window: 3600 }
  "*":
    rules:
      - name: everything
        rate_limit: 4/minute
`);

  function strip(d: Awaited<ReturnType<typeof evaluate>>) {
    const { trace: _trace, reservation, ...rest } = d;
    return { ...rest, reserved: reservation?.items.map((i) => [i.key, i.amount]) };
  }

  it('decides without waiting (evaluateNow) exactly as evaluate does, or defers to it', async () => {
    const now = new MemoryCounterStore();
    const full = new MemoryCounterStore();
    const calls = [
      { tool: 'search', args: { q: 'a' } },
      { tool: 'search', args: { q: 'x'.repeat(30) } },
      { tool: 'other', args: {} },
      { tool: 'search', args: { q: 'b' } },
      { tool: 'search', args: { q: 'c' } },
      { tool: 'search', args: { q: 'd' } },
      { tool: 'other', args: {} },
    ];
    const sync: boolean[] = [];
    for (const [i, call] of calls.entries()) {
      const t = T0 + i * 1000;
      const immediate = evaluateNow(P, call, ctx(now, t));
      sync.push(immediate !== undefined);
      const a = immediate ?? (await evaluate(P, call, ctx(now, t)));
      const b = await evaluate(P, call, ctx(full, t, { trace: true }));
      expect(strip(a)).toEqual(strip(b));
      if (a.reservation) await now.commit(a.reservation, t);
      if (b.reservation) await full.commit(b.reservation, t);
    }
    // A failing args condition needs the full path (it names the rule); the rest is immediate,
    // denials by a counter included.
    expect(sync).toEqual([true, false, true, true, true, true, true]);
    // Never for trace or peek, nor for a store that cannot answer at once.
    expect(evaluateNow(P, calls[0]!, ctx(now, T0, { trace: true }))).toBeUndefined();
    expect(evaluateNow(P, calls[0]!, ctx(now, T0, { mode: 'peek' }))).toBeUndefined();
    const withoutNow: CounterStore = {
      kind: 'memory',
      reserve: (items, t) => now.reserve(items, t),
      peek: (items, t) => now.peek(items, t),
      read: (...a) => now.read(...a),
      commit: (r, t) => now.commit(r, t),
      rollback: (r) => now.rollback(r),
      close: () => now.close(),
    };
    expect(evaluateNow(P, calls[0]!, ctx(withoutNow, T0))).toBeUndefined();
    // Stateless decisions are immediate too, and are the shared frozen one.
    const free = compile(
      'version: "1"\ntools:\n  read: { rules: [{ name: n, conditions: [{ path: args.n, op: lte, value: 5 }] }] }\n',
    );
    const d = evaluateNow(free, { tool: 'read', args: { n: 1 } });
    expect(d).toBe(await evaluate(free, { tool: 'read', args: { n: 2 } }));
    expect(evaluateNow(free, { tool: 'read', args: { n: 9 } })).toBeUndefined();
  });

  it('gives the decisions of the full path, call after call', async () => {
    const fast = new MemoryCounterStore();
    const full = new MemoryCounterStore();
    const calls = [
      { tool: 'search', args: { q: 'a' } },
      { tool: 'search', args: { q: 'b' } },
      { tool: 'search', args: { q: 'x'.repeat(30) } },
      { tool: 'other', args: {} },
      { tool: 'search', args: { q: 'c' } },
      { tool: 'search', args: { q: 'd' } },
      { tool: 'other', args: {} },
    ];
    const got: unknown[] = [];
    for (const [i, call] of calls.entries()) {
      const now = T0 + i * 1000;
      const a = await evaluate(P, call, ctx(fast, now));
      const b = await evaluate(P, call, ctx(full, now, { trace: true }));
      expect(strip(a)).toEqual(strip(b));
      if (a.reservation) await fast.commit(a.reservation, now);
      if (b.reservation) await full.commit(b.reservation, now);
      got.push(a.allowed ? 'allowed' : a.rule);
    }
    expect(got).toEqual(['allowed', 'allowed', 'short queries', 'allowed', 'allowed', 'burst', 'everything']);
    // Three searches admitted, 2 each; the "*" limit counted all four admitted calls.
    expect(await fast.read('ctr:search.searches', 'fixed', 86_400_000, T0)).toBe(6);
  });

  it('hands the store one shared, frozen item list per rule list', async () => {
    const seen: (readonly CounterItem[])[] = [];
    const inner = new MemoryCounterStore();
    const spy: CounterStore = {
      kind: 'memory',
      reserve: (items, now) => {
        seen.push(items);
        return inner.reserve(items, now);
      },
      peek: (items, now) => inner.peek(items, now),
      read: (...a) => inner.read(...a),
      commit: (r, now) => inner.commit(r, now),
      rollback: (r) => inner.rollback(r),
      close: () => inner.close(),
    };
    await evaluate(P, { tool: 'search', args: { q: 'a' } }, ctx(spy));
    await evaluate(P, { tool: 'search', args: { q: 'b' } }, ctx(spy));
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(seen[0]);
    expect(Object.isFrozen(seen[0])).toBe(true);
    expect(
      seen[0]?.map((i) => [i.key, i.kind, i.amount, i.checks.map((c) => [c.op, c.value, c.tag])]),
    ).toEqual([
      [expect.stringMatching(/^rl:/), 'fixed', 1, [['lte', 3, 1]]],
      ['ctr:search.searches', 'fixed', 2, []],
      [expect.stringMatching(/^rl:/), 'sliding', 1, [['lte', 5, 3]]],
      [expect.stringMatching(/^rl:/), 'fixed', 1, [['lte', 4, 4]]],
    ]);
  });

  it('a store that throws synchronously is a store failure, in both fail modes', async () => {
    const throwing: CounterStore = {
      kind: 'memory',
      reserve: () => {
        throw new Error('socket closed');
      },
      peek: () => Promise.reject(new Error('socket closed')),
      read: () => Promise.reject(new Error('socket closed')),
      commit: () => Promise.resolve(),
      rollback: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const call = { tool: 'search', args: { q: 'a' } };
    expect(await evaluate(P, call, ctx(throwing))).toMatchObject({
      allowed: false,
      reason: 'state_unavailable',
      message:
        'Counter state is unavailable (socket closed); the call is denied because the state fail mode is closed',
    });
    expect(await evaluate(P, call, ctx(throwing, T0, { failMode: 'open' }))).toMatchObject({
      allowed: true,
      failedOpen: true,
    });
  });
});

describe('arguments nested deeper than JSON.stringify recurses', () => {
  it('are judged by their rule: a failed condition denies with condition_failed, not an internal error', async () => {
    const r = loadPolicy(
      'version: "1"\ntools:\n  echo:\n    rules:\n      - { name: r, conditions: [{ path: args.message, op: eq, value: a }] }\n',
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const depth = 20_000;
    const message = JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`) as unknown;
    expect(() => JSON.stringify(message)).toThrow(RangeError);
    const d = await evaluate(
      r.policy,
      { tool: 'echo', args: { message } },
      { store: new MemoryCounterStore() },
    );
    expect(d).toMatchObject({ allowed: false, reason: 'condition_failed', rule: 'r' });
    expect(d.message).toContain('{"a":{"a":');
  });
});
