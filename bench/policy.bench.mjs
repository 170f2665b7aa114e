// Policy benchmark (`pnpm bench policy`): the costs @tollgate/policy adds, each as a ratio against
// a baseline measured in the same run. Needs `pnpm --filter @tollgate/policy build`.
//   load       loadPolicy (parse + validate + compile) vs the `yaml` package's parse of the same text,
//              and the per-entry cost at 10,000 tool entries vs 100 (duplicate keys and positions
//              are found in linear time)
//   lookup     rulesFor on a 10,000-entry policy vs a 3-entry policy (exact names are a Map lookup)
//   regex      RE2 (re2js, linear time) vs V8 RegExp: a plain search, and ^(a+)+$ on "aaa…!"
//              where V8 backtracks exponentially
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const policyDir = join(root, 'packages/policy');
const { loadPolicy, tryCompileRegex } = await import(join(policyDir, 'dist/index.js'));
const YAML = (await import(createRequire(join(policyDir, 'package.json')).resolve('yaml'))).default;
const QUICK = process.env.BENCH_QUICK === '1';

function time(fn, minMs = QUICK ? 150 : 600) {
  for (let i = 0; i < 20; i++) fn(); // warm-up (JIT)
  let n = 0;
  const t0 = performance.now();
  let t;
  do {
    fn();
    n++;
    t = performance.now() - t0;
  } while (t < minMs);
  return (t / n) * 1000; // microseconds per op
}
const fmt = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(2)} µs`);
const rows = [];
const row = (name, base, subject, note = '') =>
  rows.push({
    name,
    baseline: fmt(base),
    tollgate: fmt(subject),
    ratio: `${(subject / base).toFixed(2)}x`,
    note,
  });

// load
for (const f of ['filesystem.yaml', 'payments.yaml', 'github-agent.yaml']) {
  const text = readFileSync(join(root, 'examples/policies', f), 'utf8');
  const base = time(() => YAML.parse(text));
  const subject = time(() => {
    const r = loadPolicy(text);
    if (!r.ok) throw new Error(f);
  });
  row(`load ${f}`, base, subject, 'baseline: YAML.parse of the same text');
}

// lookup
function policyText(n) {
  let t = 'version: "1"\ntools:\n';
  for (let i = 0; i < n; i++) t += `  tool_${i}:\n    rules:\n      - rate_limit: ${i + 1}/hour\n`;
  t +=
    '  "search_*":\n    rules:\n      - rate_limit: 30/minute\n  "*":\n    rules:\n      - rate_limit: 60/minute\n';
  return t;
}
const text100 = policyText(100);
const text10k = policyText(10_000);
const per100 = time(() => loadPolicy(text100)) / 100;
const per10k = time(() => loadPolicy(text10k), QUICK ? 1 : 3000) / 10_000;
row(
  'load per tool entry, 10,000 entries',
  per100,
  per10k,
  'baseline: per entry at 100 entries; linear means about 1x',
);

const small = loadPolicy(policyText(3));
const big = loadPolicy(policyText(10_000));
if (!small.ok || !big.ok) throw new Error('bench policy invalid');
const names = Array.from({ length: 2000 }, (_, i) => `tool_${i % 3}`);
const bigNames = Array.from({ length: 2000 }, (_, i) => `tool_${(i * 4999) % 10_000}`);
let sink = 0;
const lookSmall = time(() => {
  for (const n of names) sink += small.policy.rulesFor(n).length;
});
const lookBig = time(() => {
  for (const n of bigNames) sink += big.policy.rulesFor(n).length;
});
row('rulesFor x2000, 10,000 entries', lookSmall, lookBig, 'baseline: 3 entries (memoised after first call)');
const listedSmall = time(() => {
  for (const n of names) sink += small.policy.isListed(n) ? 1 : 0;
});
const listedBig = time(() => {
  for (const n of bigNames) sink += big.policy.isListed(n) ? 1 : 0;
});
row('isListed x2000, 10,000 entries', listedSmall, listedBig, 'baseline: 3 entries');

// regex
const input = `${'x'.repeat(1000)}feat/login`;
const re2 = tryCompileRegex('feat/[a-z]+');
const v8 = /feat\/[a-z]+/;
row(
  'regex search, 1 KB',
  time(() => v8.test(input)),
  time(() => re2.regex.test(input)),
  'baseline: V8 RegExp',
);
const evil = tryCompileRegex('^(a+)+$');
const v8evil = /^(a+)+$/;
for (const n of QUICK ? [20] : [20, 24]) {
  const s = `${'a'.repeat(n)}!`;
  const base = time(() => v8evil.test(s), 50);
  const subject = time(() => evil.regex.test(s), 50);
  row(`^(a+)+$ on ${n} a's + "!"`, base, subject, 'baseline: V8 RegExp (exponential)');
}
const tenK = `${'a'.repeat(10_000)}!`;
const hundredK = `${'a'.repeat(100_000)}!`;
row(
  '^(a+)+$ on 100,000 a\'s + "!"',
  time(() => evil.regex.test(tenK)),
  time(() => evil.regex.test(hundredK)),
  "baseline: 10,000 a's; linear time means about 10x (V8 would not finish either)",
);

console.table(rows);
if (sink < 0) console.log(sink);
