import type { Command } from 'commander';
import { registerRun } from './commands/run.js';
import { createRootProgram, registerSubcommands } from './commands-tree.js';

/**
 * Build the `tollgate` command tree. The root command runs the proxy
 * (`tollgate -c policy.yaml -- <server command>`); every other capability is a subcommand
 * registered by its own module under `commands/`.
 */
export function buildProgram(): Command {
  const program = createRootProgram();
  registerRun(program);
  registerSubcommands(program);
  return program;
}
