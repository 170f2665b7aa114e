/**
 * SIGHUP (reload the policy) that reaches a proxy still starting: it must not end the proxy. The
 * start is held for about 2 s by a Redis that is not there (`--state-dsn` to a closed port, fail
 * mode closed waits that long for it), and the signal lands in that wait.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, envFor, FAKE_SERVER, scratch, sleep } from './helpers.js';

const s = scratch();
afterAll(() => s.cleanup());

/** Whether process `pid` has a handler for SIGHUP (bit 0 of SigCgt in /proc/<pid>/status). */
function catchesSighup(pid: number): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
  } catch {
    return false;
  }
}

describe.skipIf(!existsSync('/proc/self/status'))('SIGHUP while the proxy starts', () => {
  it('does not end it; the policy is read again once it runs', async () => {
    const policy = s.write(
      'p.yaml',
      'version: "1"\ntools:\n  echo:\n    rules:\n      - { name: r, rate_limit: 5/minute }\n',
    );
    const child = spawn(
      process.execPath,
      [CLI, '-c', policy, '--state-dsn', 'redis://127.0.0.1:1', '--', process.execPath, FAKE_SERVER],
      { env: envFor(s), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))),
    );
    try {
      // As soon as it catches SIGHUP, but while it still waits for Redis (at most 1.5 s in).
      const start = Date.now();
      while (!catchesSighup(child.pid!) && Date.now() - start < 1500) await sleep(10);
      expect(stderr).not.toContain('tollgate proxy started');
      child.kill('SIGHUP');
      const early = await Promise.race([exited, sleep(4000).then(() => 'running' as const)]);
      expect(early).toBe('running');
      expect(stderr).toContain('tollgate proxy started');
      expect(stderr).toContain('policy reloaded on SIGHUP');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 20_000);

  it('a subcommand still ends on SIGHUP (a terminal hangup), as any command does', async () => {
    // scan waits for a server that never answers: it would run until its timeout.
    const child = spawn(
      process.execPath,
      [CLI, 'scan', '--timeout', '30', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'],
      { env: envFor(s), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    try {
      await sleep(1500);
      child.kill('SIGHUP');
      expect(await Promise.race([exited, sleep(5000).then(() => 'still running')])).toBe('SIGHUP');
    } finally {
      child.kill('SIGKILL');
    }
  }, 20_000);
});
