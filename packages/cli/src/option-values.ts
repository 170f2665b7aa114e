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

/**
 * Node's timers fire after at most this many milliseconds (2^31 - 1, about 24.8 days); a longer
 * delay is cut to 1 ms with a warning, so an option that becomes a timer's delay stops here.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The whole number an option's value spells in decimal digits (surrounding blanks allowed), or
 * undefined for anything else: `Number()` would also read `0x10` as 16, `1e3` as 1000 and `''` as
 * 0, and a command line meant as decimal should not be read as something else without a word.
 * Undefined as well above `Number.MAX_SAFE_INTEGER`, where digits no longer give that number.
 */
export function decimalWholeNumber(value: string): number | undefined {
  if (!/^\s*\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The non-negative number an option's value spells in decimal (`5`, `1.5`, `.5`, `5.`; blanks
 * around allowed), or undefined for anything else (`0x10`, `1e3`, `+5`, `''`): see
 * {@link decimalWholeNumber}. For options that take fractions (seconds).
 */
export function decimalNumber(value: string): number | undefined {
  return /^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : undefined;
}
