import type { Command } from 'commander';

/**
 * A `preAction` hook that fails a command whose named options were not given, with commander's own
 * message and code (`error: required option '-c, --config <file>' not specified`,
 * `commander.missingMandatoryOptionValue`), so `--json` and the exit code (2) treat it as any
 * other usage error.
 *
 * Why not commander's `requiredOption`: commander checks mandatory options before unknown ones,
 * so `tollgate validate --bogus` would answer "required option -c not specified" and never name
 * the option that was wrong. A `preAction` hook runs after the unknown-option check.
 *
 * @param names the options' attribute names (`config` for `-c, --config <file>`)
 */
export function requireGiven(...names: string[]): (command: Command) => void {
  return (command) => {
    for (const name of names) {
      if (command.getOptionValue(name) !== undefined) continue;
      const option = command.options.find((o) => o.attributeName() === name);
      command.error(`error: required option '${option?.flags ?? `--${name}`}' not specified`, {
        code: 'commander.missingMandatoryOptionValue',
      });
    }
  };
}
