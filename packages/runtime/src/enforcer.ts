import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type CompiledPolicy, exactToolName, isGlob, unlistedEntries } from '@tollgate/policy';
import type { Decision, ToolCall } from './decision.js';
import type { DecisionLog } from './decision-log.js';
import { type EvaluationContext, evaluate, evaluateNow } from './evaluate.js';
import type { Logger } from './logger.js';
import { PolicyHolder } from './policy-holder.js';
import { SchemaValidator } from './schema-validator.js';
import { SETTLED } from './settled.js';
import type { CounterStore } from './store/counter-store.js';

/** Options of {@link createEnforcer}. */
export interface EnforcerOptions {
  /** Policy file to load (and watch with `watch`). */
  policyFile: string;
  /** Reload the policy when the file changes (default false). */
  watch?: boolean;
  /** How long a changed policy file must stay still before it is read, ms (default 500: `SETTLE_MS` of the policy holder). */
  debounceMs?: number;
  store: CounterStore;
  /** `closed` (default): deny when the store is down. `open`: admit uncounted, with a warning. */
  failMode?: 'closed' | 'open';
  decisionLog?: DecisionLog;
  logger?: Logger;
  /** Clock, epoch ms (default `Date.now`). */
  now?: () => number;
}

/** Identifies where a call came from, for the decision log. */
export interface CallOrigin {
  sessionId?: string;
  clientId?: string;
}

/** The tool names a policy names (see {@link Enforcer.policyToolNames}). */
export interface PolicyToolNames {
  /** Tool keys and `hide` entries without glob syntax, `\` escapes resolved. */
  readonly exact: readonly string[];
  /** Tool keys and `hide` entries with glob syntax, as written (`"*"` left out). */
  readonly globs: readonly string[];
}

/**
 * What a proxy holds for its lifetime: the policy (hot-reloaded), the counter store, the tools'
 * input schemas and the decision log.
 */
export interface Enforcer {
  /** The policy in force. */
  readonly policy: CompiledPolicy;
  readonly store: CounterStore;
  /** Judge a call; on `allowed` its counters are reserved (commit or roll back the decision). Never throws. */
  decide(call: ToolCall, origin?: CallOrigin): Promise<Decision>;
  /**
   * {@link decide} without waiting, when the decision needs no I/O (see `evaluateNow`): the same
   * decision, logged the same way. `undefined`: call `decide` (nothing was reserved or logged).
   */
  decideNow(call: ToolCall, origin?: CallOrigin): Decision | undefined;
  /** The upstream returned a result (an `isError: true` one too: the tool ran): make the reservation permanent. Never throws (errors are logged). */
  commit(decision: Decision): Promise<void>;
  /** The upstream returned a JSON-RPC error or died: return the quota. Never throws (errors are logged). */
  rollback(decision: Decision): Promise<void>;
  /** True when the current policy hides `tool` (for filtering `tools/list`). */
  isHidden(tool: string): boolean;
  /**
   * True when judging a call to `tool` under the current policy needs its `inputSchema`: a rule
   * that applies to it has `validate: { required_args: true }` (and the tool is not hidden).
   */
  needsToolSchema(tool: string): boolean;
  /**
   * The tool names the current policy names: `exact`, its tool keys and `hide` entries without
   * glob syntax (`\` escapes resolved); `globs`, those with glob syntax, as written (`"*"` left out).
   */
  policyToolNames(): PolicyToolNames;
  /** Remember tools' `inputSchema`s from a `tools/list` result page (merged by name). */
  setToolSchemas(tools: ReadonlyArray<{ name: string; inputSchema?: unknown }>): void;
  /**
   * The server's complete tool list (every page of a `tools/list`): logs one warning naming the
   * policy's `tools:` keys and `hide` entries that match none of them (`unlistedEntries`), a typo
   * that would never apply; again after a reload that changes them. Nothing when all match.
   */
  toolsListed(names: readonly string[]): void;
  /** Subscribe to policy swaps (e.g. to send `notifications/tools/list_changed` when `hide` changed). */
  onPolicyChange(listener: (prev: CompiledPolicy, next: CompiledPolicy) => void): () => void;
  /**
   * Re-read the policy file (SIGHUP) once it has been still for the settle time (500 ms by
   * default), so a file still being written is not read half-way. Resolves true when it was valid.
   */
  reload(): Promise<boolean>;
  /** Stop watching, flush the decision log, close the store. */
  close(): Promise<void>;
  /**
   * An enforcer that counts in `store` and shares everything else with this one: the policy
   * (reloaded once, by the file watcher or {@link reload} of this enforcer, for both) and the
   * decision log. The tools' `inputSchema`s start empty: each session learns its own server's.
   * Its `close()` closes `store` only; its `reload()` reloads the shared policy. For the HTTP
   * listener's `--per-session-counters`: one memory store per session, one policy for all.
   */
  forStore(store: CounterStore): Enforcer;
}

/**
 * Load the policy and assemble an {@link Enforcer}. Writes `config_reload` events for reloads
 * (a failed one, one that changes the policy, and the first that loads after a failure);
 * the caller writes `startup`/`shutdown` (it knows the server command and the exit reason).
 *
 * @throws PolicyLoadError when the initial policy file is unreadable or invalid
 */
export async function createEnforcer(opts: EnforcerOptions): Promise<Enforcer> {
  const { logger, decisionLog } = opts;

  // The callbacks below may run while `PolicyHolder.open` is still running (a change made while
  // its watcher starts is read before it returns): they name the file, not `holder`.
  const policyFile = resolve(opts.policyFile);
  // After a reload that failed, the next one that loads is written even if it brings back the
  // same policy (the file restored): readers must learn that the failure is over.
  let failing = false;
  const holder = await PolicyHolder.open(policyFile, {
    watch: opts.watch,
    debounceMs: opts.debounceMs,
    logger,
    onReload: (r, prev) => {
      if (!r.ok) {
        failing = true;
        decisionLog?.write({
          type: 'config_reload',
          ok: false,
          policy_file: policyFile,
          policy_hash: prev.hash,
          errors: r.error.formatted,
        });
      } else if (r.changed || failing) {
        failing = false;
        decisionLog?.write({
          type: 'config_reload',
          ok: true,
          policy_file: policyFile,
          policy_hash: r.policy.hash,
          previous_hash: prev.hash,
        });
      }
    },
  });

  return assemble(holder, opts.store, opts, true);
}

/** Most unlisted policy entries named in the warning about them (the rest are counted). */
const UNLISTED_SHOWN = 20;

/**
 * The server's tool names once listed, and the last warning given about the policy entries naming
 * none of them (`toolsListed`): shared by an enforcer and those made from it by `forStore`, so
 * sessions listing the same tools warn once.
 */
interface UnlistedState {
  listed?: readonly string[];
  /** `listed` as a set: a tool not in it will get no inputSchema (see `toolUnlisted`). */
  listedSet?: ReadonlySet<string>;
  said?: string;
}

/**
 * The enforcer over `holder` counting in `store`. `owner`: this one created the holder and the
 * decision log, and closes them (see {@link Enforcer.forStore}).
 */
function assemble(
  holder: PolicyHolder,
  store: CounterStore,
  opts: EnforcerOptions,
  owner: boolean,
  unlisted: UnlistedState = {},
): Enforcer {
  const { logger, decisionLog } = opts;
  const now = opts.now ?? Date.now;
  const failMode = opts.failMode ?? 'closed';
  const validator = new SchemaValidator();
  let warnedOpen = Number.NEGATIVE_INFINITY;
  /** The store's last error while failing open (said with the next warning). */
  let openError = '';
  /** Calls admitted uncounted since the last warning, and since the outage began. */
  let openSinceLine = 0;
  let openInOutage = 0;

  const onFailOpen = (err: Error) => {
    openError = err.message;
  };
  // Fail mode open: each call admitted uncounted is counted here, one warning per 10 s at most,
  // saying how many went through since the last (what a spend counter missed).
  const onOpenAdmit = (tool: string) => {
    outage = true;
    openSinceLine++;
    openInOutage++;
    const t = now();
    if (t - warnedOpen >= 10_000) {
      warnedOpen = t;
      logger?.warn(
        { err: openError, tool, admittedUncountedSinceLastLine: openSinceLine },
        'counter state unavailable; admitting calls uncounted (fail mode open)',
      );
      openSinceLine = 0;
    }
  };

  /**
   * An error line at most once per 10 s: the lines in between are counted, and the next line
   * says how many under `countKey`. For what a stalled store repeats on every call.
   */
  const throttled = (countKey: string) => {
    let last = Number.NEGATIVE_INFINITY;
    let unlogged = 0;
    return {
      log(fields: Record<string, unknown>, message: string): void {
        const t = now();
        if (t - last < 10_000) {
          unlogged++;
          return;
        }
        logger?.error({ ...fields, ...(unlogged > 0 ? { [countKey]: unlogged } : {}) }, message);
        last = t;
        unlogged = 0;
      },
      /** The lines not logged since the last one; the next line is logged whenever it comes. */
      takeUnlogged(): number {
        const n = unlogged;
        unlogged = 0;
        last = Number.NEGATIVE_INFINITY;
        return n;
      },
    };
  };

  // Fail mode closed: every call needing the store is denied while it is unavailable.
  const closedDenials = throttled('deniedSinceLastLine');
  /** Calls were denied for an unavailable store, and no call has been counted since. */
  let outage = false;
  const onClosedDenial = (tool: string, message: string | undefined) => {
    outage = true;
    closedDenials.log(
      { tool },
      message ?? 'counter state unavailable; the call is denied (fail mode closed)',
    );
  };
  // The first call counted again after an outage says so, with the denials not yet reported (so
  // that they are not reported with the next outage instead).
  const onStoreBack = () => {
    outage = false;
    if (failMode === 'open') {
      logger?.warn(
        { admittedUncounted: openInOutage },
        'counter state available again; calls are counted (fail mode open): the calls admitted uncounted meanwhile are not in any count',
      );
      // The 10 s throttle of the warning goes on: a store that flaps does not flood stderr.
      openInOutage = 0;
      openSinceLine = 0;
      return;
    }
    const denied = closedDenials.takeUnlogged();
    logger?.warn(
      denied > 0 ? { deniedSinceLastLine: denied } : {},
      'counter state available again; calls are counted (fail mode closed)',
    );
  };

  // A store that stalls fails every commit and rollback on its way.
  const commitErrors = throttled('failedSinceLastLine');
  const rollbackErrors = throttled('failedSinceLastLine');
  const onCommitError = (err: unknown) =>
    commitErrors.log(
      { err: (err as Error)?.message },
      'commit failed; the call counts as pending until the store takes the commit (Redis sends it again until it answers) or its reservation expires',
    );
  const onRollbackError = (err: unknown) =>
    rollbackErrors.log(
      { err: (err as Error)?.message },
      'rollback failed; the call counts until the store takes the rollback (Redis sends it again until it answers) or its reservation expires',
    );

  // The evaluation context is the same for every call except the tool's inputSchema: one shared
  // object for tools whose schema is unknown, one per tool learned from tools/list (bounded by the
  // server's tool list; arbitrary names in calls never add entries). No object per call.
  const baseContext: EvaluationContext = {
    store,
    now,
    failMode,
    inputSchema: undefined,
    validator,
    onFailOpen,
  };
  const contexts = new Map<string, EvaluationContext>();
  // For a tool the server's complete listing does not include (see `toolsListed`).
  const unlistedContext: EvaluationContext = { ...baseContext, toolUnlisted: true };
  const contextOf = (tool: string): EvaluationContext =>
    contexts.get(tool) ??
    (unlisted.listedSet !== undefined && !unlisted.listedSet.has(tool) ? unlistedContext : baseContext);

  const warnUnlisted = (policy: CompiledPolicy) => {
    const listed = unlisted.listed;
    if (listed === undefined || !logger) return;
    const u = unlistedEntries(policy, listed);
    const text = JSON.stringify(u);
    if (text === unlisted.said) return;
    unlisted.said = text;
    if (u.tools.length === 0 && u.hide.length === 0) return;
    // At most UNLISTED_SHOWN names of each kind on the line, and how many more.
    const shown = (names: readonly string[], more: string) => ({
      ...(names.length > UNLISTED_SHOWN ? { [more]: names.length - UNLISTED_SHOWN } : {}),
    });
    logger.warn(
      {
        tools: u.tools.slice(0, UNLISTED_SHOWN),
        ...shown(u.tools, 'moreTools'),
        hide: u.hide.slice(0, UNLISTED_SHOWN),
        ...shown(u.hide, 'moreHide'),
        listed: listed.length,
      },
      `the policy names tools the server does not list (a typo? such an entry never applies${policy.default === 'allow' ? ', and with default: allow the tool it meant runs unchecked' : ''})`,
    );
  };
  // One subscription for the enforcer and those made from it by forStore: one warning a reload.
  const unsubscribeUnlisted = owner ? holder.onChange((_prev, next) => warnUnlisted(next)) : () => {};

  return {
    get policy() {
      return holder.current;
    },
    store,
    decideNow(call, origin) {
      const started = performance.now();
      const decision = evaluateNow(holder.current, call, contextOf(call.tool));
      if (decision !== undefined) decisionLog?.toolCall(call, decision, performance.now() - started, origin);
      return decision;
    },
    async decide(call, origin) {
      const started = performance.now();
      const policy = holder.current;
      let decision: Decision;
      try {
        decision = await evaluate(policy, call, contextOf(call.tool));
      } catch (err) {
        // evaluate is written never to throw; if it ever does, the call must not pass unevaluated.
        logger?.error({ err, tool: call.tool }, 'evaluation failed; denying the call');
        decision = {
          allowed: false,
          reason: 'internal_error',
          message: `Tollgate could not evaluate this call (${(err as Error)?.message ?? String(err)}); it is denied`,
          policyHash: policy.hash,
        };
      }
      decisionLog?.toolCall(call, decision, performance.now() - started, origin);
      if (decision.reason === 'state_unavailable') onClosedDenial(call.tool, decision.message);
      else if (decision.failedOpen) onOpenAdmit(call.tool);
      else if (outage && decision.reservation !== undefined) onStoreBack();
      return decision;
    },
    // Not async functions: a commit runs once per counted call, and most are settled in memory
    // (leases) with nothing to wait for.
    commit(decision) {
      if (!decision.reservation) return SETTLED;
      try {
        return store.commit(decision.reservation, now()).catch(onCommitError);
      } catch (err) {
        onCommitError(err);
        return SETTLED;
      }
    },
    rollback(decision) {
      if (!decision.reservation) return SETTLED;
      try {
        return store.rollback(decision.reservation).catch(onRollbackError);
      } catch (err) {
        onRollbackError(err);
        return SETTLED;
      }
    },
    isHidden(tool) {
      return holder.current.isHidden(tool);
    },
    policyToolNames() {
      return policyToolNamesOf(holder.current);
    },
    needsToolSchema(tool) {
      const policy = holder.current;
      return !policy.isHidden(tool) && policy.rulesFor(tool).some((r) => r.validate?.requiredArgs === true);
    },
    toolsListed(names) {
      unlisted.listed = names;
      unlisted.listedSet = new Set(names);
      warnUnlisted(holder.current);
    },
    setToolSchemas(tools) {
      for (const t of tools) {
        if (t && typeof t.name === 'string' && t.inputSchema !== undefined)
          contexts.set(t.name, { ...baseContext, inputSchema: t.inputSchema });
      }
    },
    onPolicyChange(listener) {
      return holder.onChange(listener);
    },
    async reload() {
      return (await holder.reloadWhenStill()).ok;
    },
    async close() {
      unsubscribeUnlisted();
      if (owner) {
        await holder.close();
        decisionLog?.close();
      }
      await store.close();
    },
    forStore(other) {
      return assemble(holder, other, opts, false, unlisted);
    },
  };
}

const namesOf = new WeakMap<CompiledPolicy, PolicyToolNames>();

/**
 * The tool names `policy` names (see {@link PolicyToolNames}); computed once per policy. What
 * {@link Enforcer.policyToolNames} returns for the policy in force, and what `tollgate explain`
 * checks a called name against.
 */
export function policyToolNamesOf(policy: CompiledPolicy): PolicyToolNames {
  let names = namesOf.get(policy);
  if (!names) {
    const hide = policy.hide.filter((h) => h !== '*');
    names = Object.freeze({
      exact: Object.freeze([...policy.exact.keys(), ...hide.filter((h) => !isGlob(h)).map(exactToolName)]),
      globs: Object.freeze([...policy.globs.map((g) => g.key), ...hide.filter(isGlob)]),
    });
    namesOf.set(policy, names);
  }
  return names;
}
