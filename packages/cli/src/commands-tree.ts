import { Command } from 'commander';
import { registerCatalog } from './commands/catalog.js';
import { registerExplain } from './commands/explain.js';
import { registerInit } from './commands/init.js';
import { registerScan } from './commands/scan.js';
import { registerStatus } from './commands/status.js';
import { registerTest } from './commands/test.js';
import { registerValidate } from './commands/validate.js';
import { VERSION } from './version.js';

/**
 * Names of the subcommands. `bin.ts` uses it to skip loading the proxy (the root command) when
 * the first argument names a subcommand: the proxy's module imports the MCP SDK and the runtime,
 * hundreds of milliseconds of CPU that a `validate` or `--help` of a subcommand never needs.
 */
export const SUBCOMMANDS: ReadonlySet<string> = new Set([
  'validate',
  'test',
  'explain',
  'status',
  'scan',
  'init',
  'catalog',
]);

/**
 * The root `tollgate` command with its program-wide settings (version, positional options, exit
 * code 2 on usage errors) and no options or action of its own yet.
 */
export function createRootProgram(): Command {
  return (
    new Command('tollgate')
      .version(VERSION, '-V, --version')
      .description('Hard limits on what AI agents can do through MCP servers.')
      .enablePositionalOptions()
      .showHelpAfterError('(run with --help for usage)')
      // Usage errors exit 2 across every command (commander's default is 1, which we reserve for
      // "policy invalid / call denied / test failed"); help and version exit 0. Commander has already
      // printed the message when this runs. Subcommands inherit this setting.
      .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  );
}

/**
 * Registers every subcommand on `program`, in the order `--help` lists them. Registration only
 * declares names, options and help: each command imports its implementation when its action runs.
 */
export function registerSubcommands(program: Command): void {
  registerValidate(program);
  registerTest(program);
  registerExplain(program);
  registerStatus(program);
  registerScan(program);
  registerInit(program);
  registerCatalog(program);
}

/**
 * The command tree without the proxy's options and action, for running a subcommand: parses and
 * prints exactly like `buildProgram()` when the first argument is one of {@link SUBCOMMANDS}.
 */
export function buildSubcommandProgram(): Command {
  const program = createRootProgram();
  registerSubcommands(program);
  return program;
}
