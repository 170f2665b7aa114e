// `pnpm bench`: runs every bench/*.bench.mjs in turn (each prints its own table of ratios against a
// baseline measured in the same run). Pass a name filter to run a subset: `pnpm bench runtime`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../bench/', import.meta.url).pathname;
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.mjs') && (!filter || f.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`bench: no benchmark matches ${filter ?? '(all)'}`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.error(`\n== bench/${f}`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
