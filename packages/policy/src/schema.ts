/**
 * The zod 4 schema of policy language version "1" (DESIGN section 2; Intercept POLICY.md
 * "Top-level structure", "Rules", "Conditions", "Stateful counters"). It checks structure and
 * types; the rules that span fields (operator vs value, counters read vs defined, reachability)
 * live in `validate.ts`. The JSON Schema for editors is generated from this schema.
 */
import { z } from 'zod';

/**
 * The twelve condition operators, in the order the reference documents them: Intercept's eleven
 * (POLICY.md "Operators") and `not_regex`, the negation of `regex`.
 */
export const CONDITION_OPS = [
  'eq',
  'neq',
  'in',
  'not_in',
  'lt',
  'lte',
  'gt',
  'gte',
  'regex',
  'not_regex',
  'contains',
  'exists',
] as const;

/** Rule actions. `allow` behaves like `evaluate` but may carry only `rate_limit`/`validate`/`state`. */
export const RULE_ACTIONS = ['evaluate', 'allow', 'deny'] as const;

/** Calendar-aligned UTC windows for fixed rate limits and counters. */
export const FIXED_WINDOWS = ['minute', 'hour', 'day'] as const;

/** `N/minute`, `N/hour`, `N/day`: N a positive integer without leading zeros; no spaces anywhere. */
export const FIXED_RATE_PATTERN = /^([1-9][0-9]*)\/(minute|hour|day)$/;

/** A sliding window as a duration string: `30s`, `5m`, `1h`, `1d` (also decimals, e.g. `1.5h`). */
export const DURATION_PATTERN = /^([0-9]+(?:\.[0-9]+)?)(s|m|h|d)$/;

const conditionSchema = z
  .strictObject({
    path: z
      .string()
      .describe('Where the value comes from: `args.<field>[.<field>...]` or `state.<scope>.<counter>`.'),
    op: z.enum(CONDITION_OPS).describe('Comparison operator.'),
    value: z
      .unknown()
      .describe(
        'Comparison value: a list for in/not_in, a number for lt/lte/gt/gte, a boolean for exists, a pattern string for regex/not_regex.',
      ),
  })
  .describe('One comparison; all conditions of a rule must hold.');

const slidingRateLimitSchema = z
  .strictObject({
    max: z.int().positive().describe('Most calls admitted in any rolling window.'),
    window: z
      .union([z.number().positive(), z.string().regex(DURATION_PATTERN)])
      .describe('Window length: seconds as a number, or a duration such as `30s`, `5m`, `1h`, `1d`.'),
  })
  .describe('Sliding window: at most `max` calls in ANY rolling `window`.');

const rateLimitSchema = z
  .union([
    z
      .string()
      .regex(FIXED_RATE_PATTERN)
      .describe('Fixed, calendar-aligned UTC window: `N/minute`, `N/hour` or `N/day`.'),
    slidingRateLimitSchema,
  ])
  .describe('Limit how often the tools this rule covers may be called.');

const stateSchema = z
  .strictObject({
    counter: z.string().describe('Counter name; read in conditions as `state.<tool|_global>.<counter>`.'),
    window: z.enum(FIXED_WINDOWS).describe('Calendar-aligned UTC window after which the counter resets.'),
    increment: z
      .number()
      .nonnegative()
      .optional()
      .describe('Fixed amount added per admitted call (default 1).'),
    increment_from: z
      .string()
      .optional()
      .describe('An `args.` path whose (non-negative, finite) value is added per admitted call.'),
  })
  .describe('A counter this rule increments when a call is admitted.');

const validateSchema = z
  .strictObject({
    required_args: z
      .boolean()
      .optional()
      .describe("Check the call's arguments against the tool's own `inputSchema`."),
    schema: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('An extra JSON Schema the arguments must satisfy.'),
  })
  .describe('Argument validation.');

const ruleSchema = z
  .strictObject({
    name: z.string().optional().describe('Rule name shown in denials; defaults to `<tool key>#<index>`.'),
    action: z
      .enum(RULE_ACTIONS)
      .optional()
      .describe('evaluate (default): all conditions must hold; allow: same; deny: always deny.'),
    conditions: z.array(conditionSchema).optional(),
    rate_limit: rateLimitSchema.optional(),
    validate: validateSchema.optional(),
    state: stateSchema.optional(),
    on_deny: z.string().optional().describe('Message returned to the agent when this rule denies a call.'),
  })
  .describe('One rule. Every rule that applies to a call must pass.');

const toolEntrySchema = z
  .strictObject({
    rules: z
      .array(ruleSchema)
      .optional()
      .describe('Rules for this tool; `[]` lists the tool with no checks.'),
  })
  .describe('Rules for a tool name, a glob of tool names, or "*" (every tool).');

/** The zod schema of a whole policy document. */
export const policyDocumentSchema = z
  .strictObject({
    version: z.literal('1').describe('Policy language version; must be the string "1".'),
    description: z.string().optional().describe('Human-readable description.'),
    default: z
      .enum(['allow', 'deny'])
      .optional()
      .describe('allow (default): unlisted tools run; deny: only tools listed under `tools` may run.'),
    hide: z
      .array(z.string())
      .optional()
      .describe('Tools removed from tools/list and denied on tools/call: names, globs, or "*".'),
    tools: z
      .record(z.string(), toolEntrySchema)
      .optional()
      .describe('Rules keyed by exact tool name, glob, or "*".'),
  })
  .describe('Tollgate policy (version "1").');

/** A policy condition as written. */
export type PolicyCondition = z.infer<typeof conditionSchema>;
/** A `rate_limit` as written: `N/minute|hour|day` or `{ max, window }`. */
export type PolicyRateLimit = z.infer<typeof rateLimitSchema>;
/** A `state` block as written. */
export type PolicyState = z.infer<typeof stateSchema>;
/** A `validate` block as written. */
export type PolicyValidate = z.infer<typeof validateSchema>;
/** A rule as written. */
export type PolicyRule = z.infer<typeof ruleSchema>;
/** The value under one key of `tools:`. */
export type PolicyToolEntry = z.infer<typeof toolEntrySchema>;
/** A whole policy document as written (after YAML parsing, before compilation). */
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

/** Keys each object kind accepts, for did-you-mean suggestions on unknown keys. */
export const KNOWN_KEYS = {
  document: ['version', 'description', 'default', 'hide', 'tools'],
  toolEntry: ['rules'],
  rule: ['name', 'action', 'conditions', 'rate_limit', 'validate', 'state', 'on_deny'],
  condition: ['path', 'op', 'value'],
  state: ['counter', 'window', 'increment', 'increment_from'],
  validate: ['required_args', 'schema'],
  rateLimit: ['max', 'window'],
} as const;
