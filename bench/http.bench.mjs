// HTTP benchmark (`pnpm bench http`): tools/call round trips per second with the MCP SDK's real
// Client against the real @modelcontextprotocol/server-everything, for
//   direct            Client --HTTP--> server (Streamable HTTP)
//   listener->http    Client --HTTP--> tollgate listener --HTTP--> server
//   listener->stdio   Client --HTTP--> tollgate listener --stdio--> server child (one per session)
//   upstream mode     Client --stdio--> tollgate --HTTP--> server
// Tollgate runs in its own process on the real enforcer (YAML policy, SQLite counters reserved and
// committed on every call). Sequential and 16-in-flight calls/s with p50/p99 latency; ratios are
// against `direct` measured in the same run. Needs the packages built (`pnpm bench` builds them).
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from '../scripts/lib/free-port.mjs';

const root = new URL('..', import.meta.url).pathname;
const req = createRequire(join(root, 'packages/proxy/package.json'));
const { Client } = await import(req.resolve('@modelcontextprotocol/sdk/client/index.js'));
const { StreamableHTTPClientTransport } = await import(
  req.resolve('@modelcontextprotocol/sdk/client/streamableHttp.js')
);
const { StdioClientTransport } = await import(req.resolve('@modelcontextprotocol/sdk/client/stdio.js'));
const everything = join(
  dirname(req.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist/index.js',
);
const proxyDist = pathToFileURL(join(root, 'packages/proxy/dist/index.js')).href;
const runtimeDist = pathToFileURL(join(root, 'packages/runtime/dist/index.js')).href;

// The SDK client used as the load generator here leaves one abort listener per request on its
// session signal (Tollgate's upstream transport does not; see upstream.ts fetchWatched): silence
// the warning in this process only.
setMaxListeners(0);
const QUICK = process.env.BENCH_QUICK === '1';
const SEQ_CALLS = QUICK ? 200 : 500;
const PAR_CALLS = QUICK ? 600 : 1500;
const IN_FLIGHT = 16;

const work = mkdtempSync(join(tmpdir(), 'tollgate-http-bench-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

writeFileSync(
  join(work, 'policy.yaml'),
  `version: "1"
default: allow
tools:
  get-sum:
    rules:
      - name: sum budget
        rate_limit: 100000000/hour
      - name: small numbers
        conditions: [{ path: args.a, op: lte, value: 1000000000 }]
`,
);
// Tollgate in its own process: the real enforcer over SQLite, the listener or upstream mode.
writeFileSync(
  join(work, 'tollgate.mjs'),
  `import { runHttpListener, runHttpUpstreamProxy } from ${JSON.stringify(proxyDist)};
import { createEnforcer, openCounterStore } from ${JSON.stringify(runtimeDist)};
const [mode, target, ...rest] = process.argv.slice(2);
const store = await openCounterStore({ stateDir: ${JSON.stringify(work)} + '/state-' + process.pid });
const gate = await createEnforcer({ policyFile: ${JSON.stringify(join(work, 'policy.yaml'))}, watch: false, store });
if (mode === 'upstream') {
  await runHttpUpstreamProxy({ url: target, gate });
  process.exit(0);
}
const upstream = mode === 'listen-http' ? { kind: 'http', url: target } : { kind: 'stdio', command: target, args: rest };
const l = await runHttpListener({ gate, upstream });
process.stdout.write(JSON.stringify({ url: l.url.href }) + '\\n');
process.on('SIGTERM', () => l.close().then(() => process.exit(0)));
`,
);

function start(cmd, args, env = {}) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

async function waitHttp(url) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} never answered`);
}

function firstLine(child) {
  return new Promise((ok, ko) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i !== -1) ok(JSON.parse(buf.slice(0, i)).url);
    });
    child.once('exit', (code) => ko(new Error(`tollgate exited ${code}`)));
  });
}

const port = await freePort();
const server = start(process.execPath, [everything, 'streamableHttp'], { PORT: String(port) });
server.stdout.resume();
const serverUrl = `http://127.0.0.1:${port}/mcp`;
await waitHttp(serverUrl);

const tollgate = join(work, 'tollgate.mjs');
const modes = {
  direct: async () => ({ transport: new StreamableHTTPClientTransport(new URL(serverUrl)) }),
  'listener->http': async () => {
    const c = start(process.execPath, [tollgate, 'listen-http', serverUrl]);
    const url = await firstLine(c);
    return { transport: new StreamableHTTPClientTransport(new URL(url)), proc: c };
  },
  'listener->stdio': async () => {
    const c = start(process.execPath, [tollgate, 'listen-stdio', process.execPath, everything, 'stdio']);
    const url = await firstLine(c);
    return { transport: new StreamableHTTPClientTransport(new URL(url)), proc: c };
  },
  'upstream mode': async () => ({
    transport: new StdioClientTransport({
      command: process.execPath,
      args: [tollgate, 'upstream', serverUrl],
      stderr: 'ignore',
    }),
  }),
};

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
async function measure(name) {
  const { transport, proc } = await modes[name]();
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  const call = (i) => client.callTool({ name: 'get-sum', arguments: { a: i, b: 1 } });
  for (let i = 0; i < 50; i++) await call(i); // warm-up
  const lat = [];
  let t0 = performance.now();
  for (let i = 0; i < SEQ_CALLS; i++) {
    const s = performance.now();
    const r = await call(i);
    lat.push(performance.now() - s);
    if (r.isError) throw new Error(`${name}: call denied or failed: ${JSON.stringify(r)}`);
  }
  const seq = SEQ_CALLS / ((performance.now() - t0) / 1000);
  lat.sort((a, b) => a - b);
  t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < PAR_CALLS) await call(next++);
    }),
  );
  const par = PAR_CALLS / ((performance.now() - t0) / 1000);
  await client.close();
  if (proc) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  return { seq, par, p50: pct(lat, 50), p99: pct(lat, 99) };
}

const results = {};
for (const name of Object.keys(modes)) results[name] = await measure(name);
server.kill('SIGTERM');

const base = results.direct;
console.log(
  `HTTP round trips: get-sum via server-everything, ${SEQ_CALLS} sequential, ${PAR_CALLS} with ${IN_FLIGHT} in flight`,
);
console.log(`node ${process.version}, ${cpus().length} cores${QUICK ? ', BENCH_QUICK' : ''}`);
console.log('mode               seq calls/s  ratio   p50 ms  p99 ms   ||16 calls/s  ratio');
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(18)} ${r.seq.toFixed(0).padStart(11)}  ${(r.seq / base.seq).toFixed(2).padStart(5)}  ${r.p50
      .toFixed(2)
      .padStart(
        7,
      )} ${r.p99.toFixed(2).padStart(7)}   ${r.par.toFixed(0).padStart(11)}  ${(r.par / base.par).toFixed(2).padStart(5)}`,
  );
}
process.exit(0);
