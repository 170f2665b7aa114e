/**
 * `@tollgate/runtime`: the enforcement runtime.
 *
 * - {@link evaluate}: judge one `tools/call` against a compiled policy -> {@link Decision}
 * - {@link createEnforcer}: what a proxy holds: hot-reloaded policy + counter store + schemas + decision log
 * - counter stores: {@link openCounterStore} -> memory, SQLite (default), Redis; reserve/commit/rollback;
 *   {@link LeasedCounterStore} (on by default for SQLite and Redis) admits far-from-bound counters from leases
 * - {@link openDecisionLog}: JSON-lines decision log (`startup`, `tool_call`, `config_reload`, `shutdown`)
 * - {@link createLogger}, {@link defaultPaths}
 */
export {
  asNumber,
  canonicalDeep,
  canonicalText,
  compareEquals,
  conditionHolds,
  DECIMAL_LITERAL,
  INTEGER_LITERAL,
  lookup,
  looseEquals,
  MISSING,
  type Resolved,
  resolvePath,
  valueHolds,
} from './conditions.js';
export {
  type ConditionTrace,
  type Decision,
  REASON_CODES,
  type ReasonCode,
  type RuleTrace,
  type ToolCall,
} from './decision.js';
export {
  argsHmac,
  type ConfigReloadEvent,
  DECISION_LOG_RETENTION_DAYS,
  type DecisionEvent,
  type DecisionEventBase,
  type DecisionEventInput,
  type DecisionLog,
  type DecisionLogOptions,
  decisionLogFileName,
  jsonText,
  loadArgsKey,
  openDecisionLog,
  pruneDecisionLog,
  readDecisionLog,
  type ShutdownEvent,
  type StartupEvent,
  type ToolCallEvent,
} from './decision-log.js';
export {
  type CallOrigin,
  createEnforcer,
  type Enforcer,
  type EnforcerOptions,
  type PolicyToolNames,
  policyToolNamesOf,
} from './enforcer.js';
export {
  counterStoreKey,
  type EvaluationContext,
  evaluate,
  evaluateNow,
  patternAsWritten,
} from './evaluate.js';
export {
  argumentsAsSent,
  InexactNumber,
  type InexactNumberMark,
  inexactNumbers,
  mayHoldInexactNumbers,
  withInexactNumbers,
} from './exact-arguments.js';
export { createLogger, type Logger } from './logger.js';
export { makeDir } from './make-dir.js';
export { defaultPaths, type TollgatePaths } from './paths.js';
export {
  loadPolicyFile,
  PolicyHolder,
  type PolicyHolderOptions,
  PolicyLoadError,
  type ReloadResult,
  restartedCounts,
} from './policy-holder.js';
export {
  type PolicyTestCase,
  type PolicyTestFile,
  PolicyTestFileError,
  type PolicyTestFileResult,
  type PolicyTestOptions,
  type PolicyTestRefusalContext,
  type PolicyTestStep,
  parsePolicyTestFile,
  runPolicyTestFile,
  runPolicyTests,
  type StepExpectation,
  type StepFailure,
} from './policy-test.js';
export {
  type CatalogueSchemaReader,
  checkPolicyTestFile,
  formatTestFileProblem,
  type PolicyFileReader,
  type TestFileCheck,
  type TestFileProblem,
} from './policy-test-file.js';
export { type SchemaCheck, SchemaValidator } from './schema-validator.js';
export {
  type CounterCheck,
  type CounterItem,
  type CounterStore,
  DEFAULT_RESERVATION_TTL_MS,
  type NumericOp,
  type Reservation,
  type ReservedItem,
  type ReserveOptions,
  type ReserveResult,
  StateUnavailableError,
} from './store/counter-store.js';
export { LeasedCounterStore, type LeaseOptions } from './store/lease.js';
export { MemoryCounterStore } from './store/memory.js';
export {
  type OpenCounterStoreOptions,
  openCounterStore,
  redactDsn,
  replicaStoreMessage,
  sqliteFileOf,
  unreachableStoreMessage,
} from './store/open.js';
export { RedisCounterStore } from './store/redis.js';
export { SqliteCounterStore, type SqliteCounterStoreOptions } from './store/sqlite.js';
export { FIXED_WINDOW_MS, fixedWindowStart, formatDuration, parseDuration } from './windows.js';
