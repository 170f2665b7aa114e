// Router hot path (`pnpm bench router`), on the built dist/ of @tollgate/proxy and @tollgate/runtime.
//
// The proxy's own work per `tools/call`, without pipes or processes: the router with the real
// enforcer (the 1,000-rule policy of the proxy benchmark, a rate limit on the called tool, the
// decision log writing to a temp dir) and in-memory transports. Measured separately:
//   request path   client message in -> decision (policy, counters, log record) -> frame to the server
//   response path  server answer in -> frame to the client (its commit runs after, in a microtask)
// for SQLite counters behind leases (the default) and for in-memory counters. The baseline is
// `JSON.parse` of the same request, measured in the same run; the ratio says how many parses of
// the message the proxy's work costs. Times are wall time of a tight loop (no I/O is involved).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { thousandRulePolicy } from './fixtures/proxy-policy.mjs';

const root = new URL('..', import.meta.url).pathname;
const { Router } = await import(join(root, 'packages/proxy/dist/index.js'));
const { createEnforcer, openCounterStore, openDecisionLog } = await import(
  join(root, 'packages/runtime/dist/index.js')
);

const QUICK = process.env.BENCH_QUICK === '1';
const CALLS = QUICK ? 30_000 : 200_000;
const ROUNDS = 3;

const work = mkdtempSync(join(tmpdir(), 'tollgate-router-bench-'));
const policyFile = join(work, 'policy.yaml');
writeFileSync(policyFile, thousandRulePolicy());

const requests = Array.from({ length: 1000 }, (_, i) =>
  Buffer.from(
    `{"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},"_meta":{"progressToken":${i}}},"jsonrpc":"2.0","id":${i}}`,
  ),
);
const answers = Array.from({ length: 1000 }, (_, i) =>
  Buffer.from(`{"result":{"content":[{"type":"text","text":"hello"}]},"jsonrpc":"2.0","id":${i}}`),
);

async function measure(name, storeOptions) {
  const store = await openCounterStore(storeOptions);
  const decisionLog = openDecisionLog({ dir: join(work, `events-${name}`) });
  const enforcer = await createEnforcer({ policyFile, store, decisionLog });
  let toServer = 0;
  const client = { start: async () => {}, send: () => {}, close: async () => {} };
  const server = { start: async () => {}, send: () => toServer++, close: async () => {} };
  const router = new Router({ client, server, gate: enforcer, prefetchToolSchemas: false });
  const best = { req: Number.POSITIVE_INFINITY, res: Number.POSITIVE_INFINITY };
  for (let round = 0; round < ROUNDS; round++) {
    let req = 0;
    let res = 0;
    for (let i = 0; i < CALLS; i++) {
      const k = i % 1000;
      const before = toServer;
      let t = performance.now();
      client.onmessage(requests[k]);
      // The decision resolves in microtasks: wait for the frame to reach the server side.
      while (toServer === before) await null;
      req += performance.now() - t;
      t = performance.now();
      server.onmessage(answers[k]);
      res += performance.now() - t;
      // Let timers run now and then (decision log flush, lease settlement), as in a live proxy.
      if (i % 256 === 0) await new Promise((r) => setImmediate(r));
    }
    best.req = Math.min(best.req, (req / CALLS) * 1000);
    best.res = Math.min(best.res, (res / CALLS) * 1000);
  }
  router.clientClosed();
  await enforcer.close();
  return { name, ...best };
}

function parseBaseline() {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const t = performance.now();
    let sink = 0;
    for (let i = 0; i < CALLS; i++) sink += JSON.parse(requests[i % 1000].toString('utf8')).id;
    best = Math.min(best, ((performance.now() - t) / CALLS) * 1000);
    if (sink < 0) console.log(sink);
  }
  return best;
}

const parse = parseBaseline();
const rows = [
  await measure('sqlite + leases', { stateDir: join(work, 'state') }),
  await measure('memory', { stateDsn: 'memory:' }),
];
rmSync(work, { recursive: true, force: true });

console.log(
  `Router hot path, best of ${ROUNDS} rounds of ${CALLS} calls; baseline JSON.parse of the request: ${parse.toFixed(2)} us`,
);
console.log('store              request us  x parse  response us  x parse');
for (const r of rows) {
  console.log(
    `${r.name.padEnd(17)}  ${r.req.toFixed(2).padStart(10)}  ${(r.req / parse).toFixed(1).padStart(7)}  ${r.res.toFixed(2).padStart(11)}  ${(r.res / parse).toFixed(1).padStart(7)}`,
  );
}
