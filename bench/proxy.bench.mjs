// Proxy benchmark (`pnpm bench proxy`): tools/call round trips through the stdio path, with the
// MCP SDK's real Client and a real SDK server, for
//   direct      client -> server
//   null relay  client -> minimal byte relay (stdin/stdout pipes) -> server: the floor for any stdio proxy
//   parse relay client -> relay that splits lines and JSON.parses every message -> server: the
//               floor for any proxy that reads messages
//   tollgate    client -> tollgate (1,000-rule policy, SQLite counters on every call) -> server
// Sequential and 16-in-flight calls/s with p50/p99 latency, then one 20 MiB result: time and the
// proxy's peak RSS above its idle RSS. Ratios are against the null relay measured in the same run.
//
//   civic       client -> @civic/passthrough-mcp-server (published on npm) -> server
//
// Published proxies: @civic/passthrough-mcp-server is the one npm package found that can sit in the
// same stdio -> stdio path. Its CLI only connects to HTTP targets, so it runs through its library
// API: `PassthroughContext.connect(StdioServerTransport, StdioClientTransport)`, no hooks and its
// per-message debug logging silenced (it logs with console.log, onto the MCP stream; its own stdio
// mode moves that to stderr): a pure pass-through, its lightest configuration. mcp-proxy and supergateway translate stdio <->
// SSE/Streamable HTTP (measuring them would measure an HTTP hop), and PolicyLayer Intercept is not
// published on npm. See docs/proxy.md.
import { execSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { thousandRulePolicy } from './fixtures/proxy-policy.mjs';

const root = new URL('..', import.meta.url).pathname;
const requireFromProxy = createRequire(join(root, 'packages/proxy/package.json'));
const sdkDir = requireFromProxy.resolve('@modelcontextprotocol/sdk/client/index.js');
const { Client } = await import(sdkDir);
const { StdioClientTransport } = await import(
  requireFromProxy.resolve('@modelcontextprotocol/sdk/client/stdio.js')
);
const serverSdk = requireFromProxy.resolve('@modelcontextprotocol/sdk/server/mcp.js');
const serverStdio = requireFromProxy.resolve('@modelcontextprotocol/sdk/server/stdio.js');
const zod = createRequire(sdkDir).resolve('zod');

const QUICK = process.env.BENCH_QUICK === '1';
// Enough calls that a ratio is steadier than the VM's load swings (measured: with 2,000 and
// 6,000 calls the ratios moved by +-0.05 between runs of the same build).
const SEQ_CALLS = QUICK ? 300 : 6000;
const PAR_CALLS = QUICK ? 800 : 16000;
const IN_FLIGHT = 16;
const WARMUP_CALLS = QUICK ? 1000 : 5000;
const BIG_REPS = QUICK ? 1 : 3;
/** A 20 MiB transfer still running after this long is reported as over it (ms). */
const BIG_LIMIT_MS = 60_000;
const BIG = 20 * 1024 * 1024;
const cli = join(root, 'packages/cli/dist/bin.js');

const work = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
const serverFile = join(work, 'server.mjs');
writeFileSync(
  serverFile,
  `import { McpServer } from ${JSON.stringify(serverSdk)};
import { StdioServerTransport } from ${JSON.stringify(serverStdio)};
import { z } from ${JSON.stringify(zod)};
const server = new McpServer({ name: 'bench', version: '1.0.0' });
server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
server.registerTool('blob', { inputSchema: { bytes: z.number() } }, async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }));
await server.connect(new StdioServerTransport());
`,
);
const relayFile = join(work, 'relay.mjs');
writeFileSync(
  relayFile,
  `import { spawn } from 'node:child_process';
const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 1));
`,
);
// A relay that reads messages: splits each read into lines and parses every line with
// JSON.parse (in both directions), then forwards the lines' bytes, one write per read. Any proxy
// that looks at messages pays at least this: the floor for a message-aware stdio proxy. It holds a
// message whole before forwarding it (Tollgate streams long results through), so its 20 MiB row
// measures store-and-forward.
const parseRelayFile = join(work, 'parse-relay.mjs');
writeFileSync(
  parseRelayFile,
  `import { spawn } from 'node:child_process';
const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
const NL = Buffer.from('\\n');
function relay(input, output) {
  let parts = []; // the pieces of a line not yet ended
  input.on('data', (chunk) => {
    const out = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      parts.push(chunk.subarray(start, nl));
      const line = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      parts = [];
      JSON.parse(line.toString('utf8'));
      out.push(line, NL);
      start = nl + 1;
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
    if (out.length > 0) output.write(Buffer.concat(out));
  });
}
relay(process.stdin, child.stdin);
relay(child.stdout, process.stdout);
process.stdin.on('end', () => child.stdin.end());
child.on('exit', (code) => process.exit(code ?? 1));
`,
);
// The published pass-through proxy, launched the way its README shows for a stdio source.
const civicFile = join(work, 'civic.mjs');
writeFileSync(
  civicFile,
  `import { PassthroughContext } from ${JSON.stringify(import.meta.resolve('@civic/passthrough-mcp-server'))};
import { StdioServerTransport } from ${JSON.stringify(serverStdio)};
import { StdioClientTransport } from ${JSON.stringify(requireFromProxy.resolve('@modelcontextprotocol/sdk/client/stdio.js'))};
console.log = () => {};
const [command, ...args] = process.argv.slice(2);
const context = new PassthroughContext();
// The SDK's stdio transports refuse lines over 10 MiB by default: raised for the 20 MiB result.
await context.connect(
  new StdioServerTransport(process.stdin, process.stdout, { maxBufferSize: 64 * 1024 * 1024 }),
  new StdioClientTransport({ command, args, stderr: 'inherit', maxBufferSize: 64 * 1024 * 1024 }),
);
`,
);
const policyFile = join(work, 'policy.yaml');
writeFileSync(policyFile, thousandRulePolicy());

/** Tollgate in front of the bench server, with the given counter store flags. */
function tollgateMode(stateFlags) {
  return {
    command: process.execPath,
    args: [cli, '-c', policyFile, ...stateFlags, '--log-level', 'warn', '--', process.execPath, serverFile],
    env: { ...process.env, TOLLGATE_HOME: join(work, 'home') },
  };
}

const modes = {
  direct: () => ({ command: process.execPath, args: [serverFile] }),
  'null relay': () => ({ command: process.execPath, args: [relayFile, process.execPath, serverFile] }),
  'parse relay': () => ({ command: process.execPath, args: [parseRelayFile, process.execPath, serverFile] }),
  tollgate: () => tollgateMode(['--state-dir', join(work, 'state')]),
  // The same policy with in-memory counters: separates the proxy's cost from the store's.
  'tollgate mem': () => tollgateMode(['--state-dsn', 'memory:']),
  // Its 20 MiB transfer takes seconds to minutes (the SDK's stdio reader joins every chunk onto
  // all it has so far): measured once, not BIG_REPS times.
  civic: () => ({ command: process.execPath, args: [civicFile, process.execPath, serverFile], bigReps: 1 }),
};

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function rssKb(pid, field) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`));
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * CPU time a process has used so far, all its threads (microseconds), or NaN once it is gone:
 * the sum of the first field of /proc/<pid>/task/<tid>/schedstat (time on a CPU, nanoseconds),
 * finer than the 10 ms ticks of /proc/<pid>/stat.
 */
function processCpuUs(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1000;
  } catch {
    return Number.NaN;
  }
}

/** The first child process of `pid` (the server a proxy launched), if any. */
function firstChild(pid) {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    return kids[0] ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The 20 MiB result, read by a raw line reader (chunks in a list, one join): the SDK client's own
 * buffer copies the whole buffer per chunk and would dominate the measurement. The pid measured
 * is the process the client spawned: the proxy (the server itself for direct).
 */
async function measureBig(spec, limitMs = BIG_LIMIT_MS) {
  const child = spawn(spec.command, spec.args, {
    env: spec.env ?? process.env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const chunks = [];
  let waiting;
  child.stdout.on('data', (c) => {
    chunks.push(c);
    if (c.includes(10) && waiting) {
      const all = Buffer.concat(chunks);
      chunks.length = 0;
      const lines = all.toString('utf8').split('\n');
      const rest = lines.pop();
      if (rest) chunks.push(Buffer.from(rest));
      for (const l of lines) if (l.trim()) waiting(l);
    }
  });
  const request = (msg) =>
    new Promise((resolve) => {
      waiting = (line) => {
        const m = JSON.parse(line);
        if (m.id === msg.id) resolve(m);
      };
      child.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  await request({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
  });
  child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  await request({
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'blob', arguments: { bytes: 1024 } },
  });
  await new Promise((r) => setTimeout(r, 300));
  const idle = rssKb(child.pid, 'VmRSS');
  const s = performance.now();
  let timer;
  const big = await Promise.race([
    request({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'blob', arguments: { bytes: BIG } },
    }),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(undefined), limitMs);
    }),
  ]);
  clearTimeout(timer);
  if (big === undefined) {
    // Not done within the limit: reported as over it, the process is not waited for.
    child.kill('SIGKILL');
    return { bigMs: Number.POSITIVE_INFINITY, peakAboveIdleMiB: Number.NaN };
  }
  const bigMs = performance.now() - s;
  const peak = rssKb(child.pid, 'VmHWM');
  if (big.result?.content?.[0]?.text?.length !== BIG) throw new Error('20 MiB result truncated');
  child.stdin.end();
  // A stdio server or proxy should exit when its input ends; one that does not (the published
  // pass-through does not) is killed after 5 s.
  const exited = new Promise((r) => child.once('exit', r));
  const late = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(late);
  return { bigMs, peakAboveIdleMiB: (peak - idle) / 1024 };
}

/** Opens one SDK client session on a path and warms it up. */
async function open(name) {
  const spec = modes[name]();
  const transport = new StdioClientTransport({ ...spec, stderr: 'inherit' });
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  const call = async () => {
    const r = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    if (r.isError) throw new Error(`${name}: echo failed: ${JSON.stringify(r)}`);
  };
  // Warm up until the JIT has settled: a proxy serves for hours, and the first few thousand calls of
  // a fresh process are spent compiling (measured: background compiler threads cost ~100 us per
  // call over the first 300 calls, nothing after 5,000).
  for (let i = 0; i < WARMUP_CALLS; i++) await call();
  // The process the client launched (the proxy, or the server itself for direct) and the server
  // behind it: their CPU time is read around the 16-in-flight rounds.
  const proxyPid = name === 'direct' ? undefined : transport.pid;
  const serverPid = name === 'direct' ? transport.pid : firstChild(transport.pid);
  return {
    name,
    spec,
    client,
    call,
    proxyPid,
    serverPid,
    cpu: { client: 0, proxy: 0, server: 0, calls: 0 },
    seqCpu: { client: 0, proxy: 0, server: 0, calls: 0 },
    seqLat: [],
    seqMs: 0,
    parLat: [],
    parMs: 0,
    seqRounds: [],
    parRounds: [],
  };
}

/** CPU time used so far by the client (this process), the proxy and the server (microseconds). */
function cpuNow(p) {
  const c = process.cpuUsage();
  return {
    client: c.user + c.system,
    proxy: p.proxyPid ? processCpuUs(p.proxyPid) : 0,
    server: p.serverPid ? processCpuUs(p.serverPid) : 0,
  };
}

/** Adds the CPU time used since `before` (from {@link cpuNow}) by `n` calls to `acc`. */
function addCpu(p, acc, before, n) {
  const after = cpuNow(p);
  for (const k of ['client', 'proxy', 'server']) acc[k] += after[k] - before[k];
  acc.calls += n;
}

async function seqRound(p, n) {
  const c0 = cpuNow(p);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await p.call();
    p.seqLat.push(performance.now() - s);
  }
  const ms = performance.now() - t0;
  addCpu(p, p.seqCpu, c0, n);
  p.seqMs += ms;
  p.seqRounds.push(n / ms);
}

async function parRound(p, n) {
  let next = 0;
  const c0 = cpuNow(p);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < n) {
        const s = performance.now();
        await p.call();
        p.parLat.push(performance.now() - s);
      }
    }),
  );
  const ms = performance.now() - t0;
  addCpu(p, p.cpu, c0, n);
  p.parMs += ms;
  p.parRounds.push(n / ms);
}

// The machine is shared: rounds are interleaved across paths so that load changes during the run
// hit every path alike instead of whichever happened to be measured at the time.
// More rounds interleave the paths more finely (same total calls): on a shared VM the load moves
// within seconds, and a ratio is only fair when both paths saw the same moments.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const only = process.env.BENCH_MODES?.split(',');
const names = Object.keys(modes).filter((m) => !only || only.includes(m));
const sessions = [];
for (const name of names) {
  console.error(`proxy bench: starting ${name}`);
  sessions.push(await open(name));
}
for (let r = 0; r < ROUNDS; r++) {
  console.error(`proxy bench: round ${r + 1}/${ROUNDS}`);
  // Every other round runs the paths in reverse order, so no path always follows the same one.
  const order = r % 2 === 0 ? sessions : [...sessions].reverse();
  for (const p of order) await seqRound(p, SEQ_CALLS / ROUNDS);
  for (const p of order) await parRound(p, PAR_CALLS / ROUNDS);
}
for (const p of sessions) await p.client.close();
// The 20 MiB transfer, BIG_REPS times per path with the paths alternating: its median time and
// its largest peak RSS.
const big = new Map(sessions.map((p) => [p, { ms: [], rss: [] }]));
for (let rep = 0; rep < BIG_REPS; rep++) {
  for (const p of rep % 2 === 0 ? sessions : [...sessions].reverse()) {
    if (rep >= (p.spec.bigReps ?? BIG_REPS)) continue;
    console.error(`proxy bench: 20 MiB through ${p.name} (${rep + 1}/${BIG_REPS})`);
    const m = await measureBig(p.spec);
    big.get(p).ms.push(m.bigMs);
    big.get(p).rss.push(m.peakAboveIdleMiB);
  }
}
const results = [];
for (const p of sessions) {
  const b = big.get(p);
  const bigMs = [...b.ms].sort((a, c) => a - c)[Math.floor(b.ms.length / 2)];
  const peakAboveIdleMiB = Math.max(...b.rss);
  p.seqLat.sort((a, b) => a - b);
  p.parLat.sort((a, b) => a - b);
  results.push({
    name: p.name,
    seqRate: p.seqLat.length / (p.seqMs / 1000),
    seqP50: pct(p.seqLat, 50),
    seqP99: pct(p.seqLat, 99),
    parRate: p.parLat.length / (p.parMs / 1000),
    parP50: pct(p.parLat, 50),
    parP99: pct(p.parLat, 99),
    bigMs,
    peakAboveIdleMiB,
    seqRounds: p.seqRounds,
    parRounds: p.parRounds,
    cpu: p.cpu,
    seqCpu: p.seqCpu,
    seqUsPerCall: (p.seqMs * 1000) / p.seqLat.length,
    proxyPid: p.proxyPid,
  });
}
if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });

const relay = results.find((r) => r.name === 'null relay');
const f = (n, d = 0) => n.toFixed(d);
const header = [
  'path',
  'seq calls/s',
  'x relay',
  'seq p50 ms',
  'seq p99 ms',
  '16-flight calls/s',
  'x relay',
  'p50 ms',
  'p99 ms',
  '20MiB ms',
  'x relay',
  'peak RSS +MiB',
  'x msg',
];
const rows = results.map((r) => [
  r.name,
  f(r.seqRate),
  f(r.seqRate / relay.seqRate, 2),
  f(r.seqP50, 3),
  f(r.seqP99, 3),
  f(r.parRate),
  f(r.parRate / relay.parRate, 2),
  f(r.parP50, 3),
  f(r.parP99, 3),
  Number.isFinite(r.bigMs) ? f(r.bigMs) : `>${BIG_LIMIT_MS}`,
  Number.isFinite(r.bigMs) ? f(r.bigMs / relay.bigMs, 2) : '-',
  Number.isFinite(r.peakAboveIdleMiB) ? f(r.peakAboveIdleMiB, 1) : '-',
  Number.isFinite(r.peakAboveIdleMiB) ? f(r.peakAboveIdleMiB / 20, 2) : '-',
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const fmt = (cells) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
const table = [fmt(header), ...rows.map(fmt)].join('\n');
console.log(table);
const tg = results.find((r) => r.name === 'tollgate');
if (!tg) process.exit(0);
const x = (n) => `${n.toFixed(2)}x`;
const targets = [
  [
    `throughput >= 0.9x null relay (16 in flight): ${x(tg.parRate / relay.parRate)}`,
    tg.parRate / relay.parRate >= 0.9,
  ],
  [
    `throughput >= 0.9x null relay (sequential): ${x(tg.seqRate / relay.seqRate)}`,
    tg.seqRate / relay.seqRate >= 0.9,
  ],
  [
    `20 MiB transfer <= 1.2x null relay time: ${x(tg.bigMs / relay.bigMs)} (median of ${BIG_REPS})`,
    tg.bigMs / relay.bigMs <= 1.2,
  ],
  [
    `peak RSS <= 3x message size above idle: ${x(tg.peakAboveIdleMiB / 20)} (largest of ${BIG_REPS})`,
    tg.peakAboveIdleMiB <= 60,
  ],
];
for (const [label, ok] of targets) console.log(`${ok ? 'PASS' : 'MISS'}  ${label}`);
// How much the ratio moves from round to round (the paths alternate within each round): the
// noise of the machine, next to the ratio measured over all rounds above.
const spread = (a, b) => {
  const r = a.map((x, i) => x / b[i]).sort((x, y) => x - y);
  return `min ${r[0].toFixed(2)}, median ${r[Math.floor(r.length / 2)].toFixed(2)}, max ${r.at(-1).toFixed(2)}`;
};
const noise = [
  `tollgate / null relay per round (${ROUNDS} rounds), sequential: ${spread(tg.seqRounds, relay.seqRounds)}`,
  `tollgate / null relay per round (${ROUNDS} rounds), 16 in flight: ${spread(tg.parRounds, relay.parRounds)}`,
];
const parse = results.find((r) => r.name === 'parse relay');
if (parse)
  noise.push(
    `tollgate / parse relay (split and JSON.parse only): sequential ${x(tg.seqRate / parse.seqRate)}, 16 in flight ${x(tg.parRate / parse.parRate)}; parse relay / null relay: sequential ${x(parse.seqRate / relay.seqRate)}, 16 in flight ${x(parse.parRate / relay.parRate)}`,
  );
for (const line of noise) console.log(`info  ${line}`);

// Where the CPU goes with 16 calls in flight. The client, the proxy and the server share the
// machine's cores, and at 16 in flight all three are busy: throughput then follows the CPU time
// the three spend per call together, and the ratio of those sums predicts the throughput ratio.
const perCall = (acc, k) => acc[k] / acc.calls;
const cpuTotal = (acc) => perCall(acc, 'client') + perCall(acc, 'proxy') + perCall(acc, 'server');
const cpuLine = (r, acc, tail) =>
  `${r.name.padStart(12)}  client ${f(perCall(acc, 'client'), 1)}  proxy ${r.proxyPid ? f(perCall(acc, 'proxy'), 1) : '-'}  server ${f(perCall(acc, 'server'), 1)}  total ${f(cpuTotal(acc), 1)} us/call  ${tail}`;
const cpuLines = results.map((r) =>
  cpuLine(r, r.cpu, `(relay total / this total: ${f(cpuTotal(relay.cpu) / cpuTotal(r.cpu), 2)})`),
);
const cpuNote = `CPU time per call with ${IN_FLIGHT} in flight (all threads; the proxy and server from /proc/<pid>/task/*/schedstat, the client from process.cpuUsage()):`;
console.log(`info  ${cpuNote}`);
for (const line of cpuLines) console.log(`info  ${line}`);
// Sequentially, one call is in flight: the client, the proxy and the server take turns, so the
// wall time of a call is about the sum of their CPU times (each wakes, works, writes, sleeps).
// A process's cost per call is higher than with 16 in flight: every message is handled alone,
// after a sleep, with cold caches, and every write wakes a sleeping reader.
const seqCpuLines = results.map((r) =>
  cpuLine(
    r,
    r.seqCpu,
    `wall ${f(r.seqUsPerCall, 1)} us/call (CPU sum / wall: ${f(cpuTotal(r.seqCpu) / r.seqUsPerCall, 2)})`,
  ),
);
const seqCpuNote = 'CPU time per call, sequential (the same sources), against the wall time of a call:';
console.log(`info  ${seqCpuNote}`);
for (const line of seqCpuLines) console.log(`info  ${line}`);

let gitRev = 'unknown';
try {
  gitRev = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim();
} catch {}
const stamp = new Date().toISOString();
const machine = `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${process.platform}/${process.arch}`;
const out = join(root, 'bench/results', `proxy-${stamp.slice(0, 10)}.md`);
const report = `# Proxy benchmark, ${stamp}\n\nCommit ${gitRev}; ${machine}; ${SEQ_CALLS} sequential calls, ${PAR_CALLS} calls with ${IN_FLIGHT} in flight.\nReproduce: \`pnpm bench proxy\`.\n\n\`\`\`\n${table}\n\`\`\`\n\n${targets.map(([l, ok]) => `- ${ok ? 'PASS' : 'MISS'} ${l}`).join('\n')}\n${noise.map((l) => `- ${l}`).join('\n')}\n\n${cpuNote}\n\n\`\`\`\n${cpuLines.join('\n')}\n\`\`\`\n\n${seqCpuNote}\n\n\`\`\`\n${seqCpuLines.join('\n')}\n\`\`\`\n`;
if (QUICK || only) {
  // A quick or partial run is a smoke test, not a result: the day's file is left as it is.
  console.error('proxy bench: quick or partial run (BENCH_QUICK / BENCH_MODES), results not saved');
} else {
  // The newest run on top; the day's earlier runs (and any notes added to them) stay below it.
  const earlier = existsSync(out) ? `\n---\n\n${readFileSync(out, 'utf8')}` : '';
  writeFileSync(out, report + earlier);
  console.error(`proxy bench: results saved to ${out}`);
}
