// CLI startup benchmark (`pnpm bench cli`): CPU time (user + sys) of one `tollgate` process, as a
// ratio against `node -e 0` (the cost of starting Node itself) measured in the same run. CPU time,
// not wall time, because the machine running benches is usually shared. Needs a build:
// `pnpm --filter "tollgate..." build`.
//   --help          root help: registers every command; loads the proxy module (the root command)
//   validate        `validate -c examples/policies/filesystem.yaml`: loads only @tollgate/policy
//   validate --help subcommand help: registration only, no implementation imported
//   explain         one peek evaluation: @tollgate/policy + @tollgate/runtime
//   proxy start     `-c filesystem.yaml --state-dsn memory: -- true`: the whole proxy, child exits
// Children's CPU is read from /proc/self/stat (cutime, cstime: CPU of waited-for children, in clock
// ticks), so it works on Linux only.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'packages/cli/dist/bin.js');
if (!existsSync(bin)) {
  console.error('bench cli: packages/cli/dist/bin.js missing; run pnpm --filter "tollgate..." build');
  process.exit(2);
}
if (!existsSync('/proc/self/stat')) {
  console.error('bench cli: needs /proc (Linux) to read the CPU time of child processes');
  process.exit(2);
}
const ROUNDS = process.env.BENCH_QUICK === '1' ? 3 : 10;
const tck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const policy = join(root, 'examples/policies/filesystem.yaml');

/** Children's CPU so far, in ms (fields 16 and 17 of /proc/self/stat, after the command name). */
function childCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / tck;
}

const cases = [
  ['node -e 0 (baseline)', ['-e', '0']],
  ['--help', [bin, '--help']],
  ['validate', [bin, 'validate', '-c', policy]],
  ['validate --help', [bin, 'validate', '--help']],
  ['explain', [bin, 'explain', '-c', policy, '--tool', 'read_file', '--args', '{"path":"/tmp/x"}']],
  ['proxy start', [bin, '-c', policy, '--state-dsn', 'memory:', '--', 'true']],
];
const total = new Map(cases.map(([name]) => [name, 0]));
// Interleaved rounds: a burst of load from other processes hits every case alike.
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, args] of cases) {
    const before = childCpuMs();
    const res = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore'], cwd: root });
    if (res.status !== 0) {
      console.error(`bench cli: ${name} exited ${res.status}`);
      process.exit(1);
    }
    total.set(name, total.get(name) + childCpuMs() - before);
  }
}
const base = total.get(cases[0][0]) / ROUNDS;
console.table(
  cases.map(([name]) => {
    const ms = total.get(name) / ROUNDS;
    return { case: name, 'CPU ms (mean)': Math.round(ms), 'x node -e 0': (ms / base).toFixed(2) };
  }),
);
console.log(`${ROUNDS} interleaved rounds; CPU = user + sys of each process, clock tick ${1000 / tck} ms`);
