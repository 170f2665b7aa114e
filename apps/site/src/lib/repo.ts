import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The repository root: the nearest directory at or above `from` holding `pnpm-workspace.yaml`.
 * Found by walking up rather than from `import.meta.url`, because Astro bundles this module into
 * `dist/` chunks before prerendering, so its own URL says nothing about where the repo is.
 *
 * @param from - starting directory (default: `process.cwd()`, which `astro build` sets to `apps/site`)
 * @throws Error when no ancestor holds `pnpm-workspace.yaml`
 */
export function repoRoot(from: string = process.cwd()): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no pnpm-workspace.yaml at or above ${from}`);
    dir = parent;
  }
}
