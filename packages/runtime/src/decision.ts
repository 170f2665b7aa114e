import type { ConditionOp, SourceLocation } from '@tollgate/policy';
import type { argumentsAsSent, InexactNumber } from './exact-arguments.js';
import type { Reservation } from './store/counter-store.js';

/** One `tools/call` to judge: the tool's name and its `arguments` object (MCP `CallToolRequest`). */
export interface ToolCall {
  readonly tool: string;
  readonly args: Record<string, unknown>;
  /**
   * The same arguments with each number a double rounds as an {@link InexactNumber} holding the
   * digits the server receives ({@link argumentsAsSent}); absent when every number reads exactly.
   * Conditions and `increment_from` read these; `validate` schemas and the decision log read `args`.
   */
  readonly argsAsSent?: Record<string, unknown>;
}

/**
 * Stable reason codes of a {@link Decision}; documented in docs/runtime.md. New codes may be added;
 * existing ones never change meaning.
 * - `allowed`: every rule passed (and counters were reserved)
 * - `hidden`: the tool matches `hide`
 * - `not_listed`: `default: deny` and the tool has no exact or glob entry
 * - `denied_by_rule`: an `action: deny` rule
 * - `condition_failed`: a condition on `args.*` failed
 * - `rate_limited`: a `rate_limit` is exhausted (see `retryAfterMs`)
 * - `counter_exceeded`: a condition on `state.*` failed (e.g. a spend cap)
 * - `invalid_arguments`: `validate.schema` or `validate.required_args` rejected the arguments
 * - `schema_unavailable`: `validate.required_args` is set but the tool's `inputSchema` is unknown
 * - `invalid_increment`: `increment_from` is missing, negative, not finite or not a number
 * - `state_unavailable`: the counter store is unreachable and the fail mode is `closed`
 * - `internal_error`: evaluation itself failed (a bug); the call is denied rather than forwarded
 */
export type ReasonCode =
  | 'allowed'
  | 'hidden'
  | 'not_listed'
  | 'denied_by_rule'
  | 'condition_failed'
  | 'rate_limited'
  | 'counter_exceeded'
  | 'invalid_arguments'
  | 'schema_unavailable'
  | 'invalid_increment'
  | 'state_unavailable'
  | 'internal_error';

/** Every {@link ReasonCode}, for docs and exhaustive tests. */
export const REASON_CODES: readonly ReasonCode[] = Object.freeze([
  'allowed',
  'hidden',
  'not_listed',
  'denied_by_rule',
  'condition_failed',
  'rate_limited',
  'counter_exceeded',
  'invalid_arguments',
  'schema_unavailable',
  'invalid_increment',
  'state_unavailable',
  'internal_error',
]);

/** The outcome of evaluating one call. */
export interface Decision {
  readonly allowed: boolean;
  /** Name of the rule that denied the call (absent for `allowed`, `hidden`, `not_listed`, `state_unavailable`). */
  readonly rule?: string;
  readonly reason: ReasonCode;
  /** For the agent: the rule's `on_deny`, or a default naming the rule (and, for rate limits, when to retry). */
  readonly message: string;
  /** For `rate_limited` / `counter_exceeded`: milliseconds until the counter can admit this call again. */
  readonly retryAfterMs?: number;
  /** Counters reserved for an admitted call: commit on a result, roll back on a JSON-RPC error. */
  readonly reservation?: Reservation;
  /** `hash` of the policy that decided. */
  readonly policyHash: string;
  /** True when the call was admitted without counting because the store was down and the fail mode is `open`. */
  readonly failedOpen?: boolean;
  /** Per-rule account of the evaluation, present when `trace: true` (what `tollgate explain` prints). */
  readonly trace?: readonly RuleTrace[];
}

/** How one condition fared. */
export interface ConditionTrace {
  readonly path: string;
  readonly op: ConditionOp;
  /** The value written in the policy. */
  readonly expected: unknown;
  /** Whether the path resolved (always true for `state.*`). */
  readonly found: boolean;
  /** The resolved value (for `state.*`: the counter value this call would bring it to). */
  readonly actual?: unknown;
  readonly passed: boolean;
  readonly location: SourceLocation;
}

/** How one rule fared; `skipped` when an earlier failure made its outcome irrelevant to stateful checks. */
export interface RuleTrace {
  readonly rule: string;
  readonly toolKey: string;
  readonly action: 'evaluate' | 'allow' | 'deny';
  readonly location: SourceLocation;
  readonly outcome: 'passed' | 'failed' | 'not_checked';
  /** Reason code when the rule failed. */
  readonly reason?: ReasonCode;
  readonly detail?: string;
  readonly conditions: readonly ConditionTrace[];
  readonly rateLimit?: {
    readonly kind: 'fixed' | 'sliding';
    readonly max: number;
    readonly windowMs: number;
    /** Count including this call, when the store answered. */
    readonly count?: number;
  };
  readonly counter?: { readonly id: string; readonly increment?: number; readonly value?: number };
  readonly validate?: { readonly passed: boolean; readonly errors: readonly string[] };
}
