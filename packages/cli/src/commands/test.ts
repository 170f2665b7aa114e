import type { Command } from 'commander';

/** Registers `tollgate test`. Placeholder until its issue lands. */
export function registerTest(program: Command): void {
  program
    .command('test')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate test: not yet available\n');
      process.exitCode = 2;
    });
}
