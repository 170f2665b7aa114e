import type { Command } from 'commander';
import { directoryGiven } from '../option-values.js';
import { collectHeader } from './headers.js';
import type { InitOptions } from './init-action.js';
import { parseSeconds } from './scan.js';

/** Registers `tollgate init`. */
export function registerInit(program: Command): void {
  program
    .command('init')
    .description('Write a starter policy for a server, from the catalogue or from a live scan')
    .argument('[command...]', 'server command and arguments after -- (live scan instead of --server)')
    .option('-s, --server <id>', 'catalogue server id, e.g. github or stripe-0.2.5')
    .option('-o, --output <file>', 'policy file to write ("-" for stdout)', 'tollgate.policy.yaml')
    .option('-f, --force', 'overwrite the output file if it exists')
    .option('--json', 'print a JSON summary (file, server, tool counts per category)')
    .option(
      '--catalog <dir>',
      'catalogue directory (default: the repository catalog/ or the copy shipped with the package)',
      directoryGiven,
    )
    .option('--upstream <url>', 'live scan of a running server over Streamable HTTP instead of a command')
    .option(
      '-H, --header <header>',
      'request header for --upstream, "Name: value", or @FILE for the header lines of FILE (keeps a token out of the command line); repeatable',
      collectHeader,
    )
    .option(
      '--timeout <seconds>',
      'live scan: give up after this many seconds, at most 86400',
      parseSeconds,
      30,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  tollgate init --server github\n  tollgate init -o policy.yaml -- npx -y @modelcontextprotocol/server-memory\n  tollgate init --upstream https://mcp.example.com/mcp -H "Authorization: Bearer $TOKEN"\n\nExit codes: 0 written, 2 usage error, existing file without --force, unknown server, scan failure.',
    )
    .action(async (command: string[], opts: InitOptions) => {
      const { runInit } = await import('./init-action.js');
      await runInit(command, opts);
    });
}
