import type { Command } from 'commander';
import { notAnOption } from '../option-once.js';
import { directoryGiven } from '../option-values.js';
import { requireGiven } from '../required-options.js';
import type { ExplainOptions } from './explain-action.js';

export type { ExplainOutput } from './explain-action.js';

/**
 * Registers `tollgate explain -c FILE --tool NAME [--args JSON]`: evaluates one call with the same
 * `evaluate` the proxy uses, in peek mode (no quota is taken), and prints every rule and
 * condition with its outcome, then the decision. Exit codes: 0 allowed, 1 denied or invalid
 * policy, 2 usage error or unreadable file.
 */
export function registerExplain(program: Command): void {
  program
    .command('explain')
    // A bare word (`tollgate validate policy.yaml`) is refused, with a hint, not ignored.
    .allowExcessArguments(false)
    .description('Show how the policy decides one tools/call: every rule and condition, then the decision')
    .option('-c, --config <file>', 'policy YAML file', notAnOption)
    .option('--tool <name>', 'tool name of the call')
    .option('--args <json>', 'the call arguments as a JSON object', '{}')
    .option('--input-schema <json>', "the tool's inputSchema as JSON (for validate.required_args)")
    .option(
      '--server <id>',
      "catalogue server id, e.g. github: take the tool's inputSchema from its catalogue entry",
    )
    .option(
      '--catalog <dir>',
      'catalogue directory for --server (default: the repository catalog/ or the copy shipped with the package)',
      directoryGiven,
    )
    .option('--json', 'print one machine-readable JSON object on stdout')
    .option(
      '--state-dir <dir>',
      'directory of tollgate.sqlite to read counters from (default $TOLLGATE_STATE_DIR, else $TOLLGATE_HOME/state, else ~/.tollgate/state)',
      directoryGiven,
    )
    .option(
      '--state-dsn <dsn>',
      'read counters from memory:, a SQLite file, or redis://host:port (default $TOLLGATE_STATE_DSN)',
    )
    .option('--state-prefix <prefix>', 'Redis key prefix (default "tollgate:"; Redis only)')
    .addHelpText(
      'after',
      '\nCounters are only read, never taken: explain shows what the next call would do.\nRules with `validate: { required_args: true }` (every starter policy has them) need the tool\'s --input-schema (or --server <id> for a catalogued server); the proxy learns it from tools/list.\nExit codes: 0 allowed, 1 denied or invalid policy, 2 usage error or unreadable file.\nExample: tollgate explain -c examples/policies/payments.yaml --tool create_charge --args \'{"amount":60000,"currency":"usd"}\'',
    )
    .hook('preAction', requireGiven('config', 'tool'))
    .action(async (opts: ExplainOptions) => {
      const { runExplain } = await import('./explain-action.js');
      await runExplain(opts);
    });
}
