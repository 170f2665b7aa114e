import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPolicyTestFile,
  InexactNumber,
  PolicyTestFileError,
  parsePolicyTestFile,
  runPolicyTestFile,
} from '../src/index.js';

// The runtime's reader of policy test files is the same checker `tollgate test` uses: every
// problem of a file at once, each with its line, column and code.
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-policy-test-file-'));
  writeFileSync(
    join(dir, 'policy.yaml'),
    'version: "1"\ndefault: allow\ntools:\n  send:\n    rules:\n      - { name: two a day, rate_limit: 2/day }\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

/** The error `parsePolicyTestFile` rejects with for `file`; fails the test when it resolves. */
async function parseError(file: string): Promise<PolicyTestFileError> {
  const err = await parsePolicyTestFile(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PolicyTestFileError);
  return err as PolicyTestFileError;
}
describe('parsePolicyTestFile', () => {
  it('reads a good file: policy resolved against the test file, steps with their lines', async () => {
    const file = write(
      'good.test.yaml',
      'policy: policy.yaml\ntests:\n  - name: budget\n    steps:\n      - call: send\n        repeat: 2\n      - call: send\n        expect: { allowed: false, reason: rate_limited }\n      - advance: 1d\n',
    );
    const t = await parsePolicyTestFile(file);
    expect(t.policySource).toBe(join(dir, 'policy.yaml'));
    expect(t.tests).toEqual([
      {
        name: 'budget',
        line: 3,
        steps: [
          { kind: 'call', line: 5, tool: 'send', args: {}, upstream: 'result', repeat: 2, expect: {} },
          {
            kind: 'call',
            line: 7,
            tool: 'send',
            args: {},
            upstream: 'result',
            repeat: 1,
            expect: { allowed: false, reason: 'rate_limited' },
          },
          { kind: 'advance', line: 9, ms: 86_400_000 },
        ],
      },
    ]);
    const result = await runPolicyTestFile(file);
    expect({ passed: result.passed, failed: result.failed, error: result.error }).toEqual({
      passed: 1,
      failed: 0,
      error: undefined,
    });
  });

  it('a number with more digits than a double holds is called with its digits, as the proxy judges it', async () => {
    write(
      'ids.yaml',
      'version: "1"\ntools:\n  ok:\n    rules:\n      - { name: team, conditions: [{ path: args.channel_id, op: eq, value: "1098765432109876543" }] }\n',
    );
    const file = write(
      'ids.test.yaml',
      [
        'policy: ids.yaml',
        'tests:',
        '  - name: ids',
        '    steps:',
        '      - call: ok',
        '        args: { channel_id: 1098765432109876511 }',
        '        expect: { allowed: false, reason: condition_failed }',
        '      - call: ok',
        '        args: { channel_id: "1098765432109876543", n: [1, 2.5] }',
        '        expect: { allowed: true }',
        '',
      ].join('\n'),
    );
    const t = await parsePolicyTestFile(file);
    const [first, second] = t.tests[0]!.steps as { argsAsSent?: unknown }[];
    expect(first!.argsAsSent).toEqual({ channel_id: new InexactNumber('1098765432109876511') });
    expect(second!.argsAsSent).toBeUndefined();
    const result = await runPolicyTestFile(file);
    expect({ passed: result.passed, failed: result.failed }).toEqual({ passed: 1, failed: 0 });
  });

  it('refuses YAML-only numbers in args (.inf, .nan), which no client can send, but reads 1e400', async () => {
    const file = write(
      'inf.test.yaml',
      'policy: policy.yaml\ntests:\n  - name: t\n    steps:\n      - call: send\n        args: { v: 1e400 }\n      - call: send\n        args: { v: { w: [1, -.Inf] } }\n      - call: send\n        args: { v: .NaN }\n',
    );
    expect((await parseError(file)).message.split('\n')).toEqual([
      `${file}:8:29: invalid-value: -.Inf in \`args\` is not a JSON number: no client can send it (1e400 is one, read as the digits written)`,
      `${file}:10:20: invalid-value: .NaN in \`args\` is not a JSON number: no client can send it (1e400 is one, read as the digits written)`,
    ]);
  });

  it('a malformed file throws every problem with line and column, not only the first', async () => {
    const file = write(
      'bad.test.yaml',
      'policy: policy.yaml\ntests:\n  - name: t\n    steps:\n      - call: send\n        expect: { reason: allowd, rule: 5 }\n      - call: send\n        upstrem: error\n',
    );
    const e = await parseError(file);
    expect(e.problems.map((p) => [p.line, p.column, p.code])).toEqual([
      [6, 27, 'invalid-value'],
      [6, 41, 'invalid-type'],
      [8, 9, 'unknown-key'],
    ]);
    expect([e.file, e.line, e.column]).toEqual([file, 6, 27]);
    expect(e.message.split('\n')).toHaveLength(3);
    expect(e.message).toContain(
      `${file}:8:9: unknown-key: unknown step key "upstrem" (did you mean "upstream"?)`,
    );
    // runPolicyTestFile reports it as the file's error instead of throwing.
    const result = await runPolicyTestFile(file);
    expect(result.error).toBe(e.message);
  });

  it('suggests `args` for `arguments`, the name MCP gives them', async () => {
    const file = write(
      'arguments.test.yaml',
      'policy: policy.yaml\ntests:\n  - name: t\n    steps:\n      - call: send\n        arguments: { v: 1 }\n',
    );
    expect((await parseError(file)).message).toBe(
      `${file}:6:9: unknown-key: unknown step key "arguments" (did you mean "args"?); expected one of call, args, expect, upstream, repeat, advance, name`,
    );
  });

  it('a `tools:` inputSchema the proxy could not use is a problem at its position, not a denial of every call', async () => {
    const file = write(
      'badschema.test.yaml',
      'policy: policy.yaml\ntools:\n  send: { type: objekt }\n  ok: { type: object }\ntests:\n  - steps: [{ call: send }]\n',
    );
    const e = await parseError(file);
    expect(e.problems.map((p) => [p.line, p.column, p.code])).toEqual([[3, 9, 'invalid-value']]);
    expect(e.problems[0]!.message).toMatch(
      /^the inputSchema of tool "send" is not a JSON Schema the proxy can use: schema is invalid: data\/type must be equal to one of the allowed values/,
    );
  });

  it('a policy file that cannot be read is an unreadable-policy problem at the policy key', async () => {
    const file = write('nopolicy.test.yaml', 'policy: missing.yaml\ntests:\n  - steps: [{ call: x }]\n');
    await expect(parsePolicyTestFile(file)).rejects.toMatchObject({
      problems: [{ line: 1, column: 9, code: 'unreadable-policy' }],
    });
  });
});

describe('checkPolicyTestFile', () => {
  it('reads aliases as the values they name, in args and in inline policies, as policy files do', async () => {
    const file = write(
      'aliases.test.yaml',
      `policy:
  version: "1"
  default: deny
  tools:
    charge:
      rules:
        - { name: usd only, conditions: [{ path: args.currency, op: in, value: [usd] }] }
tests:
  - name: aliased scalar, mapping and list
    steps:
      - call: charge
        args: &usd { currency: &cur usd, meta: &m { a: 1 }, copy: *m }
        expect: { allowed: true }
      - { call: charge, args: { currency: *cur }, expect: { allowed: true } }
      - { call: charge, args: *usd, expect: { allowed: true } }
      - { call: charge, args: { currency: *m }, expect: { allowed: false } }
`,
    );
    const parsed = await parsePolicyTestFile(file);
    const steps = parsed.tests[0]!.steps as Array<{ args?: unknown }>;
    expect(steps.map((s) => s.args)).toEqual([
      { currency: 'usd', meta: { a: 1 }, copy: { a: 1 } },
      { currency: 'usd' },
      { currency: 'usd', meta: { a: 1 }, copy: { a: 1 } },
      { currency: { a: 1 } },
    ]);
    const run = await runPolicyTestFile(file);
    expect(run.tests.flatMap((t) => t.failures)).toEqual([]);
  });

  it('refuses aliases that expand too far or sit inside the value they name, and places syntax errors', () => {
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++)
      laughs.push(
        `${'abcdefgh'[i]}: &${'abcdefgh'[i]} [${Array(10)
          .fill(`*${'abcdefgh'[i - 1]}`)
          .join(', ')}]`,
      );
    const check = (text: string) => checkPolicyTestFile(text, join(dir, 'x.test.yaml'), () => ({ text: '' }));
    const bomb = check(`${laughs.join('\n')}\npolicy: p.yaml\ntests: []\n`);
    expect(bomb).toMatchObject({ ok: false, problems: [{ code: 'yaml-alias-limit', line: 1 }] });
    const cycle = check(
      'policy: p.yaml\ntests: &t\n  - name: x\n    steps: [{ call: y, args: { self: *t } }]\n',
    );
    expect(cycle.ok).toBe(false);
    // A syntax error is placed where it is, not at 1:1.
    const syntax = check('policy: p.yaml\ntests:\n  - name: x\n    steps:\n  { call: y\n');
    expect(syntax.ok).toBe(false);
    expect((syntax as { problems: Array<{ code: string; line: number }> }).problems[0]).toMatchObject({
      code: 'yaml-syntax',
      line: 4,
    });
    const tab = check('policy: p.yaml\ntests:\n\t- name: x\n');
    expect((tab as { problems: Array<{ line: number; column: number }> }).problems[0]).toMatchObject({
      line: 3,
    });
  });

  it('takes the reader of policy files from the caller (a size bound, here)', () => {
    const checked = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - steps: [{ call: x }]\n',
      join(dir, 't.yaml'),
      () => ({
        tooLarge: 'policy is over 1 byte',
      }),
    );
    expect(checked).toMatchObject({ ok: true, policyTooLarge: 'policy is over 1 byte' });
  });

  it('a test that checks nothing is a problem: no steps, an empty expect, a name used twice', () => {
    const text =
      'policy: p.yaml\ntests:\n  - name: same\n    steps: []\n  - name: same\n    steps:\n      - call: x\n        expect: {}\n      - call: x\n  - name: other\n    steps:\n      - call: x\n';
    const checked = checkPolicyTestFile(text, 't.yaml', () => ({ text: 'version: "1"\n' }));
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.problems.map((p) => [p.line, p.column, p.code, p.message])).toEqual([
      [4, 12, 'invalid-value', 'test "same" has no steps, so it would pass without checking anything'],
      [
        5,
        11,
        'invalid-value',
        'a second test is named "same" (the first is on line 3); give each test its own name',
      ],
      [
        8,
        17,
        'invalid-value',
        '`expect: {}` checks nothing; name what the call should get (`allowed`, `reason`, `rule`, ...) or leave `expect` out',
      ],
    ]);
  });

  it('a start time without an offset is UTC, whatever the machine time zone', () => {
    const before = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata';
    try {
      const checked = checkPolicyTestFile(
        'policy: p.yaml\nstart: 2026-11-29T10:59:00\ntests:\n  - steps: [{ call: x }]\n',
        't.yaml',
        () => ({ text: 'version: "1"\n' }),
      );
      expect(checked.ok && checked.file.start).toBe(Date.UTC(2026, 10, 29, 10, 59));
      const offset = checkPolicyTestFile(
        'policy: p.yaml\nstart: 2026-11-29T10:59:00+05:30\ntests:\n  - steps: [{ call: x }]\n',
        't.yaml',
        () => ({ text: 'version: "1"\n' }),
      );
      expect(offset.ok && offset.file.start).toBe(Date.UTC(2026, 10, 29, 5, 29));
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });

  it('a merge key (<<) is a problem, not an argument named "<<"', () => {
    const checked = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - name: m\n    steps:\n      - call: read\n        args: { <<: { path: /etc/passwd } }\n        expect: { allowed: false }\n',
      join(dir, 'm.test.yaml'),
      () => ({ text: '' }),
    );
    expect(checked).toMatchObject({
      ok: false,
      problems: [{ line: 6, column: 17, code: 'yaml-merge-key' }],
    });
    const quoted = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - name: m\n    steps:\n      - { call: read, args: { "<<": 1 }, expect: { allowed: true } }\n',
      join(dir, 'q.test.yaml'),
      () => ({ text: '' }),
    );
    expect(quoted.ok).toBe(true);
  });

  it('a repeat past 1,000,000 is a problem, not an hour of calls', () => {
    const checked = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - name: many\n    steps:\n      - { call: x, repeat: 1000000000, expect: { allowed: true } }\n',
      join(dir, 'r.test.yaml'),
      () => ({ text: '' }),
    );
    expect(checked).toMatchObject({
      ok: false,
      problems: [
        {
          line: 5,
          code: 'invalid-value',
          message: '`repeat` must be at most 1000000 (each repetition is a call), got 1000000000',
        },
      ],
    });
  });

  it('an advance that is not a finite number is shown as written (1e400, .nan), not as null', () => {
    const checked = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - name: t\n    steps:\n      - advance: 1e400\n      - advance: .nan\n      - advance: -5\n',
      't.yaml',
      () => ({ text: 'version: "1"\n' }),
    );
    const hint = 'use milliseconds or e.g. "61s", "5m", "1h", "1d"';
    expect(checked.ok ? [] : checked.problems.map((p) => [p.line, p.column, p.code, p.message])).toEqual([
      [5, 18, 'invalid-value', `invalid duration 1e400 (not a finite number): ${hint}`],
      [6, 18, 'invalid-value', `invalid duration .nan (not a finite number): ${hint}`],
      [7, 18, 'invalid-value', `invalid duration -5: ${hint}`],
    ]);
  });

  it('a start outside the dates JavaScript can show gets the range message, not the ISO 8601 one', () => {
    const message = (start: string) => {
      const c = checkPolicyTestFile(
        `policy: p.yaml\nstart: "${start}"\ntests:\n  - name: t\n    steps:\n      - call: x\n`,
        't.yaml',
        () => ({ text: 'version: "1"\n' }),
      );
      return c.ok ? 'ok' : c.problems.map((p) => `${p.line}:${p.column} ${p.message}`).join(' | ');
    };
    expect(message('+999999-12-31T23:59:59Z')).toMatch(
      /^2:8 `start` must be at most \+275759-09-13T00:00:00\.000Z, /,
    );
    expect(message('-271821-04-19T23:59:59Z')).toBe(
      '2:8 `start` must be at least -271821-04-20T00:00:00.000Z, the earliest time JavaScript\'s dates can show, got "-271821-04-19T23:59:59Z" (string)',
    );
    // A day that does not exist is still that problem, however far the year.
    expect(message('+999999-02-30')).toMatch(/^2:8 `start` must be an ISO 8601 time/);
    expect(message('2024-02-29T00:00:00+05:30')).toBe('ok');
  });

  it('an advance that is no whole number of milliseconds is a problem; 1.1s is 1100 ms', () => {
    const checked = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - name: t\n    steps:\n      - advance: 0.3\n      - advance: 1.0001s\n      - call: x\n',
      't.yaml',
      () => ({ text: 'version: "1"\n' }),
    );
    expect(checked.ok ? [] : checked.problems.map((p) => [p.line, p.column, p.code, p.message])).toEqual([
      [5, 18, 'invalid-value', 'invalid duration 0.3: it must come to a whole number of milliseconds'],
      [6, 18, 'invalid-value', 'invalid duration "1.0001s": it must come to a whole number of milliseconds'],
    ]);
    const ok = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - name: t\n    steps:\n      - advance: 1.1s\n      - call: x\n',
      't.yaml',
      () => ({ text: 'version: "1"\n' }),
    );
    expect(ok.ok && ok.file.tests[0]!.steps[0]).toMatchObject({ kind: 'advance', ms: 1100 });
  });

  it('reads lone CR line endings as line breaks, as YAML 1.2 and policy files do, with positions kept', () => {
    const lf = 'policy: p.yaml\ntests:\n  - name: t\n    steps:\n      - advance: -1\n      - call: x\n';
    const problems = (text: string) => {
      const c = checkPolicyTestFile(text, 't.yaml', () => ({ text: 'version: "1"\n' }));
      return c.ok ? [] : c.problems.map((p) => [p.line, p.column, p.code]);
    };
    expect(problems(lf)).toEqual([[5, 18, 'invalid-value']]);
    expect(problems(lf.replaceAll('\n', '\r'))).toEqual([[5, 18, 'invalid-value']]);
    expect(problems(lf.replace('\n', '\r\n').replaceAll('steps:\n', 'steps:\r'))).toEqual([
      [5, 18, 'invalid-value'],
    ]);
  });

  it('a start time that does not exist (Feb 30, 25:00) is a problem, not rolled over to the next day', () => {
    const startOf = (start: string) => {
      const checked = checkPolicyTestFile(
        `policy: p.yaml\nstart: ${start}\ntests:\n  - steps: [{ call: x }]\n`,
        't.yaml',
        () => ({ text: 'version: "1"\n' }),
      );
      return checked.ok
        ? checked.file.start
        : checked.problems.map((p) => `${p.line}:${p.column}: ${p.code}: ${p.message}`);
    };
    for (const bad of [
      '2026-02-30T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-02-30',
      '2026-01-01T24:00:00Z',
      '2026-01-01T25:00:00Z',
      '2026-01-01T23:60:00Z',
      '2026-01-01T23:59:60Z',
      '2026-13-01T00:00:00Z',
      '2026-01-01T10:00:00+24:00',
      '2026/02/30',
      'not-a-date',
    ]) {
      expect(startOf(bad), bad).toEqual([
        `2:8: invalid-value: \`start\` must be an ISO 8601 time, e.g. 2026-11-29T10:00:00Z, got "${bad}" (string)`,
      ]);
    }
    expect(startOf('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(startOf('2026-12-31T23:59:59.999Z')).toBe(Date.UTC(2026, 11, 31, 23, 59, 59, 999));
    expect(startOf('2026-11-29')).toBe(Date.UTC(2026, 10, 29));
    expect(startOf('2026-11-29 10:59')).toBe(Date.UTC(2026, 10, 29, 10, 59));
    expect(startOf('2026-11-29T00:30:00+05:30')).toBe(Date.UTC(2026, 10, 28, 19));
  });

  it('an advance past the last time a clock can read is a problem at that advance, found before running', async () => {
    const why =
      "the latest time a test's clock can read (a year before JavaScript's dates end, so every window can end)";
    const checked = checkPolicyTestFile(
      'policy: p.yaml\nstart: 2026-01-01T00:00:00Z\ntests:\n  - name: far\n    steps:\n      - advance: 50000000d\n      - call: x\n      - advance: 50000000d\n      - advance: 1d\n  - name: near\n    steps: [{ advance: 99900000d }, { call: x }]\n',
      't.yaml',
      () => ({ text: 'version: "1"\n' }),
    );
    expect(checked.ok ? [] : checked.problems.map((p) => [p.line, p.column, p.code, p.message])).toEqual([
      [
        8,
        18,
        'invalid-value',
        `advance 50000000d takes the clock of test "far" (from 2026-01-01T00:00:00.000Z) past +275759-09-13T00:00:00.000Z, ${why}`,
      ],
    ]);
    const late = checkPolicyTestFile(
      'policy: p.yaml\nstart: +275760-01-01T00:00:00Z\ntests:\n  - steps: [{ call: x }]\n',
      't.yaml',
      () => ({ text: 'version: "1"\n' }),
    );
    expect(late.ok ? [] : late.problems.map((p) => [p.line, p.column, p.message])).toEqual([
      [
        2,
        8,
        `\`start\` must be at most +275759-09-13T00:00:00.000Z, ${why}, got "+275760-01-01T00:00:00Z" (string)`,
      ],
    ]);
    // At the latest time itself, a denial still says when the next call is admitted.
    const last = write(
      'last.test.yaml',
      'policy: policy.yaml\nstart: +275759-09-13T00:00:00Z\ntests:\n  - name: last\n    steps:\n      - { call: send, repeat: 2 }\n      - call: send\n        expect: { allowed: false, message_includes: "(at +275759-09-14T00:00:00.000Z)" }\n',
    );
    const result = await runPolicyTestFile(last);
    expect(result.error).toBeUndefined();
    expect(result.passed).toBe(1);
  });

  it('message_includes: "" is a problem (it matches every message)', () => {
    const checked = checkPolicyTestFile(
      'policy: p.yaml\ntests:\n  - steps:\n      - call: x\n        expect: { message_includes: "" }\n',
      't.yaml',
      () => ({ text: 'version: "1"\n' }),
    );
    expect(checked.ok ? [] : checked.problems.map((p) => [p.line, p.code, p.message])).toEqual([
      [5, 'invalid-value', '`message_includes: ""` matches every message, so it checks nothing'],
    ]);
  });
});
