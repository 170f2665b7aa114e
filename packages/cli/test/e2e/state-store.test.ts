/**
 * Start-up with a counter store that cannot be used: a state dir that cannot be created is a clean
 * exit 2 within a bounded time (never a spin), and an unreachable Redis is a warning on stderr
 * while the proxy keeps running.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, envFor, type Scratch, scratch } from './helpers.js';

let s: Scratch;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

function run(args: string[]) {
  // A bound well above the normal start-up time: before the fix, /proc/x spun for ever.
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: envFor(s),
    input: '',
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('tollgate with an unusable counter store', () => {
  it('exits 2 at once for a state dir under /proc or below a file', () => {
    const policy = s.write('allow.yaml', 'version: "1"\n');
    const proc = run(['-c', policy, '--state-dir', '/proc/tollgate-x', '--', 'true']);
    expect(proc.signal).toBeNull();
    expect(proc.code).toBe(2);
    expect(proc.stdout).toBe('');
    expect(proc.stderr).toBe(
      "tollgate: cannot open the counter store: cannot open SQLite state /proc/tollgate-x/tollgate.sqlite: ENOENT: no such file or directory, mkdir '/proc/tollgate-x'\n",
    );
    const devNull = run(['-c', policy, '--state-dir', '/dev/null/x', '--', 'true']);
    expect(devNull.code).toBe(2);
    expect(devNull.stderr).toBe(
      "tollgate: cannot open the counter store: cannot open SQLite state /dev/null/x/tollgate.sqlite: ENOTDIR: not a directory, stat '/dev/null/x'\n",
    );
  });

  it('warns about an unreachable Redis, naming the DSN and the fail mode, and keeps running', () => {
    const policy = s.write('allow.yaml', 'version: "1"\n');
    for (const mode of ['closed', 'open'] as const) {
      const r = run([
        '-c',
        policy,
        '--state-dsn',
        'redis://127.0.0.1:1/0',
        '--state-fail-mode',
        mode,
        '--',
        'true',
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      const warnings = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; failMode?: string })
        .filter((e) => e.level === 40);
      expect(warnings).toEqual([
        expect.objectContaining({
          failMode: mode,
          msg:
            mode === 'closed'
              ? 'counter store redis://127.0.0.1:1/0 is not reachable (waited 2000 ms; last error: connect ECONNREFUSED 127.0.0.1:1); state fail mode is closed: calls that use counters will be denied (state_unavailable) until it is reachable. Reconnecting in the background.'
              : 'counter store redis://127.0.0.1:1/0 is not reachable (waited 500 ms; last error: connect ECONNREFUSED 127.0.0.1:1); state fail mode is open: calls that use counters will pass uncounted until it is reachable. Reconnecting in the background.',
        }),
      ]);
      // It went on to start the server (and stopped when its input ended).
      expect(r.stderr).toMatch(/"msg":"tollgate proxy started"/);
    }
  });
});
