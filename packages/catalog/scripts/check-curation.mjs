// Checks hand-written curation files (our descriptions + hand labels) against the captured snapshots.
// Usage: node packages/catalog/scripts/check-curation.mjs [server-id ...]
// Each packages/catalog/data/curation/<server-id>.json is
//   { "server": "<id>", "tools": { "<tool>": { "description": "...", "category": "Read|Write|Execute|Destructive|Financial" } } }
// Rules: every snapshot tool present, no extra tools, one sentence of at most 25 words, a valid category,
// and no run of 6 or more consecutive words identical to the upstream description.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sources = process.env.TOLLGATE_CATALOG_SOURCES ?? join(here, '../../../../shared/catalog-sources');
const curationDir = join(here, '../data/curation');
const CATEGORIES = new Set(['Read', 'Write', 'Execute', 'Destructive', 'Financial']);

function snapshots() {
  const out = new Map();
  const aws = JSON.parse(readFileSync(join(sources, 'aws-bedrock-agentcore.tools.json'), 'utf8'));
  out.set(aws.server.id, aws.tools);
  for (const f of readdirSync(join(sources, 'npm-scans'))) {
    const d = JSON.parse(readFileSync(join(sources, 'npm-scans', f), 'utf8'));
    out.set(d.id, d.tools);
  }
  return out;
}
const words = (s) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9_\s-]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
function sharedRun(a, b, n = 6) {
  const wa = words(a);
  const grams = new Set();
  const wb = words(b);
  for (let i = 0; i + n <= wb.length; i++) grams.add(wb.slice(i, i + n).join(' '));
  for (let i = 0; i + n <= wa.length; i++) {
    const g = wa.slice(i, i + n).join(' ');
    if (grams.has(g)) return g;
  }
  return null;
}

const all = snapshots();
const ids = process.argv.slice(2).length ? process.argv.slice(2) : [...all.keys()].sort();
let problems = 0;
let done = 0;
for (const id of ids) {
  const tools = all.get(id);
  if (!tools) {
    console.log(`${id}: no such snapshot`);
    problems++;
    continue;
  }
  const file = join(curationDir, `${id}.json`);
  if (!existsSync(file)) {
    console.log(`${id}: missing ${file}`);
    problems++;
    continue;
  }
  const cur = JSON.parse(readFileSync(file, 'utf8'));
  const names = new Set(tools.map((t) => t.name));
  for (const t of tools) {
    const c = cur.tools?.[t.name];
    if (!c) {
      console.log(`${id}/${t.name}: missing`);
      problems++;
      continue;
    }
    const d = String(c.description ?? '');
    const n = words(d).length;
    if (n === 0 || n > 25) {
      console.log(`${id}/${t.name}: ${n} words (1..25)`);
      problems++;
    }
    if (/[.!?]\s+[A-Z]/.test(d)) {
      console.log(`${id}/${t.name}: more than one sentence`);
      problems++;
    }
    if (!CATEGORIES.has(c.category)) {
      console.log(`${id}/${t.name}: bad category ${c.category}`);
      problems++;
    }
    const run = sharedRun(d, t.description ?? '');
    if (run) {
      console.log(`${id}/${t.name}: copies upstream words "${run}"`);
      problems++;
    }
    done++;
  }
  for (const name of Object.keys(cur.tools ?? {}))
    if (!names.has(name)) {
      console.log(`${id}/${name}: not in snapshot`);
      problems++;
    }
}
console.log(`${done} tools checked, ${problems} problems`);
process.exit(problems ? 1 : 0);
