import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pidAlive, spanText, summarize } from '../src/commands/status-action.js';
import { processStartMs, processStartTicks } from '../src/process-start.js';
import { runCli } from './from-source.js';

// Runs from source (no build needed): `tollgate status` over hand-written decision logs.
let home: string;
let eventsDir: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'tollgate-status-'));
  eventsDir = join(home, 'events');
  mkdirSync(eventsDir);
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const fileOf = (t: number) => `events-${new Date(t).toISOString().slice(0, 10)}.jsonl`;

/** Writes lines (objects as JSON, strings as they are) to today's daily file. */
function writeLog(lines: Array<Record<string, unknown> | string>, file = fileOf(Date.now())): void {
  const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  writeFileSync(join(eventsDir, file), `${text}\n`);
}

function call(fields: Record<string, unknown>, at = Date.now() - 60_000): Record<string, unknown> {
  return {
    v: 1,
    ts: new Date(at).toISOString(),
    instance: 'i1',
    type: 'tool_call',
    tool: 'echo',
    decision: 'allow',
    reason: 'allowed',
    latency_ms: 0.1,
    args_hmac: 'x',
    policy_hash: 'h',
    ...fields,
  };
}

function startup(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    v: 1,
    // After this test process started: a startup line older than its process names another one.
    ts: new Date(Date.now() - 1000).toISOString(),
    type: 'startup',
    policy_file: '/p.yaml',
    policy_hash: 'h',
    ...fields,
  };
}

/** An ISO time `ms` milliseconds ago. */
const at = (ms: number) => new Date(Date.now() - ms).toISOString();

function reload(fields: Record<string, unknown>): Record<string, unknown> {
  return { v: 1, type: 'config_reload', policy_file: '/p.yaml', ...fields };
}

function status(...args: string[]) {
  return runCli(['status', ...args], { env: { TOLLGATE_HOME: home } });
}

function statusJson() {
  const r = status('--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('tollgate status over a hand-edited or corrupt decision log', () => {
  it('prints control characters in names as \\u escapes: a tool name cannot drive the terminal', () => {
    const evil = 'boom\u001b]0;PWNED\u0007\u001b[2J\u009b31m';
    writeLog([call({ tool: evil, decision: 'deny', rule: `r\u001b[31m`, reason: 'denied_by_rule' })]);
    const r = status();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('boom\\u001b]0;PWNED\\u0007\\u001b[2J\\u009b31m');
    expect(r.stdout).toContain('r\\u001b[31m');
    // Not one raw ESC, BEL or CSI from the log reached the output (NO_COLOR: none of our own).
    expect(r.stdout).not.toMatch(/[\u0007\u009b]|\u001b\]/);
    expect(r.stdout.includes('\u001b[2J')).toBe(false);
    // The JSON report keeps the name as it is.
    expect(statusJson().recentDenials[0].tool).toBe(evil);
  });

  it('lists recent denials by time, newest first, whatever order the lines are in', () => {
    const at = (minutesAgo: number) => Date.now() - minutesAgo * 60_000;
    writeLog([
      call({ tool: 'newest', decision: 'deny', reason: 'x' }, at(1)),
      call({ tool: 'oldest', decision: 'deny', reason: 'x' }, at(9)),
      call({ tool: 'middle', decision: 'deny', reason: 'x' }, at(5)),
    ]);
    expect(statusJson().recentDenials.map((d: { tool: string }) => d.tool)).toEqual([
      'newest',
      'middle',
      'oldest',
    ]);
  });

  it('escapes bidirectional controls and line separators: a name cannot show reversed or break a line', () => {
    writeLog([call({ tool: 'safe\u202eexe.txt\u2028x\u2066y', decision: 'deny', reason: 'denied_by_rule' })]);
    const r = status();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('safe\\u202eexe.txt\\u2028x\\u2066y');
    expect(r.stdout).not.toMatch(/[\u202e\u2028\u2066]/);
  });

  it('counts deny events whose rule is not a string as rule-less instead of crashing', () => {
    writeLog([
      call({ decision: 'deny', rule: 5, reason: 'denied_by_rule' }),
      call({ decision: 'deny', rule: { name: 'x' }, reason: 'denied_by_rule' }),
      call({ decision: 'deny', rule: 'real rule', reason: 'denied_by_rule' }),
    ]);
    const r = statusJson();
    expect(r).toMatchObject({ calls: 3, denied: 3 });
    expect(r.topDenyRules).toEqual([
      { rule: '(denied_by_rule)', count: 2 },
      { rule: 'real rule', count: 1 },
    ]);
    expect(r.recentDenials.map((d: { rule?: string }) => d.rule)).toEqual([
      'real rule',
      undefined,
      undefined,
    ]);
    const text = status();
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/denied 3/);
  });

  it('counts the calls admitted uncounted while the store was unavailable (fail mode open)', () => {
    writeLog([
      call({ failed_open: true }),
      call({ failed_open: true }),
      call({ failed_open: 'yes' }),
      call({}),
      call({ decision: 'deny', reason: 'rate_limited' }),
    ]);
    expect(statusJson()).toMatchObject({ calls: 5, allowed: 4, allowedUncounted: 2, denied: 1 });
    expect(status().stdout).toContain('allowed 4 (2 uncounted: store unavailable, fail mode open)  denied 1');
    writeLog([call({})]);
    expect(statusJson().allowedUncounted).toBe(0);
    expect(status().stdout).not.toContain('uncounted');
  });

  it('skips tool_call events with a non-string tool or an unknown decision', () => {
    writeLog([
      call({ tool: 42 }),
      call({ tool: null, decision: 'deny' }),
      call({ decision: 'maybe' }),
      call({ decision: true }),
      call({}),
    ]);
    const r = statusJson();
    expect(r).toMatchObject({ calls: 1, allowed: 1, denied: 0 });
    expect(sum(r.perMinute.calls)).toBe(1);
  });

  it('never lists a startup whose pid is not an integer above 1 as running', () => {
    writeLog([
      startup({ instance: 'zero', pid: 0 }),
      startup({ instance: 'minus-one', pid: -1 }),
      startup({ instance: 'init', pid: 1 }),
      startup({ instance: 'fraction', pid: 1.5 }),
      startup({ instance: 'text', pid: String(process.pid) }),
      startup({ instance: 'me', pid: process.pid }),
    ]);
    const r = statusJson();
    expect(r.running.map((i: { instance: string }) => i.instance)).toEqual(['me']);
    // Even with a liveness check that says yes to everything.
    const events = [0, -1, 1, 2.5, Number.NaN].map((pid, i) => startup({ instance: `i${i}`, pid }));
    expect(summarize(events, Date.now(), 3_600_000, () => true).running).toEqual([]);
  });

  it('says which instances are HTTP listeners and where they listen, in text and --json', () => {
    writeLog([
      startup({ instance: 'stdio', pid: process.pid, server_command: ['node', 'server.js'] }),
      startup({
        instance: 'listener',
        pid: process.pid,
        server_command: ['node', 'server.js'],
        listen: 'http://127.0.0.1:8787/mcp',
      }),
    ]);
    const r = status();
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('  pid '));
    expect(lines).toHaveLength(2);
    expect(lines[0]).not.toContain('listening on');
    expect(lines[1]).toContain('  listening on http://127.0.0.1:8787/mcp  server: node server.js');
    const json = statusJson();
    expect(json.running.map((i: { listen?: string }) => i.listen)).toEqual([
      undefined,
      'http://127.0.0.1:8787/mcp',
    ]);
  });

  it('masks credentials in a server command that an older version logged as given', () => {
    writeLog([
      startup({
        instance: 'old',
        pid: process.pid,
        server_command: ['npx', '@stripe/mcp', '--api-key=sk_live_OLDSECRET', '--tools=all'],
      }),
    ]);
    const r = status();
    expect(r.stdout).toContain('server: npx @stripe/mcp --api-key=*** --tools=all');
    expect(r.stdout + JSON.stringify(statusJson())).not.toContain('OLDSECRET');
  });

  it('shows the policy hash each instance enforces and whether the last edit of its policy loaded', () => {
    writeLog([
      startup({ instance: 'good', pid: process.pid, policy_hash: 'a'.repeat(64) }),
      startup({ instance: 'stuck', pid: process.pid, policy_hash: 'b'.repeat(64) }),
      reload({
        instance: 'good',
        ts: at(50_000),
        ok: true,
        policy_hash: 'c'.repeat(64),
        previous_hash: 'a'.repeat(64),
      }),
      reload({
        instance: 'stuck',
        ts: at(40_000),
        ok: false,
        policy_hash: 'b'.repeat(64),
        errors: ['/p.yaml:3:5: yaml-syntax: bad indentation', '/p.yaml:4:1: yaml-syntax: x'],
      }),
      // The startup line again, as each new daily file of a running instance begins with it.
      startup({ instance: 'stuck', pid: process.pid, policy_hash: 'b'.repeat(64) }),
    ]);
    const r = status();
    expect(r.code).toBe(0);
    const text = r.stdout.split('\n');
    const good = text.findIndex((l) => l.includes(`(${'c'.repeat(12)})`));
    expect(text[good + 1]).toMatch(/^ {4}policy reloaded \d{4}-\d\d-\d\dT/);
    const stuck = text.findIndex((l) => l.includes(`(${'b'.repeat(12)})`));
    expect(text[stuck + 1]).toMatch(
      /^ {4}the last edit of the policy did not load \(\S+\): \/p\.yaml:3:5: yaml-syntax: bad indentation \(\+1 more\); still enforcing the policy it had$/,
    );
    const json = statusJson();
    expect(json.running).toMatchObject([
      { instance: 'good', policyHash: 'c'.repeat(64), lastReload: { ok: true } },
      {
        instance: 'stuck',
        policyHash: 'b'.repeat(64),
        lastReload: {
          ok: false,
          errors: ['/p.yaml:3:5: yaml-syntax: bad indentation', '/p.yaml:4:1: yaml-syntax: x'],
        },
      },
    ]);
  });

  it('a reload read before its startup line counts; a later reload that loads clears the failure; only the first line of an error shows', () => {
    const failed = reload({
      ts: at(70_000),
      ok: false,
      policy_hash: 'b'.repeat(64),
      errors: ['/p.yaml:5:32: invalid-rate-limit-window: bad window\n  hint: did you mean `60/minute`?'],
    });
    writeLog([
      { ...failed, instance: 'early' },
      startup({ instance: 'early', pid: process.pid, policy_hash: 'b'.repeat(64) }),
      startup({ instance: 'fixed', pid: process.pid, policy_hash: 'b'.repeat(64) }),
      { ...failed, instance: 'fixed' },
      reload({
        instance: 'fixed',
        ts: at(30_000),
        ok: true,
        policy_hash: 'b'.repeat(64),
        previous_hash: 'b'.repeat(64),
      }),
    ]);
    const text = status().stdout;
    expect(text).toContain(
      ': /p.yaml:5:32: invalid-rate-limit-window: bad window; still enforcing the policy it had\n',
    );
    expect(text.match(/did not load/g)).toHaveLength(1);
    expect(text).not.toContain('hint');
    expect(statusJson().running).toMatchObject([
      { instance: 'early', lastReload: { ok: false } },
      { instance: 'fixed', lastReload: { ok: true } },
    ]);
  });

  it('words a long --since in days, not hours', () => {
    const r = status('--since', '100000d');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Calls in the last 100000d (the log keeps 7 days): 0');
    expect(status('--since', '7d').stdout).toContain('Calls in the last 7d: 0');
    const h = 3_600_000;
    const d = 24 * h;
    expect([90_000, 60_000, 30_000, 1000].map(spanText)).toEqual(['1.5m', '1m', '30s', '1s']);
    expect([30 * 60_000, h, 1.5 * h, d, 36 * h, 2 * d, 60 * h, 7.5 * d, 100_000 * d].map(spanText)).toEqual([
      '30m',
      '1h',
      '1.5h',
      '24h',
      '36h',
      '2d',
      '60h',
      '7.5d',
      '100000d',
    ]);
  });

  it('refuses a --since without a unit instead of reading it as milliseconds (exit 2)', () => {
    const r = status('--since', '3600');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give a unit: 3600s, 3600m, 3600h or 3600d');
    expect(status('--since', '0').stderr).toContain('expected a positive duration like 30m, 1h or 2d');
  });

  it('leaves events with an invalid or far-future ts out of the totals and per-minute figures', () => {
    const now = Date.now();
    writeLog([
      call({ ts: 'not a date' }),
      call({ ts: 1_700_000_000_000 }),
      call({ decision: 'deny', reason: 'denied_by_rule', rule: 'r' }, now + 60 * 60_000),
      call({}, now + 60_000), // within the clock-skew allowance: the current minute
      call({}, now - 10 * 60_000),
    ]);
    const r = statusJson();
    expect(r).toMatchObject({ calls: 2, allowed: 2, denied: 0, skippedLines: 3 });
    expect(sum(r.perMinute.calls)).toBe(2);
    expect(r.perMinute.calls[59]).toBe(1);
    expect(sum(r.perMinute.denials)).toBe(0);
  });

  it('names a directory where a daily file should be (exit 1), and reports skipped lines', () => {
    const stray = join(eventsDir, fileOf(Date.now() - 86_400_000));
    mkdirSync(stray);
    writeLog(['{"torn', '[1,2]', 'null', call({}), call({ rule: 7, decision: 'deny', reason: 'x' })]);
    const json = status('--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      calls: 2,
      denied: 1,
      skippedLines: 3,
      logDir: eventsDir,
      logFound: true,
      unreadable: [{ path: stray, reason: 'not a regular file' }],
    });
    const text = status();
    expect(text.code).toBe(1);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain(`Cannot read ${stray} (not a regular file): its events are not counted.`);
    expect(text.stdout).toMatch(/3 unreadable lines of the decision log skipped/);
  });

  it('says so when the events path cannot be listed, instead of reporting zero calls (exit 1)', () => {
    rmSync(eventsDir, { recursive: true });
    writeFileSync(eventsDir, 'not a directory');
    const json = status('--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      calls: 0,
      unreadable: [{ path: eventsDir, reason: 'ENOTDIR: not a directory' }],
    });
    expect(status().stdout).toContain(`Cannot read ${eventsDir} (ENOTDIR: not a directory)`);
  });

  it('tells a missing log from an empty one, and exits 0', () => {
    rmSync(eventsDir, { recursive: true });
    const json = status('--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      calls: 0,
      logDir: eventsDir,
      logFound: false,
      unreadable: [],
    });
    const text = status();
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`No decision log at ${eventsDir} yet`);
  });
});

describe('an instance killed without a shutdown line, its pid now another process', () => {
  const onLinux = existsSync('/proc/self/stat') ? it : it.skip;

  onLinux('knows when a process started, from /proc', () => {
    const started = processStartMs(process.pid)!;
    expect(Math.abs(started - (Date.now() - process.uptime() * 1000))).toBeLessThan(2000);
    expect(processStartMs(0x7ffffffe)).toBeUndefined();
  });

  onLinux('is not running when the process of its pid started after its startup line', async () => {
    // A pid the kernel gave to a new process (pids wrap) after a proxy died by SIGKILL.
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => other.once('spawn', r));
      const pid = other.pid!;
      expect(pidAlive(pid, Date.now() - 60_000)).toBe(false);
      expect(pidAlive(pid, Date.now())).toBe(true);
      const events = [startup({ instance: 'reused', pid, ts: new Date(Date.now() - 60_000).toISOString() })];
      expect(summarize(events, Date.now(), 3_600_000).running).toEqual([]);
      const live = [startup({ instance: 'live', pid, ts: new Date().toISOString() })];
      expect(summarize(live, Date.now(), 3_600_000).running.map((i) => i.instance)).toEqual(['live']);
      // With the process's start ticks on the line, they decide whatever the times say (a clock
      // step after the start): the same ticks are the same process, others are another one.
      const ticks = processStartTicks(pid)!;
      expect(pidAlive(pid, Date.now() - 60_000, ticks)).toBe(true);
      expect(pidAlive(pid, Date.now(), ticks - 1)).toBe(false);
      const stepped = [
        startup({
          instance: 'stepped',
          pid,
          ts: new Date(Date.now() - 60_000).toISOString(),
          proc_start: ticks,
        }),
      ];
      expect(summarize(stepped, Date.now(), 3_600_000).running.map((i) => i.instance)).toEqual(['stepped']);
    } finally {
      other.kill('SIGKILL');
    }
    await new Promise((r) => other.once('exit', r));
    expect(pidAlive(other.pid!, Date.now())).toBe(false);
  });
});
