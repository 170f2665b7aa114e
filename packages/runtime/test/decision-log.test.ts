import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '@tollgate/policy';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Decision } from '../src/decision.js';
import {
  argsHmac,
  canonicalArgsJson,
  DECISION_LOG_MAX_BUFFERED,
  type DecisionLog,
  jsonText,
  loadArgsKey,
  openDecisionLog,
  readDecisionLog,
} from '../src/decision-log.js';

/** The arguments' HMAC key of the logs opened here. */
const ARGS_KEY = Buffer.alloc(32, 7);

let root = '';
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tollgate-dlog-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
const freshDir = () => join(root, `d${n++}`);

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/decision-log-v1-golden.json', import.meta.url), 'utf8'),
) as Record<'plain' | 'logArgs', { file: string; text: string }>;

const ALLOW: Decision = { allowed: true, reason: 'allowed', message: 'allowed', policyHash: 'e'.repeat(64) };

/** The event sequence the golden file was recorded with (by the log as it was before buffering calls). */
function writeGoldenSequence(log: DecisionLog, setNow: (t: number) => void): void {
  setNow(Date.UTC(2026, 10, 29, 10, 0, 0, 123));
  log.write({
    type: 'startup',
    pid: 42,
    policy_file: '/p.yaml',
    policy_hash: 'h'.repeat(64),
    server_command: ['srv', '--x'],
    store: 'memory',
  });
  log.toolCall(
    { tool: 'read_file', args: { path: '/a', b: [1, 'two', { z: 1, a: null }] } },
    ALLOW,
    0.12345678,
    { sessionId: 's-1', clientId: 'claude' },
  );
  setNow(Date.UTC(2026, 10, 29, 10, 0, 0, 124));
  log.toolCall(
    { tool: 'create "issue" \u00fc\u2028', args: { title: 'x\ny', n: 1.5e-7 } },
    {
      allowed: false,
      rule: 'hourly "limit"',
      reason: 'rate_limited',
      message: 'm',
      retryAfterMs: 1_800_000,
      policyHash: 'e'.repeat(64),
    },
    2,
    { sessionId: 's-1' },
  );
  setNow(Date.UTC(2026, 10, 29, 23, 59, 59, 999));
  log.toolCall(
    { tool: 'charge', args: {} },
    { allowed: true, reason: 'allowed', message: 'm', failedOpen: true, policyHash: 'f'.repeat(64) },
    0,
  );
  log.write({
    type: 'config_reload',
    ok: false,
    policy_file: '/p.yaml',
    policy_hash: 'h'.repeat(64),
    errors: ['/p.yaml:1:2: x: y'],
  });
}

describe('decision log lines (schema v1)', () => {
  for (const logArgs of [false, true]) {
    it(`are byte-identical to the lines written before calls were buffered (logArgs ${logArgs})`, () => {
      const dir = freshDir();
      let t = 0;
      const log = openDecisionLog({ argsKey: ARGS_KEY, dir, instanceId: 'inst-1', logArgs, now: () => t });
      writeGoldenSequence(log, (x) => {
        t = x;
      });
      log.close();
      const want = golden[logArgs ? 'logArgs' : 'plain'];
      expect(readdirSync(dir)).toEqual([want.file]);
      expect(readFileSync(join(dir, want.file), 'utf8')).toBe(want.text);
    });
  }

  it('each line is JSON.stringify of its event when consecutive calls change one member at a time', () => {
    const dir = freshDir();
    const t = Date.UTC(2026, 10, 29, 12, 0, 0, 5);
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, instanceId: 'inst', now: () => t });
    const h1 = 'a'.repeat(64);
    const h2 = 'b'.repeat(64);
    const deny = (rule: string | undefined, reason: Decision['reason'], policyHash = h1): Decision => ({
      allowed: false,
      ...(rule === undefined ? {} : { rule }),
      reason,
      message: 'm',
      policyHash,
    });
    const steps: Array<[string, Decision, { sessionId?: string; clientId?: string } | undefined]> = [
      ['t', deny('r1', 'condition_failed'), { sessionId: 's', clientId: 'c' }],
      ['t', deny('r2', 'condition_failed'), { sessionId: 's', clientId: 'c' }],
      ['t', deny('r2', 'rate_limited'), { sessionId: 's', clientId: 'c' }],
      ['t', deny(undefined, 'hidden'), { sessionId: 's', clientId: 'c' }],
      ['t', { ...ALLOW, policyHash: h1 }, { sessionId: 's', clientId: 'c' }],
      ['u', { ...ALLOW, policyHash: h1 }, { sessionId: 's', clientId: 'c' }],
      ['u', { ...ALLOW, policyHash: h2 }, { sessionId: 's', clientId: 'c' }],
      ['u', { ...ALLOW, policyHash: h2 }, { sessionId: 's' }],
      ['u', { ...ALLOW, policyHash: h2 }, { sessionId: 's2' }],
      ['u', { ...ALLOW, policyHash: h2 }, undefined],
      ['u', deny('r1', 'condition_failed', h2), { clientId: 'c2' }],
    ];
    for (const [tool, d, ids] of steps) log.toolCall({ tool, args: { q: tool } }, d, 1.5, ids);
    log.close();
    const lines = readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8')
      .trimEnd()
      .split('\n');
    expect(lines).toHaveLength(steps.length);
    steps.forEach(([tool, d, ids], i) => {
      const event = {
        v: 1,
        ts: new Date(t).toISOString(),
        instance: 'inst',
        type: 'tool_call',
        tool,
        decision: d.allowed ? 'allow' : 'deny',
        rule: d.rule,
        reason: d.reason,
        latency_ms: 1.5,
        args_hmac: argsHmac({ q: tool }, ARGS_KEY),
        policy_hash: d.policyHash,
        session_id: ids?.sessionId,
        client_id: ids?.clientId,
      };
      expect(lines[i]).toBe(JSON.stringify(event));
    });
  });

  it('writes ts as new Date(t).toISOString() for any time, fractional clocks included', () => {
    const dir = freshDir();
    let t = 0;
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, instanceId: 'i', now: () => t });
    const times = [
      0,
      86_399_999,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2024, 2, 1),
      Date.UTC(2099, 11, 31, 23, 59, 59, 999) + 0.75,
    ];
    let seed = 7;
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      times.push(Math.floor((seed / 2_147_483_648) * Date.UTC(2100, 0, 1)));
    }
    times.sort((a, b) => a - b);
    for (const x of times) {
      t = x;
      log.toolCall({ tool: 't', args: {} }, ALLOW, 0);
    }
    t = 0; // the flush prunes files 7 days older than now(): keep them all
    log.close();
    const seen = readDecisionLog(dir).map((e) => e.ts);
    expect(seen).toEqual(times.map((x) => new Date(x).toISOString()));
  });

  it('reads lines longer than its 1 MiB chunks whole, and passes over a daily file that is a symbolic link', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const big = 'é'.repeat(1_500_000); // 3 MB of UTF-8: a two-byte character cut at chunk ends
    const line = (ts: string, extra: object = {}) =>
      JSON.stringify({ type: 'tool_call', ts, tool: 't', ...extra });
    writeFileSync(
      join(dir, 'events-2026-11-01.jsonl'),
      `${line('2026-11-01T00:00:00.000Z')}\n${line('2026-11-01T00:00:01.000Z', { big })}\nnot json\n${line('2026-11-01T00:00:02.000Z')}`,
    );
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, `${line('2026-11-02T00:00:00.000Z')}\n`);
    symlinkSync(secret, join(dir, 'events-2026-11-02.jsonl'));
    const unreadable: string[] = [];
    let skipped = 0;
    const events = readDecisionLog(dir, {
      onSkippedLine: () => skipped++,
      onUnreadable: (path, reason) => unreadable.push(`${path}: ${reason}`),
    });
    expect(events.map((e) => e.ts)).toEqual([
      '2026-11-01T00:00:00.000Z',
      '2026-11-01T00:00:01.000Z',
      '2026-11-01T00:00:02.000Z',
    ]);
    expect((events[1] as unknown as { big: string }).big).toBe(big);
    expect(skipped).toBe(1);
    expect(unreadable).toEqual([`${join(dir, 'events-2026-11-02.jsonl')}: not a regular file`]);
  });

  it('hashes arguments with a keyed HMAC, which a guess without the key cannot be checked against', () => {
    const dir = freshDir();
    const other = Buffer.alloc(32, 8);
    const log = openDecisionLog({ argsKey: other, dir });
    log.toolCall({ tool: 't', args: { pin: '1234' } }, ALLOW, 0);
    log.close();
    const [ev] = readDecisionLog(dir) as { args_hmac: string }[];
    expect(ev!.args_hmac).toBe(argsHmac({ pin: '1234' }, other));
    expect(ev!.args_hmac).not.toBe(argsHmac({ pin: '1234' }, ARGS_KEY));
    // Not the plain SHA-256 of the canonical text, which anyone could recompute.
    expect(ev!.args_hmac).not.toBe(createHash('sha256').update('{"pin":"1234"}').digest('hex'));
    expect(ev!.args_hmac).toBe(createHmac('sha256', other).update('{"pin":"1234"}').digest('hex'));
    // Without a key, each log draws its own: two logs do not agree.
    const a = freshDir();
    const b = freshDir();
    for (const d of [a, b]) {
      const l = openDecisionLog({ dir: d });
      l.toolCall({ tool: 't', args: { pin: '1234' } }, ALLOW, 0);
      l.close();
    }
    const hmacOf = (d: string) => (readDecisionLog(d)[0] as { args_hmac: string }).args_hmac;
    expect(hmacOf(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hmacOf(a)).not.toBe(hmacOf(b));
  });

  it('loadArgsKey creates the key once, owner-only, and every later call reads the same key', () => {
    const home = join(freshDir(), 'home');
    const file = join(home, 'args.key');
    const first = loadArgsKey(file);
    expect(first.length).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8')).toBe(`${Buffer.from(first).toString('hex')}\n`);
    expect(Buffer.from(loadArgsKey(file)).equals(Buffer.from(first))).toBe(true);
    // Written under a temporary name and linked into place: nothing else is left beside it.
    expect(readdirSync(home)).toEqual(['args.key']);
    writeFileSync(file, 'not a key\n');
    expect(() => loadArgsKey(file)).toThrow(
      `${file} holds no arguments key (expected at least 32 hex digits)`,
    );
  });

  it('hashes arguments as the HMAC of canonicalJson, whatever their key order', () => {
    const dir = freshDir();
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir });
    log.toolCall({ tool: 't', args: { b: 2, a: { d: [1, { y: 1, x: 2 }], c: 'é' } } }, ALLOW, 0);
    log.toolCall({ tool: 't', args: { b: 2, a: { d: [1, { y: 1, x: 2 }], c: 'é' } } }, ALLOW, 0);
    log.toolCall({ tool: 't', args: { a: { c: 'é', d: [1, { x: 2, y: 1 }] }, b: 2 } }, ALLOW, 0);
    log.toolCall({ tool: 't', args: { b: 3 } }, ALLOW, 0);
    log.close();
    const hashes = readDecisionLog(dir).map((e) => (e as { args_hmac: string }).args_hmac);
    const want = argsHmac({ a: { c: 'é', d: [1, { x: 2, y: 1 }] }, b: 2 }, ARGS_KEY);
    expect(want).toMatch(/^[0-9a-f]{64}$/);
    expect(hashes).toEqual([want, want, want, argsHmac({ b: 3 }, ARGS_KEY)]);
    expect(hashes[3]).not.toBe(want);
  });

  it('canonicalArgsJson is canonicalJson byte for byte', () => {
    const fixed: unknown[] = [
      undefined,
      null,
      -0,
      1e21,
      Number.NaN,
      'a\u2028"\\',
      [],
      {},
      [undefined, () => 1, null],
      { b: undefined, a: () => 1, '': 0, é: 1, e: 2, '10': 3, '9': 4, __proto__x: [{}] },
      { z: { y: { x: [3, 2, { b: 1, a: 2 }] } } },
      new Date(0),
    ];
    let seed = 11;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const keys = ['a', 'b', 'B', 'aa', '0', '10', 'é', 'z', '_', ' '];
    const gen = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.3)
        return [1, -2.5, 'x', true, false, null, undefined, 1e-7][Math.floor(rnd() * 8)];
      if (r < 0.55) return Array.from({ length: Math.floor(rnd() * 4) }, () => gen(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rnd() * 6); i > 0; i--)
        o[keys[Math.floor(rnd() * keys.length)]!] = gen(depth + 1);
      return o;
    };
    const values = [...fixed, ...Array.from({ length: 500 }, () => gen(0))];
    for (const v of values) expect(canonicalArgsJson(v)).toBe(canonicalJson(v));
    // The stack-based writer used past the recursion depth gives the same text.
    for (const v of values) expect(jsonText(v, true)).toBe(canonicalJson(v));
    // Without sorting it is JSON.stringify for JSON data.
    for (const v of values.slice(12)) if (v !== undefined) expect(jsonText(v, false)).toBe(JSON.stringify(v));
  });

  it('logs calls whose arguments nest deeper than any recursion allows (none escapes the log)', () => {
    // 20,000 levels: JSON.parse accepts it, recursion (ours, JSON.stringify's) does not.
    const depth = 20_000;
    const text = `{"message":"deep","x":${'['.repeat(depth)}1${']'.repeat(depth)}}`;
    const args = JSON.parse(text) as Record<string, unknown>;
    expect(() => JSON.stringify(args)).toThrow(RangeError);
    const shallow = { message: 'deep', x: 2 };
    for (const logArgs of [false, true]) {
      const dir = freshDir();
      const errors: Error[] = [];
      const log = openDecisionLog({ argsKey: ARGS_KEY, dir, logArgs, onError: (e) => errors.push(e) });
      log.toolCall({ tool: 'echo', args: shallow }, ALLOW, 1);
      log.toolCall({ tool: 'echo', args }, ALLOW, 1);
      log.toolCall({ tool: 'echo', args: shallow }, ALLOW, 1);
      log.close();
      expect(errors).toEqual([]);
      const calls = readDecisionLog(dir).filter((e) => e.type === 'tool_call');
      expect(calls).toHaveLength(3);
      const deep = calls[1] as { args_hmac: string; args?: unknown };
      // The keys of `args` are already sorted: its canonical text is the text sent.
      expect(deep.args_hmac).toBe(argsHmac(args, ARGS_KEY));
      expect(deep.args_hmac).toMatch(/^[0-9a-f]{64}$/);
      expect(deep.args_hmac).not.toBe((calls[0] as { args_hmac: string }).args_hmac);
      if (logArgs) expect(jsonText(deep.args, false)).toBe(text);
      else expect(deep.args).toBeUndefined();
    }
  });
});

describe('decision log buffering', () => {
  it('buffers calls until flush, then writes them in order', () => {
    const dir = freshDir();
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, now: () => Date.UTC(2026, 0, 2, 3) });
    log.toolCall({ tool: 'a', args: {} }, ALLOW, 0);
    log.write({ type: 'shutdown', pid: 1 });
    log.toolCall({ tool: 'b', args: {} }, ALLOW, 0);
    expect(existsSync(join(dir, 'events-2026-01-02.jsonl'))).toBe(false);
    log.flush();
    expect(readDecisionLog(dir).map((e) => ('tool' in e ? e.tool : e.type))).toEqual(['a', 'shutdown', 'b']);
    log.close();
  });

  it('formats the calls of a turn in the next microtask, so their arguments need not stay alive until the file write', async () => {
    const dir = freshDir();
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, now: () => Date.UTC(2026, 0, 2, 3) });
    const args: Record<string, unknown> = { path: '/a' };
    log.toolCall({ tool: 'read', args }, ALLOW, 0);
    await null;
    // Formatted already: a later change (which callers must not make) no longer reaches the log.
    args.path = '/b';
    expect(existsSync(join(dir, 'events-2026-01-02.jsonl'))).toBe(false);
    log.flush();
    const [ev] = readDecisionLog(dir) as { args_hmac: string }[];
    expect(ev!.args_hmac).toBe(argsHmac({ path: '/a' }, ARGS_KEY));
    log.close();
  });

  it('puts events on either side of UTC midnight in two daily files', () => {
    const dir = freshDir();
    let t = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, instanceId: 'i', now: () => t });
    log.toolCall({ tool: 'before', args: {} }, ALLOW, 0);
    t += 1;
    log.toolCall({ tool: 'after', args: {} }, ALLOW, 0);
    log.write({ type: 'shutdown', pid: 1 });
    log.close();
    expect(readdirSync(dir).sort()).toEqual(['events-2026-12-31.jsonl', 'events-2027-01-01.jsonl']);
    const lines = (f: string) =>
      readFileSync(join(dir, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { ts: string; tool?: string; type: string });
    expect(lines('events-2026-12-31.jsonl')).toEqual([
      expect.objectContaining({ ts: '2026-12-31T23:59:59.999Z', tool: 'before' }),
    ]);
    expect(lines('events-2027-01-01.jsonl')).toEqual([
      expect.objectContaining({ ts: '2027-01-01T00:00:00.000Z', tool: 'after' }),
      expect.objectContaining({ ts: '2027-01-01T00:00:00.000Z', type: 'shutdown' }),
    ]);
  });

  it('starts each daily file of a running instance with its startup line, so status still finds it after the old files are pruned', () => {
    const dir = freshDir();
    let t = Date.UTC(2026, 11, 30, 12);
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, instanceId: 'i', now: () => t });
    log.write({ type: 'startup', pid: 4242, policy_file: '/p.yaml', policy_hash: 'h' });
    log.toolCall({ tool: 'one', args: {} }, ALLOW, 0);
    t += 86_400_000;
    log.toolCall({ tool: 'two', args: {} }, ALLOW, 0);
    t += 86_400_000;
    log.write({ type: 'shutdown', pid: 4242 });
    t += 86_400_000;
    log.toolCall({ tool: 'after-shutdown', args: {} }, ALLOW, 0);
    log.close();
    const types = (f: string) =>
      readFileSync(join(dir, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const e = JSON.parse(l) as { ts: string; tool?: string; type: string };
          return `${e.type}${e.tool ? `:${e.tool}` : ''}@${e.ts.slice(0, 10)}`;
        });
    expect(types('events-2026-12-30.jsonl')).toEqual(['startup@2026-12-30', 'tool_call:one@2026-12-30']);
    // The same line, its original ts.
    expect(types('events-2026-12-31.jsonl')).toEqual(['startup@2026-12-30', 'tool_call:two@2026-12-31']);
    expect(types('events-2027-01-01.jsonl')).toEqual(['startup@2026-12-30', 'shutdown@2027-01-01']);
    expect(types('events-2027-01-02.jsonl')).toEqual(['tool_call:after-shutdown@2027-01-02']);
  });

  it('the startup line a later daily file begins with names the policy of the last successful reload', () => {
    const dir = freshDir();
    let t = Date.UTC(2026, 11, 30, 12);
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, instanceId: 'i', now: () => t });
    log.write({ type: 'startup', pid: 4242, policy_file: '/p.yaml', policy_hash: 'h1' });
    log.write({
      type: 'config_reload',
      ok: true,
      policy_file: '/p.yaml',
      policy_hash: 'h2',
      previous_hash: 'h1',
    });
    log.write({ type: 'config_reload', ok: false, policy_file: '/p.yaml', policy_hash: 'h2', errors: ['x'] });
    t += 86_400_000;
    log.toolCall({ tool: 'two', args: {} }, ALLOW, 0);
    log.close();
    const first = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8').split('\n')[0]!);
    expect(first('events-2026-12-30.jsonl')).toMatchObject({ type: 'startup', policy_hash: 'h1' });
    expect(first('events-2026-12-31.jsonl')).toMatchObject({
      type: 'startup',
      policy_hash: 'h2',
      pid: 4242,
      ts: '2026-12-30T12:00:00.000Z',
    });
  });

  it('starts a daily file deleted under it with its startup line again', () => {
    const dir = freshDir();
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, now: () => Date.UTC(2026, 5, 1) });
    log.write({ type: 'startup', pid: 4242, policy_file: '/p.yaml', policy_hash: 'h' });
    log.toolCall({ tool: 'before', args: {} }, ALLOW, 0);
    log.flush();
    rmSync(join(dir, 'events-2026-06-01.jsonl'));
    log.toolCall({ tool: 'after', args: {} }, ALLOW, 0);
    log.flush();
    log.toolCall({ tool: 'later', args: {} }, ALLOW, 0);
    log.close();
    expect(readDecisionLog(dir).map((e) => (e.type === 'tool_call' ? e.tool : e.type))).toEqual([
      'startup',
      'after',
      'later',
    ]);
  });

  it("an idle instance still writes its startup line into a new day's file (checked hourly)", () => {
    vi.useFakeTimers();
    try {
      const dir = freshDir();
      let t = Date.UTC(2026, 11, 30, 23, 30);
      const log = openDecisionLog({ argsKey: ARGS_KEY, dir, instanceId: 'i', now: () => t });
      log.write({ type: 'startup', pid: 4242, policy_file: '/p.yaml', policy_hash: 'h' });
      log.flush();
      t += 3_600_000;
      vi.advanceTimersByTime(3_600_000 + 250);
      expect(readdirSync(dir).sort()).toEqual(['events-2026-12-30.jsonl', 'events-2026-12-31.jsonl']);
      const next = readDecisionLog(dir).filter((e) => e.type === 'startup');
      expect(next).toHaveLength(2);
      // Once a day, not once an hour.
      t += 3_600_000;
      vi.advanceTimersByTime(3_600_000 + 250);
      log.close();
      expect(readDecisionLog(dir).filter((e) => e.type === 'startup')).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('makes its directory again when it was deleted under it, startup line first, instead of losing every later event', () => {
    const dir = freshDir();
    const errors: Error[] = [];
    const log = openDecisionLog({
      argsKey: ARGS_KEY,
      dir,
      now: () => Date.UTC(2026, 5, 1),
      onError: (e) => errors.push(e),
    });
    log.write({ type: 'startup', pid: 4242, policy_file: '/p.yaml', policy_hash: 'h' });
    log.toolCall({ tool: 'before', args: {} }, ALLOW, 0);
    log.flush();
    rmSync(dir, { recursive: true });
    log.toolCall({ tool: 'after', args: {} }, ALLOW, 0);
    log.flush();
    log.write({ type: 'shutdown', pid: 1 });
    log.close();
    expect(errors).toEqual([]);
    const events = readDecisionLog(dir);
    expect(events.map((e) => (e.type === 'tool_call' ? e.tool : e.type))).toEqual([
      'startup',
      'after',
      'shutdown',
    ]);
  });

  it('writes a burst at the buffer bound at once, without waiting for the timer', () => {
    const dir = freshDir();
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, now: () => Date.UTC(2026, 5, 1) });
    const file = join(dir, 'events-2026-06-01.jsonl');
    const count = () => readFileSync(file, 'utf8').split('\n').length - 1;
    for (let i = 0; i < DECISION_LOG_MAX_BUFFERED - 1; i++)
      log.toolCall({ tool: 't', args: { i } }, ALLOW, 0);
    expect(existsSync(file)).toBe(false);
    log.toolCall({ tool: 't', args: { i: -1 } }, ALLOW, 0);
    log.toolCall({ tool: 't', args: { i: -2 } }, ALLOW, 0);
    // Checked synchronously: the 200 ms timer cannot have run.
    expect(count()).toBe(DECISION_LOG_MAX_BUFFERED);
    log.close();
    expect(count()).toBe(DECISION_LOG_MAX_BUFFERED + 1);
    const evs = readDecisionLog(dir) as { args_hmac: string }[];
    expect(evs[0]!.args_hmac).toBe(argsHmac({ i: 0 }, ARGS_KEY));
    expect(evs.at(-1)!.args_hmac).toBe(argsHmac({ i: -2 }, ARGS_KEY));
  });

  it('close() writes everything buffered, and later events are written at once', () => {
    const dir = freshDir();
    const log = openDecisionLog({
      argsKey: ARGS_KEY,
      dir,
      logArgs: true,
      now: () => Date.UTC(2026, 5, 1, 12),
    });
    for (let i = 0; i < 250; i++) {
      log.toolCall(
        { tool: `t${i % 3}`, args: { i } },
        { ...ALLOW, allowed: false, reason: 'denied_by_rule', rule: `r${i}` },
        i / 7,
      );
    }
    log.write({ type: 'shutdown', pid: 9, reason: 'client_eof' });
    log.close();
    const evs = readDecisionLog(dir);
    expect(evs).toHaveLength(251);
    expect(evs[249]).toMatchObject({ tool: 't0', rule: 'r249', args: { i: 249 }, latency_ms: 35.571 });
    expect(evs[250]).toMatchObject({ type: 'shutdown', reason: 'client_eof' });
    log.toolCall({ tool: 'late', args: {} }, ALLOW, 0);
    expect(readDecisionLog(dir).at(-1)).toMatchObject({ tool: 'late' });
  });

  it('reports arguments it cannot serialise to onError and still writes the other events', () => {
    const dir = freshDir();
    const errors: Error[] = [];
    const log = openDecisionLog({ argsKey: ARGS_KEY, dir, onError: (e) => errors.push(e) });
    log.toolCall({ tool: 'ok1', args: {} }, ALLOW, 0);
    log.toolCall({ tool: 'bad', args: { n: 10n } }, ALLOW, 0);
    log.toolCall({ tool: 'ok2', args: {} }, ALLOW, 0);
    log.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect(readDecisionLog(dir).map((e) => (e as { tool: string }).tool)).toEqual(['ok1', 'ok2']);
  });
});

describe('reading the decision log back', () => {
  it('passes over what is not a daily file and counts lines that are not events', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-read-log-'));
    try {
      // A directory and a FIFO named like daily files: neither may fail or block the reader.
      mkdirSync(join(dir, 'events-2026-11-01.jsonl'));
      execFileSync('mkfifo', [join(dir, 'events-2026-11-02.jsonl')]);
      writeFileSync(
        join(dir, 'events-2026-11-03.jsonl'),
        [
          '{"v":1,"ts":"2026-11-03T10:00:00.000Z","type":"tool_call","tool":"a","decision":"allow"}',
          '{"v":1,"ts":"2026-11-03T10:00:01.000Z","type":"tool_ca', // torn write
          '[1,2]',
          'null',
          '{"no":"type"}',
          '',
          '{"v":1,"ts":"2026-11-03T10:00:02.000Z","type":"tool_call","tool":"b","decision":"deny"}',
        ].join('\n'),
      );
      let skipped = 0;
      const events = readDecisionLog(dir, {
        onSkippedLine: () => {
          skipped++;
        },
      });
      expect(events.map((e) => (e as { tool?: string }).tool)).toEqual(['a', 'b']);
      expect(skipped).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a file of several MiB in chunks: a character split across two chunks stays whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-read-big-'));
    try {
      const line = (i: number, pad = '') =>
        JSON.stringify({ v: 1, ts: '2026-11-03T10:00:00.000Z', type: 'tool_call', tool: `t€${i}`, pad });
      const lines = Array.from({ length: 40_000 }, (_, i) => line(i));
      // Pad the first line so that the first 1 MiB chunk ends inside a '€' (3 bytes in UTF-8).
      const plain = Buffer.from(lines.join('\n'));
      const euro = plain.lastIndexOf(Buffer.from('€'), (1 << 20) - 1);
      lines[0] = line(0, 'x'.repeat((1 << 20) - euro - 1));
      const bytes = Buffer.from(`${lines.join('\n')}\n`);
      expect(bytes[1 << 20]).toBe(0x82); // the middle byte of a '€'
      writeFileSync(join(dir, 'events-2026-11-03.jsonl'), bytes);
      let skipped = 0;
      const events = readDecisionLog(dir, {
        onSkippedLine: () => {
          skipped++;
        },
        keep: (e) => (e as { tool?: string }).tool?.endsWith('7') ?? false,
      });
      expect(skipped).toBe(0);
      expect(events).toHaveLength(4000);
      expect(events.every((e, k) => (e as { tool: string }).tool === `t€${k * 10 + 7}`)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
