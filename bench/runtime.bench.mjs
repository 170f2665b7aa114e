// Runtime benchmark (`pnpm bench runtime`), on the built dist/ of @tollgate/policy and @tollgate/runtime.
//
// 1. Evaluation cost: ns per `evaluate` call for compiled policies of 10, 100, 1,000 and 10,000
//    tools (1 to 5 stateless rules each: eq, lte, in, regex, contains conditions and deny rules),
//    as a ratio to `JSON.parse` of the same `tools/call` message measured in the same run.
//    Target: <= 0.25x JSON.parse, flat from 10 to 10,000 tools. Calls go to 10 tools drawn from
//    the policy, the same working set at every size.
//    Times are process CPU time (user + system), not wall time, so a busy machine does not skew
//    the ratios; both sides are measured the same way in the same process.
// 2. Counter stores: reserve+commit operations per second for memory, SQLite (a temp file, WAL)
//    and Redis (a redis-server started on a free loopback port, when installed), as ratios to memory;
//    "+ leases" rows put the default LeasedCounterStore in front (fixed windows far from the bound
//    are admitted from leases; sliding windows always go to the store).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../scripts/lib/free-port.mjs';

const root = new URL('..', import.meta.url).pathname;
const runtime = await import(join(root, 'packages/runtime/dist/index.js'));
const policyPkg = await import(join(root, 'packages/policy/dist/index.js'));
const { evaluate, MemoryCounterStore, SqliteCounterStore, RedisCounterStore, LeasedCounterStore } = runtime;
const { compilePolicy } = policyPkg;

const QUICK = process.env.BENCH_QUICK === '1';
const SIZES = [10, 100, 1_000, 10_000];
const CALLS = QUICK ? 50_000 : 300_000;
const ROUNDS = QUICK ? 3 : 5;
const STORE_MS = QUICK ? 400 : 1500;

// Deterministic pseudo-random numbers so every run measures the same policies.
let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};

function rule(tool, j, noRegex) {
  if (noRegex && j % 5 === 2) {
    return {
      name: `${tool} path ${j}`,
      conditions: [{ path: 'args.path', op: 'not_in', value: ['/etc/passwd', '/root'] }],
    };
  }
  switch (j % 5) {
    case 0:
      return { name: `${tool} cap ${j}`, conditions: [{ path: 'args.amount', op: 'lte', value: 50_000 }] };
    case 1:
      return {
        name: `${tool} currency ${j}`,
        conditions: [{ path: 'args.currency', op: 'in', value: ['usd', 'eur'] }],
      };
    case 2:
      return {
        name: `${tool} path ${j}`,
        conditions: [{ path: 'args.path', op: 'regex', value: '^sandbox/' }],
      };
    case 3:
      return {
        name: `${tool} mode ${j}`,
        conditions: [
          { path: 'args.mode', op: 'eq', value: 'safe' },
          { path: 'args.tags', op: 'contains', value: 'ok' },
        ],
      };
    default:
      return {
        name: `${tool} owner ${j}`,
        conditions: [{ path: 'args.meta.owner', op: 'neq', value: 'root' }],
      };
  }
}

function buildPolicy(n, noRegex = false) {
  const tools = {};
  for (let i = 0; i < n; i++) {
    const name = `tool_${i}`;
    if (i % 50 === 49) {
      tools[name] = { rules: [{ name: `${name} never`, action: 'deny' }] };
      continue;
    }
    const count = 1 + Math.floor(rand() * 5);
    tools[name] = { rules: Array.from({ length: count }, (_, j) => rule(name, j, noRegex)) };
  }
  const doc = { version: '1', default: 'allow', hide: ['admin_*'], tools };
  // The policy text cap is 1 MiB, which 10,000 tools with 1 to 5 rules exceed. Every 1,000-tool
  // shard goes through the full text path (emit, parse, validate, compile) to prove it valid; the
  // whole document is then compiled by the same compiler from the validated document.
  const names = Object.keys(tools);
  for (let i = 0; i < names.length; i += 1000) {
    const shard = Object.fromEntries(names.slice(i, i + 1000).map((k) => [k, tools[k]]));
    compilePolicy({ ...doc, tools: shard });
  }
  if (names.length <= 1000) return compilePolicy(doc);
  const at = { file: '<bench>', line: 1, column: 1 };
  return compilePolicy({
    file: '<bench>',
    document: doc,
    value: doc,
    errors: [],
    warnings: [],
    locate: () => at,
  });
}

const ARGS = {
  amount: 1234,
  currency: 'usd',
  path: 'sandbox/notes.txt',
  mode: 'safe',
  tags: ['ok', 'x'],
  meta: { owner: 'ada' },
};

function timeLoop(fn) {
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    fn();
    const t = process.cpuUsage(t0);
    samples.push(((t.user + t.system) * 1000) / CALLS);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function timeLoopAsync(fn) {
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    await fn();
    const t = process.cpuUsage(t0);
    samples.push(((t.user + t.system) * 1000) / CALLS);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function measure(n, noRegex) {
  seed = 42 + n;
  const policy = buildPolicy(n, noRegex);
  const K = 1024;
  const calls = [];
  const messages = [];
  // The same working set at every size (10 distinct tools drawn from the n), so the table shows
  // how cost depends on policy size; spreading calls over more distinct tools adds CPU-cache misses.
  const hot = Array.from({ length: 10 }, () => `tool_${Math.floor(rand() * n)}`);
  for (let k = 0; k < K; k++) {
    const tool = hot[Math.floor(rand() * hot.length)];
    calls.push({ tool, args: ARGS });
    messages.push(
      JSON.stringify({
        jsonrpc: '2.0',
        id: k + 1,
        method: 'tools/call',
        params: { name: tool, arguments: ARGS },
      }),
    );
  }
  const ctx = { store: new MemoryCounterStore() };
  let sink = 0;
  // Warm up both paths (JIT, rulesFor memo).
  for (let i = 0; i < 20_000; i++) {
    sink += JSON.parse(messages[i & (K - 1)]).id;
    sink += (await evaluate(policy, calls[i & (K - 1)], ctx)).allowed ? 1 : 0;
  }
  const parseNs = timeLoop(() => {
    for (let i = 0; i < CALLS; i++) sink += JSON.parse(messages[i & (K - 1)]).id;
  });
  const evalNs = await timeLoopAsync(async () => {
    for (let i = 0; i < CALLS; i++) sink += (await evaluate(policy, calls[i & (K - 1)], ctx)).allowed ? 1 : 0;
  });
  const rules = [...policy.exact.values()].reduce((a, e) => a + e.rules.length, 0);
  return { tools: n, rules, evalNs, parseNs, ratio: evalNs / parseNs, sink };
}

const evalRows = [];
for (const n of SIZES) {
  const withRegex = await measure(n, false);
  const plain = await measure(n, true);
  evalRows.push({ ...withRegex, plainNs: plain.evalNs, plainRatio: plain.evalNs / plain.parseNs });
}

console.log('\nEvaluation cost per tools/call (stateless rules; CPU time, median of rounds)');
console.log(
  '(calls over 10 distinct tools drawn from the policy; "no regex": the regex rules replaced by not_in)',
);
console.log(
  '| tools | rules | evaluate ns/call | JSON.parse ns/msg | ratio (target <= 0.25x) | no regex: ns/call | no regex: ratio |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const r of evalRows) {
  console.log(
    `| ${r.tools.toLocaleString('en')} | ${r.rules.toLocaleString('en')} | ${r.evalNs.toFixed(0)} | ${r.parseNs.toFixed(0)} | ${r.ratio.toFixed(3)}x | ${r.plainNs.toFixed(0)} | ${r.plainRatio.toFixed(3)}x |`,
  );
}
const ratios = evalRows.map((r) => r.evalNs);
console.log(
  `flatness: slowest/fastest evaluate across sizes = ${(Math.max(...ratios) / Math.min(...ratios)).toFixed(2)}x`,
);

// ---- counter stores

async function storeOps(store) {
  const item = {
    key: 'bench',
    kind: 'fixed',
    windowMs: 86_400_000,
    amount: 1,
    checks: [{ op: 'lte', value: 1e12, tag: 0 }],
  };
  const slide = {
    key: 'bench-s',
    kind: 'sliding',
    windowMs: 1000,
    amount: 1,
    checks: [{ op: 'lte', value: 1e12, tag: 1 }],
  };
  const items = [item];
  for (let i = 0; i < 200; i++) {
    const r = await store.reserve(items, Date.now());
    await store.commit(r.reservation, Date.now());
  }
  let ops = 0;
  const end = performance.now() + STORE_MS;
  const t0 = performance.now();
  while (performance.now() < end) {
    const now = Date.now();
    const r = await store.reserve(items, now);
    await store.commit(r.reservation, now);
    ops++;
  }
  const fixedOps = ops / ((performance.now() - t0) / 1000);
  ops = 0;
  const end2 = performance.now() + STORE_MS;
  const t1 = performance.now();
  while (performance.now() < end2) {
    const now = Date.now();
    const r = await store.reserve([slide], now);
    await store.commit(r.reservation, now);
    ops++;
  }
  return { fixedOps, slidingOps: ops / ((performance.now() - t1) / 1000) };
}

const storeRows = [];
const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-runtime-'));
try {
  storeRows.push({ name: 'memory', ...(await storeOps(new MemoryCounterStore())) });
  const sqlite = new SqliteCounterStore({ file: join(dir, 'bench.sqlite') });
  storeRows.push({ name: 'sqlite (WAL, file)', ...(await storeOps(sqlite)) });
  await sqlite.close();
  const leasedSqlite = new LeasedCounterStore(
    new SqliteCounterStore({ file: join(dir, 'bench-lease.sqlite') }),
  );
  storeRows.push({ name: 'sqlite + leases', ...(await storeOps(leasedSqlite)) });
  await leasedSqlite.close();
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (c) => reject(new Error(`redis-server exited ${c}`)));
    });
    try {
      const redis = new RedisCounterStore({ url: `redis://127.0.0.1:${port}`, prefix: 'bench:' });
      await redis.ready();
      storeRows.push({ name: 'redis (loopback)', ...(await storeOps(redis)) });
      await redis.close();
      const leasedRedis = new LeasedCounterStore(
        new RedisCounterStore({ url: `redis://127.0.0.1:${port}`, prefix: 'bench-lease:' }),
      );
      await leasedRedis.inner.ready();
      storeRows.push({ name: 'redis + leases', ...(await storeOps(leasedRedis)) });
      await leasedRedis.close();
    } finally {
      process.kill(child.pid, 'SIGTERM');
    }
  } else {
    storeRows.push({ name: 'redis: SKIPPED (redis-server not installed)' });
    storeRows.push({ name: 'redis + leases: SKIPPED (redis-server not installed)' });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const base = storeRows[0];
console.log('\nCounter stores: reserve + commit per second (sequential, one process)');
console.log('| store | fixed window ops/s | ratio to memory | sliding window ops/s | ratio to memory |');
console.log('|---|---:|---:|---:|---:|');
for (const r of storeRows) {
  if (r.fixedOps === undefined) {
    console.log(`| ${r.name} | - | - | - | - |`);
    continue;
  }
  console.log(
    `| ${r.name} | ${Math.round(r.fixedOps).toLocaleString('en')} | ${(r.fixedOps / base.fixedOps).toFixed(3)}x | ${Math.round(r.slidingOps).toLocaleString('en')} | ${(r.slidingOps / base.slidingOps).toFixed(3)}x |`,
  );
}
