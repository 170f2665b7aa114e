/**
 * `tollgate status [--json] [--since 1h]`: what the proxies on this machine did, read from the
 * decision log (`$TOLLGATE_HOME/events/events-YYYY-MM-DD.jsonl`, written by every proxy).
 *
 * - Running instances: a `startup` event without a matching `shutdown` (same `instance`) whose
 *   pid is still alive. A proxy killed with SIGKILL writes no shutdown; the pid check catches it.
 * - Calls, denied share, top deny rules and recent denials over the `--since` window.
 * - Calls and denials per minute over the last hour, as a terminal sparkline.
 *
 * Exit codes: 0 (also when there is nothing to show), 2 on a bad `--since`.
 */
import { type DecisionEvent, defaultPaths, readDecisionLog } from '@tollgate/runtime';
import pc from 'picocolors';

/** A proxy instance as reconstructed from startup/shutdown events. */
export interface InstanceStatus {
  instance: string;
  pid: number;
  /** ISO 8601 start time. */
  startedAt: string;
  policyFile: string;
  serverCommand?: readonly string[];
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
  denied: number;
  /** `denied / calls`, 0 when there were no calls. */
  deniedShare: number;
  /** Deny rules (or reason codes for rule-less denials) by count, most frequent first (top 5). */
  topDenyRules: Array<{ rule: string; count: number }>;
  /** The last 10 denials, newest first. */
  recentDenials: Array<{ ts: string; tool: string; rule?: string; reason: string }>;
  /** 60 one-minute buckets over the last hour, oldest first. */
  perMinute: { calls: number[]; denials: number[] };
}

/** Builds the report from decision events. Pure apart from `isAlive`. */
export function summarize(
  events: readonly DecisionEvent[],
  now: number,
  sinceMs: number,
  isAlive: (pid: number) => boolean = pidAlive,
): StatusReport {
  const instances = new Map<string, InstanceStatus>();
  const from = now - sinceMs;
  const hourStart = now - 60 * 60_000;
  let calls = 0;
  let denied = 0;
  const rules = new Map<string, number>();
  const denials: StatusReport['recentDenials'] = [];
  const perCalls = new Array<number>(60).fill(0);
  const perDenials = new Array<number>(60).fill(0);
  for (const e of events) {
    const t = Date.parse(e.ts);
    if (e.type === 'startup') {
      instances.set(e.instance, {
        instance: e.instance,
        pid: e.pid,
        startedAt: e.ts,
        policyFile: e.policy_file,
        ...(e.server_command ? { serverCommand: e.server_command } : {}),
        ...(e.store ? { store: e.store } : {}),
        running: false,
      });
    } else if (e.type === 'shutdown') {
      const inst = instances.get(e.instance);
      if (inst) {
        inst.stoppedAt = e.ts;
        if (e.exit_code !== undefined) inst.exitCode = e.exit_code;
      }
    } else if (e.type === 'tool_call') {
      const isDeny = e.decision === 'deny';
      if (t >= hourStart && t <= now) {
        const bucket = Math.min(59, Math.floor((t - hourStart) / 60_000));
        perCalls[bucket]!++;
        if (isDeny) perDenials[bucket]!++;
      }
      if (t < from) continue;
      calls++;
      if (isDeny) {
        denied++;
        const key = e.rule ?? `(${e.reason})`;
        rules.set(key, (rules.get(key) ?? 0) + 1);
        denials.push({ ts: e.ts, tool: e.tool, reason: e.reason, ...(e.rule ? { rule: e.rule } : {}) });
      }
    }
  }
  for (const inst of instances.values()) inst.running = inst.stoppedAt === undefined && isAlive(inst.pid);
  return {
    now: new Date(now).toISOString(),
    sinceMs,
    running: [...instances.values()].filter((i) => i.running),
    calls,
    allowed: calls - denied,
    denied,
    deniedShare: calls === 0 ? 0 : denied / calls,
    topDenyRules: [...rules.entries()]
      .map(([rule, count]) => ({ rule, count }))
      .sort((a, b) => b.count - a.count || a.rule.localeCompare(b.rule))
      .slice(0, 5),
    recentDenials: denials.slice(-10).reverse(),
    perMinute: { calls: perCalls, denials: perDenials },
  };
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line sparkline of `values` (scaled to the largest; zero is a space). */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values
    .map((v) => (v <= 0 || max === 0 ? ' ' : BARS[Math.min(7, Math.floor((v / max) * 7.999))]))
    .join('');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function render(r: StatusReport): string {
  const out: string[] = [];
  const span =
    r.sinceMs >= 3_600_000 ? `${+(r.sinceMs / 3_600_000).toFixed(2)}h` : `${Math.round(r.sinceMs / 60_000)}m`;
  out.push(pc.bold(`Running instances: ${r.running.length}`));
  for (const i of r.running) {
    out.push(
      `  pid ${i.pid}  since ${i.startedAt}  policy ${i.policyFile}${i.serverCommand ? `  server: ${i.serverCommand.join(' ')}` : ''}`,
    );
  }
  out.push('');
  const share = `${(r.deniedShare * 100).toFixed(1)}%`;
  out.push(
    pc.bold(`Calls in the last ${span}: ${r.calls}`) +
      `  allowed ${r.allowed}  denied ${r.denied} (${r.denied > 0 ? pc.red(share) : share})`,
  );
  if (r.topDenyRules.length > 0) {
    out.push('', pc.bold('Top deny rules:'));
    for (const t of r.topDenyRules) out.push(`  ${String(t.count).padStart(6)}  ${t.rule}`);
  }
  if (r.recentDenials.length > 0) {
    out.push('', pc.bold('Recent denials:'));
    for (const d of r.recentDenials) {
      out.push(`  ${d.ts}  ${d.tool}  ${d.rule ? `${d.rule} ` : ''}${pc.dim(`(${d.reason})`)}`);
    }
  }
  const peak = (v: number[]) => Math.max(0, ...v);
  out.push('', pc.bold('Last hour, per minute (oldest left):'));
  out.push(`  calls   |${sparkline(r.perMinute.calls)}| peak ${peak(r.perMinute.calls)}/min`);
  out.push(`  denials |${pc.red(sparkline(r.perMinute.denials))}| peak ${peak(r.perMinute.denials)}/min`);
  return `${out.join('\n')}\n`;
}

/**
 * The action of `tollgate status`: read the decision log under `$TOLLGATE_HOME/events` and print
 * the report for the last `opts.since` milliseconds (text, or JSON with `--json`).
 */
export function runStatus(opts: { json?: boolean; since: number }): void {
  const now = Date.now();
  const { eventsDir } = defaultPaths();
  // Instances may have started before the window: read what the log keeps (7 days).
  const events = readDecisionLog(eventsDir);
  const report = summarize(events, now, opts.since);
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
}
