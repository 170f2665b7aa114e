// Test helper: a real redis-server on a free loopback port, stopped by PID.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';

/** True when the `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether Redis tests must run: a missing redis-server skips them with a message outside CI and
 * fails them in CI (`CI=true`).
 */
export function redisAvailability(): { run: boolean; reason?: string } {
  if (hasRedisServer()) return { run: true };
  if (process.env.CI === 'true') {
    throw new Error('redis-server is not installed but CI=true: install it (apt-get install redis-server)');
  }
  const reason = 'redis-server not installed: Redis store tests SKIPPED (apt-get install redis-server)';
  process.stderr.write(`${reason}\n`);
  return { run: false, reason };
}

/** A running redis-server. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a stall). */
  pause(): void;
  /** SIGCONT after {@link pause}. */
  resume(): void;
}

/**
 * Start redis-server without persistence on a free loopback port; resolves once it accepts connections.
 *
 * @param extraArgs - more server options, e.g. `['--requirepass', 'pw']`
 */
export async function startRedisServer(
  fixedPort?: number,
  extraArgs: readonly string[] = [],
): Promise<RedisServer> {
  const port = fixedPort ?? (await getPort({ host: '127.0.0.1' }));
  // Its own working directory: a replica (REPLICAOF in a test) writes the RDB it receives there,
  // which would otherwise land in the package's directory.
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--dir',
      dir,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  const pid = child.pid!;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGTERM');
      }),
    pause: () => process.kill(pid, 'SIGSTOP'),
    resume: () => process.kill(pid, 'SIGCONT'),
  };
}
