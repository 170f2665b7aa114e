import type { Command } from 'commander';

/** Registers `tollgate status`. Placeholder until its issue lands. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate status: not yet available\n');
      process.exitCode = 2;
    });
}
