import { type Command, InvalidArgumentError } from 'commander';
import { isSecretName, redactCommand } from './redact-command.js';

/**
 * Commander argument parser for `-c FILE`: a value that is another option (`validate -c --json`:
 * the file was forgotten and the next option taken for it) is a usage error (exit 2) saying so,
 * instead of a file named `--json` that cannot be read. (Given twice, `-c` is refused by
 * {@link refuseRepeatedOptions}, as every option taking one value is.)
 *
 * @throws InvalidArgumentError when the value is another option or `--`
 */
export function notAnOption(value: string): string {
  if (/^--(?:[a-z]|$)/i.test(value) || /^-[a-z]$/i.test(value)) {
    throw new InvalidArgumentError(
      `That is ${value === '--' ? 'the end of the options' : 'another option'}: give the value first (write ./${value} for a file of that name)`,
    );
  }
  return value;
}

/** Options that may be given more than once, by attribute name: their values are collected. */
const REPEATABLE: ReadonlySet<string> = new Set(['header', 'allowedOrigin']);

/**
 * Options whose values may hold a credential in a shape no masking can be sure of (a DSN's or
 * URL's password may itself hold `@`, `/` or `#`; `--args` is JSON, spaced any way): when one is
 * given twice, the error names the option, not its values.
 */
const VALUES_NOT_SHOWN: ReadonlySet<string> = new Set([
  'stateDsn',
  'upstream',
  'args',
  'inputSchema',
  'authToken',
]);

/** Whether `words` (a command line) has `--help` or `-h` before `--`. */
function helpAsked(words: readonly string[]): boolean {
  const end = words.indexOf('--');
  return (end === -1 ? words : words.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Makes every option of `command` and of its subcommands that takes one value a usage error when
 * given twice (`--state-dsn memory: --state-dsn redis://...`, `explain --tool a --tool b`), naming
 * both values, instead of letting the last one silently win: a client configuration assembled
 * from pieces can carry an option twice, and which one applies should not be a guess.
 * `-H, --header` and `--allowed-origin` collect their values and stay repeatable; flags without a
 * value (`--json`) are left alone. The error has code `tollgate.optionRepeated` and exit code 2.
 * @param commandLine the words being parsed (for `--help`, which wins over this error)
 */
export function refuseRepeatedOptions(command: Command, commandLine: () => readonly string[]): void {
  for (const option of command.options) {
    if (!(option.required || option.optional) || option.variadic) continue;
    if (REPEATABLE.has(option.attributeName())) continue;
    let first: string | undefined;
    let seen = false;
    // Commander emits this once per occurrence on the command line (after parsing the value).
    command.on(`option:${option.name()}`, (value: string | undefined) => {
      if (!seen) {
        seen = true;
        first = value;
        return;
      }
      const name = option.attributeName();
      // `--help` on the line (before `--`: after it, words are the server's) asks for help, which
      // commander prints once the options are read: not this error.
      if (helpAsked(commandLine())) return;
      const values =
        VALUES_NOT_SHOWN.has(name) || isSecretName(name)
          ? ''
          : ` (${JSON.stringify(redactCommand(['', first ?? ''])[1] ?? '')} and ${JSON.stringify(redactCommand(['', value ?? ''])[1] ?? '')})`;
      command.error(`error: option '${option.flags}' given twice${values}; give it once`, {
        code: 'tollgate.optionRepeated',
        exitCode: 2,
      });
    });
  }
  for (const sub of command.commands) refuseRepeatedOptions(sub, commandLine);
}
