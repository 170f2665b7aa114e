import type { Command } from 'commander';

/** Registers `tollgate scan`. Placeholder until its issue lands. */
export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('(not yet available)')
    .action(() => {
      process.stderr.write('tollgate scan: not yet available\n');
      process.exitCode = 2;
    });
}
