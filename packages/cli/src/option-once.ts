import { InvalidArgumentError } from 'commander';

/**
 * Commander argument parser for an option that must be given at most once (`-c FILE`): a second
 * occurrence is a usage error (exit 2) naming both values, instead of the last one silently
 * winning. Only for options without a default (commander passes the default as `previous`).
 *
 * @throws InvalidArgumentError when the option was already given, or its value is another option
 *   (`-c --json`: the value was forgotten)
 */
export function givenOnce(value: string, previous: string | undefined): string {
  // `validate -c --json`: the value was forgotten and the next option taken for it.
  if (/^--(?:[a-z]|$)/i.test(value) || /^-[a-z]$/i.test(value)) {
    throw new InvalidArgumentError(
      `That is ${value === '--' ? 'the end of the options' : 'another option'}: give the value first (write ./${value} for a file of that name)`,
    );
  }
  if (previous !== undefined) {
    throw new InvalidArgumentError(`given twice ("${previous}" and "${value}"); give it once`);
  }
  return value;
}
