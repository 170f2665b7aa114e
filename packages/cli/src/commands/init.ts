import type { Command } from 'commander';

/** Registers `tollgate init`. Placeholder until its issue lands. */
export function registerInit(program: Command): void {
  program
    .command('init')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate init: not yet available\n');
      process.exitCode = 2;
    });
}
