import { Command } from 'commander';
import { registerCatalog } from './commands/catalog.js';
import { registerExplain } from './commands/explain.js';
import { registerInit } from './commands/init.js';
import { registerRun } from './commands/run.js';
import { registerScan } from './commands/scan.js';
import { registerStatus } from './commands/status.js';
import { registerTest } from './commands/test.js';
import { registerValidate } from './commands/validate.js';
import { VERSION } from './version.js';

/**
 * Build the `tollgate` command tree. The root command runs the proxy
 * (`tollgate -c policy.yaml -- <server command>`); every other capability is a subcommand
 * registered by its own module under `commands/`.
 */
export function buildProgram(): Command {
  const program = new Command('tollgate')
    .version(VERSION, '-V, --version')
    .description('Hard limits on what AI agents can do through MCP servers.')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)');
  registerRun(program);
  registerValidate(program);
  registerTest(program);
  registerExplain(program);
  registerStatus(program);
  registerScan(program);
  registerInit(program);
  registerCatalog(program);
  return program;
}
