import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built site (`astro build` output). */
export const DIST = fileURLToPath(new URL('../dist', import.meta.url));

/**
 * Throws a readable error when the site has not been built, instead of letting every test fail on
 * a missing file.
 */
export function requireDist(): string {
  if (!existsSync(`${DIST}/index.html`)) {
    throw new Error(`${DIST}/index.html is missing: run \`pnpm --filter site build\` before the site tests`);
  }
  return DIST;
}
