import type { Command } from 'commander';

/** Registers `tollgate run`. Placeholder until its issue lands. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate run: not yet available\n');
      process.exitCode = 2;
    });
}
