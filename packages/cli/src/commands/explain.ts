import type { Command } from 'commander';

/** Registers `tollgate explain`. Placeholder until its issue lands. */
export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate explain: not yet available\n');
      process.exitCode = 2;
    });
}
