import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// End-to-end: spawns the built binary. Build first: pnpm --filter 'tollgate...' build
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function tollgate(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run pnpm --filter 'tollgate...' build first`);
  dir = mkdtempSync(join(tmpdir(), 'tollgate-validate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function policyFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const BAD = `version: "1"
defualt: deny
tools:
  create_charge:
    rules:
      - name: cap
        conditions:
          - { path: args.amount, op: lte, value: "500" }
      - name: spend
        conditions:
          - { path: state.create_charge.spend, op: lt, value: 100 }
`;

describe('tollgate validate', () => {
  it('exits 0 with a summary for a valid policy', () => {
    const r = tollgate('validate', '-c', 'examples/policies/payments.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✓ examples/policies/payments.yaml is valid');
    expect(r.stdout).toContain('tools: 4 (3 exact, "*"), rules: 7, rate limits: 0, counters: 3');
    expect(r.stdout).toContain(
      '_global.calls_per_minute, create_charge.daily_spend, create_refund.daily_count',
    );
    expect(r.stdout).toMatch(/hash: [0-9a-f]{64}/);
    expect(r.stderr).toBe('');
  });

  it('exits 1 and prints every error as file:line:col: code: message with hints', () => {
    const f = policyFile('bad.yaml', BAD);
    const r = tollgate('validate', '-c', f);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      `${f}:2:1: unknown-key: unknown key \`defualt\``,
      '  hint: did you mean `default`?',
      `${f}:8:50: value-not-number: operator "lte" requires a numeric value, got "500" (string)`,
      '  hint: remove the quotes: `value: 500`',
      `${f}:11:21: undefined-counter: condition references state.create_charge.spend but no rule defines that counter`,
      '  hint: add `state: { counter: spend, window: day }` to a rule under "create_charge"',
      `${f}: invalid policy, 3 errors`,
    ]);
  });

  it('prints a machine-readable object with --json', () => {
    const f = policyFile('bad.yaml', BAD);
    const bad = tollgate('validate', '-c', f, '--json');
    expect(bad.code).toBe(1);
    const out = JSON.parse(bad.stdout);
    expect(out.ok).toBe(false);
    expect(
      out.errors.map((e: { code: string; line: number; column: number }) => [e.code, e.line, e.column]),
    ).toEqual([
      ['unknown-key', 2, 1],
      ['value-not-number', 8, 50],
      ['undefined-counter', 11, 21],
    ]);

    const good = tollgate('validate', '-c', 'examples/policies/filesystem.yaml', '--json');
    expect(good.code).toBe(0);
    const s = JSON.parse(good.stdout);
    expect(s).toMatchObject({
      ok: true,
      file: 'examples/policies/filesystem.yaml',
      errors: [],
      warnings: [],
      summary: {
        tools: { total: 5, exact: 3, glob: 1, wildcard: true },
        rules: 5,
        rateLimits: 2,
        counters: [],
        hidden: 1,
        default: 'allow',
      },
    });
  });

  it('--server checks tool names against the catalogue entry: typos are warnings naming the listed tool', () => {
    const f = policyFile(
      'typo.yaml',
      'version: "1"\nhide: [move_files]\ntools:\n  write_fle: { rules: [{ action: deny }] }\n  "{write_file,edit_fil}": {}\n',
    );
    const r = tollgate('validate', '-c', f, '--server', 'filesystem', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      warnings: Array<{ line: number; code: string; hint: string }>;
    };
    expect(out.ok).toBe(true);
    expect(out.warnings.map((w) => [w.line, w.code, w.hint])).toEqual([
      [2, 'unlisted-tool', 'did you mean `move_file`?'],
      [4, 'unlisted-tool', 'did you mean `write_file`?'],
      [5, 'unlisted-tool', 'did you mean `edit_file`?'],
    ]);
    // Without --server the names cannot be checked.
    expect(JSON.parse(tollgate('validate', '-c', f, '--json').stdout).warnings).toEqual([]);
    // A name with no near miss may be a tool the server lists only to clients declaring
    // capabilities (server-everything's get-roots-list): the hint says so, not only "a typo".
    const gated = policyFile(
      'gated.yaml',
      'version: "1"\ntools:\n  get-roots-list: { rules: [{ rate_limit: 5/minute }] }\n',
    );
    const g = JSON.parse(tollgate('validate', '-c', gated, '--server', 'everything', '--json').stdout) as {
      warnings: Array<{ code: string; hint: string }>;
    };
    expect(g.warnings).toEqual([
      expect.objectContaining({
        code: 'unlisted-tool',
        hint: "catalogue entry everything lists no such tool: check the spelling, unless the server lists it only to clients that declare capabilities (roots, sampling, elicitation), which the catalogue's snapshot did not",
      }),
    ]);
    const unknown = tollgate('validate', '-c', f, '--server', 'filesytem');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'tollgate validate: no server "filesytem" in the catalogue (did you mean filesystem?); see tollgate catalog stats\n',
    );
  });

  it('--server with a catalogue file that does not load: the JSON error names that file, not the policy', () => {
    const f = policyFile('for-broken-catalogue.yaml', 'version: "1"\ntools:\n  a: {}\n');
    const catalog = mkdtempSync(join(tmpdir(), 'tollgate-validate-catalog-'));
    const entry = join(catalog, 'filesystem.yaml');
    writeFileSync(entry, 'id: filesystem\nname: x\n');
    const message =
      `${entry}:1:1: Invalid input: expected object, received undefined (at package)\n` +
      `${entry}:1:1: Invalid input: expected array, received undefined (at tools)`;
    const r = tollgate('validate', '-c', f, '--server', 'filesystem', '--catalog', catalog, '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      file: f,
      errors: [{ file: entry, line: 1, column: 1, code: 'catalogue', message }],
      warnings: [],
    });
    // A catalogue directory that cannot be read is named too; an unknown id stays the policy's.
    const missing = join(catalog, 'nope');
    const gone = tollgate('validate', '-c', f, '--server', 'filesystem', '--catalog', missing, '--json');
    expect(JSON.parse(gone.stdout).errors).toEqual([
      { file: missing, code: 'catalogue', message: `cannot read the catalogue directory ${missing}: ENOENT` },
    ]);
    const unknown = tollgate('validate', '-c', f, '--server', 'nosuch', '--catalog', catalog, '--json');
    expect(JSON.parse(unknown.stdout).errors).toEqual([
      {
        file: f,
        code: 'catalogue',
        message: 'no server "nosuch" in the catalogue; see tollgate catalog stats',
      },
    ]);
    rmSync(catalog, { recursive: true, force: true });
  });

  it('reports warnings but still exits 0', () => {
    const f = policyFile(
      'warn.yaml',
      'version: "1"\ntools:\n  t:\n    rules:\n      - { action: deny }\n      - { rate_limit: 1/day }\n',
    );
    const r = tollgate('validate', '-c', f);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${f}:6:9: warning unreachable-rule: rule "t#2" can never run`);
    expect(r.stdout).toContain('warnings: 1');
  });

  it('exits 2 for an unreadable file, a missing -c, or an unknown option', () => {
    const missing = tollgate('validate', '-c', join(dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    const missingJson = tollgate('validate', '-c', join(dir, 'nope.yaml'), '--json');
    expect(missingJson.code).toBe(2);
    expect(JSON.parse(missingJson.stdout).errors[0].code).toBe('unreadable-file');
    expect(tollgate('validate').code).toBe(2);
    expect(tollgate('validate', '-c', 'examples/policies/github.yaml', '--bogus').code).toBe(2);
  });

  it('has --help', () => {
    const r = tollgate('validate', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: tollgate validate');
    expect(r.stdout).toContain('--json');
    expect(r.stdout).toContain('Exit codes: 0 valid, 1 invalid policy, 2 usage error or unreadable file.');
  });
});

describe('tollgate validate on odd files', () => {
  it('reports an oversized file as input-too-large (exit 1) and a directory as unreadable (exit 2)', () => {
    const big = policyFile('big.yaml', `version: "1"\n#${'x'.repeat(2 * 1024 * 1024)}\n`);
    const r = tollgate('validate', '-c', big, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors).toMatchObject([{ code: 'input-too-large', line: 1, column: 1 }]);
    expect(tollgate('validate', '-c', dir).code).toBe(2);
  });

  it('reads a policy from /dev/stdin and from a pipe (process substitution)', () => {
    const stdin = spawnSync(process.execPath, [BIN, 'validate', '-c', '/dev/stdin'], {
      cwd: ROOT,
      encoding: 'utf8',
      input: readFileSync(join(ROOT, 'examples/policies/payments.yaml'), 'utf8'),
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
      timeout: 20_000,
    });
    expect(stdin.stderr).toBe('');
    expect(stdin.stdout).toContain('/dev/stdin is valid');
    expect(stdin.status).toBe(0);
    const piped = bash(`"$NODE" "$BIN" validate -c <(cat examples/policies/payments.yaml)`);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^✓ \/dev\/fd\/\d+ is valid\n/);
    expect(piped.code).toBe(0);
    const invalid = bash(`"$NODE" "$BIN" validate -c <(printf 'version: "1"\ndefualt: deny\n')`);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^\/dev\/fd\/\d+:2:1: unknown-key: /);
  });

  it('stops reading an endless pipe at the size cap: input-too-large, exit 1', () => {
    const r = bash(`"$NODE" "$BIN" validate --json -c <(yes '# a comment line')`);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors).toMatchObject([
      {
        code: 'input-too-large',
        line: 1,
        column: 1,
        message: 'policy is more than 1048576 bytes; the limit is 1048576 bytes (1 MiB)',
      },
    ]);
  });
});

/** Runs a bash command line in the repository root, with $NODE and $BIN set. */
function bash(script: string) {
  const r = spawnSync('bash', ['-c', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', NODE: process.execPath, BIN },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
