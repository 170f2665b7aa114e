import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A repository doc (`docs/<id>.md`) the site renders at `/docs/<id>/`. */
export interface RepoDocInfo {
  id: string;
  /** The file's first `# heading`, or its id. */
  title: string;
}

/**
 * Docs with their own page and sidebar place (policy reference, client setup); every other
 * `docs/*.md` is rendered by `src/pages/docs/[doc].astro` under "Project docs".
 */
export const FEATURED_DOCS: readonly string[] = ['policy-reference', 'clients'];

/**
 * The repository's `docs/*.md` files, sorted by id. Read at config time (for the sidebar) and at
 * build time (for pages), from the same directory the `repoDocs` collection loads.
 *
 * @param root - repository root
 */
export function listRepoDocs(root: string): RepoDocInfo[] {
  const dir = join(root, 'docs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => {
      const id = f.slice(0, -3);
      const heading = /^#\s+(.+)$/m.exec(readFileSync(join(dir, f), 'utf8'));
      return { id, title: heading?.[1]?.replace(/`/g, '').trim() ?? id };
    });
}
