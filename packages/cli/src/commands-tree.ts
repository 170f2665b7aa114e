import { Command, type ParseOptions } from 'commander';
import { registerCatalog } from './commands/catalog.js';
import { registerExplain } from './commands/explain.js';
import { registerInit } from './commands/init.js';
import { registerScan } from './commands/scan.js';
import { registerStatus } from './commands/status.js';
import { registerTest } from './commands/test.js';
import { registerValidate } from './commands/validate.js';
import { jsonFailureText } from './json-failure.js';
import { refuseRepeatedOptions } from './option-once.js';
import { redactMessage } from './redact-command.js';
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

/** The root command, remembering the command line it parses (for {@link wantsJson}). */
class RootCommand extends Command {
  /** The `argv` of the latest `parse`/`parseAsync` (with node and script path when from node). */
  argv: readonly string[] = [];

  override parse(argv?: readonly string[], opts?: ParseOptions): this {
    this.argv = argv ?? process.argv;
    return super.parse(argv, opts);
  }

  override parseAsync(argv?: readonly string[], opts?: ParseOptions): Promise<this> {
    this.argv = argv ?? process.argv;
    return super.parseAsync(argv, opts);
  }
}

/**
 * The command line `program` (the root command) last parsed, with the node and script paths when
 * it came from `process.argv`; `process.argv` for any other command.
 */
export function commandLineOf(program: Command): readonly string[] {
  return program instanceof RootCommand ? program.argv : process.argv;
}

/**
 * The root `tollgate` command with its program-wide settings (version, positional options, exit
 * code 2 on usage errors) and no options or action of its own yet.
 */
export function createRootProgram(): Command {
  const program = new RootCommand('tollgate');
  // A usage error of a subcommand run with `--json` (unknown option, missing value, ...) is
  // printed as JSON on stdout, where the caller reads the command's output, instead of text.
  const json = () => wantsJson(program.argv);
  return (
    program
      .version(VERSION, '-V, --version')
      .description('Hard limits on what AI agents can do through MCP servers.')
      .enablePositionalOptions()
      .showHelpAfterError('(run with --help for usage)')
      .configureOutput({
        // Commander writes an error and the hint after it with these two.
        outputError: (text, write) => {
          // `unknown option '--api-key=...'`: a server's credential given before `--`.
          if (!json()) write(redactMessage(text));
        },
        writeErr: (text) => {
          if (!json()) process.stderr.write(text);
        },
      })
      // Usage errors exit 2 across every command (commander's default is 1, which we reserve for
      // "policy invalid / call denied / test failed"); help and version exit 0. Commander has already
      // printed the message when this runs. Subcommands inherit these settings.
      .exitOverride((err) => {
        const hint =
          // A server's own flag read as Tollgate's: unknown, or one Tollgate has (`--port`) twice.
          err.code === 'commander.unknownOption' || err.code === 'tollgate.optionRepeated'
            ? separatorHint(program.argv)
            : err.code === 'commander.missingMandatoryOptionValue' || err.code === 'commander.excessArguments'
              ? policyArgumentHint(program.argv)
              : undefined;
        if (hint && !json()) process.stderr.write(`${hint}\n`);
        if (err.exitCode !== 0 && json())
          process.stdout.write(
            jsonFailureText({
              code: 'usage',
              reason: err.code,
              message: redactMessage(err.message.replace(/^error: /, '')),
            }),
          );
        process.exit(err.exitCode === 0 ? 0 : 2);
      })
  );
}

/**
 * For an unknown option on the proxy's own command line without `--`: the server command's flags
 * were read as Tollgate's (`tollgate -c p.yaml npx -y server`), so say where `--` goes. Undefined
 * for a subcommand's command line or one that has `--`.
 */
export function separatorHint(args: readonly string[]): string | undefined {
  if (args.includes('--') || args.some((a) => SUBCOMMANDS.has(a))) return undefined;
  // --upstream takes no server command: an unknown option there is only that.
  if (args.some((a) => a === '--upstream' || a.startsWith('--upstream='))) return undefined;
  if (!args.some((a) => a === '-c' || a === '--config' || a.startsWith('--config='))) return undefined;
  return "tollgate: if that option belongs to the server command, put -- before the command, so its flags are not read as Tollgate's: tollgate -c <policy.yaml> -- <command> [args...]";
}

/**
 * For `tollgate validate policy.yaml` (the policy given without `-c`): the command line with `-c`
 * put in, or undefined when no bare word after the subcommand looks like a policy file.
 */
export function policyArgumentHint(args: readonly string[]): string | undefined {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  const sub = own.findIndex((a) => SUBCOMMANDS.has(a));
  if (sub === -1 || own.some((a) => a === '-c' || a === '--config' || a.startsWith('--config=')))
    return undefined;
  const i = own.findIndex(
    (a, k) => k > sub && /\.(ya?ml|json)$/i.test(a) && !(own[k - 1] ?? '').startsWith('-'),
  );
  if (i === -1) return undefined;
  const fixed = [...own.slice(sub, i), '-c', ...own.slice(i)].join(' ');
  return `tollgate: give the policy file with -c: tollgate ${fixed}`;
}

/**
 * True when `args` (the raw command line) runs a subcommand with `--json`: the flag appears
 * before any `--`, after a subcommand name. The proxy's own command line has no `--json`; one
 * after `--` belongs to the server command.
 */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  const sub = own.findIndex((a) => SUBCOMMANDS.has(a));
  return sub !== -1 && own.indexOf('--json', sub + 1) !== -1;
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
  acceptNoColor(program);
  refuseRepeatedOptions(program, () => commandLineOf(program));
  return program;
}

/**
 * Let `cmd` and every command under it accept `--no-color`. picocolors reads it from the command
 * line itself (see colors.ts), so it turns colour off, as `NO_COLOR` does, instead of being
 * refused as an unknown option.
 */
export function acceptNoColor(cmd: Command): void {
  cmd.option('--no-color', 'turn colour off (as NO_COLOR=1 does)');
  for (const sub of cmd.commands) acceptNoColor(sub);
}
