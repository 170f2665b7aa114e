/**
 * Proxy instance lifecycle records, so `tollgate status` can tell which proxies are running:
 * one JSON line per startup and shutdown in `<eventsDir>/instances.jsonl`, appended with
 * `O_APPEND` (atomic for lines under PIPE_BUF across processes). A startup without a
 * shutdown whose pid is still alive is a running instance; one whose pid is gone crashed or
 * was killed.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** File name of the lifecycle log inside the events directory. */
export const INSTANCES_FILE = 'instances.jsonl';

/** One lifecycle record. */
export interface InstanceEvent {
  /** `startup` when the server is running, `shutdown` when Tollgate is about to exit. */
  event: 'startup' | 'shutdown';
  /** Epoch milliseconds. */
  ts: number;
  /** Tollgate's own pid. */
  pid: number;
  /** The server's pid (startup only). */
  childPid?: number;
  sessionId?: string;
  /** Absolute path of the policy file. */
  policy?: string;
  /** The server command line. */
  command?: string[];
  /** Tollgate's exit code (shutdown only). */
  exitCode?: number;
}

/** A proxy instance reconstructed from the records. */
export interface InstanceInfo {
  pid: number;
  childPid?: number;
  sessionId?: string;
  policy?: string;
  command?: string[];
  /** Epoch ms of startup. */
  startedAt: number;
  /** Epoch ms of shutdown, when recorded. */
  stoppedAt?: number;
  exitCode?: number;
  /** Startup recorded, no shutdown, and the pid is alive. */
  running: boolean;
}

/**
 * Appends one record. Never throws: status bookkeeping must not stop the proxy.
 *
 * @param eventsDir directory of the decision log (`defaultPaths().eventsDir`); created if missing.
 */
export function recordInstanceEvent(eventsDir: string, event: Omit<InstanceEvent, 'ts' | 'pid'>): void {
  try {
    mkdirSync(eventsDir, { recursive: true });
    const line = JSON.stringify({ ts: Date.now(), pid: process.pid, ...event });
    appendFileSync(join(eventsDir, INSTANCES_FILE), `${line}\n`);
  } catch {
    // Read-only home or full disk: the proxy keeps working without status records.
  }
}

/**
 * Reads every instance from the records, newest first. Unreadable lines are skipped.
 *
 * @param isAlive pid liveness test (default: `process.kill(pid, 0)`).
 */
export function readInstances(
  eventsDir: string,
  isAlive: (pid: number) => boolean = pidAlive,
): InstanceInfo[] {
  let text: string;
  try {
    text = readFileSync(join(eventsDir, INSTANCES_FILE), 'utf8');
  } catch {
    return [];
  }
  const byKey = new Map<string, InstanceInfo>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e: InstanceEvent;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof e.pid !== 'number' || typeof e.ts !== 'number') continue;
    const key = e.sessionId ?? `pid:${e.pid}`;
    if (e.event === 'startup') {
      byKey.set(key, {
        pid: e.pid,
        startedAt: e.ts,
        running: false,
        ...(e.childPid !== undefined ? { childPid: e.childPid } : {}),
        ...(e.sessionId ? { sessionId: e.sessionId } : {}),
        ...(e.policy ? { policy: e.policy } : {}),
        ...(e.command ? { command: e.command } : {}),
      });
    } else if (e.event === 'shutdown') {
      const inst = byKey.get(key);
      if (inst) {
        inst.stoppedAt = e.ts;
        if (e.exitCode !== undefined) inst.exitCode = e.exitCode;
      }
    }
  }
  const all = [...byKey.values()];
  for (const inst of all) inst.running = inst.stoppedAt === undefined && isAlive(inst.pid);
  return all.sort((a, b) => b.startedAt - a.startedAt);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
