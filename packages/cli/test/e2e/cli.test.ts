/**
 * The command line of the built `tollgate`: usage errors, policy errors with file:line:col,
 * spawn failures, subcommands next to the root proxy form, and `tollgate status`.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CLI,
  connect,
  envFor,
  FAKE_SERVER,
  RawSession,
  type Scratch,
  scratch,
  serverBin,
  sleep,
  textOf,
} from './helpers.js';

let s: Scratch;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

function run(args: string[], input = '') {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: envFor(s),
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const OK_POLICY = 'version: "1"\ntools:\n  echo:\n    rules:\n      - { name: never shout, action: deny }\n';

describe('tollgate command line', () => {
  it('refuses a missing -c, a missing command and a missing -- with exit code 2', () => {
    const policy = s.write('p.yaml', OK_POLICY);
    const none = run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing -c <policy.yaml>/);
    const noCmd = run(['-c', policy]);
    expect(noCmd.code).toBe(2);
    expect(noCmd.stderr).toMatch(/missing the server command/);
    const noDashes = run(['-c', policy, 'node', 'server.js']);
    expect(noDashes.code).toBe(2);
    expect(noDashes.stderr).toMatch(/put -- before the server command/);
    expect(noDashes.stdout).toBe('');
  });

  it('accepts --shutdown-grace 0 and refuses a negative or fractional grace with exit code 2', () => {
    const policy = s.write('p.yaml', OK_POLICY);
    for (const bad of ['-1', '1.5', 'soon', '']) {
      const r = run(['-c', policy, '--shutdown-grace', bad, '--', process.execPath, FAKE_SERVER]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toContain(
        'must be a whole number of milliseconds from 0 (kill the server at once) to 2147483647',
      );
    }
    // 0 is accepted: EOF on stdin at once, and the server is stopped without waiting. It may exit
    // on the EOF (0), or be ended by the SIGTERM (143) or the SIGKILL (137) that follow at once:
    // which one wins is a race (CI saw 137).
    const zero = run(['-c', policy, '--shutdown-grace', '0', '--', process.execPath, FAKE_SERVER]);
    expect(zero.stderr).not.toContain('--shutdown-grace');
    expect([0, 137, 143]).toContain(zero.code);
  });

  it('refuses --state-prefix without a Redis store instead of ignoring it (exit 2)', () => {
    const policy = s.write('p.yaml', OK_POLICY);
    for (const state of [[], ['--state-dsn', 'memory:'], ['--state-dir', `${s.dir}/st`]]) {
      const r = run([
        '-c',
        policy,
        ...state,
        '--state-prefix',
        'github:',
        '--',
        process.execPath,
        FAKE_SERVER,
      ]);
      expect(r.code, state.join(' ')).toBe(2);
      expect(r.stderr).toContain('--state-prefix applies to a Redis store');
    }
  });

  it('refuses a policy from a pipe in proxy mode, saying why (it re-reads the file)', () => {
    const r = spawnSync('bash', ['-c', `"$NODE" "$CLI" -c <(printf 'version: "1"\n') -- "$NODE" "$FAKE"`], {
      env: { ...envFor(s), NODE: process.execPath, CLI, FAKE: FAKE_SERVER },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^tollgate: policy \/dev\/fd\/\d+ is not a regular file: the proxy re-reads its policy when the file changes and on SIGHUP/,
    );
  });

  it('prints every policy error with file:line:col and exits 2 without starting the server', () => {
    const bad = s.write(
      'bad.yaml',
      'version: "1"\ndefault: maybe\ntools:\n  x:\n    rules:\n      - { op: nope }\n',
    );
    const r = run(['-c', bad, '--', process.execPath, FAKE_SERVER]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:2:\d+: /);
    expect(r.stderr).toMatch(/policy .*bad\.yaml is invalid/);
    expect(r.stdout).toBe('');
    const missing = run(['-c', `${s.dir}/nope.yaml`, '--', process.execPath, FAKE_SERVER]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read policy .*nope\.yaml: ENOENT/);
  });

  it('reports a command that cannot be spawned with exit code 2', () => {
    const policy = s.write('p.yaml', OK_POLICY);
    const r = run(['-c', policy, '--', 'tollgate-no-such-server-xyz']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot start "tollgate-no-such-server-xyz": ENOENT/);
  });

  it('keeps subcommands reachable next to the root proxy form, and documents both', () => {
    const help = run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/-c <policy.yaml> \[options\] -- <server command>/);
    expect(help.stdout).toMatch(/--state-dsn/);
    expect(help.stdout).toMatch(/status/);
    const statusHelp = run(['status', '--help']);
    expect(statusHelp.code).toBe(0);
    expect(statusHelp.stdout).toMatch(/--since <duration>/);
    // `validate -c x` is the subcommand, not a server command named "validate".
    const v = run(['validate', '-c', s.write('p.yaml', OK_POLICY)]);
    expect(v.stderr).not.toMatch(/put -- before the server command/);
    expect(v.stderr).not.toMatch(/missing the server command/);
  });

  it('status shows a running instance, its calls and denials, then the instance gone', async () => {
    const policy = s.write('p.yaml', OK_POLICY);
    const raw = new RawSession(s, ['-c', policy, '--', process.execPath, FAKE_SERVER]);
    await raw.handshake();
    raw.send({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'a' } },
    });
    raw.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'big', arguments: { bytes: 3 } },
    });
    await raw.waitFor((m) => m.id === 1);
    await raw.waitFor((m) => m.id === 2);
    // The decision log flushes within ~200 ms; poll rather than guess on a loaded machine.
    let live = JSON.parse(run(['status', '--json']).stdout);
    for (let i = 0; i < 20 && live.calls < 2; i++) {
      await new Promise((r) => setTimeout(r, 250));
      live = JSON.parse(run(['status', '--json']).stdout);
    }
    expect(live.running.map((i: { pid: number }) => i.pid)).toEqual([raw.proc.pid]);
    expect(live.running[0].serverCommand).toEqual([process.execPath, FAKE_SERVER]);
    expect(live).toMatchObject({ calls: 2, allowed: 1, denied: 1, deniedShare: 0.5 });
    expect(live.topDenyRules).toEqual([{ rule: 'never shout', count: 1 }]);
    expect(live.recentDenials[0]).toMatchObject({
      tool: 'echo',
      rule: 'never shout',
      reason: 'denied_by_rule',
    });
    expect(live.perMinute.calls.reduce((a: number, b: number) => a + b, 0)).toBe(2);
    expect(live.perMinute.calls).toHaveLength(60);
    const text = run(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Running instances: 1/);
    expect(text.stdout).toMatch(/denied 1 \(50\.0%\)/);
    expect(text.stdout).toMatch(/calls {3}\|.*[▁▂▃▄▅▆▇█].*\| peak 2\/min/);
    raw.proc.stdin.end();
    await raw.exited;
    const after = JSON.parse(run(['status', '--json']).stdout);
    expect(after.running).toEqual([]);
    expect(after.calls).toBe(2);
  });

  it('status counts a proxy killed with SIGKILL as not running (pid check)', async () => {
    const policy = s.write('p.yaml', OK_POLICY);
    const raw = new RawSession(s, ['-c', policy, '--', process.execPath, FAKE_SERVER]);
    await raw.handshake();
    let running = JSON.parse(run(['status', '--json']).stdout).running;
    for (let i = 0; i < 20 && running.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      running = JSON.parse(run(['status', '--json']).stdout).running;
    }
    expect(running).toHaveLength(1);
    raw.proc.kill('SIGKILL');
    await raw.exited;
    expect(JSON.parse(run(['status', '--json']).stdout).running).toHaveLength(0);
  });
});

describe('policy entries that name no tool the server lists', () => {
  it('are named in one warning once the client has listed the tools (a typo fails open under default: allow)', async () => {
    const policy = s.write(
      'typo.yaml',
      'version: "1"\nhide: [craash]\ntools:\n  ehco:\n    rules:\n      - { name: never shout, action: deny }\n',
    );
    const session = await connect(s, policy, [process.execPath, FAKE_SERVER]);
    try {
      await session.client.listTools();
      await session.client.listTools();
      for (let waited = 0; waited < 5000 && !session.stderr().includes('does not list'); waited += 50)
        await sleep(50);
      const warnings = session
        .stderr()
        .split('\n')
        .filter((l) => l.includes('the policy names tools the server does not list'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0]!)).toMatchObject({
        level: 40,
        tools: ['ehco'],
        hide: ['craash'],
        listed: 6,
      });
    } finally {
      await session.close();
    }
  });
});

describe("the server's environment", () => {
  it("is the client's without Tollgate's secrets: no TOLLGATE_STATE_DSN or TOLLGATE_AUTH_TOKEN for the agent to read", async () => {
    const policy = s.write('allow.yaml', 'version: "1"\ndefault: allow\n');
    const session = await connect(s, policy, [process.execPath, serverBin('server-everything')], {
      env: { TOLLGATE_STATE_DSN: 'memory:', TOLLGATE_AUTH_TOKEN: 'sekrit-token', CLIENT_SETTING: 'kept' },
    });
    try {
      const env = textOf(await session.client.callTool({ name: 'get-env', arguments: {} }));
      expect(env).toContain('CLIENT_SETTING');
      expect(env).not.toContain('TOLLGATE_STATE_DSN');
      expect(env).not.toContain('TOLLGATE_AUTH_TOKEN');
      expect(env).not.toContain('sekrit-token');
    } finally {
      await session.close();
    }
  });
});
