import type { Command } from 'commander';

/** Registers `tollgate validate`. Placeholder until its issue lands. */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate validate: not yet available\n');
      process.exitCode = 2;
    });
}
