#!/usr/bin/env node
// First: catches a SIGHUP (policy reload) from here on, while the rest loads (see the module).
import './early-sighup.js';
import type { Command } from 'commander';
import { buildSubcommandProgram, SUBCOMMANDS } from './commands-tree.js';
import { releaseSighup } from './early-sighup.js';

// `tollgate help [command [subcommand]]` prints that command's help, as `--help` after it does,
// and never runs anything: only the command path is kept (the root command runs the proxy, so
// commander adds no help command of its own).
if (process.argv[2] === 'help') {
  const path = process.argv
    .slice(3, 5)
    .filter((a, i, all) => /^[a-z]+$/.test(a) && all.slice(0, i).every((b) => /^[a-z]+$/.test(b)));
  const target = path[0];
  if (target !== undefined && target !== 'help' && !SUBCOMMANDS.has(target)) {
    const meant = await commandMeant(target);
    process.stderr.write(
      `tollgate: help: unknown command "${target}" (${meant ? `did you mean \`tollgate help ${meant}\`? ` : ''}commands: ${[...SUBCOMMANDS].join(', ')})\n`,
    );
    process.exit(2);
  }
  process.argv.splice(
    2,
    Number.POSITIVE_INFINITY,
    ...(target === 'help' || target === undefined ? [] : path),
    '--help',
  );
}
// `tollgate valdate -c p.yaml --json`: a misspelt subcommand, with or without options of its own.
// Left to the root command it would be read as a server command, and its options as the proxy's
// ("unknown option '--json'"). A server command always follows `--`, so a bare first word close
// to a subcommand name, on a line without `--`, can only be that typo.
{
  const word = process.argv[2];
  if (word !== undefined && /^[a-z][a-z-]*$/.test(word) && !SUBCOMMANDS.has(word) && word !== 'help') {
    const meant = process.argv.includes('--') ? undefined : await commandMeant(word);
    if (meant !== undefined) {
      process.stderr.write(
        `tollgate: "${word}" is not a command: did you mean \`tollgate ${meant}\`? (a server command goes after --)\n`,
      );
      process.exit(2);
    }
  }
}
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
  releaseSighup();
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
});
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`tollgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = process.exitCode || 2;
});

/** The subcommand `word` is a plausible typo of, or undefined. Loads the policy package lazily. */
async function commandMeant(word: string): Promise<string | undefined> {
  const { didYouMean } = await import('@tollgate/policy');
  return didYouMean(word, [...SUBCOMMANDS]);
}
