/**
 * The logging surface the proxy uses: a subset of pino's `Logger`, so a pino instance writing
 * to stderr (never stdout, which carries MCP) plugs in directly.
 */
export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /**
   * Optional (pino has it): whether messages at `level` are written. The router logs each allowed
   * call at `debug` only when this says so, so a quieter level costs the call path nothing.
   */
  isLevelEnabled?(level: string): boolean;
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: ProxyLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
