import { describe, expect, it } from 'vitest';
import { compile } from './evaluate.test.js';
import { restartedCounts } from './policy-holder.js';

const policy = (echo: string, sum: string, counterWindow: string) =>
  compile(`version: "1"
tools:
  echo: { rules: [ { name: per hour, rate_limit: ${echo} } ] }
  "get-*": { rules: [ { name: sums, rate_limit: ${sum} } ] }
  get-env:
    rules:
      - name: c
        conditions: [ { path: state.get-env.n, op: lte, value: 5 } ]
        state: { counter: n, window: ${counterWindow}, increment: 1 }
`);

describe('restartedCounts', () => {
  it('names each limit whose window length or kind a reload changed', () => {
    const before = policy('5/hour', '{ max: 5, window: 1h }', 'hour');
    expect(restartedCounts(before, policy('5/day', '{ max: 5, window: 2h }', 'day'))).toEqual([
      'rate limit "per hour" of "echo": 5/hour -> 5/day',
      'rate limit "sums" of "get-*": { max: 5, window: 3600s } -> { max: 5, window: 7200s }',
      'counter "get-env.n": window hour -> day',
    ]);
    expect(
      restartedCounts(before, policy('{ max: 5, window: 60m }', '{ max: 5, window: 1h }', 'hour')),
    ).toEqual(['rate limit "per hour" of "echo": 5/hour -> { max: 5, window: 3600s }']);
    // The same windows with other bounds keep their counts.
    expect(restartedCounts(before, policy('2/hour', '{ max: 9, window: 3600s }', 'hour'))).toEqual([]);
  });
});
