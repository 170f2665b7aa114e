/**
 * Window and rate-limit arithmetic shared by the validator and the compiler.
 * Fixed windows are calendar-aligned UTC (Intercept POLICY.md "Windows").
 */
import type { FixedWindow } from './compiled.js';
import { DURATION_PATTERN, FIXED_RATE_PATTERN } from './schema.js';

/** Length of each fixed window in milliseconds. */
export const FIXED_WINDOW_MS: Readonly<Record<FixedWindow, number>> = Object.freeze({
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
});

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parse `N/minute|hour|day`; undefined when it does not match. */
export function parseFixedRate(text: string): { max: number; window: FixedWindow } | undefined {
  const m = FIXED_RATE_PATTERN.exec(text);
  if (!m) return undefined;
  const max = Number(m[1]);
  if (!Number.isSafeInteger(max) || max <= 0) return undefined;
  return { max, window: m[2] as FixedWindow };
}

/** Longest sliding window, in milliseconds: 366 days (a leap year). */
export const MAX_SLIDING_WINDOW_MS = 366 * 86_400_000;

/** A sliding window's length in milliseconds as written, before bounds; undefined when unreadable. */
export function windowLengthMs(window: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof window === 'number') ms = window * 1000;
  else if (typeof window === 'string') {
    const m = DURATION_PATTERN.exec(window);
    if (m) ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  return ms === undefined || Number.isNaN(ms) ? undefined : ms;
}

/**
 * A sliding window length in milliseconds: a positive number of seconds, or `30s`/`5m`/`1h`/`1d`.
 * Undefined when invalid, under 1 ms, or over {@link MAX_SLIDING_WINDOW_MS}.
 */
export function parseWindowMs(window: unknown): number | undefined {
  const ms = windowLengthMs(window);
  if (ms === undefined || !Number.isFinite(ms) || ms < 1 || ms > MAX_SLIDING_WINDOW_MS) return undefined;
  return Math.round(ms);
}
