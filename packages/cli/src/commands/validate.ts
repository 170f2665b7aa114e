import type { Command } from 'commander';
import { notAnOption } from '../option-once.js';
import { directoryGiven } from '../option-values.js';
import { requireGiven } from '../required-options.js';
import type { ValidateOptions } from './validate-action.js';

export type { ValidateSummary } from './validate-action.js';

/**
 * Registers `tollgate validate -c FILE [--json]`: load a policy with the same `loadPolicy` the
 * proxy uses and report every problem at once.
 * Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage error or unreadable file.
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    // A bare word (`tollgate validate policy.yaml`) is refused, with a hint, not ignored.
    .allowExcessArguments(false)
    .description('Check a policy file and report every error with file:line:col, code and hint')
    .option('-c, --config <file>', 'policy YAML file to validate', notAnOption)
    .option('--json', 'print one machine-readable JSON object on stdout')
    .option(
      '--server <id>',
      "catalogue server id: warn about tool keys and hide entries naming none of the server's tools, and condition paths naming none of their arguments",
    )
    .option(
      '--catalog <dir>',
      'catalogue directory for --server (default: the repository catalog/ or the copy shipped with the package)',
      directoryGiven,
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 valid, 1 invalid policy, 2 usage error or unreadable file.\nExamples:\n  tollgate validate -c examples/policies/filesystem.yaml\n  tollgate validate -c policy.yaml --server filesystem   (also checks the tool names and argument paths)',
    )
    .hook('preAction', requireGiven('config'))
    .action(async (opts: ValidateOptions) => {
      const { runValidate } = await import('./validate-action.js');
      await runValidate(opts);
    });
}
