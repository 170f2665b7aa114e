import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './from-source.js';

// Colour follows NO_COLOR, and FORCE_COLOR as chalk reads it: 0 or false is off, any other value on.
const dir = mkdtempSync(join(tmpdir(), 'tollgate-colors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bad = join(dir, 'bad.yaml');
writeFileSync(bad, 'version: "2"\n');
const ESC = '\u001b[';

describe('colour', () => {
  it('FORCE_COLOR=0 and false turn it off; FORCE_COLOR=1 turns it on even into a pipe', () => {
    const run = (force: string) =>
      runCli(['validate', '-c', bad], { env: { NO_COLOR: '', FORCE_COLOR: force } }).stderr;
    expect(run('1')).toContain(ESC);
    expect(run('0')).not.toContain(ESC);
    expect(run('false')).not.toContain(ESC);
    expect(run('0')).toContain('invalid-version');
  });

  it('--no-color turns it off on every command, before or after its name', () => {
    const env = { NO_COLOR: '', FORCE_COLOR: '1' };
    for (const args of [
      ['validate', '-c', bad, '--no-color'],
      ['--no-color', 'validate', '-c', bad],
    ]) {
      const r = runCli(args, { env });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('invalid-version');
      expect(r.stderr).not.toContain(ESC);
    }
    expect(runCli(['catalog', 'stats', '--no-color'], { env }).code).toBe(0);
  });
});
