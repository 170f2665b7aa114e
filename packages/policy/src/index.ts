/**
 * `@tollgate/policy`: the Tollgate policy language.
 *
 * - {@link parsePolicy}: YAML text -> validated document with positions (never throws)
 * - {@link compilePolicy}: document -> frozen {@link CompiledPolicy} for the runtime
 * - {@link loadPolicy}: both in one step
 * - {@link emitPolicy}: document -> YAML with stable key order
 * - {@link policyJsonSchema}: JSON Schema for editors
 */
export { canonicalJson, policyHash } from './canonical.js';
export { compilePolicy, rateLimitKey } from './compile.js';
export type * from './compiled.js';
export { type EmitOptions, emitPolicy } from './emit.js';
export {
  comparePolicyErrors,
  formatPolicyError,
  POLICY_ERROR_CODES,
  PolicyCompileError,
  type PolicyError,
  type PolicyErrorCode,
  sortErrors,
} from './errors.js';
export { isExactDecimal, yamlNumberLiteral } from './exact-decimal.js';
export { buildPolicyJsonSchema, policyJsonSchema } from './json-schema.js';
export { createAjv, type JsonSchemaDialect, jsonSchemaDialect } from './json-schema-check.js';
export { type LoadResult, loadPolicy } from './load.js';
export { NO_SUCH_TOOL_HINT, type ParsedPolicy, type ParseOptions, parsePolicy } from './parse.js';
export { printable } from './printable.js';
export { type RegexResult, re2PatternEngine, tryCompileRegex } from './regex.js';
export {
  CONDITION_OPS,
  FIXED_WINDOWS,
  type PolicyCondition,
  type PolicyDocument,
  type PolicyRateLimit,
  type PolicyRule,
  type PolicyState,
  type PolicyToolEntry,
  type PolicyValidate,
  policyDocumentSchema,
  RULE_ACTIONS,
} from './schema.js';
export { toolGlobMatcher } from './tool-glob.js';
export { type UnlistedEntries, unlistedEntries, unlistedOf } from './unlisted.js';
export { didYouMean, exactToolName, isGlob } from './validate.js';
export { FIXED_WINDOW_MS, MAX_SLIDING_WINDOW_MS, parseFixedRate, parseWindowMs } from './windows.js';
export { MAX_ALIAS_COUNT, MAX_POLICY_BYTES, MAX_POLICY_DEPTH, yamlLineBreaks } from './yaml-source.js';
