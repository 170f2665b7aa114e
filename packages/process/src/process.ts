/**
 * Lifecycle of a stdio MCP server process (DESIGN section 3, "Process"): the proxy's upstream,
 * and the server of a live scan.
 *
 * - The child runs in its own process group (`detached: true`), so a terminal's Ctrl-C reaches
 *   the proxy only, and the proxy decides what the child gets: SIGINT/SIGTERM are forwarded to
 *   the whole group.
 * - Shutdown ladder (MCP spec 2025-11-25, "Lifecycle > Shutdown > stdio"): close the child's
 *   stdin, wait; SIGTERM, wait; SIGKILL.
 * - Parent death, even by SIGKILL: the kernel closes our end of the child's stdin, and every
 *   well-behaved stdio server exits on EOF. For servers that do not, a watchdog — a tiny
 *   `/bin/sh` process in its own group, reading a pipe from us — sees that pipe close without
 *   the "done" line a clean exit writes, and kills the child's process group (SIGTERM, then
 *   SIGKILL after 1 s). A shell costs about a millisecond to start and ~1 MB of memory, where a
 *   second Node process would cost ~40 MB.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** How the child ended. */
export interface ChildExit {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of {@link spawnChild}. */
export interface SpawnChildOptions {
  readonly command: string;
  readonly args?: readonly string[];
  /** Environment of the child; defaults to the proxy's own (the client's environment). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Start the parent-death watchdog (POSIX only; default true). */
  readonly watchdog?: boolean;
  /** Where the child's stderr goes (default: inherited, i.e. the proxy's stderr). */
  readonly stderr?: 'inherit' | 'ignore';
}

const WATCHDOG_SCRIPT = [
  'if read -r _; then exit 0; fi',
  'kill -TERM -"$1" 2>/dev/null || exit 0',
  'i=0',
  'while [ "$i" -lt 10 ]; do kill -0 -"$1" 2>/dev/null || exit 0; sleep 0.1; i=$((i+1)); done',
  'kill -KILL -"$1" 2>/dev/null',
].join('\n');

/**
 * A running upstream server. Create with {@link spawnChild}.
 */
export class ChildProcessHandle {
  /** Resolves once when the child has exited. */
  readonly exited: Promise<ChildExit>;
  private exit: ChildExit | undefined;
  private watchdog: ChildProcessByStdio<Writable, null, null> | undefined;

  constructor(
    readonly child: ChildProcessByStdio<Writable, Readable, null>,
    withWatchdog: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.reapGroup();
        // Processes the server left in its group (a wrapper's children) that outlive SIGTERM:
        // the watchdog, let go without its "done", ends them (SIGTERM, then SIGKILL a second
        // later), also when Tollgate exits first. An empty group releases it.
        const pgid = child.pid;
        if (this.watchdog && pgid !== undefined && process.platform !== 'win32' && groupRunning(pgid))
          this.handOverToWatchdog();
        else this.releaseWatchdog();
        resolve(this.exit);
      });
    });
    if (withWatchdog && process.platform !== 'win32' && child.pid !== undefined) {
      this.startWatchdog(child.pid);
    }
  }

  /** The child's pid (also its process group id). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the child has exited. */
  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** Sends `signal` to the child's whole process group (falls back to the child alone). */
  signal(signal: NodeJS.Signals): void {
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {
        // Already gone.
      }
    }
  }

  /**
   * Stops the child: close its stdin, wait `graceMs`; SIGTERM the group, wait `graceMs`;
   * SIGKILL the group. Resolves with how it ended.
   *
   * @param graceMs wait between steps in milliseconds (default 2000).
   */
  async shutdown(graceMs = 2000): Promise<ChildExit> {
    if (this.exit) return this.exit;
    this.child.stdin.end();
    if (await this.waitExit(graceMs)) return this.exit!;
    this.signal('SIGTERM');
    if (await this.waitExit(graceMs)) return this.exit!;
    this.signal('SIGKILL');
    return this.exited;
  }

  /**
   * Ends the child's whole process group at once, leader or not: what a wrapper such as `npx` or
   * `sh -c` left running too. SIGTERM, then SIGKILL after `graceMs` if any process of the group
   * is still there; then the child's pipes are released, so a process that left the group
   * (`setsid`) cannot keep the caller waiting on them. Resolves when the group is empty or after
   * the SIGKILL (at most about `2 * graceMs`). POSIX; elsewhere only the child is signalled.
   *
   * @param graceMs wait between SIGTERM and SIGKILL in milliseconds (default 1000).
   */
  async endGroup(graceMs = 1000): Promise<void> {
    const pgid = this.child.pid;
    if (pgid !== undefined && process.platform !== 'win32') {
      if (signalGroup(pgid, 'SIGTERM') && !(await pollUntil(() => !groupRunning(pgid), graceMs))) {
        signalGroup(pgid, 'SIGKILL');
        await pollUntil(() => !groupRunning(pgid), graceMs);
      }
    } else if (!this.exit) {
      this.signal('SIGKILL');
    }
    this.releaseWatchdog();
    this.child.stdin.destroy();
    this.child.stdout.destroy();
    this.child.unref();
  }

  /** Closes the watchdog's pipe without "done": it ends what is left of the group, as on a crash. */
  private handOverToWatchdog(): void {
    const w = this.watchdog;
    if (!w) return;
    this.watchdog = undefined;
    try {
      w.stdin.end();
    } catch {
      // The watchdog is gone already.
    }
  }

  /** Tells the watchdog all is well and lets it exit. Call once the child has exited. */
  releaseWatchdog(): void {
    const w = this.watchdog;
    if (!w) return;
    this.watchdog = undefined;
    try {
      w.stdin.end('done\n');
    } catch {
      // The watchdog is gone already; nothing to release.
    }
  }

  private waitExit(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** After the leader exits, grandchildren left in its group (e.g. under `npx`) are ended too. */
  private reapGroup(): void {
    if (this.child.pid === undefined || process.platform === 'win32') return;
    try {
      process.kill(-this.child.pid, 'SIGTERM');
    } catch {
      // ESRCH: the group is empty, the usual case.
    }
  }

  private startWatchdog(pgid: number): void {
    try {
      const w = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'tollgate-watchdog', String(pgid)], {
        stdio: ['pipe', 'ignore', 'ignore'],
        detached: true,
      });
      w.on('error', () => {
        this.watchdog = undefined;
      });
      w.stdin.on('error', () => {});
      w.unref();
      // The pipe must not keep the proxy alive, only tell the watchdog that it is.
      (w.stdin as unknown as { unref?: () => void }).unref?.();
      this.watchdog = w;
    } catch {
      this.watchdog = undefined;
    }
  }
}

/** Sends `signal` to process group `pgid`; false when the group is empty (ESRCH) or not ours. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process of group `pgid` is still running. A zombie does not count: an orphan is
 * reaped by init, which some container inits (or a Tollgate running as PID 1) do late or never,
 * and waiting for that would only delay the exit. Zombies are told apart through /proc on Linux.
 */
function groupRunning(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // Exited meanwhile.
    }
    // After "pid (comm) ": state, ppid, pgrp, ... (comm may itself hold spaces and parentheses).
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/** Resolves true as soon as `done()` holds (checked every 50 ms), or false after `ms`. */
async function pollUntil(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/**
 * Spawns the upstream server in its own process group with piped stdin/stdout.
 *
 * @throws Error with the command name when it cannot be spawned (ENOENT, EACCES): rejects
 *   after the `spawn` event fails, so callers can report it before any MCP traffic.
 */
export async function spawnChild(opts: SpawnChildOptions): Promise<ChildProcessHandle> {
  const child = spawn(opts.command, [...(opts.args ?? [])], {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', opts.stderr ?? 'inherit'],
    detached: process.platform !== 'win32',
    windowsHide: true,
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(`cannot start ${JSON.stringify(opts.command)}: ${spawnProblem(err, opts)}`));
    });
  });
  // EPIPE on a child that died is reported through its exit, not as a crash.
  child.stdin.on('error', () => {});
  return new ChildProcessHandle(child, opts.watchdog ?? true);
}

/**
 * A PATH as an error message shows it: whole up to 160 characters, else its first three and last
 * two entries around the number left out, so that the advice after it is never cut off.
 */
function shownPath(path: string): string {
  if (path === '') return '(empty)';
  if (path.length <= 160) return path;
  const entries = path.split(delimiter);
  if (entries.length <= 5) return `${path.slice(0, 157)}...`;
  return `${entries.slice(0, 3).join(delimiter)}${delimiter}...(${entries.length - 5} more)...${delimiter}${entries.slice(-2).join(delimiter)}`;
}

/**
 * The error code of a failed spawn with what it means here: ENOENT for a bare name is a command
 * not on the PATH the child gets (MCP clients started from a desktop launcher often have a short
 * one), for a path a missing file; EACCES a file that is not executable.
 */
function spawnProblem(err: NodeJS.ErrnoException, opts: SpawnChildOptions): string {
  const code = err.code ?? err.message;
  if (code === 'ENOENT') {
    if (opts.cwd !== undefined && !existsSync(opts.cwd)) return `ENOENT (no working directory ${opts.cwd})`;
    if (opts.command.includes('/')) return 'ENOENT (no such file)';
    const path = (opts.env ?? process.env).PATH;
    const searched =
      path === undefined
        ? 'PATH is not set, so only the system default was searched'
        : `not found on the PATH: ${shownPath(path)}`;
    return `ENOENT (${searched}; give its absolute path, or set PATH in the client's configuration)`;
  }
  if (code === 'EACCES') return 'EACCES (not executable, or a directory)';
  return code;
}
