/**
 * Runs `tollgate <args>` in a child process from the CLI's TypeScript source (tsx, workspace
 * packages resolved to their `src/` through the `@tollgate/source` condition), through the real
 * command tree of `program.ts`, so tests see the same parsing and exit codes users get without
 * needing a build.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI package directory (default working directory of the child). */
export const cliRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

const programUrl = new URL('../src/program.ts', import.meta.url).href;
const script = `import { buildProgram } from '${programUrl}';
await buildProgram().parseAsync(process.argv.slice(1), { from: 'user' });`;

function argv(args: string[]): string[] {
  return [
    '--import',
    'tsx',
    '--conditions=@tollgate/source',
    '--input-type=module',
    '-e',
    script,
    '--',
    ...args,
  ];
}

/** What a run printed and how it ended (`code` is null when the child was killed). */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI synchronously. `timeoutMs` (default 60 s) kills a hung child; `env` is added to
 * this process's environment (e.g. an isolated `TOLLGATE_HOME`).
 */
export function runCli(
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): CliRun {
  const r = spawnSync(process.execPath, argv(args), {
    cwd: opts.cwd ?? cliRoot,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like {@link runCli} without blocking the event loop, so a server in the test process can answer. */
export function runCliAsync(args: string[], opts: { cwd?: string } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, argv(args), {
    cwd: opts.cwd ?? cliRoot,
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
