/**
 * `@tollgate/catalog`: the catalogue of real MCP servers' tools.
 * - Content: the zod schema of `catalog/<server-id>.yaml` and a loader whose errors name file:line:col.
 * - Classifier: deterministic name/description/schema/annotation evidence -> category, risk, confidence.
 * - Policies: a recommended rule per category, a recommended policy per tool, a starter policy per server.
 * - Tooling: snapshot import (with our own descriptions), live scan over stdio, statistics.
 */

export { type Classification, type ClassifierInput, classifyTool, type Evidence } from './classifier.js';
export {
  buildCatalogEntry,
  type Curation,
  carryOverrides,
  entryFromScan,
  firstSentence,
  ImportError,
  normalizeSnapshot,
  readCuration,
  readSnapshot,
  type Snapshot,
  type SnapshotTool,
  serializeCatalog,
} from './import.js';
export { CatalogError, loadCatalog, loadCatalogFile, parseCatalog } from './loader.js';
export {
  formatMatrix,
  heldOutServers,
  type Label,
  type Measurement,
  measure,
  readLabels,
} from './measure.js';
export { defaultCatalogDir, defaultCurationDir, defaultSourcesDir } from './paths.js';
export {
  amountField,
  type EmittedPolicy,
  isExactToolKey,
  type PolicyDocument,
  type PolicyRule,
  parameterSummary,
  RECOMMENDED_LIMITS,
  type RecommendedFor,
  RULE_REASON,
  recommendedPolicy,
  recommendedRule,
  recommendedRules,
  ruleReason,
  type StarterOptions,
  type StarterPolicy,
  starterPolicy,
} from './policies.js';
export {
  launchOptions,
  ScanError,
  type ScanOptions,
  type ScanResult,
  ScanTimeoutError,
  scanServer,
} from './scan.js';
export {
  CATALOG_ID_PATTERN,
  checkScannedTools,
  type Draft,
  type DraftOptions,
  type DraftServer,
  draftFromScan,
  packageFromCommand,
  type Recognition,
  readCatalogEntries,
  recogniseServer,
} from './scan-entry.js';
export {
  catalogLaunchSchema,
  catalogServerSchema,
  catalogToolSchema,
  categoryOverrideSchema,
  secretsNoteSchema,
  toolAnnotationsSchema,
} from './schema.js';
export { type CatalogStats, type CategoryCounts, catalogStats } from './stats.js';
export { nameTokens, sharedRun, words } from './tokens.js';
export {
  CATALOGUED_CATEGORY_REASON,
  CATEGORIES,
  type CatalogLaunch,
  type CatalogServer,
  type CatalogTool,
  type Category,
  type CategoryOverride,
  RISK_OF,
  RISKS,
  type Risk,
  type SecretsNote,
  severity,
  type ToolAnnotations,
} from './types.js';
