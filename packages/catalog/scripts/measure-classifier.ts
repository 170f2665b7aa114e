// Prints classifier accuracy on the tuning split and the held-out split (servers whose id sorts in
// the last quarter). Usage: npx tsx --conditions=@tollgate/source packages/catalog/scripts/measure-classifier.ts [--misses]
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  classifyTool,
  defaultCatalogDir,
  defaultCurationDir,
  defaultSourcesDir,
  formatMatrix,
  heldOutServers,
  loadCatalog,
  measure,
  readLabels,
} from '../src/index.js';

const servers = loadCatalog(defaultCatalogDir());
const labels = readLabels(defaultCurationDir());
// The split is fixed over every snapshot id (62 servers), so it does not move while files arrive.
const scans = join(defaultSourcesDir(), 'npm-scans');
if (!existsSync(scans)) {
  console.error(
    `measure-classifier: the captured tools/list snapshots are not at ${scans} (the held-out split is ` +
      'fixed over their ids); set TOLLGATE_CATALOG_SOURCES to the catalog-sources directory that holds npm-scans/',
  );
  process.exit(2);
}
const snapshotIds = ['aws-bedrock-agentcore', ...readdirSync(scans).map((f) => f.replace(/\.json$/, ''))];
const held = heldOutServers(snapshotIds);
const tuning = measure(servers, labels, (l) => !held.has(l.server));
const heldOut = measure(servers, labels, (l) => held.has(l.server));
const all = measure(servers, labels);
for (const [name, m] of [
  ['tuning', tuning],
  ['held-out', heldOut],
  ['all', all],
] as const) {
  console.log(
    `\n${name}: ${m.correct}/${m.total} = ${(m.accuracy * 100).toFixed(1)}% over ${m.servers} servers`,
  );
  console.log(formatMatrix(m));
}
// The product answer honours manual `category` overrides; `measure` ignores them so it measures the
// classifier itself. Both figures are printed, with the number of overrides.
const byKey = new Map(servers.flatMap((s) => s.tools.map((t) => [`${s.id}\u0000${t.name}`, t] as const)));
let overrides = 0;
for (const s of servers) for (const t of s.tools) if (t.category) overrides++;
for (const [name, keep] of [
  ['tuning', (server: string) => !held.has(server)],
  ['held-out', (server: string) => held.has(server)],
  ['all', () => true],
] as const) {
  let total = 0;
  let correct = 0;
  for (const l of labels) {
    const t = byKey.get(`${l.server}\u0000${l.tool}`);
    if (!t || !keep(l.server)) continue;
    total++;
    if (classifyTool(t).category === l.category) correct++;
  }
  console.log(
    `${name} with the catalogue's ${overrides} overrides: ${correct}/${total} = ${((correct / total) * 100).toFixed(1)}%`,
  );
}
if (process.argv.includes('--misses'))
  for (const x of tuning.misses) console.log(`${x.server}/${x.tool}: label ${x.label}, got ${x.predicted}`);
