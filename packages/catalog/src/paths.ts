/**
 * Where the catalogue and its snapshot sources live on disk.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The package root (`packages/catalog`), from `src/` or `dist/`. */
const packageRoot = resolve(here, '..');

/**
 * The catalogue directory to read, first match wins:
 * 1. `$TOLLGATE_CATALOG_DIR`, which must then exist (a mistyped one is an error, not a fallback to
 *    another catalogue);
 * 2. the repository's `catalog/` when running from a checkout (`packages/catalog/../../catalog`);
 * 3. the copy shipped in the published package (`<package>/catalog/`, made by `build`).
 * @throws {Error} when `$TOLLGATE_CATALOG_DIR` names no directory, or none of the others exists.
 */
export function defaultCatalogDir(): string {
  const chosen = process.env.TOLLGATE_CATALOG_DIR;
  if (chosen) {
    if (!statSync(chosen, { throwIfNoEntry: false })?.isDirectory())
      throw new Error(`TOLLGATE_CATALOG_DIR=${chosen}: no such directory`);
    return chosen;
  }
  const repoRoot = join(packageRoot, '..', '..');
  const candidates = [
    // Only a checkout has the workspace file beside `catalog/`; an install has node_modules there.
    existsSync(join(repoRoot, 'pnpm-workspace.yaml')) ? join(repoRoot, 'catalog') : undefined,
    join(packageRoot, 'catalog'),
  ].filter((p): p is string => Boolean(p));
  for (const dir of candidates) if (existsSync(dir)) return dir;
  throw new Error(
    `no catalogue directory found (looked in ${candidates.join(', ')}); set TOLLGATE_CATALOG_DIR`,
  );
}

/**
 * The captured `tools/list` snapshots: `$TOLLGATE_CATALOG_SOURCES`, else `../shared/catalog-sources`
 * relative to the repository root (where CI puts it, beside the clone).
 */
export function defaultSourcesDir(): string {
  return (
    process.env.TOLLGATE_CATALOG_SOURCES ?? join(packageRoot, '..', '..', '..', 'shared', 'catalog-sources')
  );
}

/** The curation files (our descriptions and hand labels): `packages/catalog/data/curation`. */
export function defaultCurationDir(): string {
  return process.env.TOLLGATE_CURATION_DIR ?? join(packageRoot, 'data', 'curation');
}
