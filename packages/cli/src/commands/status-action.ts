/**
 * `tollgate status [--json] [--since 1h]`: what the proxies on this machine did, read from the
 * decision log (`$TOLLGATE_HOME/events/events-YYYY-MM-DD.jsonl`, written by every proxy).
 *
 * - Running instances: a `startup` event without a matching `shutdown` (same `instance`) whose
 *   pid is still alive. A proxy killed with SIGKILL writes no shutdown; the pid check catches it.
 * - Calls, denied share, top deny rules and recent denials over the `--since` window.
 * - Calls and denials per minute over the last hour, as a terminal sparkline.
 *
 * The log is read defensively: it is plain text under the user's home, and may be hand-edited,
 * torn by a crash or mixed with foreign files. Lines that are not JSON objects, and events whose
 * fields have the wrong type, are skipped and counted (`skippedLines`); see {@link toStatusEvent}.
 *
 * The report names the directory it read. A directory that does not exist is no log yet; one
 * that cannot be listed, and daily files that cannot be read, are named in the report
 * (`unreadable`) and make the exit code 1: the totals then leave them out.
 *
 * Exit codes: 0 (also when there is nothing to show), 1 when part of the log could not be read,
 * 2 on a bad `--since`.
 */
import { existsSync } from 'node:fs';
import { printable } from '@tollgate/policy';
import {
  DECISION_LOG_RETENTION_DAYS,
  type DecisionEvent,
  defaultPaths,
  readDecisionLog,
} from '@tollgate/runtime';
import { pc } from '../colors.js';
import { jsonFailureText } from '../json-failure.js';
import { processStartMs, processStartTicks } from '../process-start.js';
import { redactCommand } from '../redact-command.js';
import { unexpandedTildeProblem } from './state-dsn.js';

/** A proxy instance as reconstructed from startup/shutdown events. */
export interface InstanceStatus {
  instance: string;
  pid: number;
  /** ISO 8601 start time. */
  startedAt: string;
  policyFile: string;
  /** SHA-256 (hex) of the policy in force: the one it started with, or the last reload's. */
  policyHash?: string;
  /**
   * The last reload of the policy file: when (ISO 8601), whether it loaded, and when it did not,
   * its errors (`file:line:col: code: message`, possibly with `\n  hint: ...` lines); the instance
   * then keeps enforcing `policyHash`.
   */
  lastReload?: { at: string; ok: boolean; errors?: string[] };
  serverCommand?: readonly string[];
  /** The HTTP listener's URL (`--transport http`), when the instance is one. */
  listen?: string;
  store?: string;
  running: boolean;
  /** ISO 8601 stop time, when a shutdown was recorded. */
  stoppedAt?: string;
  exitCode?: number;
}

/** What `tollgate status --json` prints. */
export interface StatusReport {
  /** ISO 8601 time of the report. */
  now: string;
  /** Length of the window the totals cover, in milliseconds. */
  sinceMs: number;
  running: InstanceStatus[];
  calls: number;
  allowed: number;
  /**
   * Of the allowed calls, those admitted uncounted (`failed_open` in the log: the counter store
   * was unavailable and the fail mode open): no rate limit or counter saw them.
   */
  allowedUncounted: number;
  denied: number;
  /** `denied / calls`, 0 when there were no calls. */
  deniedShare: number;
  /** Deny rules (or reason codes for rule-less denials) by count, most frequent first (top 5). */
  topDenyRules: Array<{ rule: string; count: number }>;
  /** The last 10 denials, newest first. */
  recentDenials: Array<{ ts: string; tool: string; rule?: string; reason: string }>;
  /** 60 one-minute buckets over the last hour, oldest first. */
  perMinute: { calls: number[]; denials: number[] };
  /**
   * Lines of the decision log left out: not a JSON object, an event whose fields have the wrong
   * type (see {@link toStatusEvent}), or a `tool_call` dated more than
   * {@link CLOCK_SKEW_MS} after the report's time.
   */
  skippedLines: number;
  /** The directory read (`$TOLLGATE_HOME/events`); set by `tollgate status`, not by {@link summarize}. */
  logDir?: string;
  /** False when `logDir` does not exist (no proxy has written a log there yet). */
  logFound?: boolean;
  /** The directory or daily files that could not be read, with why; their events are not counted. */
  unreadable?: Array<{ path: string; reason: string }>;
}

/**
 * How far in the future a `tool_call` may be dated and still count (in the current minute):
 * clocks of processes on one machine can disagree a little. Later events are skipped.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** A decision-log event as `tollgate status` uses it, every field checked. */
export type StatusEvent =
  | {
      type: 'startup';
      /** Epoch ms of `ts`. */
      t: number;
      ts: string;
      instance: string;
      /** An integer above 1: the only pids whose liveness a signal can tell. */
      pid: number;
      policyFile: string;
      policyHash?: string;
      serverCommand?: string[];
      listen?: string;
      store?: string;
      /** `proc_start`: the process's start in clock ticks after boot. */
      procStart?: number;
    }
  | { type: 'shutdown'; t: number; ts: string; instance: string; exitCode?: number }
  | {
      type: 'config_reload';
      t: number;
      ts: string;
      instance: string;
      ok: boolean;
      /** The hash in force after it: the new policy's, or the kept one's. */
      policyHash: string;
      errors?: string[];
    }
  | {
      type: 'tool_call';
      t: number;
      ts: string;
      tool: string;
      deny: boolean;
      /** Admitted uncounted: the counter store was unavailable and the fail mode open. */
      failedOpen: boolean;
      /** A non-empty string, else absent. */
      rule?: string;
      /** `unknown` when the event's is missing or not a string. */
      reason: string;
    };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks one parsed line of the decision log. Returns the event as `status` uses it, `null` for a
 * valid event status has no use for (a type of a later schema), or `undefined` for a corrupt one
 * (counted as skipped):
 *
 * - every event needs a `ts` that parses as a date;
 * - `startup` needs a string `instance` and `policy_file` and an integer `pid` above 1 (0, -1 and
 *   1 cannot be checked with a signal: signalling them "succeeds"); a `server_command` that is
 *   not an array of strings, or a `store` or `listen` that is not a string, is ignored;
 * - `shutdown` needs a string `instance`; an `exit_code` that is not an integer is ignored;
 * - `config_reload` needs a string `instance`, a boolean `ok` and a string `policy_hash`;
 *   `errors` that are not an array of strings are ignored; a `startup`'s `policy_hash` that is not
 *   a string is ignored too;
 * - `tool_call` needs a string `tool` and a `decision` of `allow` or `deny`; a `rule` that is not
 *   a non-empty string counts as no rule, a `reason` that is not a string as `unknown`.
 */
export function toStatusEvent(raw: unknown): StatusEvent | null | undefined {
  if (!isObject(raw) || typeof raw.type !== 'string') return undefined;
  const { ts } = raw;
  const t = typeof ts === 'string' ? Date.parse(ts) : Number.NaN;
  switch (raw.type) {
    case 'startup': {
      const {
        instance,
        pid,
        policy_file: policyFile,
        policy_hash: hash,
        server_command: cmd,
        store,
        listen,
        proc_start: procStart,
      } = raw;
      if (!Number.isFinite(t) || typeof instance !== 'string' || typeof policyFile !== 'string')
        return undefined;
      if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 1) return undefined;
      return {
        type: 'startup',
        t,
        ts: ts as string,
        instance,
        pid,
        policyFile,
        ...(typeof hash === 'string' && hash ? { policyHash: hash } : {}),
        // Masked here too: lines written before Tollgate masked credentials stay for 7 days.
        ...(Array.isArray(cmd) && cmd.every((a) => typeof a === 'string')
          ? { serverCommand: redactCommand(cmd) }
          : {}),
        ...(typeof store === 'string' && store ? { store } : {}),
        ...(typeof listen === 'string' && listen ? { listen } : {}),
        ...(typeof procStart === 'number' && Number.isSafeInteger(procStart) && procStart >= 0
          ? { procStart }
          : {}),
      };
    }
    case 'shutdown': {
      const { instance, exit_code: exitCode } = raw;
      if (!Number.isFinite(t) || typeof instance !== 'string') return undefined;
      return {
        type: 'shutdown',
        t,
        ts: ts as string,
        instance,
        ...(typeof exitCode === 'number' && Number.isSafeInteger(exitCode) ? { exitCode } : {}),
      };
    }
    case 'config_reload': {
      const { instance, ok, policy_hash: hash, errors } = raw;
      if (!Number.isFinite(t) || typeof instance !== 'string' || typeof ok !== 'boolean') return undefined;
      if (typeof hash !== 'string') return undefined;
      return {
        type: 'config_reload',
        t,
        ts: ts as string,
        instance,
        ok,
        policyHash: hash,
        ...(Array.isArray(errors) && errors.every((x) => typeof x === 'string') ? { errors } : {}),
      };
    }
    case 'tool_call': {
      const { tool, decision, rule, reason, failed_open } = raw;
      if (!Number.isFinite(t) || typeof tool !== 'string') return undefined;
      if (decision !== 'allow' && decision !== 'deny') return undefined;
      return {
        type: 'tool_call',
        t,
        ts: ts as string,
        tool,
        deny: decision === 'deny',
        failedOpen: failed_open === true,
        ...(typeof rule === 'string' && rule ? { rule } : {}),
        reason: typeof reason === 'string' ? reason : 'unknown',
      };
    }
    default:
      return null;
  }
}

/**
 * Builds the report from decision-log events. Pure apart from `isAlive`. Each event is checked
 * with {@link toStatusEvent} first: corrupt ones are left out and counted in `skippedLines`.
 * `tool_call` events count when dated from `now - sinceMs` to `now + CLOCK_SKEW_MS` (those
 * slightly ahead of `now` in the current minute); later ones are skipped too.
 *
 * @param events - events read with `readDecisionLog` (fields unchecked), or any parsed lines
 */
export function summarize(
  events: readonly unknown[] | readonly DecisionEvent[],
  now: number,
  sinceMs: number,
  isAlive: (pid: number, startedAtMs: number, procStart?: number) => boolean = pidAlive,
): StatusReport {
  const instances = new Map<string, InstanceStatus>();
  /** The `proc_start` of each instance's startup line, where it has one. */
  const procStarts = new Map<string, number>();
  const from = now - sinceMs;
  const hourStart = now - 60 * 60_000;
  const latest = now + CLOCK_SKEW_MS;
  let calls = 0;
  let denied = 0;
  let allowedUncounted = 0;
  let skippedLines = 0;
  const rules = new Map<string, number>();
  const denials: Array<StatusReport['recentDenials'][number] & { t: number }> = [];
  const perCalls = new Array<number>(60).fill(0);
  const perDenials = new Array<number>(60).fill(0);
  /** Reloads read before their instance's startup line (a proxy watches before it announces). */
  const early = new Map<string, Pick<InstanceStatus, 'policyHash' | 'lastReload'>>();
  for (const raw of events) {
    const e = toStatusEvent(raw);
    if (e === null) continue;
    if (e === undefined) {
      skippedLines++;
      continue;
    }
    if (e.type === 'startup') {
      // Each daily file of a running instance starts with its startup line again: the first one
      // read stays, with the reloads read after it.
      if (instances.get(e.instance)?.pid === e.pid) continue;
      if (e.procStart !== undefined) procStarts.set(e.instance, e.procStart);
      else procStarts.delete(e.instance);
      instances.set(e.instance, {
        instance: e.instance,
        pid: e.pid,
        startedAt: e.ts,
        policyFile: e.policyFile,
        ...(e.policyHash ? { policyHash: e.policyHash } : {}),
        ...early.get(e.instance),
        ...(e.serverCommand ? { serverCommand: e.serverCommand } : {}),
        ...(e.listen ? { listen: e.listen } : {}),
        ...(e.store ? { store: e.store } : {}),
        running: false,
      });
    } else if (e.type === 'config_reload') {
      const reload = {
        policyHash: e.policyHash,
        lastReload: { at: e.ts, ok: e.ok, ...(e.errors ? { errors: e.errors } : {}) },
      };
      const inst = instances.get(e.instance);
      if (inst) Object.assign(inst, reload);
      else early.set(e.instance, reload);
    } else if (e.type === 'shutdown') {
      const inst = instances.get(e.instance);
      if (inst) {
        inst.stoppedAt = e.ts;
        if (e.exitCode !== undefined) inst.exitCode = e.exitCode;
      }
    } else {
      const t = e.t;
      if (t > latest) {
        skippedLines++;
        continue;
      }
      if (t >= hourStart) {
        const bucket = Math.min(59, Math.floor((t - hourStart) / 60_000));
        perCalls[bucket]!++;
        if (e.deny) perDenials[bucket]!++;
      }
      if (t < from) continue;
      calls++;
      if (e.failedOpen && !e.deny) allowedUncounted++;
      if (e.deny) {
        denied++;
        const key = e.rule ?? `(${e.reason})`;
        rules.set(key, (rules.get(key) ?? 0) + 1);
        denials.push({ ts: e.ts, tool: e.tool, reason: e.reason, ...(e.rule ? { rule: e.rule } : {}), t });
      }
    }
  }
  for (const inst of instances.values())
    inst.running =
      inst.stoppedAt === undefined &&
      isAlive(inst.pid, Date.parse(inst.startedAt), procStarts.get(inst.instance));
  return {
    now: new Date(now).toISOString(),
    sinceMs,
    running: [...instances.values()].filter((i) => i.running),
    calls,
    allowed: calls - denied,
    allowedUncounted,
    denied,
    deniedShare: calls === 0 ? 0 : denied / calls,
    topDenyRules: [...rules.entries()]
      .map(([rule, count]) => ({ rule, count }))
      .sort((a, b) => b.count - a.count || a.rule.localeCompare(b.rule))
      .slice(0, 5),
    // By time, newest first: proxies append to one file, and a line can land after a later one.
    recentDenials: denials
      .sort((a, b) => a.t - b.t)
      .slice(-10)
      .reverse()
      .map(({ t: _t, ...d }) => d),
    perMinute: { calls: perCalls, denials: perDenials },
    skippedLines,
  };
}

const BARS = '▁▂▃▄▅▆▇█';

/**
 * The `--since` span as the text report words it: in days for a whole number of days from 2 days
 * up and for any span from 7 days up (to 2 decimals: `100000d`, `7.5d`), else in hours from 1 hour
 * (`36h`, `1.5h`), else in minutes from 1 minute (`30m`, `1.5m`), else in seconds (`30s`).
 */
export function spanText(ms: number): string {
  const days = ms / 86_400_000;
  if (days >= 7 || (days >= 2 && Number.isInteger(days))) return `${+days.toFixed(2)}d`;
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(2)}h`;
  if (ms >= 60_000) return `${+(ms / 60_000).toFixed(2)}m`;
  return `${+(ms / 1000).toFixed(2)}s`;
}

/** A one-line sparkline of `values` (scaled to the largest; zero is a space). */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values
    .map((v) => (v <= 0 || max === 0 ? ' ' : BARS[Math.min(7, Math.floor((v / max) * 7.999))]))
    .join('');
}

/**
 * Whether the proxy that wrote a startup line at `startedAtMs` (epoch ms) still runs as `pid`:
 * a process of that pid exists and is the same one. A proxy killed with SIGKILL writes no
 * shutdown line, and its pid may since belong to another process (pids wrap at
 * `/proc/sys/kernel/pid_max`). Where the line records the process's start (`proc_start`, clock
 * ticks after boot) and `/proc` tells the pid's, they must be equal; else, on Linux, the pid's
 * process must have started by the line's time (2 s allowed for the boot time's whole seconds and
 * clock steps).
 */
export function pidAlive(pid: number, startedAtMs: number, procStart?: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (procStart !== undefined) {
    const ticks = processStartTicks(pid);
    if (ticks !== undefined) return ticks === procStart;
  }
  const started = processStartMs(pid);
  return started === undefined || !Number.isFinite(startedAtMs) || started <= startedAtMs + 2000;
}

function render(r: StatusReport): string {
  const out: string[] = [];
  if (r.logDir !== undefined && r.logFound === false) {
    out.push(
      pc.dim(
        `No decision log at ${printable(r.logDir)} yet: proxies write it while they run (TOLLGATE_HOME picks another).`,
      ),
      '',
    );
  }
  for (const u of r.unreadable ?? []) {
    out.push(
      pc.red(`Cannot read ${printable(u.path)} (${printable(u.reason)}): its events are not counted.`),
    );
  }
  if ((r.unreadable ?? []).length > 0) out.push('');
  const span = spanText(r.sinceMs);
  out.push(pc.bold(`Running instances: ${r.running.length}`));
  for (const i of r.running) {
    out.push(
      `  pid ${i.pid}  since ${printable(i.startedAt)}  policy ${printable(i.policyFile)}${i.policyHash ? ` (${printable(i.policyHash.slice(0, 12))})` : ''}${i.listen ? `  listening on ${printable(i.listen)}` : ''}${i.serverCommand ? `  server: ${printable(i.serverCommand.join(' '))}` : ''}`,
    );
    const reload = i.lastReload;
    if (reload?.ok === false) {
      // The first line of the first error (a hint follows on lines of its own).
      const first = reload.errors?.[0]?.split('\n')[0];
      out.push(
        pc.red(
          `    the last edit of the policy did not load (${printable(reload.at)})${first ? `: ${printable(first)}${(reload.errors?.length ?? 0) > 1 ? ` (+${reload.errors!.length - 1} more)` : ''}` : ''}; still enforcing the policy it had`,
        ),
      );
    } else if (reload) out.push(pc.dim(`    policy reloaded ${printable(reload.at)}`));
  }
  out.push('');
  const share = `${(r.deniedShare * 100).toFixed(1)}%`;
  out.push(
    pc.bold(
      `Calls in the last ${span}${r.sinceMs > DECISION_LOG_RETENTION_DAYS * 86_400_000 ? ` (the log keeps ${DECISION_LOG_RETENTION_DAYS} days)` : ''}: ${r.calls}`,
    ) +
      `  allowed ${r.allowed}${r.allowedUncounted > 0 ? ` (${pc.yellow(`${r.allowedUncounted} uncounted: store unavailable, fail mode open`)})` : ''}  denied ${r.denied} (${r.denied > 0 ? pc.red(share) : share})`,
  );
  if (r.topDenyRules.length > 0) {
    out.push('', pc.bold('Top deny rules:'));
    for (const t of r.topDenyRules) out.push(`  ${String(t.count).padStart(6)}  ${printable(t.rule)}`);
  }
  if (r.recentDenials.length > 0) {
    out.push('', pc.bold('Recent denials:'));
    for (const d of r.recentDenials) {
      out.push(
        `  ${printable(d.ts)}  ${printable(d.tool)}  ${d.rule ? `${printable(d.rule)} ` : ''}${pc.dim(`(${printable(d.reason)})`)}`,
      );
    }
  }
  const peak = (v: number[]) => Math.max(0, ...v);
  out.push('', pc.bold('Last hour, per minute (oldest left):'));
  out.push(`  calls   |${sparkline(r.perMinute.calls)}| peak ${peak(r.perMinute.calls)}/min`);
  out.push(`  denials |${pc.red(sparkline(r.perMinute.denials))}| peak ${peak(r.perMinute.denials)}/min`);
  if (r.skippedLines > 0) {
    const lines = r.skippedLines === 1 ? '1 unreadable line' : `${r.skippedLines} unreadable lines`;
    out.push('', pc.dim(`${lines} of the decision log skipped (corrupt, or dated in the future)`));
  }
  return `${out.join('\n')}\n`;
}

/**
 * The action of `tollgate status`: read the decision log under `$TOLLGATE_HOME/events` and print
 * the report for the last `opts.since` milliseconds (text, or JSON with `--json`).
 */
export function runStatus(opts: { json?: boolean; since: number }): void {
  // Only the decision log's directory is read here.
  const tilde = unexpandedTildeProblem({}, { TOLLGATE_HOME: process.env.TOLLGATE_HOME });
  if (tilde) {
    if (opts.json) process.stdout.write(jsonFailureText({ code: 'usage', message: tilde }));
    else process.stderr.write(`tollgate status: ${tilde}\n`);
    process.exitCode = 2;
    return;
  }
  const now = Date.now();
  const { eventsDir } = defaultPaths();
  // Instances may have started before the window: read what the log keeps (7 days).
  let skipped = 0;
  const unreadable: Array<{ path: string; reason: string }> = [];
  // Only the tool calls the report can count are kept (startups and shutdowns always): a busy
  // listener writes millions of calls a day, and the log keeps 7 days.
  const oldest = now - Math.max(opts.since, 60 * 60_000);
  const events = readDecisionLog(eventsDir, {
    keep: (e) => e.type !== 'tool_call' || !(Date.parse(e.ts) < oldest),
    onSkippedLine: () => {
      skipped++;
    },
    onUnreadable: (path, reason) => {
      unreadable.push({ path, reason });
    },
  });
  const report = summarize(events, now, opts.since);
  report.skippedLines += skipped;
  report.logDir = eventsDir;
  report.logFound = existsSync(eventsDir);
  report.unreadable = unreadable;
  process.stdout.write(
    opts.json ? `${JSON.stringify({ ok: unreadable.length === 0, ...report }, null, 2)}\n` : render(report),
  );
  if (unreadable.length > 0) process.exitCode = 1;
}
