import type { CompiledCondition, CompiledPolicy, CompiledRule } from '@tollgate/policy';
import {
  canonicalDeep,
  compareEquals,
  conditionHolds,
  lookup,
  resolvePath,
  valueHolds,
} from './conditions.js';
import type { ConditionTrace, Decision, ReasonCode, RuleTrace, ToolCall } from './decision.js';
import { stringifyAnyDepth } from './decision-log.js';
import { InexactNumber } from './exact-arguments.js';
import { SchemaValidator } from './schema-validator.js';
import {
  type CounterCheck,
  type CounterItem,
  type CounterStore,
  type NumericOp,
  type ReserveResult,
  retryAfter,
} from './store/counter-store.js';
import { formatDuration } from './windows.js';

/** What {@link evaluate} needs besides the policy and the call. */
export interface EvaluationContext {
  /** Where counters live. Required when a matching rule has `rate_limit` or `state`; absent = unavailable. */
  readonly store?: CounterStore;
  /** Clock, epoch ms (default `Date.now`). Injected by tests and `tollgate test`. */
  readonly now?: () => number;
  /** `closed` (default): deny with `state_unavailable` when the store fails. `open`: admit uncounted. */
  readonly failMode?: 'closed' | 'open';
  /** The tool's `inputSchema` from `tools/list` (for `validate.required_args`); `undefined` = not known. */
  readonly inputSchema?: unknown;
  /**
   * The server's complete `tools/list` has been seen and does not include the tool: its
   * `inputSchema` will not come (the `schema_unavailable` message says so).
   */
  readonly toolUnlisted?: boolean;
  /** `reserve` (default) takes quota for an admitted call; `peek` only looks (`tollgate explain`). */
  readonly mode?: 'reserve' | 'peek';
  /** Collect a per-rule {@link RuleTrace}; also evaluates rules after the first failure. */
  readonly trace?: boolean;
  /** Shared ajv cache (default: one per process). */
  readonly validator?: SchemaValidator;
  /** Called when a store error is swallowed because the fail mode is `open` (for a warning log). */
  readonly onFailOpen?: (error: Error) => void;
}

let sharedValidator: SchemaValidator | undefined;
const NUMERIC_OPS = new Set<string>(['eq', 'neq', 'lt', 'lte', 'gt', 'gte']);

/** Store key of a `state` counter; rate limits use the compiler's `rl:` keys. Neither depends on the policy hash. */
export function counterStoreKey(counterId: string): string {
  return `ctr:${counterId}`;
}

interface Failure {
  readonly index: number;
  readonly reason: ReasonCode;
  readonly detail: string;
}

interface MutableItem {
  key: string;
  kind: 'fixed' | 'sliding';
  windowMs: number;
  amount: number;
  checks: CounterCheck[];
  /**
   * The call needs this counter's exact value: a condition the store cannot check reads it, or
   * another rule of the policy touches it too (see {@link sharedCounterKeys}). Never admitted
   * from a lease.
   */
  exact?: boolean;
}

const sharedCounters = new WeakMap<CompiledPolicy, ReadonlySet<string>>();

/**
 * Store keys (`ctr:<id>`, {@link counterStoreKey}) of the `state` counters that more than one
 * rule of `policy` touches, by incrementing it (`state:`) or reading it (a `state.*` condition).
 * Memoised per policy.
 *
 * Why: a counter lease (`LeasedCounterStore`) admits calls against a block of quota it has
 * reserved in the store, so the store's value of the counter runs ahead by the lease's unused
 * units, and a call that arrives while the lease is being taken is decided after the calls behind
 * it. That is safe for the one rule that counts against its own `lt`/`lte` bound, and wrong for
 * another rule reading the same counter (`state.spend gte 10` would pass early, `lte 0` fail
 * early). Calls on such counters go to the store, in arrival order, with their exact values.
 * Rate-limit counters are one rule's each.
 */
export function sharedCounterKeys(policy: CompiledPolicy): ReadonlySet<string> {
  let shared = sharedCounters.get(policy);
  if (shared !== undefined) return shared;
  const rulesTouching = new Map<string, number>();
  for (const entry of policy.entries) {
    for (const rule of entry.rules) {
      const ids = new Set<string>();
      if (rule.state) ids.add(rule.state.id);
      for (const c of rule.conditions) if (c.source === 'state' && c.counterId) ids.add(c.counterId);
      for (const id of ids) rulesTouching.set(id, (rulesTouching.get(id) ?? 0) + 1);
    }
  }
  const keys = new Set<string>();
  for (const [id, n] of rulesTouching) if (n > 1) keys.add(counterStoreKey(id));
  shared = keys;
  sharedCounters.set(policy, shared);
  return shared;
}

interface DeferredState {
  readonly cond: CompiledCondition;
  readonly ruleIndex: number;
  readonly item: number;
  readonly trace?: { -readonly [K in keyof ConditionTrace]: ConditionTrace[K] };
}

/**
 * A `regex`/`not_regex` pattern as a policy writes it, in YAML single quotes (`'^/srv(/|$)'`, a
 * `'` doubled): JSON would double every backslash, and the pattern pasted back would be another.
 */
export function patternAsWritten(pattern: string): string {
  return `'${pattern.replaceAll("'", "''")}'`;
}

function showPattern(v: unknown): string {
  return typeof v === 'string' ? patternAsWritten(v) : show(v);
}

function show(v: unknown): string {
  if (v instanceof InexactNumber) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  // Arguments nested deeper than JSON.stringify recurses are still shown: the call is judged and
  // denied by its rule, not failed as an internal error.
  const s = stringifyAnyDepth(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Judge one `tools/call` against a compiled policy (DESIGN section 2; Intercept POLICY.md "Rule
 * evaluation order"):
 *
 * 1. hidden (`hide`) -> `hidden`
 * 2. `default: deny` and the tool has no exact or glob entry -> `not_listed`
 * 3. the tool's rules, then matching glob rules, then `"*"` rules (`policy.rulesFor`): every rule
 *    must pass; the first failing rule in that order names the denial. Stateless checks (deny,
 *    validate, `args.*` conditions, `increment_from`) run first; then every counter the call
 *    touches is reserved atomically in the store, checking rate limits and `state.*` conditions
 *    against the values this call would produce.
 *
 * On `allowed` with counters, the decision carries a `reservation` to commit (upstream result) or
 * roll back (upstream JSON-RPC error). In `peek` mode nothing is written.
 *
 * Never throws for bad input or an unreachable store: every problem becomes a denial (or, with
 * `failMode: 'open'`, an uncounted admission).
 */
export function evaluate(
  policy: CompiledPolicy,
  call: ToolCall,
  context: EvaluationContext = {},
): Promise<Decision> {
  try {
    return decideFast(policy, call, context);
  } catch (err) {
    // Keep the contract of an async function: a programming error is a rejection, not a throw.
    return Promise.reject(err);
  }
}

function decideFast(policy: CompiledPolicy, call: ToolCall, context: EvaluationContext): Promise<Decision> {
  const { tool } = call;
  if (policy.isHidden(tool)) {
    return Promise.resolve({
      allowed: false,
      reason: 'hidden',
      message: `Tool "${tool}" is hidden by policy`,
      policyHash: policy.hash,
    });
  }
  if (policy.default === 'deny' && !policy.isListed(tool)) {
    return Promise.resolve({
      allowed: false,
      reason: 'not_listed',
      message: `Tool "${tool}" is not permitted: the policy's default is deny and it does not list this tool`,
      policyHash: policy.hash,
    });
  }
  const rules = policy.rulesFor(tool);
  if (rules.length === 0) return allowedFor(policy);
  const args = conditionArgs(call);
  // Fast path for the common case: rules made only of `args.*` conditions that all hold. Anything
  // else (a failure, a deny, validate, counters, tracing) takes the full path from the start.
  // It stays synchronous and answers with one shared settled promise per policy: an `async`
  // function would allocate a promise and a decision per call, a third of the cost of a decision.
  if (context.trace !== true) {
    const route = fastRoute(rules, args);
    if (route === ALLOWED) return allowedFor(policy);
    if (route !== undefined && context.store) {
      return reserveCounted(policy, tool, rules, route, context.store, context);
    }
  }
  return evaluateRules(policy, call, rules, args, context);
}

/** The arguments conditions and `increment_from` read: as sent ({@link ToolCall.argsAsSent}) when given. */
function conditionArgs(call: ToolCall): Record<string, unknown> {
  const a = call.argsAsSent ?? call.args;
  return a !== null && typeof a === 'object' ? a : {};
}

/** The arguments JSON Schemas check: the parsed `args` (a schema sees the numbers a double holds). */
function schemaArgs(call: ToolCall): Record<string, unknown> {
  return call.args !== null && typeof call.args === 'object' ? call.args : {};
}

const ALLOWED = 'allowed';

/**
 * How the fast paths (`decideFast`, {@link evaluateNow}) can decide a call with these rules:
 * `ALLOWED` (no counters, every `args.*` condition holds), the shared counter items to reserve
 * (see `countedRules`; every condition holds), or undefined for the full path.
 */
function fastRoute(
  rules: readonly CompiledRule[],
  args: Record<string, unknown>,
): typeof ALLOWED | readonly CounterItem[] | undefined {
  const counted = countedRules(rules);
  if (counted === undefined) return allSimpleRulesHold(rules, args) ? ALLOWED : undefined;
  return counted !== null && argsConditionsHold(rules, args) ? counted : undefined;
}

/**
 * The counters of a rule list whose only stateful parts are rate limits and fixed `state`
 * increments (no `deny`, no `validate`, no `state.*` conditions, no `increment_from`): the same
 * items the full path would build for every call, built once per rule list and shared (stores
 * treat items as read-only). `undefined` when the list has no counters; `null` when it needs the
 * full path.
 */
const countedTemplates = new WeakMap<readonly CompiledRule[], readonly CounterItem[] | null>();

function countedRules(rules: readonly CompiledRule[]): readonly CounterItem[] | null | undefined {
  let items = countedTemplates.get(rules);
  if (items === undefined) {
    items = buildCountedTemplate(rules);
    countedTemplates.set(rules, items);
  }
  return items !== null && items.length === 0 ? undefined : items;
}

function buildCountedTemplate(rules: readonly CompiledRule[]): readonly CounterItem[] | null {
  const items: MutableItem[] = [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (rule.action === 'deny' || rule.validate) return null;
    for (const c of rule.conditions) if (c.source !== 'args') return null;
    // Same order and merging as evaluateRules: state increment, then the rate limit.
    if (rule.state) {
      if (rule.state.incrementFrom) return null;
      items[itemFor(items, counterStoreKey(rule.state.id), 'fixed', rule.state.windowMs)]!.amount +=
        rule.state.increment;
    }
    if (rule.rateLimit) {
      const rl = rule.rateLimit;
      const item = items[itemFor(items, rl.key, rl.kind, rl.windowMs)]!;
      item.amount += 1;
      item.checks.push({ op: 'lte', value: rl.max, tag: i });
    }
  }
  for (const it of items) {
    Object.freeze(it.checks);
    Object.freeze(it);
  }
  return Object.freeze(items);
}

/** Whether every `args.*` condition of the rules holds (the rules have no other conditions). */
function argsConditionsHold(rules: readonly CompiledRule[], args: Record<string, unknown>): boolean {
  for (let i = 0; i < rules.length; i++) {
    const conds = rules[i]!.conditions;
    for (let j = 0; j < conds.length; j++) {
      const c = conds[j]!;
      if (!valueHolds(c, lookup(args, c.segments))) return false;
    }
  }
  return true;
}

/**
 * The counted fast path: every stateless check passed, so the decision is the store's. Gives the
 * same decisions as {@link evaluateRules} for such rule lists, without building items per call.
 */
function reserveCounted(
  policy: CompiledPolicy,
  tool: string,
  rules: readonly CompiledRule[],
  items: readonly CounterItem[],
  store: CounterStore,
  context: EvaluationContext,
): Promise<Decision> {
  const policyHash = policy.hash;
  const now = (context.now ?? Date.now)();
  let pending: Promise<ReserveResult>;
  try {
    pending = context.mode === 'peek' ? store.peek(items, now) : store.reserve(items, now);
  } catch (err) {
    return Promise.resolve(storeFailure(err, context, policyHash, undefined));
  }
  return pending.then(
    (result): Decision => decisionFromReserve(policyHash, tool, rules, result, now),
    (err: unknown) => storeFailure(err, context, policyHash, undefined),
  );
}

/** The decision of a counted call from the store's answer (see `reserveCounted`). */
function decisionFromReserve(
  policyHash: string,
  tool: string,
  rules: readonly CompiledRule[],
  result: ReserveResult,
  now: number,
): Decision {
  if (!result.ok) {
    return denial(
      rules,
      failureFromStore(rules, result),
      result.retryAfterMs,
      tool,
      policyHash,
      undefined,
      now,
    );
  }
  return result.reservation
    ? { allowed: true, reason: 'allowed', message: 'allowed', reservation: result.reservation, policyHash }
    : { allowed: true, reason: 'allowed', message: 'allowed', policyHash };
}

/** The decision when the counter store failed: a denial (fail-closed) or an uncounted admission (fail-open). */
function storeFailure(
  err: unknown,
  context: EvaluationContext,
  policyHash: string,
  traces: RuleTrace[] | undefined,
): Decision {
  const error = err instanceof Error ? err : new Error(String(err));
  if (context.failMode === 'open') {
    context.onFailOpen?.(error);
    return {
      allowed: true,
      reason: 'allowed',
      message: `allowed without counting: counter state unavailable (${error.message}); fail mode is open`,
      policyHash,
      failedOpen: true,
      ...(traces ? { trace: traces } : {}),
    };
  }
  return {
    allowed: false,
    reason: 'state_unavailable',
    message: `Counter state is unavailable (${error.message}); the call is denied because the state fail mode is closed`,
    policyHash,
    ...(traces ? { trace: traces } : {}),
  };
}

/** One frozen "allowed, nothing reserved" decision per policy (and its settled promise), shared by every call it admits. */
interface AllowedEntry {
  readonly decision: Decision;
  readonly promise: Promise<Decision>;
}
const allowedDecisions = new WeakMap<CompiledPolicy, AllowedEntry>();
let lastPolicy: CompiledPolicy | undefined;
let lastAllowed: AllowedEntry | undefined;

function allowedEntry(policy: CompiledPolicy): AllowedEntry {
  if (policy === lastPolicy) return lastAllowed!;
  let entry = allowedDecisions.get(policy);
  if (!entry) {
    const decision: Decision = Object.freeze({
      allowed: true,
      reason: 'allowed',
      message: 'allowed',
      policyHash: policy.hash,
    });
    entry = { decision, promise: Promise.resolve(decision) };
    allowedDecisions.set(policy, entry);
  }
  lastPolicy = policy;
  lastAllowed = entry;
  return entry;
}

function allowedFor(policy: CompiledPolicy): Promise<Decision> {
  return allowedEntry(policy).promise;
}

/**
 * {@link evaluate} without waiting, for the calls that need no I/O: no rules or only `args.*`
 * conditions that hold, or counted rules (see `countedRules`) whose store admits or refuses
 * synchronously (`CounterStore.reserveNow`: a counter lease with room, the memory store). The
 * decision is the one {@link evaluate} gives; `undefined` means "use evaluate" (nothing was
 * reserved). Never used for `trace` or `peek`. Never throws.
 */
export function evaluateNow(
  policy: CompiledPolicy,
  call: ToolCall,
  context: EvaluationContext = {},
): Decision | undefined {
  if (context.trace === true || context.mode === 'peek') return undefined;
  try {
    const { tool } = call;
    if (policy.isHidden(tool) || (policy.default === 'deny' && !policy.isListed(tool))) return undefined;
    const rules = policy.rulesFor(tool);
    if (rules.length === 0) return allowedEntry(policy).decision;
    const route = fastRoute(rules, conditionArgs(call));
    if (route === ALLOWED) return allowedEntry(policy).decision;
    const store = context.store;
    if (route === undefined || store?.reserveNow === undefined) return undefined;
    const now = (context.now ?? Date.now)();
    const result = store.reserveNow(route, now);
    return result === undefined ? undefined : decisionFromReserve(policy.hash, tool, rules, result, now);
  } catch {
    return undefined;
  }
}

/** The full path of {@link evaluate}: failures, counters, validation and tracing. */
async function evaluateRules(
  policy: CompiledPolicy,
  call: ToolCall,
  rules: readonly CompiledRule[],
  args: Record<string, unknown>,
  context: EvaluationContext,
): Promise<Decision> {
  const { tool } = call;
  const policyHash = policy.hash;
  const tracing = context.trace === true;
  const traces: RuleTrace[] | undefined = tracing ? [] : undefined;
  let items: MutableItem[] | undefined;
  let deferred: DeferredState[] | undefined;
  let first: Failure | undefined;

  // One closure per evaluation, not one per rule: `ruleIndex` and `fail` belong to the current rule.
  let ruleIndex = 0;
  let fail: Failure | undefined;
  const setFail = (reason: ReasonCode, detail: string) => {
    fail ??= { index: ruleIndex, reason, detail };
  };

  for (let i = 0; i < rules.length; i++) {
    if (first && !tracing) break;
    const rule = rules[i]!;
    ruleIndex = i;
    fail = undefined as Failure | undefined;
    const condTraces: ConditionTrace[] | undefined = tracing ? [] : undefined;
    let validateTrace: RuleTrace['validate'];
    let counterTrace: { id: string; increment?: number } | undefined;

    if (rule.action === 'deny') {
      setFail('denied_by_rule', 'action: deny');
    } else {
      if (rule.validate) {
        const errors: string[] = [];
        if (!context.validator && !sharedValidator) sharedValidator = new SchemaValidator();
        const validator = context.validator ?? sharedValidator!;
        if (rule.validate.requiredArgs) {
          if (context.inputSchema === undefined) {
            setFail(
              'schema_unavailable',
              context.toolUnlisted
                ? `"${tool}" is not a tool the server lists, so its arguments cannot be checked against an inputSchema`
                : `the inputSchema of "${tool}" is not known yet (learned from tools/list)`,
            );
            errors.push('inputSchema unknown');
          } else {
            const r = validator.validate(context.inputSchema, schemaArgs(call));
            if (!r.ok) errors.push(...r.errors);
          }
        }
        if (rule.validate.schema) {
          // As sent and, when that differs, in NFC (a normalizing server's reading): both must pass.
          const sent = schemaArgs(call);
          let r = validator.validate(rule.validate.schema, sent);
          const nfc = canonicalDeep(sent);
          if (r.ok && nfc !== sent) r = validator.validate(rule.validate.schema, nfc);
          if (!r.ok) errors.push(...r.errors);
        }
        if (errors.length > 0) setFail('invalid_arguments', errors.slice(0, 3).join('; '));
        validateTrace = { passed: errors.length === 0, errors };
      }
      for (const c of rule.conditions) {
        if (c.source === 'args') {
          const r = resolvePath(args, c.segments);
          const passed = conditionHolds(c, r);
          condTraces?.push({
            path: c.path,
            op: c.op,
            expected: c.value,
            found: r.found,
            actual: r.value,
            passed,
            location: c.location,
          });
          if (!passed) {
            setFail(
              'condition_failed',
              r.found
                ? (undecidedText(c.path, c.op, r.value, c.value) ??
                    `${c.path} (${show(r.value)}) ${c.op === 'not_regex' ? 'fails' : 'is not'} ${c.op} ${c.op === 'regex' || c.op === 'not_regex' ? showPattern(c.value) : show(c.value)}`)
                : `${c.path} is missing`,
            );
          }
          continue;
        }
        const counter = c.counterId ? policy.counters.get(c.counterId) : undefined;
        if (!counter) {
          setFail('counter_exceeded', `${c.path} names no counter`);
          continue;
        }
        items ??= [];
        const idx = itemFor(items, counterStoreKey(counter.id), 'fixed', counter.windowMs);
        const bound = typeof c.value === 'number' && Number.isFinite(c.value) ? c.value : undefined;
        const t = tracing
          ? { path: c.path, op: c.op, expected: c.value, found: true, passed: true, location: c.location }
          : undefined;
        if (t) condTraces!.push(t);
        if (NUMERIC_OPS.has(c.op) && typeof c.value === 'number' && bound !== undefined) {
          items![idx]!.checks.push({ op: c.op as NumericOp, value: bound, tag: i });
        } else items![idx]!.exact = true;
        if (!deferred) deferred = [];
        deferred.push({ cond: c, ruleIndex: i, item: idx, trace: t });
      }
      if (rule.state) {
        const counter = rule.state;
        let amount = counter.increment;
        if (counter.incrementFrom) {
          const r = resolvePath(args, counter.incrementFrom);
          const v = r.value;
          if (!r.found || typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
            setFail(
              'invalid_increment',
              `${counter.incrementFromPath} must be a non-negative finite number, got ${r.found ? show(v) : 'nothing'}`,
            );
            amount = Number.NaN;
          } else amount = v;
        }
        counterTrace = { id: counter.id, increment: Number.isNaN(amount) ? undefined : amount };
        if (!Number.isNaN(amount)) {
          items ??= [];
          const idx = itemFor(items, counterStoreKey(counter.id), 'fixed', counter.windowMs);
          items[idx]!.amount += amount;
        }
      }
      if (rule.rateLimit) {
        const rl = rule.rateLimit;
        items ??= [];
        const item = items[itemFor(items, rl.key, rl.kind, rl.windowMs)]!;
        item.amount += 1;
        item.checks.push({ op: 'lte', value: rl.max, tag: i });
      }
    }
    if (fail && !first) first = fail;
    traces?.push({
      rule: rule.name,
      toolKey: rule.toolKey,
      action: rule.action,
      location: rule.location,
      outcome: fail ? 'failed' : 'passed',
      ...(fail ? { reason: fail.reason, detail: fail.detail } : {}),
      conditions: condTraces ?? [],
      ...(rule.rateLimit
        ? {
            rateLimit: {
              kind: rule.rateLimit.kind,
              max: rule.rateLimit.max,
              windowMs: rule.rateLimit.windowMs,
            },
          }
        : {}),
      ...(counterTrace ? { counter: counterTrace } : {}),
      ...(validateTrace ? { validate: validateTrace } : {}),
    });
  }

  const now = (context.now ?? Date.now)();

  if (first) {
    // A stateful rule earlier in order than the first stateless failure must still name the denial:
    // a bound the store checks, or a condition on a counter's value it cannot check (`in`, `regex`).
    const before = first.index;
    const relevant = items?.filter(
      (it, i) =>
        it.checks.some((c) => c.tag < before) ||
        tracing ||
        deferred?.some((d) => d.item === i && d.ruleIndex < before),
    );
    if (context.store && relevant && relevant.length > 0) {
      try {
        const r = await context.store.peek(items!, now);
        if (traces) fillTrace(traces, rules, r, items!, deferred);
        if (!r.ok && r.tag < before)
          return denial(rules, failureFromStore(rules, r), r.retryAfterMs, tool, policyHash, traces, now);
        const failed = r.ok ? failingDeferred(deferred, r.values, before) : undefined;
        if (failed && r.ok)
          return deferredDenial(failed, r.values, items!, rules, tool, policyHash, traces, now);
      } catch {
        // The call is denied either way; the store outage only blurs which rule is named.
      }
    }
    return denial(rules, first, undefined, tool, policyHash, traces, now);
  }

  if (!items || items.length === 0) {
    return {
      allowed: true,
      reason: 'allowed',
      message: 'allowed',
      policyHash,
      ...(traces ? { trace: traces } : {}),
    };
  }

  const shared = sharedCounterKeys(policy);
  if (shared.size > 0) for (const it of items) if (shared.has(it.key)) it.exact = true;

  let result: ReserveResult;
  try {
    if (!context.store) throw new Error('no counter store is configured');
    result =
      context.mode === 'peek'
        ? await context.store.peek(items, now)
        : await context.store.reserve(items, now);
  } catch (err) {
    return storeFailure(err, context, policyHash, traces);
  }
  if (traces) fillTrace(traces, rules, result, items, deferred);
  if (!result.ok) {
    return denial(rules, failureFromStore(rules, result), result.retryAfterMs, tool, policyHash, traces, now);
  }

  // Conditions the store cannot check atomically (non-numeric ops on counters) see the values this call produces.
  const failed = failingDeferred(deferred, result.values);
  if (failed) {
    if (result.reservation) await context.store!.rollback(result.reservation).catch(() => {});
    return deferredDenial(failed, result.values, items, rules, tool, policyHash, traces, now);
  }
  // Built without spreads (same keys, same order): this is the decision of every counted call.
  const allowed: { -readonly [K in keyof Decision]: Decision[K] } = result.reservation
    ? { allowed: true, reason: 'allowed', message: 'allowed', reservation: result.reservation, policyHash }
    : { allowed: true, reason: 'allowed', message: 'allowed', policyHash };
  if (traces) allowed.trace = traces;
  return allowed;
}

/**
 * Index of the item counting `key` in `kind`/`windowMs`, added when missing. A linear search: a
 * call touches a handful of counters, and it needs neither a map nor a composite key string.
 */
function itemFor(items: MutableItem[], key: string, kind: 'fixed' | 'sliding', windowMs: number): number {
  for (let j = 0; j < items.length; j++) {
    const it = items[j]!;
    if (it.key === key && it.kind === kind && it.windowMs === windowMs) return j;
  }
  return items.push({ key, kind, windowMs, amount: 0, checks: [] }) - 1;
}

/** The denial of rule `f.index`, with its `on_deny` or default message. */
function denial(
  rules: readonly CompiledRule[],
  f: Failure,
  retryAfterMs: number | undefined,
  tool: string,
  policyHash: string,
  traces: RuleTrace[] | undefined,
  now: number,
): Decision {
  const rule = rules[f.index]!;
  return {
    allowed: false,
    rule: rule.name,
    reason: f.reason,
    message: denialMessage(rule, f, tool, retryAfterMs, now),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    policyHash,
    ...(traces ? { trace: traces } : {}),
  };
}

function allSimpleRulesHold(rules: readonly CompiledRule[], args: Record<string, unknown>): boolean {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (rule.action === 'deny' || rule.validate || rule.state || rule.rateLimit) return false;
    const conds = rule.conditions;
    for (let j = 0; j < conds.length; j++) {
      const c = conds[j]!;
      if (c.source !== 'args' || !valueHolds(c, lookup(args, c.segments))) return false;
    }
  }
  return true;
}

function failureFromStore(rules: readonly CompiledRule[], r: Extract<ReserveResult, { ok: false }>): Failure {
  const rule = rules[r.tag]!;
  if (rule.rateLimit) {
    return {
      index: r.tag,
      reason: 'rate_limited',
      detail: `${r.value - 1} of ${rule.rateLimit.max} calls used`,
    };
  }
  const c = rule.conditions.find((x) => x.source === 'state');
  return {
    index: r.tag,
    reason: 'counter_exceeded',
    detail:
      Math.abs(r.value) > Number.MAX_SAFE_INTEGER
        ? // The stores refuse sums a double cannot count in ones (see `firstFailure`).
          `${c?.path ?? 'counter'} would be ${r.value}, past ${Number.MAX_SAFE_INTEGER} (2^53 - 1), beyond which a counter cannot count exactly`
        : c
          ? `${c.path} would be ${r.value}, which is not ${c.op} ${show(c.value)}`
          : `counter would be ${r.value}`,
  };
}

/** Whether a condition on a counter is one the store checks itself (a numeric bound). */
function storeChecked(cond: CompiledCondition): boolean {
  return NUMERIC_OPS.has(cond.op) && typeof cond.value === 'number';
}

/**
 * Of the conditions on counters the store cannot check (`in`, `regex`, `exists`...), the one of
 * the earliest rule before rule `before` that fails on `values` (the counters' values with this
 * call, by item), or undefined.
 */
function failingDeferred(
  deferred: readonly DeferredState[] | undefined,
  values: readonly number[],
  before = Number.POSITIVE_INFINITY,
): DeferredState | undefined {
  let worst: DeferredState | undefined;
  for (const d of deferred ?? []) {
    if (d.ruleIndex >= before || storeChecked(d.cond) || (worst && worst.ruleIndex <= d.ruleIndex)) continue;
    if (!conditionHolds(d.cond, { found: true, value: values[d.item] })) worst = d;
  }
  return worst;
}

/** Why a condition on a counter's value fails: `state.x.n would be 2, which is not in [0]`. */
function deferredDetail(d: DeferredState, value: number | undefined): string {
  return `${d.cond.path} would be ${show(value)}, which is not ${d.cond.op} ${show(d.cond.value)}`;
}

/**
 * The denial a failing condition on a counter's value gives (`counter_exceeded`), with the time
 * until the counter's window ends as `retryAfterMs`, as a bound the store checks gives it.
 */
function deferredDenial(
  d: DeferredState,
  values: readonly number[],
  items: readonly CounterItem[],
  rules: readonly CompiledRule[],
  tool: string,
  policyHash: string,
  traces: RuleTrace[] | undefined,
  now: number,
): Decision {
  const f: Failure = {
    index: d.ruleIndex,
    reason: 'counter_exceeded',
    detail: deferredDetail(d, values[d.item]),
  };
  return denial(
    rules,
    f,
    retryAfter(items[d.item]!, now, undefined, undefined),
    tool,
    policyHash,
    traces,
    now,
  );
}

function fillTrace(
  traces: RuleTrace[],
  rules: readonly CompiledRule[],
  r: ReserveResult,
  items: readonly MutableItem[],
  deferred: readonly DeferredState[] | undefined,
): void {
  const values = r.ok ? r.values : undefined;
  for (const d of deferred ?? []) {
    if (!d.trace) continue;
    const v = values?.[d.item] ?? (!r.ok && r.item === d.item ? r.value : undefined);
    d.trace.actual = v;
    d.trace.passed =
      v === undefined ? !(!r.ok && r.tag === d.ruleIndex) : conditionHolds(d.cond, { found: true, value: v });
    // A failing condition the store does not check fails its rule too (the store's own failures
    // are marked below).
    const rule = traces[d.ruleIndex] as { -readonly [K in keyof RuleTrace]: RuleTrace[K] } | undefined;
    if (!d.trace.passed && !storeChecked(d.cond) && rule && rule.outcome === 'passed') {
      rule.outcome = 'failed';
      rule.reason = 'counter_exceeded';
      rule.detail = deferredDetail(d, v);
    }
  }
  traces.forEach((t, i) => {
    const rule = rules[i]!;
    const mut = t as { -readonly [K in keyof RuleTrace]: RuleTrace[K] };
    const itemOf = (key: string) => items.findIndex((it) => it.key === key);
    if (rule.rateLimit && mut.rateLimit) {
      const idx = itemOf(rule.rateLimit.key);
      const count = values?.[idx] ?? (!r.ok && r.item === idx ? r.value : undefined);
      if (count !== undefined) mut.rateLimit = { ...mut.rateLimit, count };
    }
    if (rule.state && mut.counter) {
      const idx = itemOf(counterStoreKey(rule.state.id));
      const value = values?.[idx] ?? (!r.ok && r.item === idx ? r.value : undefined);
      if (value !== undefined) mut.counter = { ...mut.counter, value };
    }
    if (!r.ok && r.tag === i && mut.outcome === 'passed') {
      mut.outcome = 'failed';
      const f = failureFromStore(rules, r);
      mut.reason = f.reason;
      mut.detail = f.detail;
    }
  });
}

/**
 * Reasons that are about the call's arguments rather than the limit a rule states: an `on_deny`
 * written for the limit ("at most 10 calls a day") would mislead, so the precise cause follows it.
 */
const ARGUMENT_REASONS: ReadonlySet<ReasonCode> = new Set([
  'invalid_arguments',
  'schema_unavailable',
  'invalid_increment',
]);

/** The rule's `on_deny` (followed by the cause for {@link ARGUMENT_REASONS}), or the generated message. */
function denialMessage(
  rule: CompiledRule,
  f: Failure,
  tool: string,
  retryAfterMs: number | undefined,
  now: number,
): string {
  if (rule.onDeny === undefined) return defaultMessage(rule, f, tool, retryAfterMs, now);
  if (!ARGUMENT_REASONS.has(f.reason)) return rule.onDeny;
  return `${rule.onDeny} (${defaultMessage(rule, f, tool, retryAfterMs, now)})`;
}

function defaultMessage(
  rule: CompiledRule,
  f: Failure,
  tool: string,
  retryAfterMs: number | undefined,
  now: number,
): string {
  const name = `"${rule.name}"`;
  // `now` is the clock reading the store decided with: the time shown is the one `retryAfterMs`
  // counts to (the end of a fixed window falls on a whole second), not a later reading plus it.
  const when = (ms: number) => {
    const at = new Date(now + ms).toISOString();
    return `in ${formatDuration(ms)} (at ${at})`;
  };
  switch (f.reason) {
    case 'denied_by_rule':
      return `Rule ${name} does not permit calling "${tool}"`;
    case 'rate_limited': {
      const rl = rule.rateLimit!;
      const per =
        rl.kind === 'fixed'
          ? `${rl.max} per ${rl.window} (UTC)`
          : `${rl.max} in any ${formatDuration(rl.windowMs)}`;
      return `Rate limit ${name} reached: ${per}. The next call will be admitted ${when(retryAfterMs ?? 0)}`;
    }
    case 'counter_exceeded':
      return `Rule ${name} denied the call: ${f.detail}${retryAfterMs !== undefined ? `; the counter resets ${when(retryAfterMs)}` : ''}`;
    case 'invalid_arguments':
      return `Rule ${name} rejected the arguments of "${tool}": ${f.detail}`;
    case 'schema_unavailable':
      return `Rule ${name} cannot validate the arguments: ${f.detail}`;
    case 'invalid_increment':
      return `Rule ${name} cannot count this call: ${f.detail}`;
    default:
      return `Rule ${name} denied the call: ${f.detail}`;
  }
}

/**
 * The denial text of an `eq`, `neq`, `in` or `not_in` condition that failed because the
 * comparison could not be decided (`compareEquals` gave undefined: `"FALSE"` against `false`,
 * `"05"` against `5`), or undefined when it failed for a plain difference.
 */
function undecidedText(path: string, op: string, actual: unknown, expected: unknown): string | undefined {
  if (
    Array.isArray(actual) ||
    (actual !== null && typeof actual === 'object' && !(actual instanceof InexactNumber))
  )
    return undefined;
  const undecided =
    op === 'eq' || op === 'neq'
      ? compareEquals(actual, expected) === undefined
      : (op === 'in' || op === 'not_in') && Array.isArray(expected)
        ? !expected.some((e) => compareEquals(actual, e) === true) &&
          expected.some((e) => compareEquals(actual, e) === undefined)
        : false;
  if (!undecided) return undefined;
  const relation = op === 'eq' || op === 'neq' ? 'equal or differ from' : 'be in or out of';
  return `${path} (${show(actual)}) cannot be shown to ${relation} ${show(expected)}: a server may read it either way, so ${op} does not hold`;
}
