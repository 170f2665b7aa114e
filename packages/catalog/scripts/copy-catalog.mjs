// Build step: ship the catalogue inside the published package. Copies <repo>/catalog/*.yaml into
// packages/catalog/catalog/, which `defaultCatalogDir()` falls back to outside a checkout.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(pkg, '..', '..', 'catalog');
const to = join(pkg, 'catalog');
if (!existsSync(from)) {
  console.error(`copy-catalog: ${from} not found`);
  process.exit(2);
}
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
const files = readdirSync(from).filter((f) => f.endsWith('.yaml'));
for (const f of files) copyFileSync(join(from, f), join(to, f));
console.log(`copy-catalog: ${files.length} files -> ${to}`);
