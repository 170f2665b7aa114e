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
//   BENCH_SITE_STARLIGHT=1 also build a second baseline: a Starlight project of the same page count
//                         whose one page renders a `StarlightPage` holding a paragraph (Starlight's
//                         page shell and Pagefind index, none of our content), which separates the
//                         cost of Starlight itself from the cost of the catalogue pages
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
import { cpus, loadavg, totalmem } from 'node:os';
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
  return { seconds, peak, maxProc, phases: phases(text) };
}

/**
 * Seconds of each build phase, read from Astro's own log: bundling (`Building static entrypoints`),
 * rendering (`generating static routes`) and, for the site, Starlight's Pagefind indexing.
 * @returns phase name to seconds; a phase missing from the log is absent
 */
function phases(log) {
  const after = (marker, re) => {
    const i = log.indexOf(marker);
    const m = i < 0 ? null : re.exec(log.slice(i));
    return m ? Number(m[1]) : undefined;
  };
  const p = {
    bundle: after('Building static entrypoints', /\[build\] ✓ Completed in ([\d.]+)s/),
    render: after('generating static routes', /✓ Completed in ([\d.]+)s/),
    pagefind: after('Building search index', /Finished building search index in ([\d.]+)s/),
  };
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
}
const fmtPhases = (p) =>
  Object.entries(p)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ');

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

/** A minimal Starlight project in `dir` with one dynamic `StarlightPage` rendering `n` pages. */
function writeStarlightProject(dir, n) {
  mkdirSync(join(dir, 'src/pages/p'), { recursive: true });
  mkdirSync(join(dir, 'src/content/docs'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/@astrojs'), { recursive: true });
  symlinkSync(astroDir, join(dir, 'node_modules/astro'), 'dir');
  symlinkSync(
    join(siteDir, 'node_modules/@astrojs/starlight'),
    join(dir, 'node_modules/@astrojs/starlight'),
    'dir',
  );
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'starlight-pages', private: true, type: 'module' }),
  );
  writeFileSync(
    join(dir, 'astro.config.mjs'),
    `import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';
export default defineConfig({
  site: 'https://example.org',
  trailingSlash: 'always',
  integrations: [starlight({ title: 'Baseline' })],
});
`,
  );
  writeFileSync(
    join(dir, 'src/content.config.ts'),
    `import { defineCollection } from 'astro:content';
import { docsLoader } from '@astrojs/starlight/loaders';
import { docsSchema } from '@astrojs/starlight/schema';
export const collections = { docs: defineCollection({ loader: docsLoader(), schema: docsSchema() }) };
`,
  );
  writeFileSync(
    join(dir, 'src/pages/p/[id].astro'),
    `---
import StarlightPage from '@astrojs/starlight/components/StarlightPage.astro';
export function getStaticPaths() {
  return Array.from({ length: ${n} }, (_, i) => ({ params: { id: \`page-\${i}\` }, props: { i } }));
}
const { i } = Astro.props;
---
<StarlightPage frontmatter={{ title: \`Page \${i}\` }}><p>Entry number {i} of ${n}.</p></StarlightPage>
`,
  );
}

const STARLIGHT = process.env.BENCH_SITE_STARLIGHT === '1';
const mib = (b) => (b == null ? 'n/a' : `${Math.round(b / 2 ** 20)} MiB`);
// Inside the repo (node_modules/.cache, git-ignored) rather than the OS temp dir: Astro resolves
// `.astro` components of a dependency outside the project by a path relative to the project root,
// which fails from /tmp for Starlight's components (symlinked into the baseline projects).
const cacheDir = join(root, 'node_modules/.cache');
mkdirSync(cacheDir, { recursive: true });
const work = mkdtempSync(join(cacheDir, 'tollgate-sitebench-'));
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

    const baselines = [];
    for (const [kind, write] of [
      ['trivial', writeTrivialProject],
      ...(STARLIGHT ? [['starlight', writeStarlightProject]] : []),
    ]) {
      console.error(`[${factor}x] baseline: ${kind} Astro build of ${counted.pages} pages…`);
      const dir = join(work, `${kind}-${factor}x`);
      write(dir, counted.pages);
      const out = join(dir, 'dist');
      const b = await astroBuild({
        cwd: dir,
        outDir: out,
        heapMb,
        env: {},
        log: join(work, `${kind}-${factor}x.log`),
      });
      const n = countPages(out).pages;
      if (n !== counted.pages)
        throw new Error(`[${factor}x] ${kind} baseline built ${n} pages, expected ${counted.pages}`);
      console.error(`[${factor}x] ${kind}: ${n} pages in ${b.seconds.toFixed(1)} s, peak ${mib(b.peak)}`);
      if (!KEEP) rmSync(dir, { recursive: true, force: true });
      baselines.push({ kind, ...b });
    }

    results.push({ factor, heapMb, servers: cat.servers, ...counted, site, base: baselines[0], baselines });
  }
} catch (err) {
  console.error(`site bench failed: ${err.message}`);
  console.error(`temp files kept in ${work}`);
  process.exit(2);
}
const load1 = loadavg();
writeFileSync(join(work, 'results.json'), JSON.stringify(results, null, 2));

// Site rows give absolute figures; each baseline row gives the site's figure divided by its own.
const rows = [];
for (const r of results) {
  const perK = (sec) => (sec / r.tools) * 1000;
  const row = (build, m, ratios) => ({
    build,
    'tool pages': ratios ? '-' : r.tools,
    'all pages': r.pages,
    seconds: m.seconds.toFixed(1),
    's / 1k tool pages': perK(m.seconds).toFixed(2),
    'peak RSS (tree)': mib(m.peak),
    'peak RSS (1 proc)': mib(m.maxProc),
    heap: `${r.heapMb} MiB`,
    'site ÷ this, time': ratios ? `${(r.site.seconds / m.seconds).toFixed(2)}x` : '-',
    'site ÷ this, RSS': ratios ? `${(r.site.peak / m.peak).toFixed(2)}x` : '-',
  });
  rows.push(row(`site ${r.factor}x`, r.site, false));
  for (const b of r.baselines) rows.push(row(`${b.kind} ${r.factor}x`, b, true));
}
console.table(rows);
const verdicts = results.map((r) => {
  const ratio = r.site.seconds / r.base.seconds;
  const sl = r.baselines.find((b) => b.kind === 'starlight');
  const vsSl = sl ? ` (${(r.site.seconds / sl.seconds).toFixed(2)}x a Starlight-page build)` : '';
  return `${r.factor}x: ${ratio.toFixed(2)}x ${ratio <= TARGET ? 'within' : 'OVER'} the ${TARGET}x target${vsSl}`;
});
console.log(`time ratio site / trivial: ${verdicts.join('; ')}`);
for (const r of results)
  console.log(
    `phases ${r.factor}x: site ${fmtPhases(r.site.phases)}; ${r.baselines.map((b) => `${b.kind} ${fmtPhases(b.phases)}`).join('; ')}`,
  );

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
    'server ids (Nx). Baselines, built right after it with the same page count and Node heap cap:',
    '`trivial` is an Astro project with one `getStaticPaths` page emitting a tiny HTML document per',
    'entry; `starlight` (when run) is a Starlight project whose one page wraps a paragraph in',
    '`StarlightPage` (Starlight shell + Pagefind, none of our content). Peak RSS (tree) is the largest',
    'sum over the build process tree sampled every 200 ms; (1 proc) is GNU time `%M`. Baseline rows',
    `give the site's figure divided by the baseline's. Target: site ÷ trivial time at most ${TARGET}x.`,
    '',
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${headers.map((h) => r[h]).join(' | ')} |`),
    '',
    ...verdicts.map((v) => `- ${v}`),
    '',
    "Phases (from Astro's log):",
    '',
    ...results.flatMap((r) => [
      `- site ${r.factor}x: ${fmtPhases(r.site.phases)}`,
      ...r.baselines.map((b) => `- ${b.kind} ${r.factor}x: ${fmtPhases(b.phases)}`),
    ]),
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
  // The default run (1x and 5x, trivial baseline) owns site-<date>.md; other runs name their variant.
  const variant = `${sizes.join('-')}x${STARLIGHT ? '-starlight' : ''}`;
  const suffix = variant === '1-5x' ? '' : `-${variant}`;
  const file = join(root, `bench/results/site-${started.toISOString().slice(0, 10)}${suffix}.md`);
  writeFileSync(file, md);
  console.error(`results written to ${file}`);
}
if (!KEEP) rmSync(work, { recursive: true, force: true });
