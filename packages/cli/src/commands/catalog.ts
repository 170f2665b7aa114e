import type { Command } from 'commander';

/** Registers `tollgate catalog`. Placeholder until its issue lands. */
export function registerCatalog(program: Command): void {
  program
    .command('catalog')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate catalog: not yet available\n');
      process.exitCode = 2;
    });
}
