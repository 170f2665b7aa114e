import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './from-source.js';

// Runs from source (no build needed): `tollgate explain --json` reports input errors as the JSON
// object `tollgate validate --json` prints, on stdout, with explain's exit codes.
let dir: string;
let good: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-explain-json-'));
  good = join(dir, 'good.yaml');
  writeFileSync(good, 'version: "1"\ndefault: allow\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function explain(...args: string[]) {
  return runCli(['explain', '--tool', 'x', ...args], { env: { TOLLGATE_HOME: join(dir, 'home') } });
}

describe('tollgate explain --json on bad input', () => {
  it('a missing or unreadable policy file: unreadable-file, exit 2, as validate --json', () => {
    const missing = join(dir, 'nope.yaml');
    mkdirSync(join(dir, 'a-dir'));
    for (const file of [missing, join(dir, 'a-dir')]) {
      const r = explain('-c', file, '--json');
      expect(r.code, file).toBe(2);
      expect(r.stderr, file).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out).toEqual({
        ok: false,
        file,
        errors: [{ file, code: 'unreadable-file', message: expect.any(String) }],
        warnings: [],
      });
      const v = runCli(['validate', '-c', file, '--json']);
      expect(v.code).toBe(2);
      expect(out).toEqual(JSON.parse(v.stdout));
    }
    expect(JSON.parse(explain('-c', missing, '--json').stdout).errors[0].message).toMatch(/ENOENT/);
  });

  it('an invalid policy: its errors with positions, exit 1, as validate --json', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: "1"\ndefault: maybe\n');
    const r = explain('-c', bad, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: false, file: bad, warnings: [] });
    expect(out.errors[0]).toMatchObject({ file: bad, line: 2, severity: 'error' });
    const v = runCli(['validate', '-c', bad, '--json']);
    expect(out).toEqual(JSON.parse(v.stdout));
  });

  it('a policy over the size cap: input-too-large, exit 1', () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `version: "1"\n#${'x'.repeat(1024 * 1024)}\n`);
    const r = explain('-c', big, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      file: big,
      errors: [{ file: big, code: 'input-too-large' }],
    });
  });

  it('bad --args or --input-schema: invalid-args / invalid-input-schema, exit 2', () => {
    for (const [flag, value, code, message] of [
      ['--args', '[1]', 'invalid-args', '--args must be a JSON object'],
      ['--args', '{nope', 'invalid-args', '--args is not valid JSON: '],
      ['--input-schema', '"s"', 'invalid-input-schema', '--input-schema must be a JSON object'],
    ] as const) {
      const r = explain('-c', good, flag, value, '--json');
      expect(r.code, value).toBe(2);
      expect(r.stderr, value).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out).toEqual({
        ok: false,
        file: good,
        errors: [{ code, message: expect.any(String) }],
        warnings: [],
      });
      expect(out.errors[0].message.startsWith(message), out.errors[0].message).toBe(true);
    }
  });

  it('--state-prefix without Redis: invalid-option, exit 2', () => {
    const r = explain('-c', good, '--state-prefix', 'x:', '--json');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      errors: [
        {
          code: 'invalid-option',
          message: expect.stringContaining('--state-prefix applies to a Redis store'),
        },
      ],
    });
  });

  it('without --json the same problems stay plain text on stderr', () => {
    const r = explain('-c', join(dir, 'nope.yaml'));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^tollgate explain: .*ENOENT/);
    const a = explain('-c', good, '--args', '[1]');
    expect(a.code).toBe(2);
    expect(a.stdout).toBe('');
    expect(a.stderr).toBe('tollgate explain: --args must be a JSON object\n');
  });
});
