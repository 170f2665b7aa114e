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
 * Makes every option of `command` and of its subcommands that takes one value a usage error when
 * given twice (`--state-dsn memory: --state-dsn redis://...`, `explain --tool a --tool b`), naming
 * both values, instead of letting the last one silently win: a client configuration assembled
 * from pieces can carry an option twice, and which one applies should not be a guess.
 * `-H, --header` and `--allowed-origin` collect their values and stay repeatable; flags without a
 * value (`--json`) are left alone. The error has code `tollgate.optionRepeated` and exit code 2.
 */
export function refuseRepeatedOptions(command: Command): void {
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
      // Values as the logs show them: a credential option's masked whole, a URL's password masked.
      const shown = (v: string | undefined) =>
        JSON.stringify(
          isSecretName(option.attributeName()) ? '***' : (redactCommand(['', v ?? ''])[1] ?? ''),
        );
      command.error(
        `error: option '${option.flags}' given twice (${shown(first)} and ${shown(value)}); give it once`,
        { code: 'tollgate.optionRepeated', exitCode: 2 },
      );
    });
  }
  for (const sub of command.commands) refuseRepeatedOptions(sub);
}
