import { type Logger as PinoLogger, pino } from 'pino';

/** A pino logger. In proxy mode stdout carries the MCP stream, so Tollgate logs only to stderr. */
export type Logger = PinoLogger;

/**
 * Create a JSON logger writing to stderr (fd 2), synchronously so nothing is lost on exit.
 *
 * @param opts.level - pino level: `fatal` `error` `warn` `info` `debug` `trace` `silent` (default `$TOLLGATE_LOG_LEVEL` or `info`)
 */
export function createLogger(opts: { level?: string } = {}): Logger {
  return pino(
    { name: 'tollgate', level: opts.level ?? process.env.TOLLGATE_LOG_LEVEL ?? 'info' },
    pino.destination({ fd: 2, sync: true }),
  );
}
