#!/usr/bin/env node
import { buildProgram } from './program.js';

const program = buildProgram();
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
