/**
 * One server of the catalogue by its id, for the commands that take `--server <id>` (`init`,
 * `explain`): only that server's file is read.
 */

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CATALOG_ID_PATTERN,
  CatalogError,
  type CatalogServer,
  defaultCatalogDir,
  loadCatalogFile,
} from '@tollgate/catalog';
import { distance } from 'fastest-levenshtein';

/**
 * `defaultCatalogDir()`, or why no catalogue can be used: a `TOLLGATE_CATALOG_DIR` that names no
 * directory (said as such), or none found at all.
 */
export function defaultCatalogDirOrProblem(): { dir: string } | { problem: string } {
  try {
    return { dir: defaultCatalogDir() };
  } catch (err) {
    return process.env.TOLLGATE_CATALOG_DIR
      ? { problem: (err as Error).message }
      : { problem: 'no catalogue directory found; pass --catalog <dir> or set TOLLGATE_CATALOG_DIR' };
  }
}

/** Why a catalogue entry cannot be used, and the catalogue file (or directory) at fault if any. */
export interface CatalogueProblem {
  message: string;
  /** The catalogue file that does not load, or the directory that cannot be read. */
  file?: string;
  /** 1-based position of the first problem in `file`, for a file that does not load. */
  line?: number;
  column?: number;
}

/**
 * The catalogue entry `id` from `catalog` (default: `defaultCatalogDir()`), or why it cannot be
 * used: an empty id, no catalogue, an unknown id (with near ids suggested), a file that cannot be read or does
 * not load (naming that file, and for one that does not load its first problem's position).
 */
export function catalogueEntry(
  id: string,
  catalog: string | undefined,
): { server: CatalogServer } | { problem: CatalogueProblem } {
  // `--server "$ID"` with the variable unset: every id "contains" the empty string.
  if (id.trim() === '')
    return {
      problem: {
        message: '--server is empty: give a catalogue id (e.g. github); see tollgate catalog stats',
      },
    };
  const found = catalog !== undefined ? { dir: catalog } : defaultCatalogDirOrProblem();
  if (!('dir' in found)) return { problem: { message: found.problem } };
  const { dir } = found;
  // A catalogue id names one file in `dir`; anything else (`../x`, `a/b`) is never a path.
  const file = CATALOG_ID_PATTERN.test(id) ? join(dir, `${id}.yaml`) : undefined;
  if (!file || !existsSync(file)) {
    // Only the one file is parsed; ids for suggestions come from the file names.
    let ids: string[];
    try {
      ids = readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -5));
    } catch (err) {
      return {
        problem: {
          message: `cannot read the catalogue directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          file: dir,
        },
      };
    }
    const want = id.toLowerCase();
    const near = ids.filter((c) => c.includes(want) || want.includes(c) || distance(c, want) <= 2);
    return {
      problem: {
        message: `no server "${id}" in the catalogue${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; see tollgate catalog stats`,
      },
    };
  }
  try {
    return { server: loadCatalogFile(file) };
  } catch (err) {
    const message = (err as Error).message;
    return {
      problem:
        err instanceof CatalogError
          ? { message, file: err.file, line: err.line, column: err.column }
          : { message, file },
    };
  }
}

/** {@link catalogueEntry} with the problem as its message only (for `init`, `explain`, test files). */
export function catalogueServer(id: string, catalog: string | undefined): CatalogServer | string {
  const found = catalogueEntry(id, catalog);
  return 'server' in found ? found.server : found.problem.message;
}
