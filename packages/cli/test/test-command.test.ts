import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// End-to-end: spawns the built binary. Build first: pnpm --filter 'tollgate...' build
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let dir: string;
beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run pnpm --filter 'tollgate...' build first`);
  dir = mkdtempSync(join(tmpdir(), 'tollgate-test-cmd-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tollgate(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('tollgate test', () => {
  it('every example policy has a test file, and they all pass', () => {
    const examples = readdirSync(join(ROOT, 'examples/policies')).filter((f) => f.endsWith('.yaml'));
    const tests = readdirSync(join(ROOT, 'examples/tests'));
    for (const e of examples) expect(tests).toContain(e.replace(/\.yaml$/, '.test.yaml'));
    const r = tollgate('test', ...tests.map((t) => `examples/tests/${t}`));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n\d+ passed, 0 failed\n$/);
  });

  it("prints a test file's control characters escaped, as validate does", () => {
    const f = file(
      'escapes.test.yaml',
      'policy:\n  version: "1"\n  default: allow\ntests:\n  - name: "t\\e]0;TITLE\\a"\n    steps:\n      - call: "x\\e[2J"\n        expect: { allowed: false }\n',
    );
    const r = tollgate('test', f);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(r.stdout).toContain('✗ t\\u001b]0;TITLE\\u0007\n');
    expect(r.stdout).toContain('.yaml:7): x\\u001b[2J {}');
  });

  it('a wrong expectation fails with a diff and exit 1', () => {
    const f = file(
      'wrong.test.yaml',
      `policy:
  version: "1"
  tools:
    create_issue:
      rules:
        - { name: hourly, rate_limit: 1/hour }
start: 2026-11-29T10:15:00Z
tests:
  - name: right
    steps:
      - call: create_issue
        expect: { allowed: true }
  - name: wrong
    steps:
      - call: create_issue
      - call: create_issue
        expect: { allowed: true, rule: null }
`,
    );
    const r = tollgate('test', f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('    ✓ right');
    expect(r.stdout).toContain('    ✗ wrong');
    expect(r.stdout).toContain(`step 2 (${f}:16): create_issue {}`);
    expect(r.stdout).toContain('- allowed: true\n          + allowed: false');
    expect(r.stdout).toContain('- rule: null\n          + rule: "hourly"');
    // What decided, where the diff does not say it (here the reason; the rule is in the diff).
    expect(r.stdout).toMatch(/\+ rule: "hourly"\n {10}\(reason rate_limited: [^\n]+\)\n/);
    expect(r.stdout).toMatch(/1 passed, 1 failed\n$/);
  });

  it('`server: <catalogue id>` gives the tools their catalogued inputSchemas, as the proxy would have them', () => {
    const policy = join(dir, 'stripe-starter.yaml');
    expect(tollgate('init', '-s', 'stripe-0.2.5', '-o', policy).code).toBe(0);
    const f = file(
      'server.test.yaml',
      `policy: ${policy}
server: stripe-0.2.5
tests:
  - name: arguments are checked against the catalogued inputSchema
    steps:
      - call: create_refund
        args: { payment_intent: pi_1, amount: 500 }
        expect: { allowed: true }
      - call: create_refund
        args: { payment_intent: pi_1, amount: "500" }
        expect: { allowed: false, reason: invalid_arguments }
`,
    );
    const r = tollgate('test', f);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/1 passed, 0 failed\n$/);
    expect(r.code).toBe(0);
    const unknown = file(
      'unknown-server.test.yaml',
      `policy: ${policy}\nserver: strpie\ntests: [{ name: x, steps: [{ call: t }] }]\n`,
    );
    const bad = tollgate('test', unknown);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain(`${unknown}:2:9: unknown-server: no server "strpie" in the catalogue`);
  });

  it('--json reports actual decisions', () => {
    const f = file(
      'json.test.yaml',
      `policy: { version: "1", tools: { t: { rules: [{ name: n, action: deny, on_deny: nope }] } } }
tests:
  - name: deny
    steps:
      - { call: t, expect: { allowed: true } }
`,
    );
    const r = tollgate('test', f, '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: false, passed: 0, failed: 1 });
    expect(out.files[0].tests[0].failures[0].actual).toEqual({
      allowed: false,
      reason: 'denied_by_rule',
      rule: 'n',
      message: 'nope',
    });
  });

  it('a call the proxy refuses before the policy (argument names equal regardless of case) is refused in a test too', () => {
    const f = file(
      'refused.test.yaml',
      `policy: { version: "1", tools: { read: { rules: [{ name: safe, conditions: [{ path: args.path, op: regex, value: "^/safe/" }] }] } } }
tests:
  - name: smuggled PATH
    steps:
      - call: read
        args: { path: /safe/x, PATH: /etc/passwd }
        expect: { allowed: true }
`,
    );
    const r = tollgate('test', f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('0 passed, 1 failed');
    expect(r.stdout).toContain('- allowed: true\n          + allowed: false');
    expect(r.stdout).toContain('          (reason invalid_arguments: ');
  });

  it('a tool name that reads as one the policy or the server names is refused in a test too, as the proxy refuses it', () => {
    const f = file(
      'names.test.yaml',
      `policy: { version: "1", hide: [get-env, "secret_*"], tools: { echo: { rules: [{ name: r, rate_limit: 5/minute }] } } }
server: filesystem
tests:
  - name: variants
    steps:
      - { call: GET-ENV, expect: { allowed: true } }
      - { call: Echo, expect: { allowed: false, reason: invalid_arguments } }
      - { call: SECRET_key, expect: { allowed: false, reason: invalid_arguments } }
      - { call: Read_File, expect: { allowed: false, reason: invalid_arguments } }
      - { call: echo, expect: { allowed: true } }
`,
    );
    const r = tollgate('test', f, '--json');
    expect(r.code).toBe(1);
    const failures = JSON.parse(r.stdout).files[0].tests[0].failures;
    expect(failures).toHaveLength(1);
    expect(failures[0].actual).toEqual({
      allowed: false,
      reason: 'invalid_arguments',
      rule: null,
      message:
        'Invalid params: tool name "GET-ENV" differs from the tool "get-env" only by case or invisible characters (a server that ignores them would run that tool)',
    });
  });

  it('upstream errors roll back and clock advances cross window boundaries', () => {
    const f = file(
      'clock.test.yaml',
      `policy: { version: "1", tools: { t: { rules: [{ name: m, rate_limit: 2/minute }] } } }
start: 2026-11-29T10:00:59Z
tests:
  - name: rollback then boundary
    steps:
      - { call: t, upstream: error }
      - { call: t, repeat: 2, expect: { allowed: true } }
      - { call: t, expect: { allowed: false, retry_after_ms: 1000 } }
      - { advance: 1s }
      - { call: t, expect: { allowed: true } }
`,
    );
    const r = tollgate('test', f);
    expect(r.stdout).toContain('1 passed, 0 failed');
    expect(r.code).toBe(0);
  });

  it('an advance past the last time a clock can read is a problem at the advance, not "Invalid time value"', () => {
    const f = file(
      'far-future.test.yaml',
      `policy:
  version: "1"
  tools:
    echo: { rules: [ { name: r, rate_limit: 1/day } ] }
tests:
  - name: far future
    steps:
      - { advance: 100000000d }
      - { call: echo }
      - { call: echo, expect: { allowed: false, message: x } }
`,
    );
    const message =
      'advance 100000000d takes the clock of test "far future" (from 2026-01-01T00:00:00.000Z) past +275759-09-13T00:00:00.000Z, the latest time a test\'s clock can read (a year before JavaScript\'s dates end, so every window can end)';
    const r = tollgate('test', f);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(
      `✗ ${f}\n    ${f}:8:20: invalid-value: ${message}\n    invalid test file, 1 problem\n\n0 passed, 1 failed\n`,
    );
    const json = JSON.parse(tollgate('test', f, '--json').stdout);
    expect(json.files[0].problems).toEqual([
      { file: f, line: 8, column: 20, code: 'invalid-value', message },
    ]);
  });

  it('an impossible start date (Feb 30) is the ISO 8601 problem, not rolled over to March', () => {
    const f = file(
      'feb-30.test.yaml',
      `policy: { version: "1", tools: { echo: { rules: [{ name: r, rate_limit: 1/day }] } } }
start: 2026-02-30T00:00:00Z
tests:
  - name: t
    steps: [{ call: echo }]
`,
    );
    const r = tollgate('test', f, '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).files[0].problems).toEqual([
      {
        file: f,
        line: 2,
        column: 8,
        code: 'invalid-value',
        message:
          '`start` must be an ISO 8601 time, e.g. 2026-11-29T10:00:00Z, got "2026-02-30T00:00:00Z" (string)',
      },
    ]);
  });

  it('an invalid policy exits 1 with positions; a malformed test file exits 2 with its line', () => {
    const badPolicy = file(
      'bad-policy.test.yaml',
      `policy: { version: "2", tools: {} }\ntests:\n  - { name: x, steps: [{ call: t }] }\n`,
    );
    const r1 = tollgate('test', badPolicy);
    expect(r1.code).toBe(1);
    expect(r1.stdout).toMatch(/invalid-version/);
    // With --json, the policy's errors as a list with positions and codes, as validate --json.
    const j1 = JSON.parse(tollgate('test', badPolicy, '--json').stdout);
    expect(j1.files[0]).toMatchObject({
      policyError: true,
      policyErrors: [{ code: 'invalid-version', line: 1 }],
    });
    expect(j1.files[0].policyErrors[0].column).toBeGreaterThan(0);
    // A test file that cannot be read: one problem with a code.
    const gone = JSON.parse(tollgate('test', `${badPolicy}.missing`, '--json').stdout);
    expect(gone.files[0].problems).toEqual([
      {
        file: `${badPolicy}.missing`,
        line: 1,
        column: 1,
        code: 'unreadable-file',
        message: expect.stringContaining('cannot read'),
      },
    ]);
    const malformed = file(
      'bad.test.yaml',
      `policy: ../nowhere.yaml\ntests:\n  - name: x\n    steps:\n      - { cal: t }\n`,
    );
    const r2 = tollgate('test', malformed);
    expect(r2.code).toBe(2);
    const missing = file(
      'bad2.test.yaml',
      `policy: { version: "1", tools: {} }\ntests:\n  - name: x\n    steps:\n      - { cal: t }\n`,
    );
    const r3 = tollgate('test', missing);
    expect(r3.code).toBe(2);
    expect(r3.stdout).toContain(
      `${missing}:5:11: unknown-key: unknown step key "cal" (did you mean "call"?); expected one of call,`,
    );
    expect(tollgate('test').code).toBe(2);
  });

  it('reports every problem of a test file with file:line:col: bad expect values, types, keys (exit 2)', () => {
    const f = file(
      'typos.test.yaml',
      `policy: { version: "1", tools: { t: { rules: [{ name: n, action: deny }] } } }
tests:
  - name: typos
    steps:
      - call: t
        expect: { allowed: false, reason: allowd }
      - call: t
        expect: { rule: 5, allowed: "no" }
      - { call: t, repeat: 0, upstrem: error }
      - { advance: soon }
  - name: 3
    stpes: []
`,
    );
    const r = tollgate('test', f);
    expect(r.code).toBe(2);
    const lines = r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith(`${f}:`))
      .map((l) => l.slice(f.length + 1));
    expect(lines).toEqual([
      '6:43: invalid-value: unknown reason "allowd" (did you mean "allowed"?); one of allowed, hidden, not_listed, denied_by_rule, condition_failed, rate_limited, counter_exceeded, invalid_arguments, schema_unavailable, invalid_increment, state_unavailable, internal_error',
      '8:25: invalid-type: `rule` must be a rule name (a string) or null, got 5 (number)',
      '8:37: invalid-type: `allowed` must be true or false, got "no" (string)',
      '9:28: invalid-value: `repeat` must be a positive integer, got 0 (number)',
      '9:31: unknown-key: unknown step key "upstrem" (did you mean "upstream"?); expected one of call, args, expect, upstream, repeat, advance, name',
      '10:20: invalid-value: invalid duration "soon": use milliseconds or e.g. "61s", "5m", "1h", "1d"',
      '11:5: missing-key: test "test 2" has no `steps` (a list of calls and clock advances)',
      '11:11: invalid-type: `name` must be a string, got 3 (number)',
      '12:5: unknown-key: unknown test key "stpes" (did you mean "steps"?); expected one of name, steps, description',
    ]);
    expect(r.stdout).toContain('invalid test file, 9 problems');

    const json = JSON.parse(tollgate('test', f, '--json').stdout);
    expect(json.files[0].problems).toHaveLength(9);
    expect(json.files[0].problems[0]).toEqual({
      file: f,
      line: 6,
      column: 43,
      code: 'invalid-value',
      message: expect.stringContaining('unknown reason "allowd" (did you mean "allowed"?)'),
    });
  });

  it('checks expect values even when every other field is right: a typo never just fails the step', () => {
    const f = file(
      'reason.test.yaml',
      `policy: { version: "1", default: deny }
tests:
  - name: one typo
    steps:
      - { call: t, expect: { allowed: false, reason: not_lsited, retry_after_ms: -1 } }
`,
    );
    const r = tollgate('test', f);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      `${f}:5:54: invalid-value: unknown reason "not_lsited" (did you mean "not_listed"?)`,
    );
    expect(r.stdout).toContain(
      `${f}:5:82: invalid-type: \`retry_after_ms\` must be a whole number of milliseconds, 0 or more, got -1 (number)`,
    );
    expect(r.stdout).not.toContain('step 1');
  });

  it('reads test files and their policies from pipes (/dev/stdin)', () => {
    const policy = join(ROOT, 'examples/policies/payments.yaml');
    const body = `tests:
  - name: via a pipe
    steps:
      - { call: create_charge, args: { amount: 5, currency: usd }, expect: { allowed: true } }
`;
    /** The built CLI with `input` on its standard input, run from the repository root. */
    const withInput = (args: string[], input: string) =>
      spawnSync(process.execPath, [BIN, ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        input,
        env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
        timeout: 30_000,
      });
    const viaStdin = withInput(['test', '/dev/stdin'], `policy: ${policy}\n${body}`);
    expect(viaStdin.stdout).toContain('✓ /dev/stdin (1/1 passed)');
    expect(viaStdin.status).toBe(0);
    const policyOnStdin = withInput(
      ['test', file('stdin-policy.test.yaml', `policy: /dev/stdin\n${body}`)],
      readFileSync(policy, 'utf8'),
    );
    expect(policyOnStdin.stdout).toContain('1 passed, 0 failed');
    expect(policyOnStdin.status).toBe(0);
    // `-` is standard input, and a relative policy path there is read from the working directory.
    const dash = withInput(['test', '-'], `policy: examples/policies/payments.yaml\n${body}`);
    expect(dash.stdout).toContain('1 passed, 0 failed');
    expect(dash.status).toBe(0);
    const validate = withInput(['validate', '-c', '-'], readFileSync(policy, 'utf8'));
    expect(validate.stdout).toContain('- is valid');
    expect(validate.status).toBe(0);
  });
});
