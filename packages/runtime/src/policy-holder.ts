import { existsSync, constants as fsConstants, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  type CompiledPolicy,
  type CompiledRateLimit,
  formatPolicyError,
  loadPolicy,
  MAX_POLICY_BYTES,
  type PolicyError,
} from '@tollgate/policy';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import type { Logger } from './logger.js';

/** Thrown when a policy file cannot be read or does not compile. `errors` holds every problem found. */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  /** Each problem formatted `file:line:col: code: message` (plus a hint line when there is one). */
  readonly formatted: readonly string[];
  constructor(
    readonly file: string,
    readonly errors: readonly PolicyError[],
    cause?: unknown,
  ) {
    const formatted =
      errors.length > 0
        ? errors.map(formatPolicyError)
        : [`${file}: ${(cause as Error)?.message ?? 'unreadable'}`];
    super(`invalid policy ${file}:\n${formatted.join('\n')}`, { cause });
    this.formatted = formatted;
  }
}

/**
 * The text of `file`, refusing anything but a regular file without blocking: opened with
 * `O_NONBLOCK`, so a FIFO put in the policy's place (which a plain read would wait on for a
 * writer, for ever, holding up every later reload) is refused at once, as are devices.
 *
 * @throws Error naming the file type when `file` is not a regular file, or the open/read error
 */
async function readRegularFile(file: string): Promise<string> {
  const handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (st.isFile() && st.size > MAX_POLICY_BYTES)
      // Refused from its size: a 1 GB file put in the policy's place is never read into memory.
      throw new Error(`${file} is ${st.size} bytes, over the ${MAX_POLICY_BYTES}-byte limit of a policy`);
    if (!st.isFile()) {
      const kind = st.isFIFO()
        ? 'a FIFO'
        : st.isDirectory()
          ? 'a directory'
          : st.isSocket()
            ? 'a socket'
            : 'a device';
      throw new Error(`${file} is ${kind}, not a regular file`);
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Outcome of one (re)load attempt. */
export type ReloadResult =
  | { ok: true; changed: boolean; policy: CompiledPolicy; warnings: readonly PolicyError[] }
  | { ok: false; error: PolicyLoadError };

/**
 * Read and compile a policy file with the policy package's `loadPolicy`.
 *
 * @throws PolicyLoadError when the file cannot be read or has errors
 */
export async function loadPolicyFile(
  file: string,
  opts: { regularFile?: boolean } = {},
): Promise<{ policy: CompiledPolicy; warnings: readonly PolicyError[]; text: string }> {
  let text: string;
  try {
    text = opts.regularFile ? await readRegularFile(file) : await readFile(file, 'utf8');
  } catch (err) {
    throw new PolicyLoadError(file, [], err);
  }
  const r = loadPolicy(text, { filename: file });
  if (!r.ok) throw new PolicyLoadError(file, r.errors);
  return { policy: r.policy, warnings: r.warnings, text };
}

/** Default of {@link PolicyHolderOptions.debounceMs}: a changed policy file is read once it has been still this long, ms. */
export const SETTLE_MS = 500;

/** Options of {@link PolicyHolder.open}. */
export interface PolicyHolderOptions {
  /** Watch the file and reload on change (default false). */
  watch?: boolean;
  /**
   * How long the file must stay unchanged (no change event, same inode, size and mtime) before
   * it is read, ms (default {@link SETTLE_MS}): a file written in parts is not read, and its first
   * part put in force, while the writer pauses for less than this between writes.
   */
  debounceMs?: number;
  logger?: Logger;
  /** Called after every reload attempt triggered by the watcher or {@link PolicyHolder.reload}. */
  onReload?: (result: ReloadResult, previous: CompiledPolicy) => void;
  /**
   * Period of the backstop check of the file's identity (inode, size, mtime) that catches a
   * change the watcher missed, ms (default 1000).
   */
  checkIntervalMs?: number;
  /** Use chokidar polling (for file systems without inotify). */
  usePolling?: boolean;
}

/**
 * Holds the policy in force and swaps it atomically on a valid change: a call is evaluated
 * entirely against one policy (the reference read when it started). An invalid new file keeps the
 * old policy; the reason goes to the logger and to `onReload`.
 */
export class PolicyHolder {
  private policy: CompiledPolicy;
  private watcher: FSWatcher | undefined;
  /** The settle wait of {@link reloadWhenStill}, and who awaits its reload. */
  private timer: NodeJS.Timeout | undefined;
  private readonly settleWaiters: ((r: ReloadResult) => void)[] = [];
  private closed = false;
  /** The file was found missing by the last reload (its warning is said once). */
  private missing = false;
  /** The last reload failed on an invalid file (its error is said; so is its recovery). */
  private failing = false;
  private readonly listeners = new Set<(prev: CompiledPolicy, next: CompiledPolicy) => void>();
  private reloading: Promise<ReloadResult> | undefined;
  /** The reload queued behind the running one (see {@link reload}). */
  private again: Promise<ReloadResult> | undefined;
  /** The backstop check of the file's identity (see `startWatching`), and what it last saw. */
  private poll: NodeJS.Timeout | undefined;
  private seen = '';

  private constructor(
    readonly file: string,
    initial: CompiledPolicy,
    private readonly opts: PolicyHolderOptions,
  ) {
    this.policy = initial;
  }

  /**
   * Load `file` and, with `watch`, start watching it. A change made while the watcher starts is
   * caught when it is ready (reloaded, or logged and refused when invalid, as any later change).
   *
   * @throws PolicyLoadError when the initial file is unreadable or invalid
   */
  static async open(file: string, opts: PolicyHolderOptions = {}): Promise<PolicyHolder> {
    const path = resolve(file);
    // A watched file must be a regular one (a FIFO would block every later reload).
    const { policy, warnings, text } = await loadPolicyFile(path, { regularFile: opts.watch === true });
    for (const w of warnings) opts.logger?.warn({ policy: path }, formatPolicyError(w));
    const holder = new PolicyHolder(path, policy, opts);
    if (opts.watch) {
      await holder.startWatching();
      // The watcher reports changes from when it is ready: an edit that landed between the read
      // above and then would go unseen, and the policy read before it would stay in force.
      let now: string | undefined;
      try {
        now = await readRegularFile(path);
      } catch {
        // Removed or replaced by something else meanwhile: the policy read stays, as for a later
        // change of that kind.
        now = undefined;
      }
      if (now !== undefined && now !== text) await holder.reload();
    }
    return holder;
  }

  /** The policy in force. */
  get current(): CompiledPolicy {
    return this.policy;
  }

  /** Subscribe to policy swaps; returns the unsubscribe function. */
  onChange(listener: (prev: CompiledPolicy, next: CompiledPolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async startWatching(): Promise<void> {
    // The directory is watched, for this one name: a watch on the file itself follows its inode,
    // and a file deleted and created again (`rm && cp`, `install`, a git checkout) was often
    // missed, after which no later edit was seen either (a tester found the proxy stuck on an
    // old policy for good).
    const dir = dirname(this.file);
    const w = chokidarWatch(dir, {
      ignoreInitial: true,
      depth: 0,
      ignored: (path: string) => path !== dir && path !== this.file,
      usePolling: this.opts.usePolling ?? false,
      interval: 100,
      // Editors save by rename; chokidar reports it as one change.
      atomic: true,
    });
    const schedule = () => {
      void this.reloadWhenStill();
    };
    const mine = (path: string) => path === this.file;
    w.on('add', (path) => mine(path) && schedule());
    w.on('change', (path) => mine(path) && schedule());
    // Removed: the reload it schedules finds no file and says so once (see doReload).
    w.on('unlink', (path) => mine(path) && schedule());
    w.on('error', (err) => this.opts.logger?.error({ err, policy: this.file }, 'policy watcher error'));
    await new Promise<void>((r) => w.once('ready', () => r()));
    this.watcher = w;
    // Backstop: file events can still be lost (a file replaced right after the previous change
    // was reported), and a lost one would leave the old policy in force with nothing logged. The
    // file's identity (inode, size, mtime) is compared once a second; a difference reloads.
    this.seen = fileIdentity(this.file);
    this.poll = setInterval(() => {
      const now = fileIdentity(this.file);
      if (now !== this.seen) {
        this.seen = now;
        schedule();
      }
    }, this.opts.checkIntervalMs ?? 1000);
    this.poll.unref();
  }

  /**
   * {@link reload} once the file has been still for the settle time
   * ({@link PolicyHolderOptions.debounceMs}): no call to this meanwhile (each change event makes
   * one, and so does SIGHUP), and the same inode, size and mtime when the wait ends. A write in
   * parts reports a change per part, and a prefix of a policy is often a valid, more permissive
   * policy (a `hide` list or `default: deny` at the end not yet written): it is not read half-way.
   * Calls made during one wait share its reload. Never throws; after {@link close}, resolves with
   * the policy in force, unchanged.
   */
  reloadWhenStill(): Promise<ReloadResult> {
    return new Promise((resolve) => {
      this.settleWaiters.push(resolve);
      this.armSettle();
    });
  }

  /** (Re)starts the settle wait of {@link reloadWhenStill}. */
  private armSettle(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.closed) {
      this.releaseSettleWaiters();
      return;
    }
    const as = fileIdentity(this.file);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A write the watcher has not reported yet: wait again.
      if (fileIdentity(this.file) !== as) {
        this.armSettle();
        return;
      }
      const waiters = this.settleWaiters.splice(0);
      void this.reload().then((r) => {
        for (const w of waiters) w(r);
      });
    }, this.opts.debounceMs ?? SETTLE_MS);
    this.timer.unref();
  }

  /** Answers the waiters of a settle that will not run (the holder closed). */
  private releaseSettleWaiters(): void {
    const result: ReloadResult = { ok: true, changed: false, policy: this.policy, warnings: [] };
    for (const w of this.settleWaiters.splice(0)) w(result);
  }

  /**
   * Re-read the file now. A call while a reload runs gets one more reload after it (calls made
   * meanwhile share that one): the running one may have read the file before the change that
   * asked for this. Never throws.
   */
  reload(): Promise<ReloadResult> {
    if (this.reloading) {
      this.again ??= this.reloading.then(() => {
        this.again = undefined;
        return this.reload();
      });
      return this.again;
    }
    this.reloading = this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    const prev = this.policy;
    this.seen = fileIdentity(this.file);
    let result: ReloadResult;
    try {
      const { policy, warnings } = await loadPolicyFile(this.file, { regularFile: true });
      const recovered = this.missing || this.failing;
      this.missing = false;
      this.failing = false;
      const changed = policy.hash !== prev.hash;
      result = { ok: true, changed, policy, warnings };
      if (!changed && recovered) {
        // The failure or the removal was said on stderr: so is its end.
        this.opts.logger?.info(
          { policy: this.file, hash: policy.hash },
          'policy file loads again, unchanged; the policy in force stays',
        );
      }
      if (changed) {
        this.policy = policy;
        this.opts.logger?.info(
          { policy: this.file, hash: policy.hash, previous: prev.hash },
          'policy reloaded; applies from the next call',
        );
        // As at start-up: a rule that can never run is as easy to write in an edit.
        for (const w of warnings) this.opts.logger?.warn({ policy: this.file }, formatPolicyError(w));
        const restarted = restartedCounts(prev, policy);
        if (restarted.length > 0) {
          this.opts.logger?.warn(
            { limits: restarted },
            'these limits now count in another window (their window, their rule or its tool key changed): calls counted in the old one do not carry over; a window this limit had before goes on from its own count',
          );
        }
        for (const l of this.listeners) {
          try {
            l(prev, policy);
          } catch (err) {
            this.opts.logger?.error({ err }, 'policy change listener failed');
          }
        }
      }
    } catch (err) {
      const error = err instanceof PolicyLoadError ? err : new PolicyLoadError(this.file, [], err);
      result = { ok: false, error };
      if (!existsSync(this.file)) {
        // Deleted (or renamed away): not an error in the policy. The file watcher and the
        // identity check may both report it; the policy in force stays until a file is back.
        if (!this.missing) {
          this.opts.logger?.warn(
            { policy: this.file, kept: prev.hash },
            'policy file removed; keeping the policy in force',
          );
        }
        this.missing = true;
      } else {
        this.failing = true;
        this.opts.logger?.error(
          { policy: this.file, errors: error.formatted, kept: prev.hash },
          'policy reload failed; keeping the previous policy',
        );
      }
    }
    try {
      this.opts.onReload?.(result, prev);
    } catch (err) {
      // A failing callback must not take the proxy down, nor undo the reload.
      this.opts.logger?.error({ err, policy: this.file }, 'policy reload callback failed');
    }
    return result;
  }

  /** Stop watching. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.releaseSettleWaiters();
    if (this.poll) clearInterval(this.poll);
    await this.watcher?.close();
    this.watcher = undefined;
  }
}

/**
 * The rate limits and counters of `next` that count in another window because the reload changed
 * it (from zero, unless this limit had that window before and it still holds counts): the same rule (tool key and rule name) or counter id with another window length, or a
 * rate limit turned from a fixed into a sliding window or back. Counts are kept per window length
 * and kind (see docs/runtime.md, "Keys"), so tightening `5/hour` into `5/day` admits 5 more calls
 * at once. One line each, e.g. `rate limit "per hour" of "echo": 5/hour -> 5/day`; empty when
 * nothing restarts. A rate limit new under a tool key that lost one is listed too (a rename,
 * most likely: counts are kept by rule name), and so is one with the same limit whose rule left
 * another tool key (the rule moved, say from `echo` to `"{echo,echo2}"`: counts are kept by tool
 * key), matched by its name, or by its position for unnamed rules (`echo#1`).
 */
export function restartedCounts(prev: CompiledPolicy, next: CompiledPolicy): string[] {
  const limits = (p: CompiledPolicy) => {
    const out = new Map<string, { rule: string; tool: string; rl: CompiledRateLimit }>();
    for (const entry of p.entries)
      for (const rule of entry.rules)
        if (rule.rateLimit)
          out.set(rule.rateLimit.key, { rule: rule.name, tool: entry.key, rl: rule.rateLimit });
    return out;
  };
  const describe = (rl: CompiledRateLimit) =>
    rl.kind === 'fixed' ? `${rl.max}/${rl.window}` : `{ max: ${rl.max}, window: ${rl.windowMs / 1000}s }`;
  // Unnamed rules are named `<tool key>#<n>`: the same n with the same limit is the same rule.
  const unnamed = (r: { rule: string; tool: string }) =>
    r.rule.startsWith(`${r.tool}#`) ? r.rule.slice(r.tool.length) : undefined;
  const out: string[] = [];
  const before = limits(prev);
  const after = limits(next);
  for (const [key, now] of after) {
    const was = before.get(key);
    if (was && (was.rl.kind !== now.rl.kind || was.rl.windowMs !== now.rl.windowMs))
      out.push(`rate limit "${now.rule}" of "${now.tool}": ${describe(was.rl)} -> ${describe(now.rl)}`);
    if (!was) {
      // A new rate limit under a tool key that lost one: most likely the same rule renamed.
      const gone = [...before.values()].filter((b) => b.tool === now.tool && !after.has(b.rl.key));
      // Or under another key: the same rule moved, e.g. `echo` widened to `"{echo,echo2}"`.
      const moved = [...before.values()].filter(
        (b) =>
          b.tool !== now.tool &&
          !after.has(b.rl.key) &&
          describe(b.rl) === describe(now.rl) &&
          (b.rule === now.rule || (unnamed(b) !== undefined && unnamed(b) === unnamed(now))),
      );
      if (gone.length > 0)
        out.push(
          `rate limit "${now.rule}" of "${now.tool}": new, where ${gone.map((g) => `"${g.rule}"`).join(', ')} was (a renamed rule counts afresh)`,
        );
      else if (moved.length > 0)
        out.push(
          `rate limit "${now.rule}" of "${now.tool}": moved from ${moved.map((m) => `"${m.tool}"`).join(', ')} (counts are kept per tool key: it counts afresh)`,
        );
    }
  }
  for (const [id, now] of next.counters) {
    const was = prev.counters.get(id);
    if (was && was.windowMs !== now.windowMs)
      out.push(`counter "${id}": window ${was.window} -> ${now.window}`);
  }
  return out;
}

/** `inode:size:mtime` of `file`, or `missing`: changes whenever its content is replaced or written. */
function fileIdentity(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return 'missing';
  }
}
