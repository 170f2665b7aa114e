import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDir } from './make-dir.js';

describe('makeDir', () => {
  it('creates missing parents and accepts an existing directory', () => {
    const root = mkdtempSync(join(tmpdir(), 'tg-mkdir-'));
    const deep = join(root, 'a', 'b', 'c');
    makeDir(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    makeDir(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
  });

  it('fails at once under /proc, where recursive mkdir spins for ever', () => {
    expect(() => makeDir('/proc/tollgate-x/y')).toThrow(
      /^ENOENT: no such file or directory, mkdir '\/proc\/tollgate-x'$/,
    );
  });

  it('fails with ENOTDIR below a file', () => {
    const root = mkdtempSync(join(tmpdir(), 'tg-mkdir-'));
    writeFileSync(join(root, 'f'), '');
    expect(() => makeDir(join(root, 'f', 'x'))).toThrow(/^ENOTDIR: not a directory, stat '.*\/f\/x'$/);
    expect(() => makeDir(join(root, 'f'))).toThrow(
      /^ENOTDIR: not a directory, mkdir '.*\/f' \(.*\/f is a file\)$/,
    );
    expect(() => makeDir('/dev/null/x')).toThrow(/ENOTDIR/);
  });
});
