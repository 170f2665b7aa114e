/** Calendar-aligned UTC fixed windows (same union as `FixedWindow` in @tollgate/policy). */
type FixedWindow = 'minute' | 'hour' | 'day';

/** Length of each calendar-aligned fixed window, in milliseconds. */
export const FIXED_WINDOW_MS: Readonly<Record<FixedWindow, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/**
 * Start (epoch ms) of the fixed window of length `windowMs` that contains `now`.
 *
 * Windows are calendar-aligned in UTC (Intercept POLICY.md "Windows"): the Unix epoch is a UTC
 * midnight and has no leap seconds, so flooring to a multiple of the window length lands on the
 * start of the UTC minute, hour or day.
 *
 * @param now - epoch milliseconds
 * @param windowMs - window length in milliseconds (must be > 0)
 */
export function fixedWindowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

/**
 * Human wording of a duration for denial messages, rounded up to whole seconds:
 * `45s`, `1m 30s`, `2h 5m`, `1h`.
 *
 * @param ms - duration in milliseconds (negative values are treated as 0)
 */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s > 0 ? `${m}m ${s}s` : `${m}m`;
  return `${s}s`;
}

/**
 * Parse a duration written in a test file or on the command line: a number of milliseconds, or a
 * string `<n>ms|s|m|h|d` (e.g. `61s`, `1.5h`, `250ms`).
 *
 * @param written - the value as its author wrote it, for the error message (a YAML `1e400` is read
 *   as `Infinity`); default: the value itself
 * @returns milliseconds
 * @throws Error when the text is not a non-negative duration, or does not come to a whole number
 *   of milliseconds (`0.3`, `1.0001s`); a number that is not finite is said to be so
 */
export function parseDuration(value: unknown, written?: string): number {
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) ms = value;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
    if (m) {
      const n = Number(m[1]);
      const unit = m[2] ?? 'ms';
      const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1;
      ms = n * factor;
    }
  }
  if (ms !== undefined) {
    // Clocks and windows count whole milliseconds: `0.3` would make times no proxy ever sees
    // (a retry in 9999.699951171875 ms). `1.1s` is 1100.0000000000002 in binary: rounded.
    const whole = Math.round(ms);
    if (Math.abs(ms - whole) <= 1e-9 * Math.max(1, ms)) return whole;
    const shown = written ?? (typeof value === 'number' ? String(value) : JSON.stringify(value));
    throw new Error(`invalid duration ${shown}: it must come to a whole number of milliseconds`);
  }
  // JSON.stringify shows Infinity and NaN as `null`.
  const shown = written ?? (typeof value === 'number' ? String(value) : JSON.stringify(value));
  const why = typeof value === 'number' && !Number.isFinite(value) ? ' (not a finite number)' : '';
  throw new Error(`invalid duration ${shown}${why}: use milliseconds or e.g. "61s", "5m", "1h", "1d"`);
}
