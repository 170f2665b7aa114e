import { type Command, InvalidArgumentError, Option } from 'commander';
import { decimalNumber, directoryGiven } from '../option-values.js';
import { collectHeader } from './headers.js';
import type { ScanCliOptions } from './scan-action.js';

/** Longest `--timeout`, in seconds (one day; Node timers overflow past about 24.8 days). */
export const MAX_TIMEOUT_SECONDS = 86_400;

/**
 * Parses `--timeout S` (seconds, > 0, at most {@link MAX_TIMEOUT_SECONDS}), in decimal: `0x10`,
 * `1e3` or `+5` are refused, not converted.
 */
export function parseSeconds(value: string): number {
  const n = decimalNumber(value);
  if (n === undefined || n <= 0)
    throw new InvalidArgumentError(
      'expected a number of seconds greater than 0, in decimal (e.g. 30 or 1.5)',
    );
  if (n > MAX_TIMEOUT_SECONDS)
    throw new InvalidArgumentError(`expected at most ${MAX_TIMEOUT_SECONDS} seconds (one day)`);
  return n;
}

/** Registers `tollgate scan`. */
export function registerScan(program: Command): void {
  program
    .command('scan')
    .description(
      'Start an MCP server, list its tools (all pages) and print a policy scaffold or catalogue entry',
    )
    .argument('[command...]', 'server command and arguments, after --')
    .addOption(
      new Option('--format <format>', 'output: policy scaffold or catalogue entry')
        .choices(['policy', 'catalog'])
        .default('policy'),
    )
    .option('--json', 'print tools, parameter summaries and classifications as JSON (not with --format)')
    .option(
      '--timeout <seconds>',
      'give up after this many seconds, at most 86400 (exit 2)',
      parseSeconds,
      30,
    )
    .option('--upstream <url>', 'scan a running server over Streamable HTTP instead of starting a command')
    .option(
      '-H, --header <header>',
      'request header for --upstream, "Name: value", or @FILE for the header lines of FILE (keeps a token out of the command line); repeatable',
      collectHeader,
    )
    .option(
      '--id <id>',
      'server id for --format catalog and --json: lower-case letters, digits, ".", "_", "-" (default: the recognised catalogue entry, else from the server name)',
    )
    .option(
      '--catalog <dir>',
      'catalogue to recognise the server in (default: the repository catalog/ or the copy shipped with the package)',
      directoryGiven,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  tollgate scan -- npx -y @modelcontextprotocol/server-memory\n  tollgate scan --format catalog --timeout 60 -- node dist/index.js\n  tollgate scan --upstream https://mcp.example.com/mcp -H "Authorization: Bearer $TOKEN"\n\nSecrets in the command or URL (API_KEY=..., --token ..., ?api_key=...) are masked in what it prints.\n\nExit codes: 0 ok, 2 usage error, server failure or timeout.',
    )
    .action(async (command: string[], opts: ScanCliOptions, cmd: Command) => {
      const { runScan } = await import('./scan-action.js');
      await runScan(command, { ...opts, formatGiven: cmd.getOptionValueSource('format') === 'cli' });
    });
}
