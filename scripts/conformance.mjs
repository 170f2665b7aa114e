#!/usr/bin/env node
/**
 * `pnpm conformance`: runs the MCP conformance suite's server scenarios
 * (@modelcontextprotocol/conformance) against @modelcontextprotocol/server-everything over
 * Streamable HTTP three ways:
 *   direct       the server itself
 *   via-http     Tollgate's HTTP listener in front of the same server over HTTP (--upstream URL)
 *   via-stdio    Tollgate's HTTP listener in front of it as a stdio child (-- CMD)
 * and compares every check's status. Through Tollgate each check must end as it does directly,
 * except `dns-rebinding-protection`, which must pass through Tollgate whatever the server does.
 *
 * The suite needs Node 22; it and the `node@22` npm package are installed (pinned) into a cache
 * directory on first use, outside the workspace (the workspace stays on Node 20).
 *
 * Usage: node scripts/conformance.mjs [--json] [--keep] [--scenario NAME]
 * Exit codes: 0 same results, 1 a difference (or dns-rebinding-protection fails through
 * Tollgate), 2 setup error. Env: TOLLGATE_CONFORMANCE_DIR (cache dir).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/free-port.mjs';

const CONFORMANCE_VERSION = '0.1.16';
const NODE22_VERSION = '22';
const DNS_SCENARIO = 'dns-rebinding-protection';
const RUN_TIMEOUT_MS = 150_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const json = args.includes('--json');
const keep = args.includes('--keep');
const scenarioIdx = args.indexOf('--scenario');
const scenario = scenarioIdx === -1 ? undefined : args[scenarioIdx + 1];
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(
    'Usage: node scripts/conformance.mjs [--json] [--keep] [--scenario NAME]\n' +
      'Runs the MCP conformance server scenarios directly and through Tollgate; exit 1 on any difference.\n',
  );
  process.exit(0);
}

const say = (msg) => process.stderr.write(`conformance: ${msg}\n`);
const children = new Set();

function fail(msg) {
  say(`error: ${msg}`);
  cleanup();
  process.exit(2);
}

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(2);
});

/** Installs the suite and Node 22 into the cache dir unless already there. */
function ensureSuite() {
  const dir =
    process.env.TOLLGATE_CONFORMANCE_DIR ?? join(root, 'node_modules', '.cache', 'tollgate-conformance');
  const entry = join(dir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  const node22 = join(dir, 'node_modules', 'node', 'bin', 'node');
  const stamp = join(dir, 'installed.json');
  const want = JSON.stringify({ conformance: CONFORMANCE_VERSION, node: NODE22_VERSION });
  if (existsSync(entry) && existsSync(node22) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) {
    return { entry, node22 };
  }
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) {
    writeFileSync(join(dir, 'package.json'), '{"name":"tollgate-conformance-cache","private":true}\n');
  }
  say(
    `installing @modelcontextprotocol/conformance@${CONFORMANCE_VERSION} and node@${NODE22_VERSION} into ${dir}`,
  );
  const r = spawnSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-save',
      '--prefix',
      dir,
      `@modelcontextprotocol/conformance@${CONFORMANCE_VERSION}`,
      `node@${NODE22_VERSION}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir },
  );
  if (r.status !== 0 || !existsSync(entry) || !existsSync(node22))
    fail('npm install of the conformance suite failed');
  const v = spawnSync(node22, ['--version'], { encoding: 'utf8' });
  if (!/^v22\./.test(v.stdout ?? ''))
    fail(`node@22 did not install a working Node 22 binary (${v.stdout || v.stderr})`);
  writeFileSync(stamp, want);
  return { entry, node22 };
}

async function waitForHttp(url, ms, child) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null)
      throw new Error(`process exited with ${child.exitCode} before listening`);
    try {
      const r = await fetch(url, { method: 'GET' });
      await r.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

function start(command, argv, opts = {}) {
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.add(child);
  let err = '';
  child.stderr.on('data', (d) => {
    err = (err + d).slice(-4000);
  });
  child.stdout.resume();
  child.on('exit', () => children.delete(child));
  child.stderrTail = () => err;
  return child;
}

function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      ok();
    });
    child.kill('SIGTERM');
  });
}

const requireFromProxy = createRequire(join(root, 'packages', 'proxy', 'package.json'));
const everythingEntry = join(
  dirname(requireFromProxy.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist',
  'index.js',
);

async function startEverything() {
  const port = await freePort();
  const child = start(process.execPath, [everythingEntry, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    cwd: tmpdir(),
  });
  const url = `http://127.0.0.1:${port}/mcp`;
  await waitForHttp(url, 20_000, child).catch((e) =>
    fail(`server-everything: ${e.message}\n${child.stderrTail()}`),
  );
  return { child, url };
}

/** True when the built CLI already has the listener flags (issue 7 wiring in `run.ts`). */
function cliHasListener() {
  const bin = join(root, 'packages', 'cli', 'dist', 'bin.js');
  if (!existsSync(bin)) return false;
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  return /--transport/.test(`${r.stdout}${r.stderr}`);
}

/**
 * Starts Tollgate's listener: the built CLI with a default-allow policy when it has the flags,
 * else the package's launcher (packages/proxy/test/http/launch-listener.ts, run through tsx from
 * source) with an allow-all gate.
 */
async function startTollgate(upstreamArgs, work) {
  if (cliHasListener()) {
    const policy = join(work, 'allow.yaml');
    writeFileSync(policy, 'version: "1"\ndescription: conformance run\ndefault: allow\n');
    const port = await freePort();
    const child = start(
      process.execPath,
      [
        join(root, 'packages', 'cli', 'dist', 'bin.js'),
        '-c',
        policy,
        '--transport',
        'http',
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        ...upstreamArgs,
      ],
      { env: { ...process.env, TOLLGATE_HOME: join(work, 'home') } },
    );
    const url = `http://127.0.0.1:${port}/mcp`;
    await waitForHttp(url, 30_000, child).catch((e) => fail(`tollgate: ${e.message}\n${child.stderrTail()}`));
    return { child, url, how: 'tollgate CLI' };
  }
  const child = start(
    process.execPath,
    ['--conditions=@tollgate/source', '--import', 'tsx', 'test/http/launch-listener.ts', ...upstreamArgs],
    { cwd: join(root, 'packages', 'proxy') },
  );
  const url = await new Promise((ok, ko) => {
    let out = '';
    const t = setTimeout(() => ko(new Error('the listener did not start within 30 s')), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(t);
        ok(JSON.parse(line).url);
      }
    });
    child.once('exit', (code) => ko(new Error(`the listener exited with ${code}`)));
  }).catch((e) => fail(`tollgate listener: ${e.message}\n${child.stderrTail()}`));
  return { child, url, how: 'proxy launcher (CLI lacks --transport)' };
}

/** Runs the suite against `url`; returns scenario -> check id -> status. */
async function runSuite(suite, url, outDir) {
  const argv = [suite.entry, 'server', '--url', url, '-o', outDir];
  if (scenario) argv.push('--scenario', scenario);
  const child = start(suite.node22, argv);
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  await new Promise((ok) => child.once('exit', ok));
  clearTimeout(timer);
  if (child.signalCode === 'SIGKILL')
    fail(`the suite did not finish within ${RUN_TIMEOUT_MS / 1000} s against ${url}`);
  const results = {};
  const dirs = existsSync(outDir) ? readdirSync(outDir) : [];
  for (const d of dirs) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(d);
    const file = join(outDir, d, 'checks.json');
    if (!m || !existsSync(file)) continue;
    const checks = JSON.parse(readFileSync(file, 'utf8'));
    results[m[1]] = Object.fromEntries(checks.map((c) => [c.id, c.status]));
  }
  if (Object.keys(results).length === 0)
    fail(`the suite produced no results against ${url}\n${child.stderrTail()}`);
  return results;
}

const passed = (checks) => checks !== undefined && Object.values(checks).every((s) => s === 'SUCCESS');

function compare(direct, via, label) {
  const problems = [];
  for (const name of Object.keys(direct).sort()) {
    if (name === DNS_SCENARIO) continue;
    const a = direct[name];
    const b = via[name];
    if (!b) {
      problems.push(`${name}: missing ${label}`);
      continue;
    }
    for (const id of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (a[id] !== b[id])
        problems.push(`${name}/${id}: direct ${a[id] ?? 'absent'}, ${label} ${b[id] ?? 'absent'}`);
    }
  }
  for (const name of Object.keys(via)) if (!direct[name]) problems.push(`${name}: only ${label}`);
  if (!scenario || scenario === DNS_SCENARIO) {
    if (!passed(via[DNS_SCENARIO]))
      problems.push(`${DNS_SCENARIO}: must pass ${label}, got ${JSON.stringify(via[DNS_SCENARIO])}`);
  }
  return problems;
}

const t0 = Date.now();
const suite = ensureSuite();
const work = mkdtempSync(join(tmpdir(), 'tollgate-conformance-'));
const everything = await startEverything();
say(`server-everything at ${everything.url}`);

say('running the suite directly');
const direct = await runSuite(suite, everything.url, join(work, 'direct'));

const viaHttpGate = await startTollgate(['--upstream', everything.url], work);
say(`Tollgate (${viaHttpGate.how}) at ${viaHttpGate.url}, upstream over HTTP`);
const viaHttp = await runSuite(suite, viaHttpGate.url, join(work, 'via-http'));
await stop(viaHttpGate.child);

const viaStdioGate = await startTollgate(['--', process.execPath, everythingEntry, 'stdio'], work);
say(`Tollgate (${viaStdioGate.how}) at ${viaStdioGate.url}, upstream as a stdio child per session`);
const viaStdio = await runSuite(suite, viaStdioGate.url, join(work, 'via-stdio'));
await stop(viaStdioGate.child);
await stop(everything.child);

const problems = [...compare(direct, viaHttp, 'via-http'), ...compare(direct, viaStdio, 'via-stdio')];
const names = [
  ...new Set([...Object.keys(direct), ...Object.keys(viaHttp), ...Object.keys(viaStdio)]),
].sort();
const setOf = (r) => names.filter((n) => passed(r[n]));
const seconds = Math.round((Date.now() - t0) / 1000);

if (json) {
  process.stdout.write(
    `${JSON.stringify(
      {
        ok: problems.length === 0,
        seconds,
        launcher: viaHttpGate.how,
        passed: { direct: setOf(direct), viaHttp: setOf(viaHttp), viaStdio: setOf(viaStdio) },
        results: { direct, viaHttp, viaStdio },
        problems,
      },
      null,
      2,
    )}\n`,
  );
} else {
  const mark = (r) => (r === undefined ? '  -  ' : passed(r) ? ' pass' : ' FAIL');
  const w = Math.max(...names.map((n) => n.length));
  process.stdout.write(`${'scenario'.padEnd(w)}  direct  via-http  via-stdio\n`);
  for (const n of names) {
    process.stdout.write(
      `${n.padEnd(w)}  ${mark(direct[n])}    ${mark(viaHttp[n])}     ${mark(viaStdio[n])}\n`,
    );
  }
  process.stdout.write(`\npassing directly (${setOf(direct).length}): ${setOf(direct).join(', ')}\n`);
  process.stdout.write(
    `passing via Tollgate, HTTP upstream (${setOf(viaHttp).length}): ${setOf(viaHttp).join(', ')}\n`,
  );
  process.stdout.write(
    `passing via Tollgate, stdio upstream (${setOf(viaStdio).length}): ${setOf(viaStdio).join(', ')}\n`,
  );
  process.stdout.write(
    problems.length === 0
      ? `\nOK: every check ends as it does directly; ${DNS_SCENARIO} passes through Tollgate (${seconds} s)\n`
      : `\nDIFFERENCES (${problems.length}):\n${problems.map((p) => `  ${p}`).join('\n')}\n`,
  );
}
if (!keep) rmSync(work, { recursive: true, force: true });
else say(`results kept in ${work}`);
cleanup();
process.exit(problems.length === 0 ? 0 : 1);
