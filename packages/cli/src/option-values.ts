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
