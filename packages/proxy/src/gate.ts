/**
 * What the proxy needs from the policy engine. `@tollgate/runtime`'s `Enforcer` satisfies it
 * structurally; keeping the proxy's view this small lets the router be tested on its own and
 * lets another engine plug in.
 */

/** The part of a compiled policy the proxy looks at on reload (`CompiledPolicy` satisfies it). */
export interface PolicyView {
  isHidden(tool: string): boolean;
  readonly hash?: string;
}

/** One `tools/call` as the policy sees it (MCP spec 2025-11-25, "Tools > Calling Tools"). */
export interface GateCall {
  /** `params.name`. */
  tool: string;
  /** `params.arguments` (an empty object when omitted). */
  args: Record<string, unknown>;
  /**
   * `args` with each number a double rounds kept as the digits sent (`@tollgate/runtime`
   * `argumentsAsSent`); absent when every number reads exactly. Conditions read it. Set by the proxy.
   */
  argsAsSent?: Record<string, unknown>;
  /**
   * `params.task` is present: a task-augmented call (MCP spec 2025-11-25, "Tasks"). The proxy
   * commits its reservation even on a JSON-RPC error (see the router). Set by the proxy.
   */
  task?: boolean;
}

/** Who is calling: the proxy gives one session per client connection. */
export interface GateContext {
  sessionId?: string;
  clientId?: string;
}

/** The verdict on a call. Extra members of the engine's decision are carried untouched. */
export interface GateDecision {
  allowed: boolean;
  /** Name of the rule that denied (or the last that admitted). */
  rule?: string;
  /** Stable reason code, e.g. `rate_limited`, `hidden`, `condition_failed`. */
  reason: string;
  /** Human-readable message, shown to the model on denial. */
  message: string;
  /** For rate limits: milliseconds until the next call would be admitted. */
  retryAfterMs?: number;
  /** SHA-256 of the policy that decided. */
  policyHash?: string;
}

/** The tool names a policy names (see {@link Gate.policyToolNames}). */
export interface PolicyToolNames {
  /** Tool keys and `hide` entries without glob syntax, `\` escapes resolved. */
  readonly exact: readonly string[];
  /** Tool keys and `hide` entries with glob syntax (`"*"` excluded), as written. */
  readonly globs: readonly string[];
}

/** The policy engine behind the proxy. */
export interface Gate<D extends GateDecision = GateDecision> {
  /** Evaluates a call and, when allowed, reserves its counters. May reject (store down, fail-closed). */
  decide(call: GateCall, ctx?: GateContext): Promise<D>;
  /**
   * Optional: {@link decide} without waiting, when the engine can decide without I/O; the same
   * decision `decide` would give. `undefined`: call `decide`. Never throws.
   */
  decideNow?(call: GateCall, ctx?: GateContext): D | undefined;
  /** The upstream answered with a result: make the reservation permanent. */
  commit(decision: D): Promise<void>;
  /** The upstream answered with a JSON-RPC error, or died: release the reservation. */
  rollback(decision: D): Promise<void>;
  /** True when the policy hides `tool` (removed from `tools/list`). */
  isHidden(tool: string): boolean;
  /**
   * Optional: whether judging a call to `tool` needs its `inputSchema` (the policy validates its
   * arguments against it). When false, the first call does not wait for the proxy's own
   * `tools/list`. Absent: assumed true.
   */
  needsToolSchema?(tool: string): boolean;
  /**
   * Optional: the tool names the policy names, for the proxy to refuse a called name that differs
   * from one of them, or from a listed tool, only by case or invisible characters (see
   * `tool-name-variants.ts`).
   */
  policyToolNames?(): PolicyToolNames;
  /** The tools seen in `tools/list`, for `validate: { required_args: true }`. */
  setToolSchemas(tools: Array<{ name: string; inputSchema?: unknown }>): void;
  /**
   * Optional: the server's complete tool list, once every page of a `tools/list` (the client's or
   * the proxy's own) has been seen; names accumulate over listings. For warnings about policy
   * entries that name no listed tool.
   */
  toolsListed?(names: readonly string[]): void;
  /** Called after every successful policy reload; returns an unsubscribe function. */
  onPolicyChange?(listener: (prev: PolicyView, next: PolicyView) => void): () => void;
}
