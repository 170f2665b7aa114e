/**
 * `tollgate status [--json] [--since 1h]`: what the proxies on this machine did, read from the
 * decision log (`$TOLLGATE_HOME/events/events-YYYY-MM-DD.jsonl`, written by every proxy).
 *
 * - Running instances: a `startup` event without a matching `shutdown` (same `instance`) whose
 *   pid is still alive. A proxy killed with SIGKILL writes no shutdown; the pid check catches it.
 * - Calls, denied share, top deny rules and recent denials over the `--since` window.
 * - Calls and denials per minute over the last hour, as a terminal sparkline.
 *
 * Exit codes: 0 (also when there is nothing to show), 1 when part of the decision log could not be
 * read (named in the report), 2 on a bad `--since`.
 */
import { parseDuration } from '@tollgate/runtime/windows';
import { type Command, InvalidArgumentError, Option } from 'commander';

export type { InstanceStatus, StatusReport } from './status-action.js';

/** A bad option value: commander prints it; exit code 2 (usage), not commander's default 1. */
function usage(message: string): InvalidArgumentError {
  const err = new InvalidArgumentError(message);
  err.exitCode = 2;
  return err;
}

function sinceOption(value: string): number {
  // A bare number has no unit people agree on (a policy's window reads seconds, parseDuration ms).
  if (/^\s*[\d.]+\s*$/.test(value)) {
    const n = value.trim();
    throw usage(
      Number(n) > 0
        ? `give a unit: ${n}s, ${n}m, ${n}h or ${n}d`
        : 'expected a positive duration like 30m, 1h or 2d',
    );
  }
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw usage('expected a duration like 30m, 1h or 2d');
  }
  if (!Number.isFinite(ms) || ms <= 0) throw usage('expected a positive duration like 30m, 1h or 2d');
  return ms;
}

/** Registers `tollgate status`. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show running proxies and recent decisions from the decision log')
    .option('--json', 'print the report as JSON')
    .addOption(
      new Option('--since <duration>', 'window for the totals, e.g. 30m, 1h, 2d')
        .argParser(sinceOption)
        .default(3_600_000, '1h'),
    )
    .addHelpText('after', '\nReads $TOLLGATE_HOME/events (default ~/.tollgate/events).')
    .action(async (opts: { json?: boolean; since: number }) => {
      const { runStatus } = await import('./status-action.js');
      runStatus(opts);
    });
}
