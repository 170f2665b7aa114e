#!/usr/bin/env node
import type { Command } from 'commander';
import { buildSubcommandProgram, SUBCOMMANDS } from './commands-tree.js';

// A subcommand never needs the proxy (the root command), whose module loads the MCP SDK and the
// runtime: only build the full tree when the first argument is not a subcommand name.
const first = process.argv[2];
const program: Command =
  first !== undefined && SUBCOMMANDS.has(first)
    ? buildSubcommandProgram()
    : (await import('./program.js')).buildProgram();
// A reader that closes the pipe early (`tollgate catalog stats | head`) is not an error for the
// report commands. Proxy mode (the root command) owns stdout as the MCP stream and handles a
// vanished client itself, so the handler is only installed when a subcommand runs.
program.hook('preSubcommand', () => {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
});
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`tollgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = process.exitCode || 2;
});
