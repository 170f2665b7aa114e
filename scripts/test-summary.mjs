// Sums vitest's per-package "Tests  N failed | M passed (T)" lines from a log and prints one plain
// `N passed, N failed` line (the form CI reads), preceded by the name of each failed test so that
// the tail of a CI log says what failed. Exits 1 when any test failed or none ran.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = new Set();
for (const line of text.split('\n')) {
  // vitest's summary names each failed test as ` FAIL  file > suite > test`; turbo prefixes the
  // package (`tollgate:test: `).
  const f = /^(\S+:test:)?\s*FAIL\s+(\S.*\S)\s*$/.exec(line);
  if (f) failures.add(`${f[1] ? `${f[1].slice(0, -':test:'.length)}: ` : ''}${f[2]}`);
  const m = /^\S*\s*Tests\s+(.*)\(\d+\)\s*$/.exec(line.replace(/^[^:]*:\s/, ''));
  if (!m) continue;
  for (const part of m[1].split('|')) {
    const p = /(\d+)\s+(passed|failed|skipped|todo)/.exec(part);
    if (!p) continue;
    const n = Number(p[1]);
    if (p[2] === 'passed') passed += n;
    else if (p[2] === 'failed') failed += n;
    else skipped += n;
  }
}
for (const name of failures) console.log(`failed: ${name}`);
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed > 0 || passed === 0 ? 1 : 0);
