/**
 * When a process started, from Linux's `/proc`: for telling a running proxy from a later process
 * given the same pid (see `tollgate status`). Elsewhere every function returns undefined.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on every Linux build in use). */
const USER_HZ = 100;

/**
 * When process `pid` started, in clock ticks after boot (`/proc/<pid>/stat` field 22), or
 * undefined without `/proc` or such a process.
 */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isSafeInteger(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When process `pid` started (epoch ms): {@link processStartTicks} after the boot time in
 * `/proc/stat` (`btime`, epoch seconds); undefined without `/proc`. Follows the wall clock: a
 * clock step since boot moves it.
 */
export function processStartMs(pid: number): number | undefined {
  const ticks = processStartTicks(pid);
  if (ticks === undefined) return undefined;
  try {
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(btime) ? btime * 1000 + (ticks * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/** `{ proc_start }` of this process for its decision-log startup event, or nothing without `/proc`. */
export function procStartField(): { proc_start?: number } {
  const ticks = processStartTicks(process.pid);
  return ticks === undefined ? {} : { proc_start: ticks };
}
