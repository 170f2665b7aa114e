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
    // A rule renamed under the same key counts afresh too; one added beside the others does not warn.
    const renamed = compile(
      'version: "1"\ntools:\n  echo: { rules: [ { name: hourly cap, rate_limit: 5/hour } ] }\n',
    );
    const original = compile(
      'version: "1"\ntools:\n  echo: { rules: [ { name: per hour, rate_limit: 5/hour } ] }\n',
    );
    expect(restartedCounts(original, renamed)).toEqual([
      'rate limit "hourly cap" of "echo": new, where "per hour" was (a renamed rule counts afresh)',
    ]);
    const added = compile(
      'version: "1"\ntools:\n  echo: { rules: [ { name: per hour, rate_limit: 5/hour }, { name: per day, rate_limit: 20/day } ] }\n',
    );
    expect(restartedCounts(original, added)).toEqual([]);
    // A rule moved to another tool key (widened to a second tool) counts afresh under that key.
    const widened = compile(
      'version: "1"\ntools:\n  "{echo,echo2}": { rules: [ { name: per hour, rate_limit: 5/hour } ] }\n',
    );
    expect(restartedCounts(original, widened)).toEqual([
      'rate limit "per hour" of "{echo,echo2}": moved from "echo" (counts are kept per tool key: it counts afresh)',
    ]);
    // An unnamed rule moved (named by position), with the same limit; another limit is no move.
    const unnamed = (key: string, limit = '5/hour') =>
      compile(`version: "1"\ntools:\n  "${key}": { rules: [ { rate_limit: ${limit} } ] }\n`);
    expect(restartedCounts(unnamed('echo'), unnamed('{echo,echo2}'))).toEqual([
      'rate limit "{echo,echo2}#1" of "{echo,echo2}": moved from "echo" (counts are kept per tool key: it counts afresh)',
    ]);
    expect(restartedCounts(unnamed('echo'), unnamed('other', '9/day'))).toEqual([]);
    // Beside the old key, which keeps it, nothing moved.
    const copied = compile(
      'version: "1"\ntools:\n  echo: { rules: [ { name: per hour, rate_limit: 5/hour } ] }\n  echo2: { rules: [ { name: per hour, rate_limit: 5/hour } ] }\n',
    );
    expect(restartedCounts(original, copied)).toEqual([]);
    // The same windows with other bounds keep their counts.
    expect(restartedCounts(before, policy('2/hour', '{ max: 9, window: 3600s }', 'hour'))).toEqual([]);
  });
});
