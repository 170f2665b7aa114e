import { execSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnChild } from './process.js';

const stubborn = fileURLToPath(new URL('../test/fixtures/stubborn.mjs', import.meta.url));
const parentScript = fileURLToPath(new URL('../test/fixtures/parent.mjs', import.meta.url));
const processModule = new URL('./process.ts', import.meta.url).href;

/** Alive and not a zombie (an unreaped zombie holds no resources and cannot be killed). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function firstLine(stream: NodeJS.ReadableStream): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(buf.slice(0, nl)));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('child process lifecycle', () => {
  it('rejects with the command name when it cannot be spawned', async () => {
    await expect(
      spawnChild({ command: 'tollgate-no-such-command-xyz', env: { PATH: '/usr/bin:/bin' } }),
    ).rejects.toThrow(
      'cannot start "tollgate-no-such-command-xyz": ENOENT (not found on the PATH: /usr/bin:/bin; give its absolute path, or set PATH in the client\'s configuration)',
    );
    // A long PATH is shortened, never the advice after it.
    const long = Array.from({ length: 12 }, (_, i) => `/opt/tools/number${i}/bin`).join(':');
    await expect(
      spawnChild({ command: 'tollgate-no-such-command-xyz', env: { PATH: `${long}:/usr/bin:/bin` } }),
    ).rejects.toThrow(
      "ENOENT (not found on the PATH: /opt/tools/number0/bin:/opt/tools/number1/bin:/opt/tools/number2/bin:...(9 more)...:/usr/bin:/bin; give its absolute path, or set PATH in the client's configuration)",
    );
    await expect(spawnChild({ command: '/nonexistent/tollgate-server' })).rejects.toThrow(
      'cannot start "/nonexistent/tollgate-server": ENOENT (no such file)',
    );
    await expect(spawnChild({ command: '/tmp' })).rejects.toThrow(
      'cannot start "/tmp": EACCES (not executable, or a directory)',
    );
    await expect(spawnChild({ command: 'ls', cwd: '/nonexistent-dir' })).rejects.toThrow(
      'cannot start "ls": ENOENT (no working directory /nonexistent-dir)',
    );
    await expect(spawnChild({ command: 'tollgate-no-such-command-xyz', env: {} })).rejects.toThrow(
      'cannot start "tollgate-no-such-command-xyz": ENOENT (PATH is not set, so only the system default was searched;',
    );
  });

  it('runs the child in its own process group and reports its exit code', async () => {
    const h = await spawnChild({
      command: process.execPath,
      args: ['-e', 'process.exit(7)'],
      watchdog: false,
    });
    expect(h.pid).toBeGreaterThan(0);
    expect(await h.exited).toEqual({ code: 7, signal: null });
  });

  it('walks the shutdown ladder to SIGKILL for a child that ignores EOF and SIGTERM, grandchild included', async () => {
    const h = await spawnChild({ command: process.execPath, args: [stubborn], stderr: 'ignore' });
    const pids = await firstLine(h.child.stdout);
    const t0 = Date.now();
    const exit = await h.shutdown(200);
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    await sleep(100);
    expect(alive(pids.grandchild!)).toBe(false);
  });

  it('endGroup ends what a wrapper left running, and frees the pipes', async () => {
    // `sh` starts a background sleep (it keeps the stdout pipe) and then runs a second one.
    const h = await spawnChild({
      command: '/bin/sh',
      args: ['-c', 'sleep 30 & echo "{\\"pid\\":$!}"; exec sleep 31'],
      stderr: 'ignore',
    });
    const { pid } = await firstLine(h.child.stdout);
    expect(alive(pid!)).toBe(true);
    const t0 = Date.now();
    await h.endGroup(300);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(alive(pid!)).toBe(false);
    expect(alive(h.pid!)).toBe(false);
    expect(h.child.stdout.destroyed).toBe(true);
  });

  it('a process the server left in its group that ignores SIGTERM is ended after the server exits (watchdog)', async () => {
    // The server starts a background process that ignores SIGTERM, then exits on its own.
    const h = await spawnChild({
      command: '/bin/sh',
      args: ['-c', `(trap '' TERM INT; exec sleep 301) & echo "{\\"pid\\":$!}"; read -r _`],
      stderr: 'ignore',
    });
    const { pid } = await firstLine(h.child.stdout);
    expect(alive(pid!)).toBe(true);
    h.child.stdin.end(); // the server exits on EOF, leaving the sleep behind
    await h.exited;
    // SIGTERM is ignored; the watchdog sends SIGKILL about a second later.
    for (let i = 0; i < 40 && alive(pid!); i++) await sleep(100);
    expect(alive(pid!)).toBe(false);
  });

  it('leaves no process behind when the parent is killed with SIGKILL (watchdog)', async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', parentScript, processModule, stubborn], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = await firstLine(parent.stdout);
    expect(alive(pids.pid!)).toBe(true);
    parent.kill('SIGKILL');
    await sleep(2000);
    if (alive(pids.pid!)) console.log(execSync('ps -eo pid,ppid,pgid,stat,cmd').toString());
    expect(alive(pids.pid!)).toBe(false);
    expect(alive(pids.grandchild!)).toBe(false);
  });
});
