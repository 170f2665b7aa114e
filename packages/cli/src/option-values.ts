import { InvalidArgumentError } from 'commander';

/**
 * Commander argument parser for a directory option (`--catalog <dir>`, `--dir <dir>`): an empty
 * value (`--catalog "$CATALOG"` with the variable unset) is a usage error (exit 2) that says so,
 * instead of reading as no directory given or as the working directory.
 *
 * @throws InvalidArgumentError when the value is empty or blank
 */
export function directoryGiven(value: string): string {
  if (value.trim() === '') {
    throw new InvalidArgumentError(
      'the directory is empty (an unset variable?); give a directory, or leave the option out for the default',
    );
  }
  return value;
}

/**
 * Why the server command given after `--` cannot be started, or undefined: its program name is
 * empty or blank (`-- "$SERVER"` with the variable unset), which the proxy, `scan` and `init`
 * refuse as a usage error (exit 2) instead of failing to spawn it.
 */
export function serverCommandProblem(command: readonly string[]): string | undefined {
  if (command.length === 0 || command[0]!.trim() !== '') return undefined;
  return 'the server command after -- is empty (an unset variable?): give the program to start, e.g. -- npx -y @modelcontextprotocol/server-memory';
}
