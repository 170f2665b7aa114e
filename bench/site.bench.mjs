// Site build benchmark (`pnpm bench site`, issue 6): wall time and peak memory of `astro build` of
// apps/site for the real catalogue and for a synthetic catalogue 5x its tool count, each against a
// baseline measured in the same run: a throwaway Astro project of the same installed `astro` whose
// single `getStaticPaths` page renders a tiny HTML document per entry, built with the same page
// count and the same Node heap settings. Target: site / baseline time at most 1.5x.
//
//   BENCH_QUICK=1         sizes 1x and 2x instead of 1x and 5x (a fast check)
//   BENCH_SITE_SIZES=1,3  explicit size factors
//   BENCH_SITE_HEAP_MB=N  heap cap (--max-old-space-size, MiB) for the builds at factor > 1, default
//                         4096: the site's own cap (1536, from apps/site/package.json, used at 1x)
//                         leaves too little room for 5x the data; site and baseline share the cap
//   BENCH_KEEP=1          keep the temp dirs (catalogues, outputs, logs)
//
// Peak RSS is the largest sum of resident memory over the build's whole process tree (node, the
// esbuild service, pagefind), sampled from /proc every 200 ms; `/usr/bin/time` (GNU time) gives the
// largest single process as a cross-check. Linux only.
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticCatalog } from './fixtures/site-catalog.mjs';

const root = new URL('..', import.meta.url).pathname;
const siteDir = join(root, 'apps/site');
const astroDir = join(siteDir, 'node_modules/astro');
const astroBin = join(astroDir, 'astro.js');
const QUICK = process.env.BENCH_QUICK === '1';
const sizes = (process.env.BENCH_SITE_SIZES ?? (QUICK ? '1,2' : '1,5')).split(',').map(Number);
const KEEP = process.env.BENCH_KEEP === '1';
const TARGET = 1.5;

if (process.platform !== 'linux') {
  console.error('site bench: needs Linux (/proc) to measure the process tree');
  process.exit(2);
}
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const PAGE = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;

/** The heap cap the site's own build script sets, in MiB (1536 when it sets none). */
const siteHeapMb = (() => {
  const script = JSON.parse(readFileSync(join(siteDir, 'package.json'), 'utf8')).scripts.build;
  return Number(/--max-old-space-size=(\d+)/.exec(script)?.[1] ?? 1536);
})();
const heapFor = (factor) =>
  factor > 1 ? Number(process.env.BENCH_SITE_HEAP_MB ?? Math.max(siteHeapMb, 4096)) : siteHeapMb;

/** Sum of resident memory (bytes) of `pid` and all its descendants, from /proc. */
function treeRss(pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (d.charCodeAt(0) > 57) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(d));
  }
  let sum = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    try {
      sum += Number(readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1]) * PAGE;
    } catch {}
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return sum;
}

/**
 * Runs `node <astro> build --outDir <outDir>` in `cwd` with a heap cap, under GNU time when present.
 * @returns seconds (wall), tree peak RSS and largest-process RSS in bytes
 * @throws Error (with the log's tail) when the build exits non-zero
 */
async function astroBuild({ cwd, outDir, heapMb, env, log }) {
  const timeFile = `${log}.time`;
  const nodeArgs = [astroBin, 'build', '--outDir', outDir];
  const [cmd, args] = GNU_TIME
    ? [GNU_TIME, ['-f', '%e %M', '-o', timeFile, process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const out = [];
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    cwd,
    env: {
      ...process.env,
      ...env,
      NODE_OPTIONS: `--max-old-space-size=${heapMb}`,
      ASTRO_TELEMETRY_DISABLED: '1',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => out.push(b));
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRss(child.pid));
  }, 200);
  const code = await new Promise((resolve) => child.on('close', resolve));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  const text = Buffer.concat(out).toString();
  writeFileSync(log, text);
  if (code !== 0) throw new Error(`astro build in ${cwd} exited ${code}; log ${log}:\n${text.slice(-3000)}`);
  let maxProc = null;
  if (GNU_TIME) maxProc = Number(readFileSync(timeFile, 'utf8').trim().split(/\s+/).at(-1)) * 1024;
  return { seconds, peak, maxProc };
}

/** Counts `index.html` pages under `dir`, and those under `dir/tools/`. */
function countPages(dir) {
  let pages = 0;
  let tools = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name !== 'index.html') continue;
    pages++;
    if (e.parentPath.startsWith(join(dir, 'tools/'))) tools++;
  }
  return { pages, tools };
}

/** A minimal Astro project in `dir` with one dynamic page rendering `n` tiny documents. */
function writeTrivialProject(dir, n) {
  mkdirSync(join(dir, 'src/pages/p'), { recursive: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(astroDir, join(dir, 'node_modules/astro'), 'dir');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'trivial-pages', private: true, type: 'module' }),
  );
  writeFileSync(
    join(dir, 'astro.config.mjs'),
    "import { defineConfig } from 'astro/config';\nexport default defineConfig({ trailingSlash: 'always' });\n",
  );
  writeFileSync(
    join(dir, 'src/pages/p/[id].astro'),
    `---
export function getStaticPaths() {
  return Array.from({ length: ${n} }, (_, i) => ({ params: { id: \`page-\${i}\` }, props: { i } }));
}
const { i } = Astro.props;
---
<html lang="en"><head><meta charset="utf-8"><title>Page {i}</title></head>
<body><h1>Page {i}</h1><p>Entry number {i} of ${n}.</p></body></html>
`,
  );
}

const mib = (b) => (b == null ? 'n/a' : `${Math.round(b / 2 ** 20)} MiB`);
const work = mkdtempSync(join(tmpdir(), 'tollgate-sitebench-'));
const load0 = loadavg();
const started = new Date();
const results = [];
console.error(
  `site bench: sizes ${sizes.join('x, ')}x, heap ${sizes.map((f) => `${heapFor(f)} MiB`).join(' / ')}, work dir ${work}`,
);
console.error(`load average at start: ${load0.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores`);

try {
  for (const factor of sizes) {
    const heapMb = heapFor(factor);
    const catDir = join(work, `catalog-${factor}x`);
    const cat = writeSyntheticCatalog(join(root, 'catalog'), catDir, factor);
    console.error(`\n[${factor}x] ${cat.servers} servers, ${cat.tools} tools; building the site…`);
    const siteOut = join(work, `site-${factor}x`);
    const site = await astroBuild({
      cwd: siteDir,
      outDir: siteOut,
      heapMb,
      env: { TOLLGATE_CATALOG_DIR: catDir },
      log: join(work, `site-${factor}x.log`),
    });
    const counted = countPages(siteOut);
    if (counted.tools !== cat.tools)
      throw new Error(`[${factor}x] site built ${counted.tools} tool pages for ${cat.tools} catalogue tools`);
    console.error(
      `[${factor}x] site: ${counted.pages} pages (${counted.tools} tool pages) in ${site.seconds.toFixed(1)} s, peak ${mib(site.peak)}`,
    );
    if (!KEEP) rmSync(siteOut, { recursive: true, force: true });

    console.error(`[${factor}x] baseline: trivial Astro build of ${counted.pages} pages…`);
    const trivialDir = join(work, `trivial-${factor}x`);
    writeTrivialProject(trivialDir, counted.pages);
    const trivialOut = join(trivialDir, 'dist');
    const base = await astroBuild({
      cwd: trivialDir,
      outDir: trivialOut,
      heapMb,
      env: {},
      log: join(work, `trivial-${factor}x.log`),
    });
    const baseCount = countPages(trivialOut);
    if (baseCount.pages !== counted.pages)
      throw new Error(`[${factor}x] baseline built ${baseCount.pages} pages, expected ${counted.pages}`);
    console.error(
      `[${factor}x] baseline: ${baseCount.pages} pages in ${base.seconds.toFixed(1)} s, peak ${mib(base.peak)}`,
    );
    if (!KEEP) rmSync(trivialDir, { recursive: true, force: true });

    results.push({ factor, heapMb, servers: cat.servers, ...counted, site, base });
  }
} catch (err) {
  console.error(`site bench failed: ${err.message}`);
  console.error(`temp files kept in ${work}`);
  process.exit(2);
}
const load1 = loadavg();
writeFileSync(join(work, 'results.json'), JSON.stringify(results, null, 2));

const rows = [];
for (const r of results) {
  const perK = (s) => (s / r.tools) * 1000;
  rows.push({
    build: `site ${r.factor}x`,
    'tool pages': r.tools,
    'all pages': r.pages,
    seconds: r.site.seconds.toFixed(1),
    's / 1k tool pages': perK(r.site.seconds).toFixed(2),
    'peak RSS (tree)': mib(r.site.peak),
    'peak RSS (1 proc)': mib(r.site.maxProc),
    heap: `${r.heapMb} MiB`,
    'time ratio': `${(r.site.seconds / r.base.seconds).toFixed(2)}x`,
    'RSS ratio': `${(r.site.peak / r.base.peak).toFixed(2)}x`,
  });
  rows.push({
    build: `trivial ${r.factor}x`,
    'tool pages': '-',
    'all pages': r.pages,
    seconds: r.base.seconds.toFixed(1),
    's / 1k tool pages': perK(r.base.seconds).toFixed(2),
    'peak RSS (tree)': mib(r.base.peak),
    'peak RSS (1 proc)': mib(r.base.maxProc),
    heap: `${r.heapMb} MiB`,
    'time ratio': '1.00x',
    'RSS ratio': '1.00x',
  });
}
console.table(rows);
const verdicts = results.map((r) => {
  const ratio = r.site.seconds / r.base.seconds;
  return `${r.factor}x: ${ratio.toFixed(2)}x ${ratio <= TARGET ? 'within' : 'OVER'} the ${TARGET}x target`;
});
console.log(`time ratio site / trivial: ${verdicts.join('; ')}`);

// Results file (not written for BENCH_QUICK runs, which are for checking the bench itself).
if (!QUICK) {
  const pkgVersion = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  const starlight = join(siteDir, 'node_modules/@astrojs/starlight');
  const headers = Object.keys(rows[0]);
  const md = [
    `# Site build benchmark, ${started.toISOString().slice(0, 10)}`,
    '',
    'Produced by `pnpm bench site` (bench/site.bench.mjs). Each site build is `astro build` of apps/site',
    'with `TOLLGATE_CATALOG_DIR` pointing at the real catalogue (1x) or at copies of it with renamed',
    'server ids (Nx); each baseline is a trivial Astro project with one `getStaticPaths` page emitting',
    'the same number of pages, built right after it with the same Node heap cap. Peak RSS (tree) is',
    'the largest sum over the build process tree sampled every 200 ms; (1 proc) is GNU time `%M`.',
    `Target: time ratio at most ${TARGET}x.`,
    '',
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${headers.map((h) => r[h]).join(' | ')} |`),
    '',
    ...verdicts.map((v) => `- ${v}`),
    '',
    '## Machine',
    '',
    `- CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node ${process.version}, astro ${pkgVersion(astroDir)}, @astrojs/starlight ${pkgVersion(starlight)}`,
    `- Load average at start: ${load0.map((l) => l.toFixed(2)).join(' ')}; at end: ${load1.map((l) => l.toFixed(2)).join(' ')}`,
    `- Started ${started.toISOString()}, finished ${new Date().toISOString()}`,
    '- Shared machine: other engineers ran builds and tests during the run, so absolute seconds are',
    '  noisy; the ratios compare builds run back to back.',
    '',
  ].join('\n');
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const file = join(root, `bench/results/site-${started.toISOString().slice(0, 10)}.md`);
  writeFileSync(file, md);
  console.error(`results written to ${file}`);
}
if (!KEEP) rmSync(work, { recursive: true, force: true });
