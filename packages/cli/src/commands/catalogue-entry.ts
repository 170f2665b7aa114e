/**
 * One server of the catalogue by its id, for the commands that take `--server <id>` (`init`,
 * `explain`): only that server's file is read.
 */

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CATALOG_ID_PATTERN,
  type CatalogServer,
  defaultCatalogDir,
  loadCatalogFile,
} from '@tollgate/catalog';
import { distance } from 'fastest-levenshtein';

/** `defaultCatalogDir()`, or null when no catalogue can be found. */
export function defaultCatalogDirOrNull(): string | null {
  try {
    return defaultCatalogDir();
  } catch {
    return null;
  }
}

/**
 * The catalogue entry `id` from `catalog` (default: `defaultCatalogDir()`), or the reason it cannot
 * be used: no catalogue, an unknown id (with near ids suggested), a file that cannot be read or
 * does not load.
 */
export function catalogueServer(id: string, catalog: string | undefined): CatalogServer | string {
  const dir = catalog ?? defaultCatalogDirOrNull();
  if (!dir) return 'no catalogue directory found; pass --catalog <dir> or set TOLLGATE_CATALOG_DIR';
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
      return `cannot read the catalogue directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    const want = id.toLowerCase();
    const near = ids.filter((c) => c.includes(want) || want.includes(c) || distance(c, want) <= 2);
    return `no server "${id}" in the catalogue${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; see tollgate catalog stats`;
  }
  try {
    return loadCatalogFile(file);
  } catch (err) {
    return (err as Error).message;
  }
}
