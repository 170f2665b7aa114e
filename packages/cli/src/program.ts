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
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors exit 2 across every command (commander's default is 1, which we reserve for
    // "policy invalid / call denied / test failed"); help and version exit 0. Commander has already
    // printed the message when this runs. Subcommands inherit this setting.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
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
