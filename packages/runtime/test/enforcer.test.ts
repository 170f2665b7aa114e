import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsHmac, openDecisionLog, readDecisionLog } from '../src/decision-log.js';
import { createEnforcer } from '../src/enforcer.js';
import type { Logger } from '../src/logger.js';
import { PolicyHolder, PolicyLoadError, SETTLE_MS } from '../src/policy-holder.js';
import { MemoryCounterStore } from '../src/store/memory.js';
import { RedisCounterStore } from '../src/store/redis.js';
import { SqliteCounterStore } from '../src/store/sqlite.js';
import { type RedisServer, redisAvailability, startRedisServer } from './redis-server.js';

/** The arguments' HMAC key of the logs opened here. */
const ARGS_KEY = Buffer.alloc(32, 7);

let dir = '';
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-enforcer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function policyFile(text: string): string {
  const f = join(dir, `p${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}

const LIMIT2 = `version: "1"
tools:
  create_issue:
    rules:
      - { name: hourly issue limit, rate_limit: 2/hour }
`;

/** A logger that records each line as `<level> <message>` (debug lines dropped). */
function recordingLogger(): { logged: string[]; logger: Logger } {
  const logged: string[] = [];
  const log = (level: string) => (_o: unknown, msg?: string) => logged.push(`${level} ${msg}`);
  const logger = { warn: log('warn'), info: log('info'), error: log('error'), debug: () => {} };
  return { logged, logger: logger as unknown as Logger };
}

/** A logger that records the error and warning lines as `[fields, message]` (others dropped). */
function fieldLogger(): {
  errors: Array<[Record<string, unknown>, string]>;
  warnings: Array<[Record<string, unknown>, string]>;
  logger: Logger;
} {
  const errors: Array<[Record<string, unknown>, string]> = [];
  const warnings: Array<[Record<string, unknown>, string]> = [];
  const noop = () => {};
  const logger = {
    error: (o: Record<string, unknown>, msg: string) => errors.push([o, msg]),
    warn: (o: Record<string, unknown>, msg: string) => warnings.push([o, msg]),
    info: noop,
    debug: noop,
  };
  return { errors, warnings, logger: logger as unknown as Logger };
}

async function until(pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached in time');
}

describe('createEnforcer', () => {
  it('rejects an invalid initial policy with every error and its position', async () => {
    const f = policyFile('version: "2"\ntools:\n  t:\n    rules:\n      - { name: x, action: explode }\n');
    const err = await createEnforcer({ policyFile: f, store: new MemoryCounterStore() }).catch((e) => e);
    expect(err).toBeInstanceOf(PolicyLoadError);
    expect(err.formatted.length).toBeGreaterThanOrEqual(2);
    expect(err.formatted[0]).toMatch(
      new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:\\d+: invalid-version`),
    );
    const missing = await createEnforcer({
      policyFile: join(dir, 'nope.yaml'),
      store: new MemoryCounterStore(),
    }).catch((e) => e);
    expect(missing).toBeInstanceOf(PolicyLoadError);
    expect(missing.message).toContain('ENOENT');
  });

  it('decides, commits, rolls back, and logs every call without raw arguments', async () => {
    const events = join(dir, 'events-a');
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir: events, instanceId: 'i-1' });
    const e = await createEnforcer({
      policyFile: policyFile(LIMIT2),
      store: new MemoryCounterStore(),
      decisionLog: log,
    });
    const call = { tool: 'create_issue', args: { title: 'secret title', repo: 'a/b' } };
    const a = await e.decide(call, { sessionId: 's-1' });
    expect(a.allowed).toBe(true);
    await e.rollback(a);
    const b = await e.decide(call);
    await e.commit(b);
    const c = await e.decide(call);
    await e.commit(c);
    const d = await e.decide(call);
    expect(d).toMatchObject({ allowed: false, reason: 'rate_limited', rule: 'hourly issue limit' });
    await e.close();
    const evs = readDecisionLog(events);
    expect(evs.map((x) => x.type)).toEqual(['tool_call', 'tool_call', 'tool_call', 'tool_call']);
    const first = evs[0]!;
    expect(first).toMatchObject({
      v: 1,
      instance: 'i-1',
      tool: 'create_issue',
      decision: 'allow',
      reason: 'allowed',
      session_id: 's-1',
      args_hmac: argsHmac({ repo: 'a/b', title: 'secret title' }, ARGS_KEY),
      policy_hash: e.policy.hash,
    });
    expect(evs[3]).toMatchObject({ decision: 'deny', rule: 'hourly issue limit', reason: 'rate_limited' });
    expect(JSON.stringify(evs)).not.toContain('secret title');
    expect(readdirSync(events)).toEqual([`events-${new Date().toISOString().slice(0, 10)}.jsonl`]);
  });

  it('needsToolSchema is true only for tools a required_args rule applies to (glob and "*" included)', async () => {
    const e = await createEnforcer({
      policyFile: policyFile(
        [
          'version: "1"',
          'hide: [write_secret]',
          'tools:',
          '  "write_*":',
          '    rules:',
          '      - { name: checked, action: allow, validate: { required_args: true } }',
          '  read_file:',
          '    rules:',
          '      - { name: schema only, action: allow, validate: { schema: { type: object } } }',
          '  "*":',
          '    rules:',
          '      - { name: global, rate_limit: 10/minute }',
          '',
        ].join('\n'),
      ),
      store: new MemoryCounterStore(),
    });
    expect(['write_file', 'read_file', 'list', 'write_secret'].map((t) => e.needsToolSchema(t))).toEqual([
      true,
      false,
      false,
      false,
    ]);
    await e.close();
  });

  it('says a required_args tool the complete listing leaves out is not listed, rather than not known yet', async () => {
    const e = await createEnforcer({
      policyFile: policyFile(
        'version: "1"\ntools:\n  "*":\n    rules:\n      - { name: checked, action: allow, validate: { required_args: true } }\n',
      ),
      store: new MemoryCounterStore(),
    });
    const before = await e.decide({ tool: 'nosuchtool', args: {} });
    expect(before.message).toContain(
      'the inputSchema of "nosuchtool" is not known yet (learned from tools/list)',
    );
    e.setToolSchemas([{ name: 'add', inputSchema: { type: 'object' } }]);
    e.toolsListed(['add']);
    const after = await e.decide({ tool: 'nosuchtool', args: {} });
    expect(after).toMatchObject({ allowed: false, reason: 'schema_unavailable' });
    expect(after.message).toContain(
      '"nosuchtool" is not a tool the server lists, so its arguments cannot be checked against an inputSchema',
    );
    expect((await e.decide({ tool: 'add', args: {} })).allowed).toBe(true);
    await e.close();
  });

  it('decideNow decides and logs as decide does, without waiting; undefined where decide must wait', async () => {
    const events = join(dir, 'events-now');
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir: events, instanceId: 'i-now' });
    const e = await createEnforcer({
      policyFile: policyFile(`${LIMIT2}  delete_repo:\n    rules:\n      - { name: never, action: deny }\n`),
      store: new MemoryCounterStore(),
      decisionLog: log,
    });
    const call = { tool: 'create_issue', args: { title: 't' } };
    const a = e.decideNow(call, { sessionId: 's-1' });
    expect(a).toMatchObject({ allowed: true, reason: 'allowed' });
    expect(a?.reservation).toBeDefined();
    await e.commit(a!);
    await e.commit((await e.decide(call))!);
    expect(e.decideNow(call)).toMatchObject({
      allowed: false,
      reason: 'rate_limited',
      rule: 'hourly issue limit',
    });
    // A deny rule takes the full path: decideNow leaves it to decide, and logs nothing.
    expect(e.decideNow({ tool: 'delete_repo', args: {} })).toBeUndefined();
    expect(await e.decide({ tool: 'delete_repo', args: {} })).toMatchObject({
      allowed: false,
      rule: 'never',
    });
    await e.close();
    const evs = readDecisionLog(events) as Array<{ decision: string; reason: string; session_id?: string }>;
    expect(evs.map((x) => [x.decision, x.reason])).toEqual([
      ['allow', 'allowed'],
      ['allow', 'allowed'],
      ['deny', 'rate_limited'],
      ['deny', 'denied_by_rule'],
    ]);
    expect(evs[0]!.session_id).toBe('s-1');
  });

  it('logs raw arguments only with logArgs', async () => {
    const events = join(dir, 'events-b');
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir: events, logArgs: true });
    log.toolCall(
      { tool: 't', args: { q: 1 } },
      { allowed: true, reason: 'allowed', message: 'allowed', policyHash: 'h' },
      0.5,
    );
    log.close();
    expect(readDecisionLog(events)[0]).toMatchObject({ args: { q: 1 }, latency_ms: 0.5 });
  });

  it('prunes daily files older than 7 days', () => {
    const events = join(dir, 'events-c');
    const now = Date.UTC(2026, 10, 29, 12);
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir: events, now: () => now });
    for (const day of ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-28']) {
      writeFileSync(join(events, `events-${day}.jsonl`), '{}\n');
    }
    writeFileSync(join(events, 'notes.txt'), 'keep');
    log.write({ type: 'shutdown', pid: 1 });
    log.close();
    expect(readdirSync(events).sort()).toEqual([
      'events-2026-11-22.jsonl',
      'events-2026-11-28.jsonl',
      'events-2026-11-29.jsonl',
      'notes.txt',
    ]);
  });

  it('validate.required_args uses the schemas learned from tools/list', async () => {
    const e = await createEnforcer({
      policyFile: policyFile(
        'version: "1"\ntools:\n  run:\n    rules:\n      - action: allow\n        validate: { required_args: true }\n',
      ),
      store: new MemoryCounterStore(),
    });
    expect((await e.decide({ tool: 'run', args: {} })).reason).toBe('schema_unavailable');
    e.setToolSchemas([{ name: 'run', inputSchema: { type: 'object', required: ['code'] } }]);
    expect((await e.decide({ tool: 'run', args: {} })).reason).toBe('invalid_arguments');
    expect((await e.decide({ tool: 'run', args: { code: '1' } })).allowed).toBe(true);
    await e.close();
  });
});

describe('Enforcer.toolsListed', () => {
  it('warns once about entries naming no listed tool, and again only when a reload changes them', async () => {
    const f = policyFile(
      'version: "1"\nhide: [delete_repoo]\ntools:\n  wirte_file: { rules: [{ action: deny }] }\n',
    );
    const warned: Array<[unknown, string | undefined]> = [];
    const logger = {
      warn: (o: unknown, msg?: string) => warned.push([o, msg]),
      info: () => {},
      error: () => {},
      debug: () => {},
    };
    const e = await createEnforcer({
      policyFile: f,
      store: new MemoryCounterStore(),
      logger: logger as never,
    });
    e.toolsListed(['write_file', 'delete_repo']);
    e.toolsListed(['write_file', 'delete_repo']);
    expect(warned).toEqual([
      [
        { tools: ['wirte_file'], hide: ['delete_repoo'], listed: 2 },
        'the policy names tools the server does not list (a typo? such an entry never applies, and with default: allow the tool it meant runs unchecked)',
      ],
    ]);
    writeFileSync(
      f,
      'version: "1"\nhide: [delete_repo]\ntools:\n  write_file: { rules: [{ action: deny }] }\n',
    );
    expect(await e.reload()).toBe(true);
    expect(warned).toHaveLength(1);
    writeFileSync(f, 'version: "1"\ndefault: deny\ntools:\n  writ_file: { rules: [] }\n');
    expect(await e.reload()).toBe(true);
    expect(warned[1]).toEqual([
      { tools: ['writ_file'], hide: [], listed: 2 },
      'the policy names tools the server does not list (a typo? such an entry never applies)',
    ]);
    // Enforcers made by forStore (the listener's sessions) share the warning: said once.
    const sessions = [e.forStore(new MemoryCounterStore()), e.forStore(new MemoryCounterStore())];
    for (const s of sessions) s.toolsListed(['write_file', 'delete_repo']);
    writeFileSync(f, 'version: "1"\ndefault: deny\ntools:\n  wrte_file: { rules: [] }\n');
    expect(await e.reload()).toBe(true);
    expect(warned.slice(2).map(([o]) => o)).toEqual([{ tools: ['wrte_file'], hide: [], listed: 2 }]);
    // A policy naming many unlisted tools: 20 named on the line, the rest counted.
    writeFileSync(
      f,
      `version: "1"\ntools:\n${Array.from({ length: 25 }, (_, i) => `  t${i}: {}\n`).join('')}`,
    );
    expect(await e.reload()).toBe(true);
    expect(warned.at(-1)![0]).toEqual({
      tools: Array.from({ length: 20 }, (_, i) => `t${i}`),
      moreTools: 5,
      hide: [],
      listed: 2,
    });
    for (const s of sessions) await s.close();
    await e.close();
  });
});

describe('Enforcer.forStore', () => {
  it('counts in its own store, judges with the shared policy (one reload for both), and closes only its store', async () => {
    const f = policyFile(LIMIT2);
    const closed: string[] = [];
    const store = (name: string) => {
      const st = new MemoryCounterStore();
      const close = st.close.bind(st);
      st.close = () => {
        closed.push(name);
        return close();
      };
      return st;
    };
    const shared = await createEnforcer({ policyFile: f, store: store('shared') });
    const own = store('own');
    const session = shared.forStore(own);
    const call = { tool: 'create_issue', args: {} };
    for (let i = 0; i < 2; i++) {
      const d = await session.decide(call);
      expect(d.allowed).toBe(true);
      await session.commit(d);
    }
    expect((await session.decide(call)).reason).toBe('rate_limited');
    // The other store has counted nothing.
    expect((await shared.decide(call)).allowed).toBe(true);

    let changes = 0;
    session.onPolicyChange(() => changes++);
    writeFileSync(f, `${LIMIT2}hide: [create_issue]\n`);
    expect(await session.reload()).toBe(true);
    expect(changes).toBe(1);
    expect(shared.isHidden('create_issue')).toBe(true);
    expect(session.isHidden('create_issue')).toBe(true);
    expect(session.policy).toBe(shared.policy);

    await session.close();
    expect(closed).toEqual(['own']);
    // The shared enforcer still works: its store and policy were left open.
    expect((await shared.decide({ tool: 'other', args: {} })).allowed).toBe(true);
    await shared.close();
    expect(closed).toEqual(['own', 'shared']);
  });
});

describe('hot reload', () => {
  it('applies a valid change to the next call, keeps the old policy on an invalid one, and counters survive', async () => {
    const f = policyFile(LIMIT2);
    const events = join(dir, 'events-reload');
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir: events });
    const e = await createEnforcer({
      policyFile: f,
      watch: true,
      debounceMs: 50,
      store: new SqliteCounterStore({ file: join(dir, 'reload.sqlite') }),
      decisionLog: log,
    });
    const swaps: string[] = [];
    e.onPolicyChange((prev, next) => swaps.push(`${prev.hash.slice(0, 8)}->${next.hash.slice(0, 8)}`));
    const call = { tool: 'create_issue', args: {} };
    await e.commit(await e.decide(call));
    await e.commit(await e.decide(call));
    expect((await e.decide(call)).allowed).toBe(false);
    const oldHash = e.policy.hash;

    // Same counter key (same tool key and rule name), higher limit, plus a hidden tool.
    writeFileSync(f, LIMIT2.replace('2/hour', '3/hour').replace('tools:', 'hide: [drop_db]\ntools:'));
    await until(() => e.policy.hash !== oldHash);
    expect(e.isHidden('drop_db')).toBe(true);
    expect(swaps).toHaveLength(1);
    const third = await e.decide(call);
    expect(third.allowed).toBe(true); // 2 already counted survive the reload: exactly one more
    await e.commit(third);
    expect((await e.decide(call)).allowed).toBe(false);

    const goodHash = e.policy.hash;
    writeFileSync(
      f,
      'version: "1"\ntools:\n  create_issue:\n    rules:\n      - { name: x, rate_limit: lots }\n',
    );
    await until(() => readDecisionLog(events).some((x) => x.type === 'config_reload' && !x.ok), 10_000);
    expect(e.policy.hash).toBe(goodHash);
    expect(e.isHidden('drop_db')).toBe(true);
    // The file restored as it was: the policy does not change, but the failure is over, and the
    // log says so (tollgate status clears its "did not load" line on it).
    writeFileSync(f, LIMIT2.replace('2/hour', '3/hour').replace('tools:', 'hide: [drop_db]\ntools:'));
    await until(() => readDecisionLog(events).filter((x) => x.type === 'config_reload').length === 3, 10_000);
    expect(e.policy.hash).toBe(goodHash);
    await e.close();
    const reloads = readDecisionLog(events).filter((x) => x.type === 'config_reload');
    expect(reloads[0]).toMatchObject({ ok: true, previous_hash: oldHash, policy_hash: goodHash });
    expect(reloads[1]).toMatchObject({ ok: false, policy_hash: goodHash });
    expect((reloads[1] as { errors?: readonly string[] }).errors?.[0]).toMatch(/:5:\d+: invalid-rate-limit/);
    expect(reloads[2]).toMatchObject({ ok: true, previous_hash: goodHash, policy_hash: goodHash });

    // Restart: a new enforcer over the same SQLite file still sees the 3 committed calls.
    writeFileSync(f, LIMIT2.replace('2/hour', '3/hour'));
    const again = await createEnforcer({
      policyFile: f,
      store: new SqliteCounterStore({ file: join(dir, 'reload.sqlite') }),
    });
    expect(await again.decide(call)).toMatchObject({ allowed: false, reason: 'rate_limited' });
    await again.close();
  }, 30_000);
});

describe('PolicyHolder start-up', () => {
  it('an edit made after the first read and before the watcher is ready is applied when it is', async () => {
    // The initial policy has a warning (an unreachable rule): the holder logs it right after the
    // first read and before the watcher starts, and this logger edits the file at that moment.
    const f = policyFile(
      'version: "1"\ntools:\n  t:\n    rules:\n      - { action: deny }\n      - { rate_limit: 1/day }\n',
    );
    const logged: string[] = [];
    const logger = {
      warn: (_o: unknown, msg?: string) => {
        logged.push(`warn ${msg}`);
        if (logged.length === 1) writeFileSync(f, 'version: "1"\ndefault: deny\n');
      },
      info: (_o: unknown, msg?: string) => logged.push(`info ${msg}`),
      error: (_o: unknown, msg?: string) => logged.push(`error ${msg}`),
      debug: () => {},
    };
    const holder = await PolicyHolder.open(f, { watch: true, logger: logger as never });
    try {
      expect(holder.current.default).toBe('deny');
      expect(logged).toEqual([
        expect.stringMatching(/^warn .*unreachable-rule/),
        'info policy reloaded; applies from the next call',
      ]);
    } finally {
      await holder.close();
    }
  });

  it('warns on reload about limits whose window changed (they count in another window)', async () => {
    const f = policyFile('version: "1"\ntools:\n  t:\n    rules:\n      - { name: r, rate_limit: 5/hour }\n');
    const warned: unknown[] = [];
    const logger = {
      warn: (o: unknown, msg?: string) => warned.push([o, msg]),
      info: () => {},
      error: () => {},
      debug: () => {},
    };
    const holder = await PolicyHolder.open(f, { watch: false, logger: logger as never });
    try {
      writeFileSync(f, 'version: "1"\ntools:\n  t:\n    rules:\n      - { name: r, rate_limit: 5/day }\n');
      expect((await holder.reload()).ok).toBe(true);
      expect(warned).toEqual([
        [
          { limits: ['rate limit "r" of "t": 5/hour -> 5/day'] },
          'these limits now count in another window (their window, their rule or its tool key changed): calls counted in the old one do not carry over; a window this limit had before goes on from its own count',
        ],
      ]);
    } finally {
      await holder.close();
    }
  });

  it('says the policy warnings of a reloaded file, as at start-up', async () => {
    const ok = 'version: "1"\ntools:\n  t:\n    rules:\n      - { name: r, rate_limit: 5/hour }\n';
    const f = policyFile(ok);
    const { logged, logger } = recordingLogger();
    const holder = await PolicyHolder.open(f, { watch: false, logger: logger as never });
    try {
      writeFileSync(
        f,
        'version: "1"\ntools:\n  t:\n    rules:\n      - { name: d, action: deny }\n      - { name: r, rate_limit: 5/hour }\n',
      );
      expect((await holder.reload()).ok).toBe(true);
      expect(logged[0]).toBe('info policy reloaded; applies from the next call');
      expect(logged.slice(1)).toEqual([
        `warn ${f}:6:9: warning unreachable-rule: rule "r" can never run: rules[0] under "t" always denies\n  hint: remove it, or remove the deny rule`,
      ]);
    } finally {
      await holder.close();
    }
  });

  it('says when a file that failed to load, or went missing, loads again unchanged', async () => {
    const ok = 'version: "1"\nhide: [a]\n';
    const f = policyFile(ok);
    const { logged, logger } = recordingLogger();
    const holder = await PolicyHolder.open(f, { watch: false, logger: logger as never });
    try {
      writeFileSync(f, 'version: "1"\nhide: [a\n');
      expect((await holder.reload()).ok).toBe(false);
      writeFileSync(f, ok);
      expect((await holder.reload()).ok).toBe(true);
      unlinkSync(f);
      expect((await holder.reload()).ok).toBe(false);
      writeFileSync(f, ok);
      expect((await holder.reload()).ok).toBe(true);
      // A reload of an unchanged, healthy file says nothing.
      expect((await holder.reload()).ok).toBe(true);
      expect(logged).toEqual([
        'error policy reload failed; keeping the previous policy',
        'info policy file loads again, unchanged; the policy in force stays',
        'warn policy file removed; keeping the policy in force',
        'info policy file loads again, unchanged; the policy in force stays',
      ]);
    } finally {
      await holder.close();
    }
  });

  it('follows a policy file deleted and created again, and the edits after it', async () => {
    const f = policyFile('version: "1"\nhide: [a]\n');
    const holder = await PolicyHolder.open(f, { watch: true, debounceMs: 20 });
    try {
      for (const [i, name] of ['b', 'c', 'd'].entries()) {
        unlinkSync(f);
        if (i === 1) await new Promise((r) => setTimeout(r, 50)); // with and without a gap
        writeFileSync(f, `version: "1"\nhide: [${name}]\n`);
        await until(() => holder.current.isHidden(name), 5_000);
      }
      // A plain write afterwards is still seen.
      writeFileSync(f, 'version: "1"\nhide: [e]\n');
      await until(() => holder.current.isHidden('e'), 5_000);
      expect(holder.current.isHidden('d')).toBe(false);
    } finally {
      await holder.close();
    }
  }, 30_000);

  it('a deleted policy file is one warning, not an error, however many events report it', async () => {
    const f = policyFile('version: "1"\nhide: [a]\n');
    const { logged, logger } = recordingLogger();
    const holder = await PolicyHolder.open(f, { watch: true, debounceMs: 20, logger: logger as never });
    try {
      unlinkSync(f);
      await until(() => logged.length > 0, 5_000);
      // The identity check (once a second) sees the change too: give it time to speak.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(logged).toEqual(['warn policy file removed; keeping the policy in force']);
      expect(holder.current.isHidden('a')).toBe(true);
      writeFileSync(f, 'version: "1"\nhide: [b]\n');
      await until(() => holder.current.isHidden('b'), 5_000);
      unlinkSync(f);
      await until(() => logged.length > 2, 5_000);
      expect(logged.slice(1)).toEqual([
        'info policy reloaded; applies from the next call',
        'warn policy file removed; keeping the policy in force',
      ]);
    } finally {
      await holder.close();
    }
  }, 30_000);

  it('a policy written in two parts with a pause is not put in force half-written', async () => {
    const full = 'version: "1"\ndefault: allow\nhide: [delete_file]\n';
    const f = policyFile('version: "1"\nhide: [delete_file]\n');
    const seen: string[] = [];
    const holder = await PolicyHolder.open(f, {
      watch: true,
      onReload: (r) => {
        if (r.ok) seen.push(r.policy.isHidden('delete_file') ? 'hidden' : 'open');
      },
    });
    try {
      // The first part alone (no `hide`) is a valid policy that hides nothing.
      const fd = openSync(f, 'w');
      writeSync(fd, full.slice(0, full.indexOf('hide:')));
      await new Promise((r) => setTimeout(r, 300));
      writeSync(fd, full.slice(full.indexOf('hide:')));
      closeSync(fd);
      await until(() => seen.length > 0, 5_000);
      await new Promise((r) => setTimeout(r, SETTLE_MS + 200));
      // Never the first part alone (a late change event may read the whole file once more).
      expect(new Set(seen)).toEqual(new Set(['hidden']));
      expect(holder.current.isHidden('delete_file')).toBe(true);
    } finally {
      await holder.close();
    }
  }, 30_000);

  it("a FIFO put in the policy file's place is refused at once; the next regular file applies", async () => {
    const f = policyFile('version: "1"\nhide: [a]\n');
    const failures: string[] = [];
    const holder = await PolicyHolder.open(f, {
      watch: true,
      onReload: (r) => {
        if (!r.ok) failures.push(String((r.error.cause as Error | undefined)?.message));
      },
    });
    try {
      unlinkSync(f);
      execFileSync('mkfifo', [f]);
      await until(() => failures.length > 0, 10_000);
      expect(failures[0]).toBe(`${f} is a FIFO, not a regular file`);
      expect(holder.current.isHidden('a')).toBe(true);
      // A reload asked for meanwhile does not wait on the FIFO either.
      expect((await holder.reload()).ok).toBe(false);
      unlinkSync(f);
      writeFileSync(f, 'version: "1"\nhide: [b]\n');
      await until(() => holder.current.isHidden('b'), 10_000);
    } finally {
      await holder.close();
    }
  }, 30_000);

  it('a reload asked for while the file is written in parts (SIGHUP) waits for it to be still', async () => {
    const full = 'version: "1"\ndefault: allow\nhide: [delete_file]\n';
    const f = policyFile('version: "1"\nhide: [delete_file]\n');
    const holder = await PolicyHolder.open(f);
    try {
      const fd = openSync(f, 'w');
      writeSync(fd, full.slice(0, full.indexOf('hide:')));
      const asked = holder.reloadWhenStill();
      await new Promise((r) => setTimeout(r, 300));
      writeSync(fd, full.slice(full.indexOf('hide:')));
      closeSync(fd);
      const r = await asked;
      expect(r.ok).toBe(true);
      expect(holder.current.isHidden('delete_file')).toBe(true);
    } finally {
      await holder.close();
    }
  });

  it('a reload callback that throws is logged; the reload stands and nothing crashes', async () => {
    const f = policyFile('version: "1"\nhide: [a]\n');
    const logged: string[] = [];
    const noop = () => {};
    const logger = {
      error: (_o: unknown, msg: string) => logged.push(msg),
      warn: noop,
      info: noop,
      debug: noop,
    } as unknown as Logger;
    const holder = await PolicyHolder.open(f, {
      logger,
      onReload: () => {
        throw new Error('callback failed');
      },
    });
    try {
      writeFileSync(f, 'version: "1"\nhide: [b]\n');
      const r = await holder.reload();
      expect(r.ok).toBe(true);
      expect(holder.current.isHidden('b')).toBe(true);
      expect(logged).toEqual(['policy reload callback failed']);
    } finally {
      await holder.close();
    }
  });

  it('a policy file over the size limit is refused from its size, without being read', async () => {
    const f = policyFile('version: "1"\nhide: [a]\n');
    const holder = await PolicyHolder.open(f);
    try {
      truncateSync(f, 300 * 1024 * 1024); // sparse: no 300 MB written, and none should be read
      const r = await holder.reload();
      expect(r.ok).toBe(false);
      if (!r.ok)
        expect((r.error.cause as Error).message).toBe(
          `${f} is 314572800 bytes, over the 1048576-byte limit of a policy`,
        );
      expect(holder.current.isHidden('a')).toBe(true);
    } finally {
      await holder.close();
    }
  });

  it('an unchanged file is not reloaded once the watcher is ready', async () => {
    const f = policyFile(LIMIT2);
    const results: unknown[] = [];
    const holder = await PolicyHolder.open(f, { watch: true, onReload: (r) => results.push(r) });
    await holder.close();
    expect(results).toEqual([]);
  });
});

const redisState = redisAvailability();
describe.skipIf(!redisState.run)('fail mode against a real Redis that goes away and comes back', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('closed denies with state_unavailable while Redis is down, open admits uncounted, both recover', async () => {
    const f = policyFile(LIMIT2);
    const closedStore = new RedisCounterStore({ url: server.url, prefix: 'fm1:', commandTimeoutMs: 500 });
    const openStore = new RedisCounterStore({ url: server.url, prefix: 'fm2:', commandTimeoutMs: 500 });
    await closedStore.ready();
    await openStore.ready();
    const closed = await createEnforcer({ policyFile: f, store: closedStore });
    const open = await createEnforcer({ policyFile: f, store: openStore, failMode: 'open' });
    const call = { tool: 'create_issue', args: {} };
    expect((await closed.decide(call)).allowed).toBe(true);

    const port = server.port;
    await server.stop();
    const down = await closed.decide(call);
    expect(down).toMatchObject({ allowed: false, reason: 'state_unavailable' });
    expect(down.message).toContain('the call is denied because the state fail mode is closed');
    expect(await open.decide(call)).toMatchObject({ allowed: true, failedOpen: true });

    server = await startRedisServer(port);
    // Each store reconnects on its own schedule (ioredis backoff): wait for both, then check that
    // the open-mode enforcer counts again rather than admitting uncounted.
    await until(async () => (await closed.decide(call)).reason !== 'state_unavailable', 15_000);
    await until(async () => (await open.decide(call)).failedOpen === undefined, 15_000);
    expect((await open.decide(call)).failedOpen).toBeUndefined();
    await closed.close();
    await open.close();
  }, 40_000);

  it('logs failed commits once per 10 s while the store stalls, with the number since the last line', async () => {
    const f = policyFile(LIMIT2.replace('2/hour', '100/hour'));
    const scratch = await startRedisServer();
    const store = new RedisCounterStore({ url: scratch.url, prefix: 'fm4:', commandTimeoutMs: 200 });
    await store.ready();
    const { errors, logger } = fieldLogger();
    let t = Date.now();
    const enforcer = await createEnforcer({ policyFile: f, store, logger, now: () => t });
    const call = { tool: 'create_issue', args: {} };
    try {
      const decisions = [];
      for (let i = 0; i < 6; i++) decisions.push(await enforcer.decide(call));
      expect(decisions.every((d) => d.allowed && d.reservation)).toBe(true);
      scratch.pause();
      for (const d of decisions.slice(0, 5)) await enforcer.commit(d);
      expect(errors.map(([, m]) => m)).toEqual([
        'commit failed; the call counts as pending until the store takes the commit (Redis sends it again until it answers) or its reservation expires',
      ]);
      t += 10_000;
      await enforcer.commit(decisions[5]!);
      expect(errors.map(([o]) => (o as { failedSinceLastLine?: number }).failedSinceLastLine)).toEqual([
        undefined,
        4,
      ]);
    } finally {
      scratch.resume();
      await enforcer.close();
      await scratch.stop();
    }
  }, 20_000);

  it('open warns once per 10 s with the number admitted uncounted, and says how many when the store is back', async () => {
    const f = policyFile(LIMIT2);
    const scratch = await startRedisServer();
    const store = new RedisCounterStore({ url: scratch.url, prefix: 'fm5:', commandTimeoutMs: 300 });
    await store.ready();
    const { warnings, logger } = fieldLogger();
    let t = Date.now();
    let restarted: RedisServer | undefined;
    const enforcer = await createEnforcer({ policyFile: f, store, logger, failMode: 'open', now: () => t });
    const call = { tool: 'create_issue', args: {} };
    try {
      await scratch.stop();
      for (let i = 0; i < 3; i++)
        expect(await enforcer.decide(call)).toMatchObject({ allowed: true, failedOpen: true });
      expect(warnings.map(([o, m]) => [o.admittedUncountedSinceLastLine, o.tool, m])).toEqual([
        [1, 'create_issue', 'counter state unavailable; admitting calls uncounted (fail mode open)'],
      ]);
      expect(warnings[0]![0].err).toEqual(expect.any(String));
      t += 10_000;
      await enforcer.decide(call);
      expect(warnings.map(([o]) => o.admittedUncountedSinceLastLine)).toEqual([1, 3]);
      restarted = await startRedisServer(scratch.port);
      let reconnecting = 0;
      await until(async () => {
        const back = !(await enforcer.decide(call)).failedOpen;
        if (!back) reconnecting++;
        return back;
      }, 15_000);
      expect(warnings.at(-1)).toEqual([
        { admittedUncounted: 4 + reconnecting },
        'counter state available again; calls are counted (fail mode open): the calls admitted uncounted meanwhile are not in any count',
      ]);
    } finally {
      await enforcer.close();
      await restarted?.stop();
    }
  }, 20_000);

  it('closed logs one error per 10 s while it denies, with the number denied since the last line', async () => {
    const f = policyFile(LIMIT2);
    const scratch = await startRedisServer();
    const store = new RedisCounterStore({ url: scratch.url, prefix: 'fm3:', commandTimeoutMs: 300 });
    await store.ready();
    const { errors, warnings, logger } = fieldLogger();
    let t = Date.now();
    let restarted: RedisServer | undefined;
    const enforcer = await createEnforcer({ policyFile: f, store, logger, now: () => t });
    const call = { tool: 'create_issue', args: {} };
    try {
      await scratch.stop();
      for (let i = 0; i < 5; i++) expect((await enforcer.decide(call)).reason).toBe('state_unavailable');
      expect(errors).toHaveLength(1);
      expect(errors[0]![0]).toEqual({ tool: 'create_issue' });
      expect(errors[0]![1]).toContain('the call is denied because the state fail mode is closed');
      t += 9_999;
      await enforcer.decide(call);
      expect(errors).toHaveLength(1);
      t += 1;
      await enforcer.decide(call);
      expect(errors.map(([o]) => o)).toEqual([
        { tool: 'create_issue' },
        { tool: 'create_issue', deniedSinceLastLine: 5 },
      ]);
      // Two more denials, then Redis is back: the first counted call says so, with those two.
      await enforcer.decide(call);
      await enforcer.decide(call);
      expect(warnings).toEqual([]);
      restarted = await startRedisServer(scratch.port);
      // Denials while it reconnects are reported with the two.
      let reconnecting = 0;
      await until(async () => {
        const back = (await enforcer.decide(call)).reason !== 'state_unavailable';
        if (!back) reconnecting++;
        return back;
      }, 15_000);
      expect(warnings).toEqual([
        [
          { deniedSinceLastLine: 2 + reconnecting },
          'counter state available again; calls are counted (fail mode closed)',
        ],
      ]);
    } finally {
      await enforcer.close();
      await restarted?.stop();
    }
  }, 20_000);
});
