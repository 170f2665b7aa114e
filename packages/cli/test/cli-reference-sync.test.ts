import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/program.js';
import { cliRoot } from './from-source.js';

// The site's CLI reference is written by hand: every option of every command must appear in it,
// so that a new flag cannot ship undocumented (a tester found nine proxy options missing).
const page = readFileSync(join(cliRoot, '../../apps/site/src/content/docs/docs/cli-reference.md'), 'utf8');

/** Every command of the tree with its path (`tollgate`, `tollgate scan`, `tollgate catalog stats`). */
function commands(cmd: Command, path: string[] = ['tollgate']): Array<{ path: string; cmd: Command }> {
  return [{ path: path.join(' '), cmd }, ...cmd.commands.flatMap((c) => commands(c, [...path, c.name()]))];
}

describe('apps/site CLI reference', () => {
  const all = commands(buildProgram());

  it('covers every command', () => {
    expect(all.length).toBeGreaterThan(8);
    for (const { path } of all.slice(1)) expect(page, path).toContain(`\`${path}`);
  });

  it('names every long option of every command', () => {
    const missing: string[] = [];
    for (const { path, cmd } of all) {
      for (const option of cmd.options) {
        const flag = option.long;
        if (!flag || flag === '--help' || flag === '--version') continue;
        if (!new RegExp(`${flag}(?![\\w-])`).test(page)) missing.push(`${path} ${flag}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
