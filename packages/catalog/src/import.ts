/**
 * Turns captured `tools/list` snapshots plus our curation files (own descriptions) into
 * catalogue entries. Upstream descriptions never enter the catalogue: a tool without a curated
 * description is an error that names it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { parseCatalog } from './loader.js';
import { oneLine } from './one-line.js';
import { defaultCatalogDir } from './paths.js';
import { catalogServerSchema, toolAnnotationsSchema } from './schema.js';
import type { CatalogLaunch, CatalogServer, CatalogTool, ToolAnnotations } from './types.js';

/** A tool as captured in a snapshot (upstream text). */
export interface SnapshotTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  annotations?: ToolAnnotations;
}

/** A snapshot reduced to what the importer needs. */
export interface Snapshot {
  server: Omit<CatalogServer, 'tools'>;
  tools: SnapshotTool[];
}

/**
 * One curation file: per tool, our description, a hand label (which the importer ignores), and,
 * for a tool whose result carries live secrets, what it carries (`secrets`, copied into the entry).
 */
export interface Curation {
  server: string;
  tools: Record<string, { description: string; category?: string; secrets?: string }>;
}

/** An import problem: names the snapshot and every tool concerned. */
export class ImportError extends Error {
  override readonly name = 'ImportError';
}

/**
 * The executable `npx --package=<pkg> <bin>` must be told, from the scan's recorded `bin` or,
 * without one, the package name: the name without its scope (`@stripe/mcp` -> `mcp`). That is
 * the name npm gives a `bin` declared as a single path; a scoped name is never an executable (it
 * holds a `/`), though some scans recorded the package name as the bin.
 */
export function defaultBinName(packageName: string): string {
  return packageName.startsWith('@') ? packageName.slice(packageName.indexOf('/') + 1) : packageName;
}

// The three snapshot shapes, checked up front so that a malformed file is reported by its name
// with every problem at its JSON path, never as a TypeError from deep inside the importer. They
// check what the importer reads; other keys (`capabilities`, `pages`, a tool's `outputSchema`)
// pass. The catalogue schema checks the entry built from them afterwards.

/** A server id: also the output file name, so the catalogue id rule (no `/`, no `..`). */
const snapshotIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a catalogue id: lower-case letters, digits, ".", "_" or "-"');

const snapshotToolSchema = z.looseObject({
  name: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()),
  annotations: toolAnnotationsSchema.optional(),
});

const snapshotPackageSchema = z.strictObject({
  registry: z.enum(['npm', 'pypi']),
  name: z.string().min(1),
  version: z.string().optional(),
});

const serverInfoSchema = z.looseObject({
  name: z.string().min(1),
  version: z.string().optional(),
  title: z.string().optional(),
});

/** `{server, tools}`: captured from source (e.g. aws-bedrock-agentcore). */
const sourceSnapshotSchema = z.looseObject({
  server: z.looseObject({
    id: snapshotIdSchema,
    name: z.string().min(1),
    package: snapshotPackageSchema,
    repository: z.string().optional(),
    license: z.string().optional(),
    sourceCommit: z.string().optional(),
  }),
  tools: z.array(snapshotToolSchema),
});

/** `{id, package, packageVersion, bin, launch, serverInfo, tools}`: the project's npm scans. */
const npmScanSchema = z.looseObject({
  id: snapshotIdSchema,
  package: z.string().min(1),
  packageVersion: z.string().optional(),
  bin: z.string().optional(),
  launch: z
    .looseObject({
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      env: z.record(z.string(), z.string()).optional(),
      note: z.string().optional(),
    })
    .optional(),
  protocolVersion: z.string().optional(),
  serverInfo: serverInfoSchema.optional(),
  scannedAt: z.string().optional(),
  repository: z.string().optional(),
  license: z.string().optional(),
  tools: z.array(snapshotToolSchema),
});

/**
 * `{ok, id, package, serverInfo, pages, warnings, tools}`: the output of `tollgate scan --json`,
 * which has `package` only when the server command was `npx <package>[@version]`.
 */
const scanOutputSchema = z.looseObject({
  ok: z.literal(true),
  id: snapshotIdSchema,
  package: snapshotPackageSchema,
  serverInfo: serverInfoSchema,
  tools: z.array(snapshotToolSchema),
});

type NpmScan = z.infer<typeof npmScanSchema>;
type SourceSnapshot = z.infer<typeof sourceSnapshotSchema>;
type ScanOutput = z.infer<typeof scanOutputSchema>;

/** Problems listed in one message; more are counted. */
const MAX_LISTED_PROBLEMS = 10;

/** A JSON path as written in JavaScript: `server.package`, `tools[0].inputSchema`. */
function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || '(top level)';
}

/**
 * `raw` checked against `schema`: undefined when it conforms, else every problem with its JSON
 * path (`server.package is missing; tools[0].inputSchema is missing`).
 */
function shapeProblems(schema: z.ZodType, raw: unknown): string | undefined {
  const checked = schema.safeParse(raw, { reportInput: true });
  if (checked.success) return undefined;
  const problems = checked.error.issues.map((issue) => {
    const path = jsonPath(issue.path);
    if (issue.code === 'invalid_type' && issue.input === undefined) return `${path} is missing`;
    return `${path}: ${issue.message}`;
  });
  const more = problems.length - MAX_LISTED_PROBLEMS;
  return more > 0
    ? `${problems.slice(0, MAX_LISTED_PROBLEMS).join('; ')}; and ${more} more`
    : problems.join('; ');
}

/**
 * Normalise the snapshot shapes `catalog import` reads:
 * `{server, tools}` (captured from source, e.g. aws-bedrock-agentcore), the npm scan shape
 * (`{id, package, packageVersion, bin, launch, serverInfo, tools}`) of `catalog-sources/`, and the
 * output of `tollgate scan --json` (`{ok, id, package, serverInfo, tools}`; `package` is there
 * only when the scanned command was `npx <package>`).
 * @param raw parsed JSON of the snapshot.
 * @param file the snapshot's file name, recorded as `source.snapshot` and named in errors.
 * @throws {ImportError} when the shape is none of these, or a field the importer needs is
 *   missing or of the wrong type (every such field named by its JSON path).
 */
export function normalizeSnapshot(raw: unknown, file: string): Snapshot {
  const r = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const invalid = (problems: string, hint = '') =>
    new ImportError(`${file}: not a tools/list snapshot: ${problems}${hint}`);
  if ('server' in r) {
    const problems = shapeProblems(sourceSnapshotSchema, r);
    if (problems) throw invalid(problems);
    const s = (r as SourceSnapshot).server;
    const launch: CatalogLaunch | undefined =
      s.package.registry === 'pypi'
        ? { command: 'uvx', args: [s.package.name], note: 'run with uv; the snapshot was taken from source' }
        : undefined;
    return {
      server: {
        id: s.id,
        name: s.name,
        package: { ...s.package },
        ...(s.repository ? { repository: s.repository } : {}),
        ...(s.license ? { license: s.license } : {}),
        ...(launch ? { launch } : {}),
        source: { snapshot: file, ...(s.sourceCommit ? { commit: s.sourceCommit } : {}) },
      },
      tools: r.tools as SnapshotTool[],
    };
  }
  if ('ok' in r) {
    if (r.ok === false)
      throw new ImportError(`${file}: the output of a failed scan (ok: false): no tools to import`);
    const problems = shapeProblems(scanOutputSchema, r);
    if (problems)
      throw invalid(
        problems,
        r.package === undefined
          ? ' (tollgate scan records the package only when the server command is `npx <package>`, its version' +
              ' too with `npx <package>@<version>`: scan it that way, or add "package": {"registry": "npm", "name": "<package>", "version": "<version>"})'
          : '',
      );
    const s = r as ScanOutput;
    return {
      server: {
        id: s.id,
        name: s.serverInfo.title ?? s.serverInfo.name,
        package: { ...s.package },
        source: {
          snapshot: file,
          serverInfo: {
            name: s.serverInfo.name,
            ...(s.serverInfo.version ? { version: s.serverInfo.version } : {}),
          },
        },
      },
      tools: s.tools as SnapshotTool[],
    };
  }
  if ('id' in r || 'package' in r) {
    const problems = shapeProblems(npmScanSchema, r);
    if (problems) throw invalid(problems);
    const n = r as NpmScan;
    const args = n.launch?.args ?? [];
    const pkgAtVersion = n.packageVersion ? `${n.package}@${n.packageVersion}` : n.package;
    const launch: CatalogLaunch | undefined = n.launch
      ? {
          command: n.launch.command,
          args,
          ...(n.launch.env && Object.keys(n.launch.env).length ? { env: n.launch.env } : {}),
          // The scan ran `node <entry> ...` inside the installed package.
          ...(n.launch.command === 'node' ? { cwd: 'package' as const } : {}),
          npx: `npx -y --package=${pkgAtVersion} ${defaultBinName(n.bin ?? n.package)} ${args.slice(1).join(' ')}`.trim(),
          ...(n.launch.note ? { note: n.launch.note } : {}),
        }
      : undefined;
    return {
      server: {
        id: n.id,
        name: n.serverInfo?.title ?? n.serverInfo?.name ?? n.package,
        package: {
          registry: 'npm',
          name: n.package,
          ...(n.packageVersion ? { version: n.packageVersion } : {}),
        },
        ...(n.repository ? { repository: n.repository } : {}),
        ...(n.license ? { license: n.license } : {}),
        ...(launch ? { launch } : {}),
        source: {
          snapshot: file,
          ...(n.protocolVersion ? { protocolVersion: n.protocolVersion } : {}),
          ...(n.serverInfo
            ? {
                serverInfo: {
                  name: n.serverInfo.name,
                  ...(n.serverInfo.version ? { version: n.serverInfo.version } : {}),
                },
              }
            : {}),
          ...(n.scannedAt ? { scannedAt: n.scannedAt } : {}),
        },
      },
      tools: n.tools as SnapshotTool[],
    };
  }
  throw new ImportError(
    `${file}: not a tools/list snapshot (expected {server, tools}, {id, package, tools} or the output of tollgate scan --json)`,
  );
}

/** Read and normalise a snapshot file. @throws {ImportError} on unreadable JSON, an unknown shape or a missing field. */
export function readSnapshot(path: string): Snapshot {
  let text: string;
  try {
    // A byte-order mark (what some Windows editors and shells write first) is not JSON's.
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new ImportError(`${path}: ${(err as Error).message}`);
  }
  if (text.trim() === '') throw new ImportError(`${path}: the file is empty, not a tools/list snapshot`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8 names a byte offset (`... in JSON at position 11`): shown as line:col of the file.
    // V8 may quote the text, newline included (`"garbage\n" is not valid JSON`): kept on one line.
    const message = (err as Error).message.replace(/\r?\n/g, '\\n');
    const at = /at position (\d+)/.exec(message);
    if (!at) throw new ImportError(`${path}: not JSON: ${message}`);
    const offset = Number(at[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw new ImportError(
      `${path}:${line}:${column}: not JSON: ${message.replace(/\s*(?:in JSON )?at position \d+.*$/s, '')}`,
    );
  }
  return normalizeSnapshot(raw, basename(path));
}

/** Read `<dir>/<server-id>.json`, or `undefined` when it does not exist. */
export function readCuration(dir: string, serverId: string): Curation | undefined {
  const file = join(dir, `${serverId}.json`);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as Curation;
}

/**
 * Build the catalogue entry of one snapshot: server metadata from the snapshot, descriptions from
 * the curation file (and its `secrets` notes), `inputSchema`, `title` and declared annotations from
 * the snapshot. Hand labels are not copied (they are the classifier's test fixture, not overrides).
 * @throws {ImportError} naming every tool that has no curated description, or a secrets note that
 *   is not text, or when the result fails the catalogue schema (e.g. a description over 25 words).
 */
export function buildCatalogEntry(snapshot: Snapshot, curation: Curation | undefined): CatalogServer {
  const id = snapshot.server.id;
  const badSecrets = snapshot.tools.filter((t) => {
    const note = curation?.tools?.[t.name]?.secrets;
    return note !== undefined && typeof note !== 'string';
  });
  if (badSecrets.length > 0) {
    throw new ImportError(
      `${id}: a curated secrets note must be text (what the result carries): ${badSecrets.map((t) => t.name).join(', ')}`,
    );
  }
  const missing = snapshot.tools.filter((t) => !curation?.tools?.[t.name]?.description?.trim());
  if (missing.length > 0) {
    throw new ImportError(
      `${id}: no curated description for ${missing.length} tool(s): ${missing.map((t) => t.name).join(', ')}` +
        (curation ? '' : ` (no curation file ${id}.json)`),
    );
  }
  const tools: CatalogTool[] = snapshot.tools.map((t) => {
    const annotations = t.annotations && Object.keys(t.annotations).length > 0 ? t.annotations : undefined;
    const curated = curation!.tools[t.name]!;
    return {
      name: t.name,
      ...(t.title ? { title: t.title } : {}),
      description: curated.description.trim(),
      ...(curated.secrets !== undefined ? { secrets: { reason: curated.secrets.trim() } } : {}),
      inputSchema: t.inputSchema,
      ...(annotations ? { annotations } : {}),
    };
  });
  const server: CatalogServer = { ...snapshot.server, tools };
  const checked = catalogServerSchema.safeParse(server);
  if (!checked.success) {
    throw new ImportError(
      `${id}: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return server;
}

/**
 * A catalogue entry as YAML text, keys in schema order, with a header saying where it came from.
 * Strings that a YAML 1.1 reader (PyYAML, older Ruby and Go libraries) would load as something
 * else are quoted (`compat: 'yaml-1.1'`): enum values such as `off`, `NO`, `Yes` stay strings
 * there too, as do `0x1F`, `1:20` and `2026-01-01`. YAML 1.2 readers load the same values.
 * @param header replaces the default header comment (lines without `#`).
 */
export function serializeCatalog(server: CatalogServer, header?: string): string {
  const ordered = {
    id: server.id,
    name: server.name,
    ...(server.description ? { description: server.description } : {}),
    package: server.package,
    ...(server.repository ? { repository: server.repository } : {}),
    ...(server.license ? { license: server.license } : {}),
    ...(server.launch ? { launch: server.launch } : {}),
    ...(server.source ? { source: server.source } : {}),
    tools: server.tools.map((t) => ({
      name: t.name,
      ...(t.title ? { title: t.title } : {}),
      description: t.description,
      ...(t.category ? { category: t.category } : {}),
      ...(t.secrets ? { secrets: t.secrets } : {}),
      ...(t.annotations ? { annotations: t.annotations } : {}),
      inputSchema: t.inputSchema,
    })),
  };
  const head =
    header ??
    `Tollgate catalogue: ${server.name} (${server.tools.length} tools).\n` +
      'Descriptions are our own; inputSchema and annotations are as the server lists them.\n' +
      'Schema: packages/catalog/src/schema.ts. Regenerate with `tollgate catalog import`.';
  const comment = head
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n');
  return `${comment}\n${stringify(ordered, { lineWidth: 0, aliasDuplicateObjects: false, compat: 'yaml-1.1' })}`;
}

/** The first sentence of `text`, cut to at most `maxWords` words (a placeholder description). */
export function firstSentence(text: string, maxWords = 25): string {
  const sentence = (text.trim().split(/(?<=[.!?])\s+/)[0] ?? '').replace(/\s+/g, ' ');
  const w = sentence.split(' ').filter(Boolean);
  return w.length <= maxWords ? sentence : `${w.slice(0, maxWords - 1).join(' ')}…`;
}

/** The default catalogue id of a server: its name in lower-case kebab form (see {@link entryFromScan}). */
function idFromServerName(name: string): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'server';
  // Letters outside ASCII are dropped from the slug, and a long name is cut: a short hash of the
  // whole name keeps two such servers (`工具服务器`, `数据服务器`) apart, since rule names and
  // counters end with the id.
  if (!/[^\x00-\x7f]/.test(name) && slug.length <= MAX_DERIVED_ID) return slug;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 6);
  return `${slug.slice(0, MAX_DERIVED_ID - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

/** Longest id {@link entryFromScan} derives from a server's name, in characters. */
const MAX_DERIVED_ID = 64;

/**
 * A draft catalogue entry from a live scan. Descriptions are the server's own first sentences
 * (cut to 25 words): fine for a local policy, but to be rewritten in our words before the entry
 * joins `catalog/`. A tool without any description gets "(no description)".
 * @param scan what {@link scanServer} returned.
 * @param meta id and package to record; default id is the server name in lower-case kebab form,
 *   with a short hash of the name added when it has letters outside ASCII (`工具服务器` -> `server-3b457c`)
 *   or is cut to 64 characters.
 */
export function entryFromScan(
  scan: { serverInfo: { name: string; version?: string; title?: string }; tools: SnapshotTool[] },
  meta: { id?: string; package?: CatalogServer['package']; launch?: CatalogLaunch } = {},
): CatalogServer {
  const id = meta.id ?? idFromServerName(scan.serverInfo.name);
  return {
    id,
    // Shown in headers and messages: one line of at most 100 characters (serverInfo is unbounded).
    name: oneLine(scan.serverInfo.title ?? scan.serverInfo.name, 100) || id,
    package: meta.package ?? {
      registry: 'npm',
      name: scan.serverInfo.name,
      ...(scan.serverInfo.version ? { version: scan.serverInfo.version } : {}),
    },
    ...(meta.launch ? { launch: meta.launch } : {}),
    source: {
      serverInfo: {
        name: scan.serverInfo.name,
        ...(scan.serverInfo.version ? { version: scan.serverInfo.version } : {}),
      },
    },
    tools: scan.tools.map((t) => {
      const annotations = t.annotations && Object.keys(t.annotations).length > 0 ? t.annotations : undefined;
      return {
        name: t.name,
        ...(t.title ? { title: t.title } : {}),
        description: firstSentence(t.description ?? '') || '(no description)',
        inputSchema: t.inputSchema,
        ...(annotations ? { annotations } : {}),
      };
    }),
  };
}

/** Options of {@link carryOverrides}. */
export interface CarryOptions {
  /**
   * The entry whose curated overrides must not be lost. Default: this server's file in
   * {@link defaultCatalogDir} (the repository's `catalog/`, or the copy shipped with the package),
   * when it exists and has overrides. `null`: no check.
   */
  curated?: CatalogServer | null;
  /** Receives the warning (default: written to stderr as `warning: ...`). */
  warn?: (message: string) => void;
}

/**
 * Keep the manual `category` overrides of a previous version of an entry: re-importing a snapshot
 * must not silently drop a human decision. Overrides of tools that no longer exist are dropped.
 *
 * Overrides live only in catalogue files, so importing into a directory without them (a fresh
 * `--out`) cannot carry them. That is not silent: when the curated entry (see
 * {@link CarryOptions.curated}) has overrides for tools of `next` that the result lacks, a warning
 * names how many and which, and where they are.
 * @returns `next` with overrides copied by tool name (a new object; inputs are not changed).
 */
export function carryOverrides(
  previous: CatalogServer | undefined,
  next: CatalogServer,
  options: CarryOptions = {},
): CatalogServer {
  const overrides = new Map(
    (previous?.tools ?? []).filter((t) => t.category).map((t) => [t.name, t.category!]),
  );
  const result =
    overrides.size === 0
      ? next
      : {
          ...next,
          tools: next.tools.map((t) =>
            overrides.has(t.name) ? { ...t, category: { ...overrides.get(t.name)! } } : t,
          ),
        };
  const curated = options.curated === undefined ? curatedEntry(next.id) : options.curated;
  if (curated) {
    const present = new Set(result.tools.filter((t) => t.category).map((t) => t.name));
    const wanted = new Set(next.tools.map((t) => t.name));
    const absent = curated.tools
      .filter((t) => t.category && wanted.has(t.name) && !present.has(t.name))
      .map((t) => t.name);
    if (absent.length > 0) {
      const where =
        curated === curatedFiles.get(next.id)?.entry ? curatedFiles.get(next.id)!.file : 'the catalogue';
      const names = absent.length <= 5 ? absent.join(', ') : `${absent.slice(0, 5).join(', ')}, ...`;
      const message =
        `${next.id}: ${absent.length} curated category override(s) in ${where} are absent from the output ` +
        `and were not carried over (${names}); import into the catalogue directory to keep them`;
      if (options.warn) options.warn(message);
      else process.stderr.write(`warning: ${message}\n`);
    }
  }
  return result;
}

const curatedFiles = new Map<string, { file: string; entry: CatalogServer | undefined }>();

/**
 * The entry of `id` in the default catalogue when it has manual overrides, else `undefined`.
 * The file is parsed only when its text has a tool-level `category:` key.
 */
function curatedEntry(id: string): CatalogServer | undefined {
  const cached = curatedFiles.get(id);
  if (cached) return cached.entry;
  let file = '';
  let entry: CatalogServer | undefined;
  try {
    file = join(defaultCatalogDir(), `${id}.yaml`);
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      if (/^ {4}category:/m.test(text)) entry = parseCatalog(text, file);
    }
  } catch {
    // No catalogue, or an unreadable one: nothing to compare with (the import itself goes on).
    entry = undefined;
  }
  curatedFiles.set(id, { file, entry });
  return entry;
}
