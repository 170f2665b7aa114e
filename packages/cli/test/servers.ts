/**
 * The real MCP servers the CLI tests launch: devDependencies of @tollgate/proxy, resolved from
 * there. No side effects, so tests that run the CLI from source can use it without a build.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const requireFromProxy = createRequire(
  join(dirname(fileURLToPath(import.meta.url)), '../../proxy/package.json'),
);

/** Absolute path of a server package's bin script. */
export function serverBin(pkg: 'server-everything' | 'server-filesystem' | 'server-memory'): string {
  const manifest = requireFromProxy.resolve(`@modelcontextprotocol/${pkg}/package.json`);
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifest), Object.values(bin)[0]!);
}
