import { describe, expect, it } from 'vitest';
import { comparePolicyErrors, type PolicyError } from './errors.js';
import { parsePolicy } from './parse.js';
import { parseFixedRate, parseWindowMs } from './windows.js';

const rule = (body: string) => `version: "1"\ntools:\n  t:\n    rules:\n      - ${body}\n`;

describe('validation messages', () => {
  it('names a non-finite comparison value as it was written, not as null', () => {
    const cases: [string, string][] = [
      ['.inf', '.inf (infinity)'],
      ['-.inf', '-.inf (infinity)'],
      ['.nan', '.nan (not a number)'],
    ];
    for (const [yaml, shown] of cases) {
      const r = parsePolicy(rule(`{ conditions: [{ path: args.a, op: lt, value: ${yaml} }] }`));
      expect(r.errors).toMatchObject([
        { code: 'value-not-number', message: `operator "lt" requires a numeric value, got ${shown}` },
      ]);
      expect(r.errors[0]!.hint).toContain('infinity and NaN are not allowed');
    }
    expect(
      parsePolicy(rule('{ action: allow, state: { counter: c, window: day, increment: .inf } }')).errors,
    ).toMatchObject([{ code: 'invalid-increment', message: expect.stringContaining('got .inf (infinity)') }]);
  });
});

describe('rate_limit strings follow the documented grammar exactly', () => {
  it('rejects spaces with a file:line:col error and the accepted form as hint', () => {
    for (const [text, fixed] of [
      ['"5 / minute"', '5/minute'],
      ['" 2/minute"', '2/minute'],
      ['"3/hour "', '3/hour'],
      ['"4 /day"', '4/day'],
    ]) {
      const r = parsePolicy(rule(`{ name: r, rate_limit: ${text} }`), { filename: 'p.yaml' });
      expect(r.errors).toMatchObject([
        { file: 'p.yaml', code: 'invalid-rate-limit', line: 5, column: 32, hint: `write \`${fixed}\`` },
      ]);
    }
  });

  it('rejects a count with leading zeros', () => {
    const r = parsePolicy(rule('{ name: r, rate_limit: "05/minute" }'));
    expect(r.errors).toMatchObject([
      {
        code: 'invalid-rate-limit-count',
        message: 'rate_limit count must be written without leading zeros, got "05"',
        hint: 'write `5/minute`',
        line: 5,
        column: 32,
      },
    ]);
  });

  it('accepts the documented form, and the compiler reads only that form', () => {
    expect(parsePolicy(rule('{ name: r, rate_limit: 10/minute }')).errors).toEqual([]);
    expect(parseFixedRate('10/minute')).toEqual({ max: 10, window: 'minute' });
    for (const bad of ['5 / minute', ' 2/minute', '05/minute', '0/day', '5/minute\n'])
      expect(parseFixedRate(bad)).toBeUndefined();
  });

  it('rejects spaces around a sliding window duration', () => {
    expect(parseWindowMs('5m')).toBe(300_000);
    expect(parseWindowMs(' 5m')).toBeUndefined();
    expect(parsePolicy(rule('{ name: r, rate_limit: { max: 1, window: " 5m" } }')).errors).toMatchObject([
      { code: 'invalid-rate-limit-window' },
    ]);
  });
});

describe('problem order', () => {
  it('sorts by line, then column, errors before warnings at one position', () => {
    const p = (line: number, column: number, severity: 'error' | 'warning', code = 'unknown-key') =>
      ({ file: 'f', line, column, severity, code, message: 'm' }) as PolicyError;
    const list = [
      p(16, 9, 'warning'),
      p(5, 3, 'error'),
      p(16, 1, 'warning'),
      p(5, 3, 'warning'),
      p(2, 9, 'error'),
    ];
    expect(list.sort(comparePolicyErrors).map((e) => [e.line, e.column, e.severity])).toEqual([
      [2, 9, 'error'],
      [5, 3, 'error'],
      [5, 3, 'warning'],
      [16, 1, 'warning'],
      [16, 9, 'warning'],
    ]);
  });
});
