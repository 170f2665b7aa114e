/**
 * From a live scan to a server entry that `tollgate scan` and `tollgate init -- CMD` can use:
 * tool names checked against the MCP spec, the npm package taken only from an `npx <pkg>` command,
 * and a catalogued server recognised so that its curated category overrides apply.
 */

import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
// MCP spec 2025-11-25, "Tools > Tool names" (SEP-986): 1 to 128 of A-Z, a-z, 0-9, `_`, `-`, `.`.
import { validateToolName } from '@modelcontextprotocol/sdk/shared/toolNameValidation.js';
import { printable } from '@tollgate/policy';
import { classifyTool } from './classifier.js';
import { carryOverrides, entryFromScan, type SnapshotTool } from './import.js';
import { loadCatalogFile } from './loader.js';
import { CATALOGUED_CATEGORY_REASON, type CatalogServer, severity } from './types.js';

/** A catalogue id (the catalogue schema's rule): lower-case letters, digits, ".", "_", "-". */
export const CATALOG_ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** A catalogue entry whose `package` may be unknown (a scan of something other than `npx <pkg>`). */
export type DraftServer = Omit<CatalogServer, 'package'> & Partial<Pick<CatalogServer, 'package'>>;

/** `name` quoted for a message, control characters escaped, at most 60 characters. */
function quoted(name: string): string {
  return printable(JSON.stringify(name.length > 60 ? `${name.slice(0, 59)}…` : name));
}

/**
 * Tools as listed, checked for the name rules of MCP spec 2025-11-25 ("Tools > Tool names": 1-128
 * characters of A-Z a-z 0-9 `_` `-` `.`, unique within a server).
 * @returns the tools with later listings of a repeated name dropped (the first wins), and one
 *   warning per name that breaks a rule.
 */
export function checkScannedTools(tools: readonly SnapshotTool[]): {
  tools: SnapshotTool[];
  warnings: string[];
} {
  const warnings: string[] = [];
  const count = new Map<string, number>();
  for (const t of tools) count.set(t.name, (count.get(t.name) ?? 0) + 1);
  const kept: SnapshotTool[] = [];
  const seen = new Set<string>();
  for (const t of tools) {
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    kept.push(t);
    if (!validateToolName(t.name).isValid) {
      const why =
        t.name.length === 0
          ? 'it is empty'
          : t.name.length > 128
            ? `it is ${t.name.length} characters long`
            : `it contains ${[...new Set(Array.from(t.name).filter((c) => !/[A-Za-z0-9_.-]/.test(c)))]
                .map((c) => printable(JSON.stringify(c)))
                .join(', ')}`;
      warnings.push(
        `tool name ${quoted(t.name)} is outside the MCP tool-name rules (1-128 characters of A-Z a-z 0-9 _ - .): ${why}`,
      );
    }
    const n = count.get(t.name)!;
    if (n > 1)
      warnings.push(
        `tool ${quoted(t.name)} is listed ${n} times (MCP tool names are unique within a server); only the first listing is used`,
      );
  }
  return { tools: kept, warnings };
}

/**
 * The npm package a server command runs, when the command is `npx [flags] <pkg>[@version] ...`
 * or `npx [flags] --package=<pkg>[@version] <bin> ...` (also `-p <pkg>`); undefined for any other
 * command. The version is kept only when it is an exact version (`1.2.3`), not a range or tag.
 */
export function packageFromCommand(command: readonly string[]): CatalogServer['package'] | undefined {
  const exe = basename(command[0] ?? '').replace(/\.(cmd|exe)$/i, '');
  if (exe !== 'npx') return undefined;
  let spec: string | undefined;
  for (let i = 1; i < command.length; i++) {
    const a = command[i]!;
    if (a === '--') {
      spec ??= command[i + 1];
      break;
    }
    if (a.startsWith('--package=')) {
      spec = a.slice('--package='.length);
      continue;
    }
    if (a === '--package' || a === '-p') {
      spec = command[++i];
      continue;
    }
    if (a.startsWith('-')) continue; // -y, --yes, -q, --quiet, ...
    spec ??= a;
    break;
  }
  if (!spec) return undefined;
  // `@scope/name@1.2.3`, `name@1.2.3`, `name`; not a path, URL or git spec.
  const m = /^((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:@(.+))?$/i.exec(spec);
  if (!m) return undefined;
  const version = m[2];
  return {
    registry: 'npm',
    name: m[1]!,
    ...(version && /^\d+\.\d+\.\d+(?:[-+][\w.-]+)?$/.test(version) ? { version } : {}),
  };
}

/**
 * Every readable entry of a catalogue directory; files that do not load are skipped (a live scan
 * must not fail because of one bad catalogue file) and named in `problems`.
 */
export function readCatalogEntries(dir: string): { entries: CatalogServer[]; problems: string[] } {
  const entries: CatalogServer[] = [];
  const problems: string[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
  } catch (err) {
    return {
      entries,
      problems: [
        `cannot read the catalogue directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      ],
    };
  }
  for (const f of files.sort()) {
    try {
      entries.push(loadCatalogFile(join(dir, f)));
    } catch (err) {
      problems.push((err as Error).message.split('\n')[0]!);
    }
  }
  return { entries, problems };
}

/**
 * `value` with every JSON Schema `required` list sorted, for comparing two schemas: the order in
 * which a server lists required properties means nothing.
 */
function requiredSorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(requiredSorted);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === 'required' && Array.isArray(v) && v.every((x) => typeof x === 'string')
        ? [...v].sort()
        : requiredSorted(v),
    ]),
  );
}

/** A catalogue entry recognised as the scanned server. */
export interface Recognition {
  entry: CatalogServer;
  /** What matched: `serverInfo name "x"`, `package y`, or both. */
  by: string;
  /** Names of the scanned tools that got the entry's curated category override. */
  overridden: string[];
  /**
   * Names of tools with a curated override that was not applied: the live tool's `inputSchema`
   * differs from the catalogued one, or its `annotations` do and the override is less severe
   * than the live tool's own classification, so the human decision may be about another tool (a
   * new release, or a server that only borrows a catalogued name). Classified from what the
   * server lists now.
   */
  withheld: string[];
  /**
   * Names of the scanned tools without a curated override (or with one withheld) that the
   * catalogue classifies as more severe than the live listing reads: they get the catalogue's
   * category. The catalogue classifies its own descriptions, written from what each tool does;
   * a server's description can understate it (`git_branch` "manages branches" also deletes
   * them), and a live scan must not give a known tool a weaker policy than `init --server` does.
   */
  raised: string[];
  /**
   * Names of the scanned tools that got the entry's curated secrets note (their result carries
   * live credentials, see `SecretsNote`): by name, whatever their listing now, as a note only
   * ever makes the policy stricter.
   */
  secrets: string[];
  /** The scanned server's `serverInfo.version` when it differs from the catalogued one. */
  versionDiffers?: string;
}

/**
 * The catalogue entry a live scan is of, if any: the scan's `serverInfo.name` equals the entry's
 * `source.serverInfo.name`, or the npm package from the command equals the entry's package, and
 * at least one tool name is shared. Among several, the best match wins (package, then
 * serverInfo name and version, then shared tool names).
 */
export function recogniseServer(
  scan: { serverInfo: { name: string; version?: string }; tools: readonly { name: string }[] },
  entries: readonly CatalogServer[],
  pkg?: CatalogServer['package'],
): Omit<Recognition, 'overridden' | 'withheld' | 'raised' | 'secrets' | 'versionDiffers'> | undefined {
  const names = new Set(scan.tools.map((t) => t.name));
  let best: { entry: CatalogServer; by: string; score: number } | undefined;
  for (const entry of entries) {
    const info = entry.source?.serverInfo;
    const byInfo = info?.name === scan.serverInfo.name;
    const byPackage =
      pkg !== undefined && entry.package.registry === pkg.registry && entry.package.name === pkg.name;
    if (!byInfo && !byPackage) continue;
    const shared = entry.tools.filter((t) => names.has(t.name)).length;
    if (shared === 0) continue;
    const score =
      (byPackage ? 8 : 0) +
      (byPackage && pkg?.version && pkg.version === entry.package.version ? 4 : 0) +
      (byInfo ? 2 : 0) +
      (byInfo && info?.version && info.version === scan.serverInfo.version ? 1 : 0) +
      shared / Math.max(entry.tools.length, names.size);
    if (!best || score > best.score) {
      const by = [
        byInfo ? `serverInfo name ${JSON.stringify(scan.serverInfo.name)}` : '',
        byPackage ? `package ${pkg!.name}` : '',
      ]
        .filter(Boolean)
        .join(' and ');
      best = { entry, by, score };
    }
  }
  return best ? { entry: best.entry, by: best.by } : undefined;
}

/** Options of {@link draftFromScan}. */
export interface DraftOptions {
  /** The server command of a stdio scan (its `npx <pkg>` gives the package). */
  command?: readonly string[];
  /** Id to record (default: the recognised entry's id, else from the server name). */
  id?: string;
  /** Catalogue entries to recognise the server among (see {@link readCatalogEntries}). */
  catalog?: readonly CatalogServer[];
}

/** What {@link draftFromScan} made of a scan. */
export interface Draft {
  server: DraftServer;
  /** Tools as listed, without repeated names (for JSON output). */
  tools: SnapshotTool[];
  recognised?: Recognition;
  /** One line each: tool-name problems. */
  warnings: string[];
}

/**
 * A server entry from a live scan, for a policy scaffold or a draft catalogue entry:
 * - tool names checked ({@link checkScannedTools}); a repeated name keeps its first listing;
 * - `package` only from an `npx <pkg>` command ({@link packageFromCommand}), never from serverInfo;
 * - a catalogued server ({@link recogniseServer}) gets its entry's curated category overrides on
 *   the tools of the same name, and no tool of a catalogued name is classified less severe than
 *   the catalogue classifies it ({@link Recognition.raised}); its secrets notes carry over by
 *   tool name ({@link Recognition.secrets}).
 */
export function draftFromScan(
  scan: { serverInfo: { name: string; version?: string; title?: string }; tools: SnapshotTool[] },
  options: DraftOptions = {},
): Draft {
  const checked = checkScannedTools(scan.tools);
  const pkg = options.command ? packageFromCommand(options.command) : undefined;
  const found = options.catalog
    ? recogniseServer({ ...scan, tools: checked.tools }, options.catalog, pkg)
    : undefined;
  const id = options.id ?? found?.entry.id;
  let entry: CatalogServer = entryFromScan(
    { serverInfo: scan.serverInfo, tools: checked.tools },
    { ...(id ? { id } : {}), ...(pkg ? { package: pkg } : {}) },
  );
  let recognised: Recognition | undefined;
  if (found) {
    // A curated category is a judgement of the tool as catalogued: it carries over only to a live
    // tool that lists the same inputSchema (the catalogue keeps it as listed). When only the
    // annotations differ (a release that adds or drops a hint: server-filesystem 2025.12.18 lists
    // `write_file` without `openWorldHint`), it still carries over if it is at least as severe as
    // what the live tool is classified as: a curated decision never lowers the risk of a tool whose
    // hints changed, and a missing hint does not turn a curated deny into an allow.
    const live = new Map(entry.tools.map((t) => [t.name, t]));
    const sameTool = (t: CatalogServer['tools'][number]) => {
      const l = live.get(t.name);
      if (l === undefined || !isDeepStrictEqual(requiredSorted(l.inputSchema), requiredSorted(t.inputSchema)))
        return false;
      if (isDeepStrictEqual(l.annotations ?? {}, t.annotations ?? {})) return true;
      return t.category !== undefined && severity(t.category.value) >= severity(classifyTool(l).category);
    };
    const withheld = found.entry.tools.filter((t) => t.category && live.has(t.name) && !sameTool(t));
    entry = carryOverrides({ ...found.entry, tools: found.entry.tools.filter(sameTool) }, entry, {
      curated: null,
    });
    // Every other tool of a catalogued name is never classified less severe than the catalogue
    // classifies it (whatever its inputSchema now: raising is only ever stricter).
    const catalogued = new Map(found.entry.tools.map((t) => [t.name, t]));
    const raised: string[] = [];
    entry = {
      ...entry,
      tools: entry.tools.map((t) => {
        const c = catalogued.get(t.name);
        if (t.category || c === undefined) return t;
        // A curated override withheld above (another inputSchema, say a release that added a
        // parameter) still serves as a floor: raising is only ever stricter.
        const asCatalogued = classifyTool(c).category;
        const asListed = classifyTool(t).category;
        if (severity(asCatalogued) <= severity(asListed)) return t;
        raised.push(t.name);
        const how = c.category
          ? `gives this tool the curated category ${asCatalogued} (its listing differs from the catalogued one)`
          : `classifies this tool ${asCatalogued} from its description`;
        return {
          ...t,
          category: {
            value: asCatalogued,
            reason: `${CATALOGUED_CATEGORY_REASON}catalogue entry ${found.entry.id} ${how}; the server's own listing reads as ${asListed}`,
          },
        };
      }),
    };
    // A tool the catalogue notes as returning live secrets keeps the note (and so its denial).
    const secrets: string[] = [];
    entry = {
      ...entry,
      tools: entry.tools.map((t) => {
        const note = catalogued.get(t.name)?.secrets;
        if (note === undefined || t.secrets) return t;
        secrets.push(t.name);
        return { ...t, secrets: { ...note } };
      }),
    };
    const cataloguedVersion = found.entry.source?.serverInfo?.version;
    const scanned = scan.serverInfo.version;
    const raisedNames = new Set(raised);
    recognised = {
      ...found,
      overridden: entry.tools.filter((t) => t.category && !raisedNames.has(t.name)).map((t) => t.name),
      // A withheld override that still raised its tool is reported as raised.
      withheld: withheld.map((t) => t.name).filter((name) => !raisedNames.has(name)),
      raised,
      secrets,
      ...(cataloguedVersion !== undefined && scanned !== undefined && scanned !== cataloguedVersion
        ? { versionDiffers: scanned }
        : {}),
    };
  }
  const { package: invented, ...rest } = entry;
  const server: DraftServer = pkg ? { ...rest, package: invented } : rest;
  return { server, tools: checked.tools, ...(recognised ? { recognised } : {}), warnings: checked.warnings };
}
