import * as crypto from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Decision, ReasonCode, ToolCall } from './decision.js';
import { makeDir } from './make-dir.js';
import { defaultPaths } from './paths.js';
import { SETTLED } from './settled.js';

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
  /** The HTTP listener's endpoint URL, for `--transport http` (e.g. `http://127.0.0.1:8787/mcp`). */
  readonly listen?: string;
  /**
   * When the process started, in clock ticks after boot (`/proc/self/stat` field 22; Linux only):
   * tells this process from a later one given the same pid, whatever the wall clock did.
   */
  readonly proc_start?: number;
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
  /**
   * HMAC-SHA256 (hex) of the canonical JSON of the arguments (keys sorted), keyed with the log's
   * {@link DecisionLogOptions.argsKey}: correlates calls without storing them, and cannot be
   * checked against guessed arguments (a PIN, a short token) without the key.
   */
  readonly args_hmac: string;
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
  /**
   * Formatted errors when `ok` is false: `file:line:col: code: message`, each possibly followed by
   * `\n  hint: ...` lines.
   */
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
  /** Store raw arguments in `tool_call` events (default false: only their HMAC). */
  logArgs?: boolean;
  /**
   * Key of the arguments' HMAC (`args_hmac`), e.g. from {@link loadArgsKey}: logs written with the
   * same key correlate equal arguments across processes. Default: a random key for this log only.
   */
  argsKey?: Uint8Array;
  /** Default: a random UUID. */
  instanceId?: string;
  /** Clock, epoch ms (default `Date.now`). */
  now?: () => number;
  /** Called with write errors (the log never throws into the decision path). */
  onError?: (err: Error) => void;
}

/**
 * HMAC-SHA256 (lowercase hex) of the canonical JSON (sorted keys) of a call's arguments: the
 * `args_hmac` of its `tool_call` event in a log opened with this `key`.
 */
export function argsHmac(args: unknown, key: Uint8Array): string {
  return hmacHex(key, canonicalArgsJson(args ?? {}));
}

/** HMAC-SHA256 (lowercase hex) of a UTF-8 string. */
function hmacHex(key: Uint8Array, text: string): string {
  return crypto.createHmac('sha256', key).update(text).digest('hex');
}

/** Bytes of a key {@link loadArgsKey} creates. */
const ARGS_KEY_BYTES = 32;

/**
 * The key of the arguments' HMAC kept in `file` (by default `<TOLLGATE_HOME>/args.key`, see
 * {@link defaultPaths}): created when missing, 32 random bytes as hex text, readable by its owner
 * only (0600), so that every proxy of the user writes the same `args_hmac` for the same arguments,
 * while a reader of the log alone cannot test guesses against it. The file is written whole under
 * a temporary name and linked into place, so a process starting at the same moment reads either
 * this key or its own, never a half-written file; one made first by another process is read, not
 * overwritten.
 *
 * @returns the key bytes
 * @throws Error (a Node `ErrnoException`) when the file can be neither read nor created, or
 *   `Error` when it holds no hex key of at least 16 bytes
 */
export function loadArgsKey(file: string): Uint8Array {
  const read = (): Uint8Array => {
    const text = readFileSync(file, 'utf8').trim();
    if (!/^(?:[0-9a-f]{2}){16,}$/i.test(text))
      throw new Error(`${file} holds no arguments key (expected at least 32 hex digits)`);
    return Buffer.from(text, 'hex');
  };
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  makeDir(dirname(file), DIR_MODE);
  const key = crypto.randomBytes(ARGS_KEY_BYTES);
  // Written whole under another name, then linked into place: a process starting at the same
  // moment finds either no file or the whole key, never a half-written one.
  const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return read();
    }
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Not created: nothing to remove.
    }
  }
  return key;
}

/**
 * `canonicalJson` of `@tollgate/policy` (keys sorted, `undefined` members dropped, `undefined` and
 * functions in arrays or at the top as `null`), byte for byte, without its per-level arrays of
 * entries: this hashes the arguments of every logged call. `test/decision-log.test.ts` checks it
 * against `canonicalJson` on generated values.
 */
export function canonicalArgsJson(value: unknown): string {
  return canonicalNested(value, 0);
}

/**
 * Nesting depth up to which {@link canonicalArgsJson} recurses; deeper values (a client may send
 * arguments nested tens of thousands deep, which JSON.parse accepts) are written by
 * {@link jsonText} with a stack of its own, so that no call escapes the log by overflowing ours.
 */
const MAX_RECURSION = 256;

function canonicalNested(value: unknown, depth: number): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (depth >= MAX_RECURSION) return jsonText(value, true);
  if (Array.isArray(value)) {
    let s = '[';
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (i > 0) s += ',';
      s += v === undefined ? 'null' : canonicalNested(v, depth + 1);
    }
    return `${s}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  // JSON.parse keeps the sender's order; agents often send sorted keys already.
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  let s = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = obj[k];
    if (v === undefined) continue;
    s += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalNested(v, depth + 1)}`;
    first = false;
  }
  return `${s}}`;
}

/**
 * `JSON.stringify(value)` for values of any nesting depth: when `JSON.stringify` throws
 * `RangeError` (past a few thousand levels, which `JSON.parse` accepts), the same text from
 * {@link jsonText}. Undefined where `JSON.stringify` gives undefined. Used for the `args` member of
 * a `tool_call` line and for values shown in denial messages.
 */
export function stringifyAnyDepth(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) return jsonText(value, false);
    throw err;
  }
}

type JsonFrame =
  | { readonly array: readonly unknown[]; i: number }
  | { readonly object: Record<string, unknown>; readonly keys: string[]; i: number; first: boolean };

/**
 * JSON text of a value of any nesting depth, with an explicit stack instead of recursion: the
 * output of {@link canonicalArgsJson} when `sortKeys` (members in code-unit order), else of
 * `JSON.stringify` for JSON data (what `JSON.parse` returns), which throws `RangeError` past a
 * few thousand levels.
 */
export function jsonText(root: unknown, sortKeys: boolean): string {
  const out: string[] = [];
  const stack: JsonFrame[] = [];
  const open = (v: unknown): void => {
    if (v === null || typeof v !== 'object') out.push(JSON.stringify(v) ?? 'null');
    else if (Array.isArray(v)) {
      out.push('[');
      stack.push({ array: v, i: 0 });
    } else {
      const keys = Object.keys(v);
      if (sortKeys) keys.sort();
      out.push('{');
      stack.push({ object: v as Record<string, unknown>, keys, i: 0, first: true });
    }
  };
  open(root);
  while (stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if ('array' in f) {
      if (f.i >= f.array.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (f.i > 0) out.push(',');
      const v = f.array[f.i++];
      if (v === undefined) out.push('null');
      else open(v);
    } else {
      if (f.i >= f.keys.length) {
        out.push('}');
        stack.pop();
        continue;
      }
      const k = f.keys[f.i++]!;
      const v = f.object[k];
      if (v === undefined) continue;
      out.push(`${f.first ? '' : ','}${JSON.stringify(k)}:`);
      f.first = false;
      open(v);
    }
  }
  return out.join('');
}

/** Name of the daily file holding events of the UTC day of `epochMs`. */
export function decisionLogFileName(epochMs: number): string {
  return `events-${new Date(epochMs).toISOString().slice(0, 10)}.jsonl`;
}

/**
 * Events waiting for the file (formatted or not) before a write is forced without waiting for the
 * 200 ms timer: bounds what a burst of calls can hold in memory.
 */
export const DECISION_LOG_MAX_BUFFERED = 10_000;

const DAY_MS = 86_400_000;
/**
 * A daily file is created readable by its owner only (0600): with `--log-args` it holds the
 * arguments of every call, and its startup lines name the server command.
 */
const FILE_OPTIONS = { mode: 0o600 } as const;
/** The log directory, when this creates it: the owner's only, like the files in it. */
const DIR_MODE = 0o700;
/** Bytes of JSON lines collected before they are appended to the file. */
const CHUNK_BYTES = 256 * 1024;
const PAD2: string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
let pad3: string[] | undefined;

/**
 * Converts epoch ms to the ISO text and daily file name of the log, remembering the current UTC
 * day so that neither a `Date` nor `toISOString` is needed per event. Same output as
 * `new Date(t).toISOString()` and {@link decisionLogFileName}; throws the same RangeError for a
 * time outside the `Date` range.
 */
class UtcClock {
  private dayStart = Number.NaN;
  private dayEnd = Number.NaN;
  /** `YYYY-MM-DDT` of the current day. */
  private dayIso = '';
  /** Daily file name of the current day. */
  file = '';
  private lastT = Number.NaN;
  private lastIso = '';

  /** Point the clock at the day of `t` (a time value: an integer); returns the day's file name. */
  day(t: number): string {
    if (!(t >= this.dayStart && t < this.dayEnd)) {
      const start = Math.floor(t / DAY_MS) * DAY_MS;
      const iso = new Date(start).toISOString(); // RangeError outside the Date range, as before
      this.dayStart = start;
      this.dayEnd = start + DAY_MS;
      this.dayIso = iso.slice(0, -13); // drop `00:00:00.000Z`
      this.file = decisionLogFileName(start);
    }
    return this.file;
  }

  /** `new Date(t).toISOString()` for a time value `t` (call {@link day} with `t` first). */
  iso(t: number): string {
    if (t === this.lastT) return this.lastIso;
    let ms = t - this.dayStart;
    const h = Math.floor(ms / 3_600_000);
    ms -= h * 3_600_000;
    const m = Math.floor(ms / 60_000);
    ms -= m * 60_000;
    const sec = Math.floor(ms / 1000);
    ms -= sec * 1000;
    pad3 ??= Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
    this.lastT = t;
    this.lastIso = `${this.dayIso}${PAD2[h]}:${PAD2[m]}:${PAD2[sec]}.${pad3[ms]}Z`;
    return this.lastIso;
  }
}

/** The time value `new Date(t)` would hold (integral ms; `-0` as `0`). */
function timeValue(t: number): number {
  return Math.trunc(t) + 0;
}

/**
 * A `tool_call` recorded on the call path and formatted in the next microtask. The arguments are
 * kept by reference (see {@link DecisionLog.toolCall} for why they cannot change); the decision's
 * fields are copied so the decision and its reservation need not wait for the formatting.
 */
class PendingCall {
  constructor(
    readonly t: number,
    readonly tool: string,
    readonly args: unknown,
    readonly allowed: boolean,
    readonly rule: string | undefined,
    readonly reason: ReasonCode,
    readonly policyHash: string,
    readonly retryAfterMs: number | undefined,
    readonly failedOpen: boolean | undefined,
    readonly latencyMs: number,
    readonly sessionId: string | undefined,
    readonly clientId: string | undefined,
  ) {}
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
 *
 * `tool_call` events are recorded as references on the call path and turned into JSON lines
 * (timestamp text, arguments hash, line) in the next microtask: after the frames of the read that
 * carried the call are written, and before the call's objects can survive a scavenge (keeping
 * thousands of calls' arguments alive for 200 ms made every scavenge copy them, and promoted them
 * to the old generation). The lines wait in a reused byte buffer and are appended to the day's
 * file by the 200 ms timer, by {@link DecisionLog.flush} / {@link DecisionLog.close}, when the
 * buffer fills, or at once when {@link DECISION_LOG_MAX_BUFFERED} events are waiting. The lines
 * are those of schema v1, byte for byte what `JSON.stringify` of the event object gives.
 */
export function openDecisionLog(opts: DecisionLogOptions = {}): DecisionLog {
  const dir = opts.dir ?? defaultPaths().eventsDir;
  const now = opts.now ?? Date.now;
  const instanceId = opts.instanceId ?? crypto.randomUUID();
  const logArgs = opts.logArgs ?? false;
  const argsKey = opts.argsKey ?? crypto.randomBytes(ARGS_KEY_BYTES);
  const onError = opts.onError ?? (() => {});
  /** Calls recorded in this turn, formatted in the next microtask (see {@link openDecisionLog}). */
  let pending: PendingCall[] = [];
  let formatQueued = false;
  /** Events recorded and not yet appended to their file (formatted or not). */
  let waiting = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let prunedDay = '';
  try {
    makeDir(dir, DIR_MODE);
  } catch (err) {
    onError(err as Error);
  }
  const clock = new UtcClock();
  /**
   * This instance's last `startup` line (its `policy_hash` updated by each successful reload) and
   * the daily file it was last written to.
   */
  let startup: { line: string; file: string } | undefined;
  /** Daily files this instance has made owner-only (see `appendTo`). */
  const owned = new Set<string>();
  /** The daily file the last successful append went to. */
  let wroteTo = '';
  /** Formatted lines waiting for the file: `chunk[0, off)`, all for the daily file `chunkFile`. */
  let chunk: Buffer | undefined;
  let off = 0;
  let chunkFile = '';
  /** Errors met since the last flush, reported once the lines are out (onError may write events). */
  let errors: Error[] = [];
  // `{"v":1,"ts":"` ... `","instance":"<id>","type":"tool_call"`: the fixed parts of a line.
  const callMiddle = `","instance":${JSON.stringify(instanceId)},"type":"tool_call"`;
  // JSON text of the strings repeated on every line (tool names, reasons, rules, hashes, ids).
  const encoded = new Map<string, string>();
  const enc = (v: unknown): string | undefined => {
    if (typeof v !== 'string') return JSON.stringify(v);
    let s = encoded.get(v);
    if (s === undefined) {
      if (encoded.size >= 4096) encoded.clear();
      s = JSON.stringify(v);
      encoded.set(v, s);
    }
    return s;
  };
  // `,"key":value`, or nothing when JSON.stringify would leave the member out (as for an object).
  const member = (key: string, v: unknown): string => {
    const s = enc(v);
    return s === undefined ? '' : `,"${key}":${s}`;
  };
  // Consecutive calls often carry the same arguments: hash the canonical text once.
  let lastCanonical = '';
  let lastHmac = '';

  // The members from "tool" to "reason", and from "policy_hash" to "client_id", as text: they
  // repeat from one call to the next, so each is rebuilt only when its values change.
  let head = '';
  let headTool: string | undefined;
  let headAllowed = false;
  let headRule: string | undefined;
  let headReason: string | undefined;
  let tail = '';
  let tailHash: string | undefined;
  let tailSession: string | undefined;
  let tailClient: string | undefined;
  let tailValid = false;

  const formatCall = (p: PendingCall): string => {
    const canonical = canonicalArgsJson(p.args ?? {});
    if (canonical !== lastCanonical) {
      lastHmac = hmacHex(argsKey, canonical);
      lastCanonical = canonical;
    }
    if (
      head === '' ||
      p.tool !== headTool ||
      p.allowed !== headAllowed ||
      p.rule !== headRule ||
      p.reason !== headReason
    ) {
      headTool = p.tool;
      headAllowed = p.allowed;
      headRule = p.rule;
      headReason = p.reason;
      head = member('tool', p.tool) + (p.allowed ? ',"decision":"allow"' : ',"decision":"deny"');
      if (p.rule !== undefined) head += member('rule', p.rule);
      head += member('reason', p.reason);
    }
    if (!tailValid || p.policyHash !== tailHash || p.sessionId !== tailSession || p.clientId !== tailClient) {
      tailValid = true;
      tailHash = p.policyHash;
      tailSession = p.sessionId;
      tailClient = p.clientId;
      tail = member('policy_hash', p.policyHash);
      if (p.sessionId) tail += member('session_id', p.sessionId);
      if (p.clientId) tail += member('client_id', p.clientId);
    }
    const latency = Math.round(p.latencyMs * 1000) / 1000;
    let s = `{"v":1,"ts":"${clock.iso(p.t)}${callMiddle}${head},"latency_ms":${Number.isFinite(latency) ? latency : 'null'},"args_hmac":"${lastHmac}"`;
    if (logArgs) {
      const text = stringifyAnyDepth(p.args);
      if (text !== undefined) s += `,"args":${text}`;
    }
    s += tail;
    if (p.retryAfterMs !== undefined) s += member('retry_after_ms', p.retryAfterMs);
    if (p.failedOpen) s += ',"failed_open":true';
    return `${s}}\n`;
  };

  /**
   * Appends to a daily file. A directory deleted under the running proxy (a cleanup, `rm -rf` of
   * the events) is made again, once per write, instead of every later event being lost.
   */
  const appendTo = (file: string, data: string | Buffer) => {
    const path = join(dir, file);
    if (!owned.has(file)) {
      // A file made by an older version (or another umask) is made owner-only too, once.
      owned.add(file);
      try {
        chmodSync(path, FILE_OPTIONS.mode);
      } catch {
        // Not there yet (created below with the mode), or not ours: nothing to do.
      }
    }
    // A daily file written before that went away (deleted, alone or with its directory) starts
    // again with this instance's startup line (see `startup`), or `tollgate status` would not
    // know the instance until the next day.
    const again = startup !== undefined && startup.file === file && wroteTo === file && !existsSync(path);
    try {
      if (again) appendFileSync(path, startup!.line, FILE_OPTIONS);
      appendFileSync(path, data, FILE_OPTIONS);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      makeDir(dir, DIR_MODE);
      if (again) appendFileSync(path, startup!.line, FILE_OPTIONS);
      appendFileSync(path, data, FILE_OPTIONS);
    }
    wroteTo = file;
  };

  /** Appends the waiting lines to their file. */
  const drain = () => {
    if (off === 0) return;
    try {
      appendTo(chunkFile, chunk!.subarray(0, off));
    } catch (err) {
      errors.push(err as Error);
    }
    off = 0;
  };

  /** Puts one line after the others: into the chunk, or straight into the file when it is larger. */
  const append = (file: string, line: string) => {
    if (file !== chunkFile) {
      drain();
      chunkFile = file;
    }
    if (startup !== undefined && startup.file !== file && startup.line !== line) {
      // Each daily file of a running instance starts with its startup event (the same line,
      // original `ts`): files older than the retention are pruned, and `tollgate status` must
      // still know an instance that has run for longer.
      startup.file = file;
      append(file, startup.line);
      waiting++;
    }
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    if (off + line.length * 3 > CHUNK_BYTES) {
      drain();
      if (line.length * 3 > CHUNK_BYTES) {
        try {
          appendTo(file, line);
        } catch (err) {
          errors.push(err as Error);
        }
        return;
      }
    }
    chunk ??= Buffer.allocUnsafe(CHUNK_BYTES);
    off += chunk.write(line, off);
  };

  /** Formats the recorded calls into lines (in order, before any later event). */
  const formatPending = () => {
    formatQueued = false;
    if (pending.length === 0) return;
    const calls = pending;
    pending = [];
    for (let i = 0; i < calls.length; i++) {
      const p = calls[i]!;
      let file: string;
      let line: string;
      try {
        file = clock.day(p.t);
        line = formatCall(p);
      } catch (err) {
        errors.push(err as Error);
        continue;
      }
      append(file, line);
    }
  };

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (waiting === 0 && errors.length === 0) return;
    formatPending();
    drain();
    waiting = 0;
    const failed = errors;
    errors = [];
    for (const err of failed) onError(err);
    const t = now();
    const today = decisionLogFileName(t);
    if (today !== prunedDay) {
      prunedDay = today;
      pruneDecisionLog(dir, t);
    }
  };

  // An idle instance writes nothing: once an hour, a new day's file gets its startup line anyway.
  const announce = setInterval(() => {
    if (startup === undefined || closed) return;
    const today = decisionLogFileName(now());
    if (today === startup.file) return;
    formatPending();
    startup.file = today;
    append(today, startup.line);
    recorded();
  }, 3_600_000);
  announce.unref();

  /** One more event waits for the file: write now when closed or at the bound, else within 200 ms. */
  const recorded = () => {
    waiting++;
    if (closed || waiting >= DECISION_LOG_MAX_BUFFERED) flush();
    else if (!timer) {
      timer = setTimeout(flush, 200);
      timer.unref();
    }
  };

  const log: DecisionLog = {
    dir,
    instanceId,
    logArgs,
    write(event) {
      const t = now();
      let file: string;
      let line: string;
      try {
        let ts = event.ts;
        if (ts === undefined) {
          const tv = timeValue(t);
          file = clock.day(tv);
          ts = clock.iso(tv);
        } else {
          // A caller's own timestamp picks the file, as it always has.
          file = decisionLogFileName(Date.parse(ts) || t);
        }
        const full = { v: 1, ts, instance: instanceId, ...event };
        line = `${JSON.stringify(full)}\n`;
      } catch (err) {
        onError(err as Error);
        return;
      }
      formatPending();
      if (event.type === 'startup') startup = { line, file };
      append(file, line);
      if (event.type === 'shutdown') startup = undefined;
      else if (event.type === 'config_reload' && event.ok && startup !== undefined) {
        // The startup line each later daily file begins with names the policy now in force, so
        // the hash stays true once the file of the real start is pruned.
        const first = JSON.parse(startup.line) as Record<string, unknown>;
        startup.line = `${JSON.stringify({ ...first, policy_hash: event.policy_hash })}\n`;
      }
      recorded();
    },
    toolCall(call, decision, latencyMs, ids) {
      // The arguments are hashed (and, with logArgs, serialised) in the next microtask, after the
      // frames of this turn are written (or on a flush before it). That is sound because nobody
      // changes them in between: the proxy's router and HTTP listener parse every message afresh
      // and forward the client's original bytes, so the object decided on is never touched again.
      // A caller that reuses or edits an arguments object in the same turn must pass a copy.
      pending.push(
        new PendingCall(
          timeValue(now()),
          call.tool,
          call.args,
          decision.allowed,
          decision.rule,
          decision.reason,
          decision.policyHash,
          decision.retryAfterMs,
          decision.failedOpen,
          latencyMs,
          ids?.sessionId,
          ids?.clientId,
        ),
      );
      if (!formatQueued) {
        formatQueued = true;
        void SETTLED.then(formatPending);
      }
      recorded();
    },
    flush,
    close() {
      flush();
      closed = true;
      clearInterval(announce);
    },
  };
  flush();
  return log;
}

/**
 * Read events back (for `tollgate status` and tests), oldest file first, without trusting the
 * files: the log is plain text under the user's home and may be hand-edited, torn by a crash or
 * mixed with foreign files. An entry named like a daily file that is not a regular file (a
 * directory, a FIFO: checked before reading, so nothing blocks) or cannot be read is passed over,
 * and a line that is not a JSON object with a string `type` is skipped. The events' other fields
 * are as written: a reader that relies on their types must check them.
 *
 * @param opts.since - only events whose `ts` is at or after this epoch ms
 * @param opts.onSkippedLine - called once per non-empty line skipped
 * @param opts.keep - keep only the events it returns true for (a reader that needs few of them
 *   keeps memory bounded: files are read in 1 MiB chunks, never whole)
 * @param opts.onUnreadable - called for the directory when it exists but cannot be listed (not a
 *   directory, no permission) and for each daily file passed over (not a regular file, cannot be
 *   read), with its path and why. A directory that does not exist is no log yet, not an error.
 */
export function readDecisionLog(
  dir: string,
  opts: {
    since?: number;
    onSkippedLine?: () => void;
    onUnreadable?: (path: string, reason: string) => void;
    keep?: (event: DecisionEvent) => boolean;
  } = {},
): DecisionEvent[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /^events-\d{4}-\d{2}-\d{2}\.jsonl$/.test(n))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onUnreadable?.(dir, errorReason(err));
    return [];
  }
  if (opts.since !== undefined) {
    const first = decisionLogFileName(opts.since);
    names = names.filter((n) => n >= first);
  }
  const out: DecisionEvent[] = [];
  const take = (line: string) => {
    if (!line.trim()) return;
    let e: DecisionEvent | undefined;
    try {
      const v = JSON.parse(line) as unknown;
      if (
        v !== null &&
        typeof v === 'object' &&
        !Array.isArray(v) &&
        typeof (v as DecisionEvent).type === 'string'
      )
        e = v as DecisionEvent;
    } catch {
      // counted below
    }
    if (e === undefined) {
      opts.onSkippedLine?.();
      return;
    }
    if (opts.since !== undefined && !(Date.parse(e.ts) >= opts.since)) return;
    if (opts.keep && !opts.keep(e)) return;
    out.push(e);
  };
  for (const n of names) {
    const file = join(dir, n);
    try {
      // lstat: a daily file that is a symbolic link (to /etc/shadow, say) is not read through.
      if (!lstatSync(file).isFile()) {
        opts.onUnreadable?.(file, 'not a regular file');
        continue;
      }
      eachLine(file, take, () => opts.onSkippedLine?.());
    } catch (err) {
      opts.onUnreadable?.(file, errorReason(err));
    }
  }
  return out;
}

/** Longest decision-log line read, in UTF-16 code units (a longer one is skipped unread). */
const MAX_LOG_LINE_CHARS = 256 * 1024 * 1024;

/**
 * Calls `onLine` for every line of `file`, read in 1 MiB chunks (a daily file may exceed the
 * longest string). A line is assembled from its pieces once its end is found, so a long line costs
 * its length, not its length squared; one longer than {@link MAX_LOG_LINE_CHARS} is dropped as it
 * is read (`onTooLong`), so it is never held whole.
 */
function eachLine(file: string, onLine: (line: string) => void, onTooLong: () => void): void {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    const decoder = new StringDecoder('utf8');
    const pieces: string[] = [];
    let held = 0;
    let tooLong = false;
    const endLine = (last: string) => {
      if (tooLong) onTooLong();
      else if (pieces.length === 0) onLine(last);
      else {
        pieces.push(last);
        onLine(pieces.join(''));
      }
      pieces.length = 0;
      held = 0;
      tooLong = false;
    };
    const keep = (piece: string) => {
      if (tooLong || piece.length === 0) return;
      held += piece.length;
      if (held > MAX_LOG_LINE_CHARS) {
        tooLong = true;
        pieces.length = 0;
      } else pieces.push(piece);
    };
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const text = decoder.write(chunk.subarray(0, n));
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        endLine(text.slice(start, nl));
        start = nl + 1;
      }
      keep(text.slice(start));
    }
    endLine(decoder.end());
  } finally {
    closeSync(fd);
  }
}

/** `EACCES: permission denied` style text of a file system error, for {@link readDecisionLog}. */
function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return `${e.code}: permission denied`;
  if (e?.code === 'ENOTDIR') return 'ENOTDIR: not a directory';
  if (!e?.code) return String(err);
  // Node's messages usually start with the code already (`EIO: i/o error, read`).
  return e.message.startsWith(`${e.code}:`) ? e.message : `${e.code}: ${e.message}`;
}
