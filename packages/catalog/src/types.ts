/**
 * Shared vocabulary of the catalogue: the five tool categories and the four risk levels.
 */

/**
 * What a tool can do, from least to most dangerous. When several apply, the most severe wins:
 * Financial > Destructive > Execute > Write > Read.
 * - `Read`: only retrieves or observes.
 * - `Write`: creates or changes data or state, recoverably.
 * - `Execute`: runs code, shell commands, arbitrary queries, scripts, browser JavaScript, jobs or pipelines.
 * - `Destructive`: deletes, drops, destroys, revokes, terminates or irreversibly overwrites.
 * - `Financial`: moves money or creates a financial obligation (charges, refunds, invoices, subscriptions, payouts).
 */
export type Category = 'Read' | 'Write' | 'Execute' | 'Destructive' | 'Financial';

/** How much harm a call can do if an agent misuses it. */
export type Risk = 'Low' | 'Medium' | 'High' | 'Critical';

/** Every category, in increasing severity (the index is the precedence). */
export const CATEGORIES: readonly Category[] = Object.freeze([
  'Read',
  'Write',
  'Execute',
  'Destructive',
  'Financial',
]);

/** Every risk level, in increasing severity. */
export const RISKS: readonly Risk[] = Object.freeze(['Low', 'Medium', 'High', 'Critical']);

/** The risk level each category carries (DESIGN section 5). */
export const RISK_OF: Readonly<Record<Category, Risk>> = Object.freeze({
  Read: 'Low',
  Write: 'Medium',
  Execute: 'High',
  Destructive: 'Critical',
  Financial: 'Critical',
});

/** Severity rank of a category: 0 (Read) .. 4 (Financial). */
export function severity(category: Category): number {
  return CATEGORIES.indexOf(category);
}

/**
 * MCP `ToolAnnotations` (MCP spec 2025-11-25, "Tools" > "Tool annotations"). All are hints a server
 * may get wrong. Defaults when absent: `readOnlyHint` false, `destructiveHint` true, `idempotentHint`
 * false, `openWorldHint` true.
 */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
  [extra: string]: unknown;
}

/**
 * How the `reason` of a {@link CategoryOverride} begins when no human wrote it: a live scan of a
 * catalogued server gave a tool the catalogue's category because the server's own listing reads
 * as less severe (see `Recognition.raised`). Generated policies label such a reason as the
 * catalogue's, not as a manual override.
 */
export const CATALOGUED_CATEGORY_REASON = 'as catalogued: ';

/** A manual category decision recorded in a catalogue file; it always wins over the classifier. */
export interface CategoryOverride {
  value: Category;
  /** Why the classifier's answer is wrong for this tool (required, non-empty). */
  reason: string;
}

/**
 * A curated note that a tool's result carries live secrets (a password, an API key or token, a
 * kubeconfig): an agent that reads them can use them outside every policy. Recommendations deny
 * such a tool by default, whatever its category.
 */
export interface SecretsNote {
  /** What the result carries (required, non-empty), e.g. "Returns a connection string with the password". */
  reason: string;
}

/** One tool of a catalogued server, as listed by its `tools/list`. */
export interface CatalogTool {
  name: string;
  /** Our own one-sentence description (at most 25 words), never the upstream text. */
  description: string;
  /** The tool's `inputSchema` (a JSON Schema object) exactly as the server lists it. */
  inputSchema: Record<string, unknown>;
  /** Present only when the server declares annotations. */
  annotations?: ToolAnnotations;
  title?: string;
  category?: CategoryOverride;
  /** Present when the tool's result carries live secrets (curated). */
  secrets?: SecretsNote;
}

/** How the catalogued version of a server was started when it was scanned. */
export interface CatalogLaunch {
  /** Executable, e.g. `node` or `npx`. */
  command: string;
  args: string[];
  /** Environment the server needs (values in the catalogue are dummies). */
  env?: Record<string, string>;
  /** When `command` is `node`: paths in `args` are relative to the installed package's directory. */
  cwd?: 'package';
  /** The equivalent one-liner through the package manager, e.g. `npx -y pkg@1.2.3`. */
  npx?: string;
  note?: string;
}

/** A catalogued MCP server: metadata plus every tool it lists. */
export interface CatalogServer {
  /** Stable id, also the file name (`catalog/<id>.yaml`). */
  id: string;
  name: string;
  description?: string;
  package: { registry: 'npm' | 'pypi'; name: string; version?: string };
  repository?: string;
  license?: string;
  launch?: CatalogLaunch;
  /** Where the tool list came from: snapshot file, when and by what it was captured. */
  source?: {
    snapshot?: string;
    protocolVersion?: string;
    serverInfo?: { name: string; version?: string };
    scannedAt?: string;
    commit?: string;
  };
  tools: CatalogTool[];
}
