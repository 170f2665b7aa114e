import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildCatalogEntry,
  CATEGORIES,
  CatalogError,
  type CatalogStats,
  carryOverrides,
  catalogStats,
  defaultCatalogDir,
  defaultCurationDir,
  loadCatalog,
  loadCatalogFile,
  RISKS,
  readCuration,
  readSnapshot,
  serializeCatalog,
} from '@tollgate/catalog';
import { pc } from '../colors.js';
import { jsonFailureText } from '../json-failure.js';

/** Parsed options of `tollgate catalog import`. */
export interface ImportOptions {
  out?: string;
  curation?: string;
  json?: boolean;
}

/**
 * `tollgate catalog import SNAPSHOT.json... [--out DIR] [--curation DIR]`: one catalogue file per
 * snapshot, descriptions from the curation files. Exit 0 when all imported, 1 when any snapshot
 * lacked curated descriptions or was invalid (the others are still written), 2 on usage errors
 * and when the output directory cannot be created (the `--json` failure object with `--json`).
 * The output directory is created only when a file is about to be written in it.
 */
export function runImport(snapshots: string[], opts: ImportOptions): void {
  let out: string;
  try {
    out = opts.out ?? defaultCatalogDir();
  } catch (err) {
    // No catalogue directory (a TOLLGATE_CATALOG_DIR naming none): a usage error, kept in --json.
    const message = (err as Error).message;
    if (opts.json) process.stdout.write(jsonFailureText({ code: 'catalogue', message }));
    else process.stderr.write(`tollgate catalog import: ${message}\n`);
    process.exitCode = 2;
    return;
  }
  const curationDir = opts.curation ?? defaultCurationDir();
  let outMade = false;
  const results: Array<{ snapshot: string; id?: string; file?: string; tools?: number; error?: string }> = [];
  // With --json they go in the JSON object, where the caller reads; otherwise on stderr.
  const warnings: string[] = [];
  const warn = (message: string) =>
    opts.json ? warnings.push(message) : process.stderr.write(`warning: ${message}\n`);
  for (const path of snapshots) {
    try {
      const snapshot = readSnapshot(path);
      const file = join(out, `${snapshot.server.id}.yaml`);
      // Manual category overrides live only in the catalogue file: carry them over.
      const previous = existsSync(file) ? loadCatalogFile(file) : undefined;
      const entry = carryOverrides(
        previous,
        buildCatalogEntry(snapshot, readCuration(curationDir, snapshot.server.id)),
        { warn },
      );
      if (!outMade) {
        try {
          mkdirSync(out, { recursive: true });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          const message = `cannot create the catalogue directory ${out}: ${e.code ?? e.message}`;
          if (opts.json) process.stdout.write(jsonFailureText({ code: 'cannot-write', message }));
          else process.stderr.write(`tollgate catalog import: ${message}\n`);
          process.exitCode = 2;
          return;
        }
        outMade = true;
      }
      writeFileSync(file, serializeCatalog(entry));
      results.push({ snapshot: path, id: entry.id, file, tools: entry.tools.length });
    } catch (err) {
      results.push({ snapshot: path, error: (err as Error).message });
    }
  }
  const failed = results.filter((r) => r.error);
  if (opts.json)
    process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, results, warnings }, null, 2)}\n`);
  else {
    for (const r of results)
      if (r.error) process.stderr.write(`${pc.red('error')} ${r.error}\n`);
      else process.stdout.write(`${r.file}: ${r.tools} tools\n`);
    process.stdout.write(`${results.length - failed.length} imported, ${failed.length} failed\n`);
  }
  process.exitCode = failed.length ? 1 : 0;
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

function printStats(stats: CatalogStats): void {
  const head = ['server'.padEnd(24), ...CATEGORIES.map((c) => pad(c, 11)), pad('tools', 6)].join(' ');
  process.stdout.write(`${pc.bold(head)}\n`);
  for (const s of stats.perServer) {
    process.stdout.write(
      `${[s.id.padEnd(24), ...CATEGORIES.map((c) => pad(s.byCategory[c], 11)), pad(s.tools, 6)].join(' ')}\n`,
    );
  }
  const o = stats.overall;
  process.stdout.write(
    `${pc.bold([`all (${stats.servers})`.padEnd(24), ...CATEGORIES.map((c) => pad(o.byCategory[c], 11)), pad(o.tools, 6)].join(' '))}\n`,
  );
  process.stdout.write(
    `\nrisk: ${RISKS.map((r) => `${r} ${o.byRisk[r]}`).join(', ')}; overrides: ${o.overridden}\n`,
  );
}

/**
 * Reports why stats has nothing to count: text on stderr, or the JSON failure with `--json`
 * (naming the catalogue file and position of a file that does not load); exit 2.
 */
function statsFailure(
  opts: { json?: boolean },
  message: string,
  where?: { file: string; line: number; column: number },
): void {
  if (opts.json) process.stdout.write(jsonFailureText({ code: 'catalogue', message, ...where }));
  else process.stderr.write(`tollgate catalog stats: ${message}\n`);
  process.exitCode = 2;
}

/**
 * `tollgate catalog stats [--dir DIR] [--json]`: tools per category and risk, per server and
 * overall, printed as a table (or JSON). A missing, unreadable or empty directory, or a malformed
 * catalogue file (with its positioned error), exits 2.
 */
export function runStats(opts: { dir?: string; json?: boolean }): void {
  let dir: string;
  try {
    dir = opts.dir ?? defaultCatalogDir();
  } catch (err) {
    statsFailure(opts, (err as Error).message);
    return;
  }
  let servers: ReturnType<typeof loadCatalog>;
  try {
    servers = loadCatalog(dir);
  } catch (err) {
    if (err instanceof CatalogError) {
      // A catalogue file's own error, with its position.
      statsFailure(opts, err.message, { file: err.file, line: err.line, column: err.column });
      return;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    if ((err as NodeJS.ErrnoException).path !== dir) {
      statsFailure(opts, (err as Error).message); // one file that cannot be read
      return;
    }
    statsFailure(
      opts,
      code === 'ENOENT'
        ? `catalogue directory ${dir} does not exist`
        : code === 'ENOTDIR'
          ? `${dir} is not a directory`
          : `cannot read the catalogue directory ${dir}: ${code}`,
    );
    return;
  }
  if (servers.length === 0) {
    statsFailure(opts, `no catalogue files (*.yaml) in ${dir}`);
    return;
  }
  const stats = catalogStats(servers);
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...stats }, null, 2)}\n`);
  else printStats(stats);
}
