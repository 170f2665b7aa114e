/**
 * The site's one view of the catalogue: `catalog/*.yaml` loaded once through `@tollgate/catalog`
 * (validated by its zod schema, which names file:line:col on bad input), every tool classified,
 * every recommended and starter policy emitted by the catalogue package and compiled with the real
 * policy compiler. Any failure throws, which fails `astro build`.
 *
 * Why not an Astro content collection: Astro 5's `astro:content` schemas are zod 3 while the
 * catalogue schema is zod 4, and the `glob()` loader costs about twice the memory at this page
 * count. Loading once and handing records to `getStaticPaths` keeps validation in one place.
 */
import { join } from 'node:path';
import {
  CATEGORIES,
  type CatalogServer,
  type CatalogTool,
  type Category,
  type Classification,
  classifyTool,
  loadCatalog,
  RISK_OF,
  RISKS,
  type Risk,
  recommendedPolicy,
  starterPolicy,
} from '@tollgate/catalog';
import { assertPolicyCompiles } from './compile.ts';
import { repoRoot } from './repo.ts';

export { CATEGORIES, type Category, RISK_OF, RISKS, type Risk };

/** One piece of classifier evidence, as shown on a tool page. */
export interface SiteEvidence {
  kind: string;
  detail: string;
  category: Category;
  weight: number;
}

/** A tool with everything its page shows. */
export interface SiteTool {
  serverId: string;
  serverName: string;
  name: string;
  /** Our own one-line description from the catalogue. */
  description: string;
  title?: string;
  inputSchema: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  category: Category;
  /** The category's risk, raised to High for a tool whose result carries live credentials. */
  risk: Risk;
  /** Classifier confidence, 0..1. */
  confidence: number;
  /** True when the catalogue file overrides the classifier. */
  overridden: boolean;
  overrideReason?: string;
  /** Set when the catalogue notes that the tool's result carries live credentials: what it carries. */
  secrets?: string;
  evidence: SiteEvidence[];
  /** Recommended one-tool policy YAML (compiled at build time). */
  yaml: string;
  /** Rate limit of the recommended rule, when it has one. */
  rateLimit?: RateLimitSummary;
  /** Page URL, e.g. `/tools/github/create_issue/`. */
  url: string;
}

/** A rate limit read back from an emitted policy document. */
export type RateLimitSummary =
  | { kind: 'sliding'; max: number; windowSeconds: number }
  | { kind: 'fixed'; text: string };

/** A server with its classified tools and starter policy. */
export interface SiteServer {
  id: string;
  name: string;
  description?: string;
  registry: 'npm' | 'pypi';
  packageName: string;
  version?: string;
  repository?: string;
  license?: string;
  /**
   * Shell command that starts the server (what goes after `tollgate -c <id>.yaml --`), with the
   * capture's dummy values (keys, ids, scratch paths) shown as `<your-...>` placeholders.
   */
  launchCommand: string;
  /** True when {@link launchCommand} holds placeholders the reader must fill in. */
  launchHasPlaceholders: boolean;
  /** Environment variables the server needs (names only). */
  envNames: string[];
  tools: SiteTool[];
  /** Starter policy YAML for the whole server (compiled at build time). */
  starterYaml: string;
  url: string;
  countsByCategory: Record<Category, number>;
}

/** Everything the site renders. */
export interface SiteData {
  servers: SiteServer[];
  tools: SiteTool[];
  byCategory: Record<Category, SiteTool[]>;
  byRisk: Record<Risk, SiteTool[]>;
  /** The tools the catalogue notes as returning live credentials, by server then name. */
  secrets: SiteTool[];
  /** Absolute path of the catalogue directory read. */
  catalogDir: string;
}

let cached: SiteData | undefined;

/**
 * The catalogue as the site sees it, loaded on first call and memoised for the rest of the build.
 * The directory is `$TOLLGATE_CATALOG_DIR` or `<repo>/catalog`.
 *
 * @throws CatalogError from `loadCatalog` (naming file:line:col) for an invalid catalogue entry
 * @throws Error naming the server and tool when an emitted policy fails to compile
 */
export function siteData(): SiteData {
  cached ??= buildSiteData(process.env.TOLLGATE_CATALOG_DIR ?? join(repoRoot(), 'catalog'));
  return cached;
}

/**
 * Builds the site's view of the catalogue in `catalogDir` (uncached; see {@link siteData}).
 *
 * @throws as {@link siteData}; also when the directory holds no server at all
 */
export function buildSiteData(catalogDir: string): SiteData {
  const catalog = loadCatalog(catalogDir);
  if (catalog.length === 0) throw new Error(`${catalogDir}: no catalogue files (*.yaml) found`);
  const servers = [...catalog].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(toSiteServer);
  const tools = servers.flatMap((s) => s.tools);
  const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, [] as SiteTool[]])) as Record<
    Category,
    SiteTool[]
  >;
  const byRisk = Object.fromEntries(RISKS.map((r) => [r, [] as SiteTool[]])) as Record<Risk, SiteTool[]>;
  for (const tool of tools) {
    byCategory[tool.category].push(tool);
    byRisk[tool.risk].push(tool);
  }
  const secrets = tools.filter((t) => t.secrets !== undefined);
  return { servers, tools, byCategory, byRisk, secrets, catalogDir };
}

function toSiteServer(server: CatalogServer): SiteServer {
  // Classify once: tool pages and the starter policy must agree, and the classifier is the costly part.
  const classes = new Map<CatalogTool, Classification>(server.tools.map((t) => [t, classifyTool(t)]));
  const classify = (t: CatalogTool): Classification => classes.get(t) ?? classifyTool(t);
  const tools = server.tools
    .map((tool) => toSiteTool(server, tool, classify(tool)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const starter = starterPolicy(server, { classify });
  assertPolicyCompiles(starter.yaml, `${server.id}.yaml`, `starter policy of server ${server.id}`);
  const countsByCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const t of tools) countsByCategory[t.category]++;
  return {
    id: server.id,
    name: server.name,
    description: server.description,
    registry: server.package.registry,
    packageName: server.package.name,
    version: server.package.version,
    repository: server.repository,
    license: server.license,
    launchCommand: launchCommand(server),
    launchHasPlaceholders: launchCommand(server).includes('<your-'),
    envNames: Object.keys(server.launch?.env ?? {}).sort(),
    tools,
    starterYaml: starter.yaml,
    url: `/servers/${server.id}/`,
    countsByCategory,
  };
}

function toSiteTool(server: CatalogServer, tool: CatalogTool, c: Classification): SiteTool {
  const recommended = recommendedPolicy(server, tool, c);
  assertPolicyCompiles(
    recommended.yaml,
    `${server.id}.yaml`,
    `recommended policy of ${server.id}/${tool.name}`,
  );
  return {
    serverId: server.id,
    serverName: server.name,
    name: tool.name,
    description: tool.description,
    title: tool.title,
    inputSchema: tool.inputSchema,
    annotations: tool.annotations,
    category: c.category,
    // High at least for a tool that hands the agent a live credential (see classifyTool).
    risk: c.risk,
    confidence: c.confidence,
    overridden: c.overridden,
    overrideReason: tool.category?.reason,
    ...(tool.secrets ? { secrets: tool.secrets.reason } : {}),
    evidence: c.evidence.map((e) => ({
      kind: e.kind,
      detail: e.detail,
      category: e.category,
      weight: e.weight,
    })),
    yaml: recommended.yaml,
    rateLimit: rateLimitOf(recommended.document, tool.name),
    url: toolUrl(server.id, tool.name),
  };
}

/** URL of a tool page. Tool names are kept verbatim where URL-safe so the address reads like the tool. */
export function toolUrl(serverId: string, toolName: string): string {
  return `/tools/${serverId}/${encodeURIComponent(toolName)}/`;
}

/**
 * The command that starts a server as catalogued: the package manager one-liner when the catalogue
 * has one, `uvx <package>` for PyPI servers, `npx -y <package>[@version]` for npm ones.
 */
export function launchCommand(server: CatalogServer): string {
  if (server.launch?.npx) return withPlaceholders(server.launch.npx);
  const spec = server.package.version
    ? `${server.package.name}@${server.package.version}`
    : server.package.name;
  if (server.package.registry === 'pypi') return `uvx ${spec}`;
  return `npx -y ${spec}`;
}

/** `1 tool`, `2 tools`: a count with its noun. */
export function countOf(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * The file name a tool page's one-tool policy is saved as: `<server>-<tool>.yaml`, so that it never
 * overwrites the server's full starter policy (`<server>.yaml`). Characters a file name cannot
 * safely hold become `-`.
 */
export function toolPolicyFile(serverId: string, toolName: string): string {
  return `${serverId}-${toolName.replace(/[^A-Za-z0-9._-]/g, '-')}.yaml`;
}

/**
 * The catalogue's launch commands carry the values the server was captured with: dummy keys and
 * ids (`--api-key=sk_test_dummy`, `napi_dummy`, an all-zero account id) and scratch paths
 * (`work/filesystem/data`, `<scratch-dir>`). A reader would copy them as they are: each becomes
 * a `<your-...>` placeholder named after its flag, URL scheme or kind.
 */
export function withPlaceholders(command: string): string {
  const words = command.split(' ');
  return words
    .map((word, i) => {
      const flag = /^(--?[A-Za-z][\w-]*)=(.*)$/.exec(word);
      const value = flag ? flag[2]! : word;
      const kind = captureValueKind(value);
      if (kind === undefined) return word;
      const previous = words[i - 1];
      const name = flag
        ? flag[1]!.replace(/^-+/, '')
        : kind !== 'value'
          ? kind
          : previous !== undefined && /^--?[A-Za-z][\w-]+$/.test(previous)
            ? previous.replace(/^-+/, '')
            : 'value';
      const placeholder = `<your-${name}>`;
      return flag ? `${flag[1]}=${placeholder}` : placeholder;
    })
    .join(' ');
}

/** What a capture value stands for (`value` when nothing more is known), or undefined for a real argument. */
function captureValueKind(value: string): string | undefined {
  const url = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (/dummy/i.test(value)) return url ? `${url[1]!.toLowerCase()}-url` : 'value';
  if (/^0{16,}$/.test(value)) return 'account-id';
  if (value.includes('<scratch-dir>')) return url ? `${url[1]!.toLowerCase()}-url` : 'path';
  if (/^work\//.test(value)) return /\.\w+$/.test(value) ? 'file' : 'directory';
  return undefined;
}

/** Reads the first rate limit of the tool's rules in an emitted policy document (shape per DESIGN section 2). */
function rateLimitOf(document: unknown, toolName: string): RateLimitSummary | undefined {
  const rules = (document as { tools?: Record<string, { rules?: unknown[] }> } | undefined)?.tools?.[toolName]
    ?.rules;
  if (!Array.isArray(rules)) return undefined;
  for (const rule of rules) {
    const rl = (rule as { rate_limit?: unknown } | null)?.rate_limit;
    if (typeof rl === 'string') return { kind: 'fixed', text: rl };
    if (rl && typeof rl === 'object') {
      const { max, window } = rl as { max?: unknown; window?: unknown };
      if (typeof max === 'number' && typeof window === 'number')
        return { kind: 'sliding', max, windowSeconds: window };
    }
  }
  return undefined;
}
