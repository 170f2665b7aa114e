import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Through the built binary: `help` is read by bin.ts before the command tree is built.
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

function tollgate(args: string[]) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run pnpm --filter 'tollgate...' build first`);
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tollgate help [command]', () => {
  it('prints the help of the command named, as `<command> --help` does', () => {
    for (const [args, usage] of [
      [['help', 'scan'], 'Usage: tollgate scan [options] [command...]'],
      [['help', 'catalog', 'stats'], 'Usage: tollgate catalog stats [options]'],
      [['help'], 'Usage: tollgate -c <policy.yaml> [options] -- <server command> [args...]'],
      [['help', 'help'], 'Usage: tollgate -c <policy.yaml> [options] -- <server command> [args...]'],
      [['help', '--help'], 'Usage: tollgate -c <policy.yaml> [options] -- <server command> [args...]'],
      // Only the command path counts: what follows never runs and is never an option's value.
      [['help', 'explain', '--server'], 'Usage: tollgate explain [options]'],
      [['help', 'validate', '-c', 'x.yaml'], 'Usage: tollgate validate [options]'],
    ] as const) {
      const r = tollgate([...args]);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe(usage);
    }
  });

  it('never starts what follows the command name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-help-'));
    const marker = join(dir, 'ran');
    const script = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`;
    for (const cmd of ['scan', 'init']) {
      const r = spawnSync(process.execPath, [BIN, 'help', cmd, '--', process.execPath, '-e', script], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe(`Usage: tollgate ${cmd} [options] [command...]`);
    }
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unknown command name is a usage error (exit 2) that lists the commands', () => {
    const r = tollgate(['help', 'sacn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tollgate: help: unknown command "sacn" (did you mean `tollgate help scan`? commands: validate, test, explain, status, scan, init, catalog)\n',
    );
    const far = tollgate(['help', 'deploy']);
    expect(far.code).toBe(2);
    expect(far.stderr).toBe(
      'tollgate: help: unknown command "deploy" (commands: validate, test, explain, status, scan, init, catalog)\n',
    );
  });
});

describe('a misspelt subcommand on the command line', () => {
  const policy = join(mkdtempSync(join(tmpdir(), 'tollgate-misspelt-')), 'p.yaml');
  writeFileSync(policy, 'version: "1"\ndefault: allow\n');

  it('is named with the command meant, also when options of that command follow it', () => {
    for (const args of [['stauts'], ['valdate', '-c', policy], ['valdate', '-c', policy, '--json']]) {
      const r = tollgate(args);
      expect(r.code).toBe(2);
      const word = args[0];
      const meant = word === 'stauts' ? 'status' : 'validate';
      expect(r.stderr).toBe(
        `tollgate: "${word}" is not a command: did you mean \`tollgate ${meant}\`? (a server command goes after --)\n`,
      );
    }
  });

  it('is not guessed at when -- is on the line or the word is close to no command', () => {
    // `tollgate node -c p.yaml -- server.js` runs `node server.js` behind the proxy.
    const proxied = tollgate(['node', '-c', policy, '--', '-e', 'process.exit(7)']);
    expect(proxied.code).toBe(7);
    const withDashes = tollgate(['valdate', '-c', policy, '--', 'node']);
    expect(withDashes.code).toBe(2);
    expect(withDashes.stderr).toContain('tollgate: cannot start "valdate": ENOENT');
    const far = tollgate(['uvx', '-c', policy]);
    expect(far.code).toBe(2);
    expect(far.stderr).toContain('put -- before the server command');
  });
});
