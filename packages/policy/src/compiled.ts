/**
 * The compiled form of a policy: what `compilePolicy` produces and what the runtime's
 * `evaluate` consumes. This file is the contract between `@tollgate/policy` and
 * `@tollgate/runtime`; it holds types only.
 *
 * Everything here is deeply frozen and deterministic: the same policy text always
 * compiles to a structurally equal value with the same `hash`.
 */

/** Where a node came from in the policy file. Lines and columns are 1-based. */
export interface SourceLocation {
  /** The filename given to `parsePolicy` (or `<inline>`). */
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Condition operators of policy version "1" (Intercept POLICY.md "Operators", plus `not_regex`). */
export type ConditionOp =
  | 'eq'
  | 'neq'
  | 'in'
  | 'not_in'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'regex'
  | 'not_regex'
  | 'contains'
  | 'exists';

/** A linear-time matcher compiled once from a policy `regex` or `not_regex` value (unanchored search). */
export interface CompiledRegex {
  /** The pattern as written in the policy. */
  readonly source: string;
  /** True when the pattern matches anywhere in `input` (unanchored, like RegExp#test). Never backtracks. */
  test(input: string): boolean;
}

/** A condition with its path pre-split. */
export interface CompiledCondition {
  /** The path as written, e.g. `args.path` or `state.create_charge.daily_spend`. */
  readonly path: string;
  /**
   * `args`: `segments` walk into the call's `arguments` object.
   * `state`: `counterId` names the counter whose current value is read.
   */
  readonly source: 'args' | 'state';
  /** For `args`: the keys below `args` (`args.a.b` -> `['a','b']`). For `state`: `[scope, counter]`. */
  readonly segments: readonly string[];
  /** For `state` paths: the id of the counter read (see {@link CompiledCounter.id}). */
  readonly counterId?: string;
  readonly op: ConditionOp;
  /** The comparison value as written (for `exists`: a boolean). */
  readonly value: unknown;
  /** Present when `op` is `regex` or `not_regex`. */
  readonly regex?: CompiledRegex;
  readonly location: SourceLocation;
}

/** Calendar-aligned UTC fixed windows. */
export type FixedWindow = 'minute' | 'hour' | 'day';

/**
 * A rate limit.
 * - `fixed` (`rate_limit: 5/hour`): at most `max` calls per calendar-aligned UTC window.
 * - `sliding` (`rate_limit: { max: 10, window: 60 }`): at most `max` calls in ANY rolling `windowMs`.
 */
export type CompiledRateLimit =
  | {
      readonly kind: 'fixed';
      readonly max: number;
      readonly window: FixedWindow;
      /** Window length in milliseconds (60_000, 3_600_000 or 86_400_000). */
      readonly windowMs: number;
      /** Counter key in the store. Scoped by the tool key the rule is declared under. */
      readonly key: string;
    }
  | {
      readonly kind: 'sliding';
      readonly max: number;
      /** Window length in milliseconds. */
      readonly windowMs: number;
      /** Counter key in the store. Scoped by the tool key the rule is declared under. */
      readonly key: string;
    };

/** A named stateful counter defined by a rule's `state` block. */
export interface CompiledCounter {
  /** Unique id `<scope>.<name>`; `scope` is the tool name, or `_global` for counters under `"*"`. */
  readonly id: string;
  readonly scope: string;
  readonly name: string;
  /** Fixed, calendar-aligned UTC window over which the counter accumulates. */
  readonly window: FixedWindow;
  readonly windowMs: number;
  /** Constant increment per admitted call (default 1). Ignored when `incrementFrom` is set. */
  readonly increment: number;
  /** Keys below `args` whose value is added per call (`args.amount` -> `['amount']`). */
  readonly incrementFrom?: readonly string[];
  /** The path as written, e.g. `args.amount`. */
  readonly incrementFromPath?: string;
}

/** Argument validation requested by a rule's `validate` block. */
export interface CompiledValidate {
  /** Check the call's arguments against the tool's `inputSchema` (supplied at run time from `tools/list`). */
  readonly requiredArgs: boolean;
  /** An extra JSON Schema written in the policy that the arguments must satisfy. */
  readonly schema?: Readonly<Record<string, unknown>>;
}

export type RuleAction = 'evaluate' | 'allow' | 'deny';

export interface CompiledRule {
  /** The rule's `name`, or an automatic `<tool key>#<index>` (1-based) when omitted. */
  readonly name: string;
  /** The tool key this rule was declared under: an exact name, a glob, or `"*"`. */
  readonly toolKey: string;
  readonly action: RuleAction;
  /** All must hold (logical AND). */
  readonly conditions: readonly CompiledCondition[];
  readonly rateLimit?: CompiledRateLimit;
  readonly validate?: CompiledValidate;
  /** The counter this rule increments when the call is admitted. */
  readonly state?: CompiledCounter;
  /** Message returned to the agent on denial. */
  readonly onDeny?: string;
  readonly location: SourceLocation;
}

/** The rules declared under one key of `tools:`. */
export interface CompiledToolEntry {
  /** The key as written. */
  readonly key: string;
  readonly kind: 'exact' | 'glob' | 'wildcard';
  /** Precompiled matcher for the key (exact equality, glob, or always true). */
  matches(toolName: string): boolean;
  readonly rules: readonly CompiledRule[];
}

export interface CompiledPolicy {
  readonly version: '1';
  readonly description?: string;
  /** `deny`: only tools that have an exact or glob entry under `tools` may run. */
  readonly default: 'allow' | 'deny';
  /** True when `tool` is hidden by `hide` (exact, glob or `"*"`). */
  isHidden(tool: string): boolean;
  /** The `hide` entries as written (exact names with their `\` escapes, globs, `"*"`). */
  readonly hide: readonly string[];
  /** Entries keyed by exact tool name: O(1) lookup. */
  readonly exact: ReadonlyMap<string, CompiledToolEntry>;
  /** Glob entries, in file order. */
  readonly globs: readonly CompiledToolEntry[];
  /** The `"*"` entry, if any. */
  readonly wildcard?: CompiledToolEntry;
  /** Every `tools:` entry: the exact ones, then the globs in file order, then `"*"` if any. */
  readonly entries: readonly CompiledToolEntry[];
  /** Every counter defined by a `state` block, by id. */
  readonly counters: ReadonlyMap<string, CompiledCounter>;
  /**
   * The rules that apply to `tool`, in evaluation order (DESIGN section 2):
   * exact entry, then matching glob entries in file order, then `"*"`. Memoised per tool name.
   */
  rulesFor(tool: string): readonly CompiledRule[];
  /** True when `tool` has an exact or glob entry (what `default: deny` checks). */
  isListed(tool: string): boolean;
  /** SHA-256 (hex) of the canonical policy document: equal policies have equal hashes. */
  readonly hash: string;
}
