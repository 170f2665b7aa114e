import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '@tollgate/policy';
import type { Decision, ReasonCode, ToolCall } from './decision.js';
import { makeDir } from './make-dir.js';
import { defaultPaths } from './paths.js';

/*
 * The decision log: JSON lines, one file per UTC day (`events-YYYY-MM-DD.jsonl`) under the events
 * directory, shared by every proxy process of the user (appends of whole lines). Schema version 1,
 * documented in docs/runtime.md; `tollgate status` reads it.
 */

/** Fields every event carries. */
export interface DecisionEventBase {
  /** Event schema version. */
  readonly v: 1;
  /** ISO 8601 UTC timestamp with milliseconds. */
  readonly ts: string;
  /** Id of the proxy process that wrote the event (random per start unless given). */
  readonly instance: string;
}

/** A proxy started. */
export interface StartupEvent extends DecisionEventBase {
  readonly type: 'startup';
  readonly pid: number;
  readonly policy_file: string;
  readonly policy_hash: string;
  /** The upstream server command line, when the proxy runs one over stdio. */
  readonly server_command?: readonly string[];
  /** Counter store kind: `memory`, `sqlite` or `redis`. */
  readonly store?: string;
}

/** One `tools/call` was decided. */
export interface ToolCallEvent extends DecisionEventBase {
  readonly type: 'tool_call';
  readonly tool: string;
  readonly decision: 'allow' | 'deny';
  readonly rule?: string;
  readonly reason: ReasonCode;
  /** Time spent deciding, in milliseconds (fractional). */
  readonly latency_ms: number;
  /** SHA-256 (hex) of the canonical JSON of the arguments (keys sorted): correlates calls without storing them. */
  readonly args_sha256: string;
  /** The raw arguments, only when the log was opened with `logArgs: true` (`--log-args`). */
  readonly args?: Record<string, unknown>;
  readonly policy_hash: string;
  readonly session_id?: string;
  readonly client_id?: string;
  /** For `rate_limited`: milliseconds until the next call will be admitted. */
  readonly retry_after_ms?: number;
  /** True when admitted uncounted because the store was down and the fail mode is open. */
  readonly failed_open?: boolean;
}

/** The policy file changed and was reloaded (`ok: true`) or rejected, keeping the previous policy. */
export interface ConfigReloadEvent extends DecisionEventBase {
  readonly type: 'config_reload';
  readonly ok: boolean;
  readonly policy_file: string;
  /** Hash now in force (the new one when ok, the kept one otherwise). */
  readonly policy_hash: string;
  readonly previous_hash?: string;
  /** Formatted `file:line:col: code: message` errors when `ok` is false. */
  readonly errors?: readonly string[];
}

/** A proxy stopped. */
export interface ShutdownEvent extends DecisionEventBase {
  readonly type: 'shutdown';
  readonly pid: number;
  /** Why: `client_eof`, `signal:SIGTERM`, `child_exit`, ... (free text). */
  readonly reason?: string;
  readonly exit_code?: number;
}

/** Every event of the decision log. */
export type DecisionEvent = StartupEvent | ToolCallEvent | ConfigReloadEvent | ShutdownEvent;

/** An event as handed to {@link DecisionLog.write}: the common fields are filled in. */
export type DecisionEventInput = DecisionEvent extends infer E
  ? E extends DecisionEvent
    ? Omit<E, 'v' | 'ts' | 'instance'> & { ts?: string }
    : never
  : never;

/** Days of decision log kept; older daily files are deleted. */
export const DECISION_LOG_RETENTION_DAYS = 7;

/** Writes decision events. */
export interface DecisionLog {
  /** Directory of the daily files. */
  readonly dir: string;
  readonly instanceId: string;
  readonly logArgs: boolean;
  /** Append one event (buffered; flushed within ~200 ms and on {@link flush}/{@link close}). */
  write(event: DecisionEventInput): void;
  /** Append a `tool_call` event for a decision. */
  toolCall(
    call: ToolCall,
    decision: Decision,
    latencyMs: number,
    ids?: { sessionId?: string; clientId?: string },
  ): void;
  /** Write buffered events now. */
  flush(): void;
  /** Flush and stop the timer. Later writes are appended synchronously. */
  close(): void;
}

/** Options of {@link openDecisionLog}. */
export interface DecisionLogOptions {
  /** Default {@link defaultPaths}().eventsDir (`~/.tollgate/events`). */
  dir?: string;
  /** Store raw arguments in `tool_call` events (default false: only their SHA-256). */
  logArgs?: boolean;
  /** Default: a random UUID. */
  instanceId?: string;
  /** Clock, epoch ms (default `Date.now`). */
  now?: () => number;
  /** Called with write errors (the log never throws into the decision path). */
  onError?: (err: Error) => void;
}

/** SHA-256 hex of the canonical JSON (sorted keys) of a call's arguments. */
export function argsSha256(args: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(args ?? {}))
    .digest('hex');
}

/** Name of the daily file holding events of the UTC day of `epochMs`. */
export function decisionLogFileName(epochMs: number): string {
  return `events-${new Date(epochMs).toISOString().slice(0, 10)}.jsonl`;
}

/**
 * Delete daily files older than `retentionDays` (by the date in their name).
 *
 * @returns names of the files deleted
 */
export function pruneDecisionLog(
  dir: string,
  now = Date.now(),
  retentionDays = DECISION_LOG_RETENTION_DAYS,
): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const cutoff = decisionLogFileName(now - retentionDays * 86_400_000);
  const removed: string[] = [];
  for (const n of names) {
    if (/^events-\d{4}-\d{2}-\d{2}\.jsonl$/.test(n) && n < cutoff) {
      try {
        unlinkSync(join(dir, n));
        removed.push(n);
      } catch {
        // Another process pruned it first.
      }
    }
  }
  return removed;
}

/**
 * Open the decision log: creates the directory and prunes files older than 7 days.
 * Write errors are reported to `onError` and never thrown.
 */
export function openDecisionLog(opts: DecisionLogOptions = {}): DecisionLog {
  const dir = opts.dir ?? defaultPaths().eventsDir;
  const now = opts.now ?? Date.now;
  const instanceId = opts.instanceId ?? randomUUID();
  const logArgs = opts.logArgs ?? false;
  const onError = opts.onError ?? (() => {});
  let buffer: { file: string; line: string }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let prunedDay = '';
  try {
    makeDir(dir);
  } catch (err) {
    onError(err as Error);
  }

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return;
    const pending = buffer;
    buffer = [];
    const byFile = new Map<string, string>();
    for (const { file, line } of pending) byFile.set(file, (byFile.get(file) ?? '') + line);
    for (const [file, text] of byFile) {
      try {
        appendFileSync(join(dir, file), text);
      } catch (err) {
        onError(err as Error);
      }
    }
    const today = decisionLogFileName(now());
    if (today !== prunedDay) {
      prunedDay = today;
      pruneDecisionLog(dir, now());
    }
  };

  const log: DecisionLog = {
    dir,
    instanceId,
    logArgs,
    write(event) {
      const t = now();
      const full = { v: 1, ts: event.ts ?? new Date(t).toISOString(), instance: instanceId, ...event };
      let line: string;
      try {
        line = `${JSON.stringify(full)}\n`;
      } catch (err) {
        onError(err as Error);
        return;
      }
      buffer.push({ file: decisionLogFileName(Date.parse(full.ts) || t), line });
      if (closed) flush();
      else if (!timer) {
        timer = setTimeout(flush, 200);
        timer.unref();
      }
    },
    toolCall(call, decision, latencyMs, ids) {
      log.write({
        type: 'tool_call',
        tool: call.tool,
        decision: decision.allowed ? 'allow' : 'deny',
        ...(decision.rule !== undefined ? { rule: decision.rule } : {}),
        reason: decision.reason,
        latency_ms: Math.round(latencyMs * 1000) / 1000,
        args_sha256: argsSha256(call.args),
        ...(logArgs ? { args: call.args } : {}),
        policy_hash: decision.policyHash,
        ...(ids?.sessionId ? { session_id: ids.sessionId } : {}),
        ...(ids?.clientId ? { client_id: ids.clientId } : {}),
        ...(decision.retryAfterMs !== undefined ? { retry_after_ms: decision.retryAfterMs } : {}),
        ...(decision.failedOpen ? { failed_open: true } : {}),
      });
    },
    flush,
    close() {
      flush();
      closed = true;
    },
  };
  flush();
  return log;
}

/**
 * Read events back (for `tollgate status` and tests), oldest file first. Lines that are not valid
 * JSON objects (a torn write, a foreign file) are skipped.
 *
 * @param opts.since - only events at or after this epoch ms
 */
export function readDecisionLog(dir: string, opts: { since?: number } = {}): DecisionEvent[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /^events-\d{4}-\d{2}-\d{2}\.jsonl$/.test(n))
      .sort();
  } catch {
    return [];
  }
  if (opts.since !== undefined) {
    const first = decisionLogFileName(opts.since);
    names = names.filter((n) => n >= first);
  }
  const out: DecisionEvent[] = [];
  for (const n of names) {
    for (const line of readFileSync(join(dir, n), 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as DecisionEvent;
        if (e && typeof e === 'object' && typeof e.type === 'string') {
          if (opts.since === undefined || Date.parse(e.ts) >= opts.since) out.push(e);
        }
      } catch {
        // skip
      }
    }
  }
  return out;
}
