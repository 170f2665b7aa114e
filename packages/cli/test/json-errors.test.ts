import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wantsJson } from '../src/commands-tree.js';
import { runCli } from './from-source.js';

// A command run with `--json` that fails before its output (a usage error commander finds, or
// one the command finds itself) prints `{ ok: false, errors, warnings }` on stdout, exit 2; the
// same command line without `--json` keeps its text on stderr.
let dir: string;
let policy: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-json-errors-'));
  policy = join(dir, 'p.yaml');
  writeFileSync(policy, 'version: "1"\ndefault: allow\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => runCli(args, { env: { TOLLGATE_HOME: join(dir, 'home') } });

describe('usage errors under --json', () => {
  it('an unknown option, a missing required option, a bad option value: JSON on stdout, nothing on stderr', () => {
    const cases: Array<[string[], string, string]> = [
      [
        ['explain', '-c', policy, '--tool', 'x', '--json', '--bogus'],
        'commander.unknownOption',
        "unknown option '--bogus'",
      ],
      // An unknown option is named even when a required one is missing too (commander's own
      // required options were checked first, and the mistyped option was never reported).
      [['validate', '--json', '--bogus'], 'commander.unknownOption', "unknown option '--bogus'"],
      [['explain', '--json', '--bogus'], 'commander.unknownOption', "unknown option '--bogus'"],
      [
        ['explain', '-c', policy, '--json'],
        'commander.missingMandatoryOptionValue',
        "required option '--tool <name>' not specified",
      ],
      [
        ['validate', '--json'],
        'commander.missingMandatoryOptionValue',
        "required option '-c, --config <file>' not specified",
      ],
      [
        ['status', '--json', '--since', 'soon'],
        'commander.invalidArgument',
        "option '--since <duration>' argument 'soon' is invalid",
      ],
      [['test', '--json'], 'commander.missingArgument', "missing required argument 'files'"],
    ];
    for (const [args, reason, message] of cases) {
      const r = run(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out, args.join(' ')).toEqual({
        ok: false,
        errors: [{ code: 'usage', reason, message: expect.stringContaining(message) }],
        warnings: [],
      });
      expect(out.errors[0].message).not.toMatch(/^error:/);
    }
  });

  it('-c given twice is a usage error naming both files, not the last one silently winning', () => {
    for (const args of [
      ['validate', '-c', 'a.yaml', '-c', 'b.yaml'],
      ['explain', '--tool', 'x', '-c', 'a.yaml', '-c', 'b.yaml'],
      ['-c', 'a.yaml', '-c', 'b.yaml', '--', 'server'],
    ]) {
      const r = run(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain('given twice ("a.yaml" and "b.yaml"); give it once');
    }
  });

  it('any option taking one value, given twice, is a usage error naming both (credentials masked)', () => {
    const cases: Array<[string[], string]> = [
      [
        ['explain', '-c', policy, '--tool', 'a', '--tool', 'b'],
        `option '--tool <name>' given twice ("a" and "b")`,
      ],
      // A DSN's password may hold `@`, `/` or `#`, and `--args` is JSON spaced any way: options
      // whose values may carry a credential are named without their values.
      [
        ['-c', policy, '--state-dsn', 'memory:', '--state-dsn', 'redis://:hun/ter2@h:6390/0', '--', 'x'],
        `option '--state-dsn <url>' given twice; give it once`,
      ],
      [
        ['explain', '-c', policy, '--tool', 't', '--args', '{"password": "hunter2"}', '--args', '{}'],
        `option '--args <json>' given twice; give it once`,
      ],
      [
        [
          '-c',
          policy,
          '--transport',
          'http',
          '--auth-token',
          'a'.repeat(32),
          '--auth-token',
          'b'.repeat(32),
          '--',
          'x',
        ],
        `option '--auth-token <token>' given twice; give it once`,
      ],
      [
        ['status', '--since', '1h', '--since', '2h'],
        `option '--since <duration>' given twice ("1h" and "2h")`,
      ],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr).not.toContain('hunter2');
      expect(r.stderr).not.toContain('hun/ter2');
    }
    // --help wins, as it does over other usage errors; after `--` the words are the server's.
    const help = run('explain', '--tool', 'a', '--tool', 'b', '--help');
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('Usage: tollgate explain')]);
    // Without `--`, a server's flag read as Tollgate's gets the hint to put `--` first.
    const noSeparator = run('-c', policy, 'node', 'srv.js', '--port', '1', '--port', '2');
    expect(noSeparator.code).toBe(2);
    expect(noSeparator.stderr).toContain('put -- before the command');
    const json = run('explain', '--json', '-c', policy, '--tool', 'a', '--tool', 'b');
    expect(JSON.parse(json.stdout).errors[0]).toMatchObject({
      code: 'usage',
      reason: 'tollgate.optionRepeated',
    });
    // The options that collect their values stay repeatable.
    const headers = run(
      'scan',
      '--json',
      '--upstream',
      'http://127.0.0.1:9/mcp',
      '-H',
      'A: b',
      '-H',
      'C: d',
      '--timeout',
      '2',
    );
    expect(headers.stdout).not.toContain('optionRepeated');
  });

  it('-c followed by another option (its value forgotten) is a usage error, in JSON when --json is that option', () => {
    const r = run('validate', '-c', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      errors: [
        {
          code: 'usage',
          reason: 'commander.invalidArgument',
          message:
            "option '-c, --config <file>' argument '--json' is invalid. That is another option: give the value first (write ./--json for a file of that name)",
        },
      ],
      warnings: [],
    });
    for (const args of [
      ['explain', '--tool', 'x', '-c', '--args', '{}'],
      ['-c', '--state-dir', '/tmp', '--', 'server'],
      ['validate', '-c', '-h'],
    ]) {
      const t = run(...args);
      expect(t.code, args.join(' ')).toBe(2);
      expect(t.stderr, args.join(' ')).toContain('That is another option: give the value first');
    }
    const sep = run('-c', '--', 'npx', 'srv');
    expect(sep.code).toBe(2);
    expect(sep.stderr).toContain(
      "argument '--' is invalid. That is the end of the options: give the value first (write ./-- for a file of that name)",
    );
  });

  it('without --json the same errors stay text on stderr with the help hint', () => {
    const r = run('explain', '-c', policy, '--tool', 'x', '--bogus');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("error: unknown option '--bogus'\n(run with --help for usage)\n");
  });

  it('--help with --json is still help, exit 0', () => {
    const r = run('validate', '--json', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: tollgate validate');
  });
});

describe('wantsJson', () => {
  it('needs a subcommand before --json, and ignores what follows --', () => {
    expect(wantsJson(['node', 'bin.js', 'scan', '--json', '--', 'x'])).toBe(true);
    expect(wantsJson(['validate', '-c', 'p.yaml', '--json'])).toBe(true);
    expect(wantsJson(['--json', 'validate'])).toBe(false);
    expect(wantsJson(['-c', 'p.yaml', '--', 'server', 'validate', '--json'])).toBe(false);
    expect(wantsJson(['scan', '--', 'server', '--json'])).toBe(false);
  });

  it('the proxy command line keeps text errors when the server command has --json', () => {
    const r = run('-c', policy, '--bogus', '--', 'server', '--json');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("unknown option '--bogus'");
  });
});

describe('failures scan and init find themselves, under --json', () => {
  it('scan without a command, and a command that cannot start', () => {
    const none = run('scan', '--json');
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('');
    expect(JSON.parse(none.stdout)).toEqual({
      ok: false,
      errors: [{ code: 'usage', message: expect.stringContaining('give the server command after --') }],
      warnings: [],
    });
    const missing = join(dir, 'no-such-server');
    const bad = run('scan', '--json', '--', missing);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).errors).toEqual([
      { code: 'scan-failed', message: expect.stringContaining(`could not scan ${missing}`) },
    ]);
    const text = run('scan', '--', missing);
    expect(text.stdout).toBe('');
    expect(text.stderr).toContain(`tollgate scan: could not scan ${missing}`);
  });

  it('init with an unknown server: JSON on stdout, or on stderr when the policy goes to stdout', () => {
    const toFile = run('init', '--json', '--server', 'no-such-server', '-o', join(dir, 'out.yaml'));
    expect(toFile.code).toBe(2);
    expect(toFile.stderr).toBe('');
    expect(JSON.parse(toFile.stdout)).toEqual({
      ok: false,
      errors: [
        {
          code: 'catalogue',
          message: expect.stringContaining('no server "no-such-server" in the catalogue'),
        },
      ],
      warnings: [],
    });
    const toStdout = run('init', '--json', '--server', 'no-such-server', '-o', '-');
    expect(toStdout.code).toBe(2);
    expect(toStdout.stdout).toBe('');
    expect(JSON.parse(toStdout.stderr).errors[0].code).toBe('catalogue');
  });
});
