import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '@tollgate/policy';
import { evaluate, SqliteCounterStore } from '@tollgate/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// End-to-end: spawns the built binary. Build first: pnpm --filter 'tollgate...' build
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let dir: string;
beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run pnpm --filter 'tollgate...' build first`);
  dir = mkdtempSync(join(tmpdir(), 'tollgate-explain-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tollgate(...args: string[]) {
  return tollgateWith({}, ...args);
}

function tollgateWith(env: Record<string, string>, ...args: string[]) {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.TOLLGATE_STATE_DSN;
  delete base.TOLLGATE_STATE_DIR;
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...base, NO_COLOR: '1', FORCE_COLOR: '', TOLLGATE_HOME: join(dir, 'home'), ...env },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STRIPE = 'examples/policies/payments.yaml';

/** Writes `text` to `name` in the test's directory; returns its path. */
function policyFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('tollgate explain', () => {
  it("prints a policy's control characters escaped: a rule name cannot retitle or clear the terminal", () => {
    const policy = policyFile(
      'escapes.yaml',
      'version: "1"\ntools:\n  "multi\\nline":\n    rules:\n      - name: "deny\\e[2J"\n        action: deny\n        on_deny: "no\\e]0;PWNED\\a way"\n',
    );
    const r = tollgate('explain', '-c', policy, '--tool', 'multi\nline', '--state-dsn', 'memory:');
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(r.stdout).toContain('call    multi\\u000aline {}');
    expect(r.stdout).toContain('✗ deny\\u001b[2J  [multi\\u000aline, line 5]  action: deny');
    expect(r.stdout).toContain(
      'DENIED by rule "deny\\u001b[2J" (denied_by_rule)\n  no\\u001b]0;PWNED\\u0007 way',
    );
  });

  it('refuses --state-prefix without a Redis store (exit 2), as the proxy does', () => {
    for (const state of [[], ['--state-dsn', 'memory:']]) {
      const r = tollgate(
        'explain',
        '-c',
        STRIPE,
        '--tool',
        'list_customers',
        ...state,
        '--state-prefix',
        'x:',
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--state-prefix applies to a Redis store');
    }
  });

  it("a starter policy's Financial rule names the failed check: the arguments, or the day's limit and when it resets", () => {
    const file = join(dir, 'stripe-starter.yaml');
    expect(tollgate('init', '-s', 'stripe-0.2.5', '-o', file).code).toBe(0);
    const schema = JSON.stringify({
      type: 'object',
      properties: { payment_intent: { type: 'string' }, amount: { type: 'integer' } },
      required: ['payment_intent'],
      additionalProperties: false,
    });
    const bad = tollgate(
      ...['explain', '-c', file, '--tool', 'create_refund', '--state-dsn', 'memory:', '--json'],
      ...['--args', '{"payment_intent":"pi_1","amount":"9000"}', '--input-schema', schema],
    );
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).decision).toMatchObject({
      reason: 'invalid_arguments',
      message:
        'Rule "financial daily call cap (stripe-0.2.5)" rejected the arguments of "create_refund": /amount must be integer',
    });
    // --server takes the inputSchema from the catalogue entry: the same verdict.
    const fromCatalogue = tollgate(
      ...['explain', '-c', file, '--tool', 'create_refund', '--state-dsn', 'memory:', '--json'],
      ...['--args', '{"payment_intent":"pi_1","amount":"9000"}', '--server', 'stripe-0.2.5'],
    );
    expect(JSON.parse(fromCatalogue.stdout).decision).toEqual(JSON.parse(bad.stdout).decision);
    // A tool the entry does not list is explained without a schema, as a test file's `server:`
    // does, with a note naming the nearest tool.
    const unknown = tollgate(
      ...[
        'explain',
        '-c',
        file,
        '--tool',
        'create_refnud',
        '--server',
        'stripe-0.2.5',
        '--state-dsn',
        'memory:',
      ],
    );
    expect(unknown.code).toBe(0);
    expect(unknown.stderr).toBe(
      'tollgate explain: note: catalogue entry stripe-0.2.5 has no tool "create_refnud" (did you mean create_refund?): explained without its inputSchema, as the proxy would if the server listed none\n',
    );
    expect(
      tollgate('explain', '-c', file, '--tool', 'qqqqqqqqqqqq', '--server', 'stripe-0.2.5').stderr,
    ).toContain('catalogue entry stripe-0.2.5 has no tool "qqqqqqqqqqqq": explained');
    // With --json the note is in the output, where a program reads it.
    const json = tollgate(
      ...['explain', '-c', file, '--tool', 'create_refnud', '--server', 'stripe-0.2.5', '--json'],
      ...['--state-dsn', 'memory:'],
    );
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout).notes).toEqual([
      'catalogue entry stripe-0.2.5 has no tool "create_refnud" (did you mean create_refund?): explained without its inputSchema, as the proxy would if the server listed none',
    ]);
    // --input-schema overrides the catalogued one, as `tools:` does in a test file.
    const both = tollgate(
      ...['explain', '-c', file, '--tool', 'create_refund', '--server', 'stripe-0.2.5', '--json'],
      ...['--state-dsn', 'memory:', '--args', '{"payment_intent":5,"amount":500}'],
      ...['--input-schema', '{"type":"object"}'],
    );
    expect(JSON.parse(both.stdout).decision.allowed).toBe(true);
    const catalogued = tollgate(
      ...['explain', '-c', file, '--tool', 'create_refund', '--server', 'stripe-0.2.5', '--json'],
      ...['--state-dsn', 'memory:', '--args', '{"payment_intent":5,"amount":500}'],
    );
    expect(JSON.parse(catalogued.stdout).decision.reason).toBe('invalid_arguments');
    const noEntry = tollgate('explain', '-c', file, '--tool', 'create_refund', '--server', 'strpie');
    expect(noEntry.code).toBe(2);
    expect(noEntry.stderr).toContain('tollgate explain: no server "strpie" in the catalogue');
    // An empty id (an unset variable) says so, instead of suggesting every catalogued id.
    const empty = tollgate('explain', '-c', file, '--tool', 'create_refund', '--server', '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe(
      'tollgate explain: --server is empty: give a catalogue id (e.g. github); see tollgate catalog stats\n',
    );
    // The day's limit reached: the default message, which says when the next call is admitted.
    const db = join(dir, 'stripe-state');
    const policy = loadPolicy(readFileSync(file, 'utf8'));
    if (!policy.ok) throw new Error('starter policy did not load');
    const store = new SqliteCounterStore({ file: join(db, 'tollgate.sqlite') });
    const call = { tool: 'create_refund', args: { payment_intent: 'pi_1', amount: 1 } };
    return (async () => {
      for (let i = 0; i < 10; i++) {
        const d = await evaluate(policy.policy, call, { store, inputSchema: JSON.parse(schema) });
        expect(d.allowed).toBe(true);
        if (d.allowed) await store.commit(d.reservation!);
      }
      await store.close();
      const full = tollgate(
        ...['explain', '-c', file, '--tool', 'create_refund', '--state-dir', db, '--json'],
        ...['--args', '{"payment_intent":"pi_1","amount":1}', '--input-schema', schema],
      );
      expect(JSON.parse(full.stdout).decision.message).toMatch(
        /^Rate limit "financial daily call cap \(stripe-0\.2\.5\)" reached: 10 per day \(UTC\)\. The next call will be admitted in .+ \(at \d{4}-\d\d-\d\dT00:00:00\.000Z\)$/,
      );
    })();
  });

  it('says how to give the inputSchema when a required_args rule denies for want of it', () => {
    const file = policyFile(
      'required.yaml',
      'version: "1"\ntools:\n  create_directory:\n    rules:\n      - { name: args checked, validate: { required_args: true } }\n',
    );
    const without = tollgate('explain', '-c', file, '--tool', 'create_directory', '--args', '{"path":"x"}');
    expect(without.code).toBe(1);
    expect(without.stdout).toContain('(schema_unavailable)');
    expect(without.stdout).toContain(
      "  the proxy checks this against the tool's inputSchema from tools/list: pass it with --input-schema '<json>', or --server <catalogue id> for a catalogued server, to explain the call as the proxy decides it\n",
    );
    const schema = '{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}';
    const withSchema = tollgate(
      'explain',
      '-c',
      file,
      '--tool',
      'create_directory',
      '--args',
      '{"path":"x"}',
      '--input-schema',
      schema,
    );
    expect(withSchema.code).toBe(0);
    expect(withSchema.stdout).not.toContain('--input-schema');
  });

  it('refuses an empty --state-prefix (exit 2) instead of reading other keys than the proxy', () => {
    const r = tollgate(
      'explain',
      '-c',
      STRIPE,
      '--tool',
      'list_customers',
      '--state-dsn',
      'redis://127.0.0.1:9/0',
      '--state-prefix',
      '',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tollgate explain: --state-prefix is empty: leave it out for the default prefix "tollgate:"\n',
    );
  });

  it('reads the store TOLLGATE_STATE_DSN names, unless --state-dir or --state-dsn says otherwise', () => {
    const state = (r: { stdout: string }) => JSON.parse(r.stdout).state as string;
    const args = ['explain', '-c', STRIPE, '--tool', 'list_customers', '--json'];
    expect(state(tollgateWith({ TOLLGATE_STATE_DSN: 'memory:' }, ...args))).toBe('memory:');
    const file = join(dir, 'env.sqlite');
    expect(state(tollgateWith({ TOLLGATE_STATE_DSN: 'memory:' }, ...args, '--state-dsn', file))).toBe(file);
    const own = join(dir, 'own-state');
    expect(state(tollgateWith({ TOLLGATE_STATE_DSN: 'memory:' }, ...args, '--state-dir', own))).not.toBe(
      'memory:',
    );
    // Set but blank (an unset variable in a client's env block) is refused, as an empty
    // --state-dsn is: counting in local SQLite instead would multiply a shared limit.
    const blank = tollgateWith({ TOLLGATE_STATE_DSN: ' ' }, ...args);
    expect(blank.code).toBe(2);
    expect(JSON.parse(blank.stdout).errors[0].message).toBe(
      'TOLLGATE_STATE_DSN is set but empty (an unset variable?): give the store, or remove the variable for SQLite under the state directory',
    );
    expect(state(tollgateWith({ TOLLGATE_STATE_DSN: '' }, ...args, '--state-dir', own))).not.toBe('memory:');
    // Spaces around a pasted DSN are not part of it.
    expect(state(tollgateWith({}, ...args, '--state-dsn', '  memory: '))).toBe('memory:');
  });

  it('explains a call whose arguments nest deeper than JSON.stringify can go (text and --json)', () => {
    const depth = 20_000;
    const args = `{"message":"deep","x":${'['.repeat(depth)}1${']'.repeat(depth)}}`;
    const base = [
      'explain',
      '-c',
      STRIPE,
      '--tool',
      'list_customers',
      '--args',
      args,
      '--state-dsn',
      'memory:',
    ];
    const text = tollgate(...base);
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(/^call {4}list_customers \{"message":"deep","x":\[\[\[/m);
    expect(text.code).toBe(0);
    const json = tollgate(...base, '--json');
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as {
      call: { args: { message: string } };
      decision: { allowed: boolean };
    };
    expect(out.call.args.message).toBe('deep');
    expect(out.decision.allowed).toBe(true);
  });

  it('prints every rule and condition with its outcome, then the decision; exit 1 when denied', () => {
    const r = tollgate(
      'explain',
      '-c',
      STRIPE,
      '--tool',
      'create_charge',
      '--args',
      '{"amount":60000,"currency":"gbp"}',
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /state {3}memory \(no state yet: \S+tollgate\.sqlite does not exist, so counters start at zero\)/,
    );
    expect(r.stdout).toContain(
      '  ✗ max single charge  [create_charge, line 11]\n      ✗ args.amount lte 50000  (actual 60000)',
    );
    expect(r.stdout).toContain('  ✗ allowed currencies');
    expect(r.stdout).toContain('      counter create_charge.daily_spend +60000 -> 60000');
    expect(r.stdout).toMatch(
      /DENIED by rule "max single charge" \(condition_failed\)\n {2}A single charge cannot exceed \$500\.00\n$/,
    );
  });

  it('reports a call the proxy refuses before the policy (-32602) the way the proxy does', () => {
    const args = [
      'explain',
      '-c',
      STRIPE,
      '--tool',
      'create_charge',
      '--args',
      '{"amount":1,"AMOUNT":90000}',
    ];
    const r = tollgate(...args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      'REFUSED before the policy: the proxy answers JSON-RPC -32602 Invalid params: params.arguments has member names equal regardless of case or invisible characters: "amount" and "AMOUNT"\n',
    );
    const j = tollgate(...args, '--json');
    expect(j.code).toBe(1);
    const out = JSON.parse(j.stdout);
    expect(out.refused).toBe(
      'Invalid params: params.arguments has member names equal regardless of case or invisible characters: "amount" and "AMOUNT"',
    );
    expect(out.decision).toMatchObject({ allowed: false, reason: 'invalid_arguments' });
    expect(out.rules).toEqual([]);
  });

  it('refuses a tool name that reads as one the policy or the catalogued server names, as the proxy does', () => {
    const policy = policyFile('variants.yaml', 'version: "1"\nhide: [move_file, "secret_*"]\n');
    const refused = (tool: string, ...more: string[]) => {
      const r = tollgate('explain', '-c', policy, '--tool', tool, '--json', ...more);
      expect(r.code, tool).toBe(1);
      return JSON.parse(r.stdout).refused as string;
    };
    // Both are hidden: the answer (what the agent reads) does not name them.
    expect(refused('Move_File')).toBe(
      'Invalid params: tool name "Move_File" differs from a tool name only by case or invisible characters (a server that ignores them would run that tool)',
    );
    expect(refused('SECRET_x')).toBe(
      'Invalid params: tool name "SECRET_x" differs from a tool name only by case or invisible characters (a server that ignores them would run that tool)',
    );
    expect(refused('read_file\u200B', '--server', 'filesystem')).toBe(
      'Invalid params: tool name "read_file\u200B" differs from the tool "read_file" only by case or invisible characters (a server that ignores them would run that tool)',
    );
    // Names that are their own: judged by the policy.
    const own = tollgate('explain', '-c', policy, '--tool', 'read_file', '--json');
    expect(JSON.parse(own.stdout).refused).toBeUndefined();
  });

  it('refuses arguments that write a member name twice, as the proxy does', () => {
    const r = tollgate(
      'explain',
      '-c',
      STRIPE,
      '--tool',
      'create_charge',
      '--args',
      '{"amount":90000,"amount":1}',
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      'REFUSED before the policy: the proxy answers JSON-RPC -32602 Invalid params: a member name appears twice in one object (decoders differ on which one counts)\n',
    );
    // The same names in different objects, or inside strings, are no duplicates.
    const ok = tollgate(
      'explain',
      '-c',
      STRIPE,
      '--tool',
      'create_charge',
      '--args',
      '{"amount":1,"currency":"usd","m":{"amount":2,"note":"\\"amount\\":3"}}',
    );
    expect(ok.stdout).not.toContain('REFUSED');
  });

  it('exit 0 and ALLOWED for a permitted call; --json carries the same decision and trace', () => {
    const r = tollgate(
      'explain',
      '-c',
      STRIPE,
      '--tool',
      'create_charge',
      '--args',
      '{"amount":100,"currency":"usd"}',
      '--json',
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.decision).toMatchObject({ allowed: true, reason: 'allowed' });
    expect(out.decision.reservation).toBeUndefined();
    expect(out.rules.map((x: { rule: string; outcome: string }) => `${x.rule}:${x.outcome}`)).toEqual([
      'max single charge:passed',
      'daily spend cap:passed',
      'allowed currencies:passed',
      'global call budget:passed',
    ]);
    expect(out.policy.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hidden tools and denial reasons', () => {
    const r = tollgate('explain', '-c', 'examples/policies/github.yaml', '--tool', 'merge_pull_request');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('hidden by `hide`');
    expect(r.stdout).toContain('DENIED (hidden)\n  Tool "merge_pull_request" is hidden by policy');
  });

  it('reads real counters from the SQLite state and never consumes quota', async () => {
    const stateDir = join(dir, 'state');
    const text = `version: "1"\ntools:\n  create_issue:\n    rules:\n      - { name: hourly, rate_limit: 2/hour }\n`;
    const file = policyFile('p.yaml', text);
    const loaded = loadPolicy(text, { filename: file });
    if (!loaded.ok) throw new Error('policy');
    const store = new SqliteCounterStore({ file: join(stateDir, 'tollgate.sqlite') });
    const d = await evaluate(loaded.policy, { tool: 'create_issue', args: {} }, { store });
    await store.commit(d.reservation!);
    for (let i = 0; i < 3; i++) {
      const r = tollgate('explain', '-c', file, '--tool', 'create_issue', '--state-dir', stateDir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('rate limit 2 per 1h (fixed, UTC): this call would be 2 of 2');
    }
    const d2 = await evaluate(loaded.policy, { tool: 'create_issue', args: {} }, { store });
    expect(d2.allowed).toBe(true);
    await store.commit(d2.reservation!);
    const r = tollgate('explain', '-c', file, '--tool', 'create_issue', '--state-dir', stateDir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('DENIED by rule "hourly" (rate_limited)');
    await store.close();
  });

  it('usage errors exit 2; an invalid policy exits 1 with positions', () => {
    const bad = tollgate('explain', '-c', STRIPE, '--tool', 'x', '--args', '{not json');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--args is not valid JSON');
    expect(tollgate('explain', '-c', STRIPE, '--tool', 'x', '--args', '[1]').code).toBe(2);
    expect(tollgate('explain', '-c', STRIPE).code).toBe(2);
    expect(tollgate('explain', '-c', 'nope.yaml', '--tool', 'x').code).toBe(2);
    const help = tollgate('explain', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--state-dir');
  });
});
