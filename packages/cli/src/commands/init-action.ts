import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CatalogServer,
  classifyTool,
  defaultCatalogDir,
  entryFromScan,
  loadCatalogFile,
  ScanTimeoutError,
  scanServer,
  starterPolicy,
} from '@tollgate/catalog';
import { loadPolicy } from '@tollgate/policy';

/** Parsed options of `tollgate init`. */
export interface InitOptions {
  server?: string;
  output: string;
  force?: boolean;
  json?: boolean;
  catalog?: string;
  timeout: number;
}

/** Levenshtein distance, for did-you-mean suggestions on server ids. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function defaultCatalogDirOrNull(): string | null {
  try {
    return defaultCatalogDir();
  } catch {
    return null;
  }
}

function fail(message: string): void {
  process.stderr.write(`tollgate init: ${message}\n`);
  process.exitCode = 2;
}

export async function runInit(command: string[], opts: InitOptions): Promise<void> {
  if (!opts.server && command.length === 0)
    return fail('give --server <id> (from the catalogue) or a server command after --');
  if (opts.server && command.length > 0) return fail('give either --server or a command after --, not both');
  const toStdout = opts.output === '-';
  if (!toStdout && existsSync(opts.output) && !opts.force)
    return fail(`${opts.output} already exists; use --force to overwrite it or -o to choose another file`);

  let server: CatalogServer;
  let source: string;
  if (opts.server) {
    const dir = opts.catalog ?? defaultCatalogDirOrNull();
    if (!dir) return fail('no catalogue directory found; pass --catalog <dir> or set TOLLGATE_CATALOG_DIR');
    const want = opts.server;
    const file = join(dir, `${want}.yaml`);
    if (!existsSync(file)) {
      // Only the one file is parsed; ids for suggestions come from the file names.
      const ids = readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -5));
      const near = ids.filter((id) => id.includes(want) || want.includes(id) || editDistance(id, want) <= 2);
      return fail(
        `no server "${want}" in the catalogue${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; see tollgate catalog stats`,
      );
    }
    let found: CatalogServer;
    try {
      found = loadCatalogFile(file);
    } catch (err) {
      return fail((err as Error).message);
    }
    server = found;
    source = `catalogue entry ${found.id}`;
  } else {
    try {
      const result = await scanServer({
        command: command[0]!,
        args: command.slice(1),
        timeoutMs: opts.timeout * 1000,
        stderr: 'inherit',
      });
      server = entryFromScan(result);
    } catch (err) {
      return fail(
        err instanceof ScanTimeoutError
          ? err.message
          : `could not scan ${command.join(' ')}: ${(err as Error).message}`,
      );
    }
    source = `live scan of ${command.join(' ')}`;
  }

  const policy = starterPolicy(
    server,
    opts.server ? {} : { header: `Generated from a ${source}; tools classified on the spot.` },
  );
  // Never write a policy that `tollgate validate` would reject.
  const checked = loadPolicy(policy.yaml, { filename: opts.output });
  if (!checked.ok) {
    return fail(
      `generated policy does not validate (a bug, please report it):\n${checked.errors.map((e) => `  ${e.line}:${e.column} ${e.message}`).join('\n')}`,
    );
  }
  if (toStdout) process.stdout.write(policy.yaml);
  else writeFileSync(opts.output, policy.yaml);
  if (opts.json) {
    const counts: Record<string, number> = {};
    for (const t of server.tools) {
      const c = classifyTool(t).category;
      counts[c] = (counts[c] ?? 0) + 1;
    }
    const summary = {
      file: toStdout ? null : opts.output,
      server: server.id,
      source,
      tools: server.tools.length,
      categories: counts,
    };
    (toStdout ? process.stderr : process.stdout).write(`${JSON.stringify(summary)}\n`);
  } else if (!toStdout) {
    process.stderr.write(
      `wrote ${opts.output}: starter policy for ${server.id} (${server.tools.length} tools, from the ${source})\n`,
    );
  }
  process.exitCode = 0;
}
