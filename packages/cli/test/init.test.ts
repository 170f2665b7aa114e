// `tollgate init` end to end: a child process runs the command module (from source) against the
// repository catalogue and real MCP servers from npm.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { goneWithin, pidIn } from '../../catalog/test/fixtures/process-gone.js';
import { cliRoot, runCli } from './from-source.js';
import { serverBin } from './servers.js';

const memoryDir = dirname(
  createRequire(join(cliRoot, '..', 'catalog', 'package.json')).resolve(
    '@modelcontextprotocol/server-memory/package.json',
  ),
);

const filesystemEntry = serverBin('server-filesystem');

const tollgate = (args: string[], cwd = cliRoot) => runCli(['init', ...args], { cwd });

describe('tollgate init', { timeout: 120_000 }, () => {
  it('writes the catalogue starter policy for --server, which validates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const file = join(dir, 'policy.yaml');
    const r = tollgate(['--server', 'memory', '-o', file]);
    expect(r.stderr).toContain(`wrote ${file}: starter policy for memory (9 tools`);
    expect(r.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(
      '# Tollgate starter policy for memory (@modelcontextprotocol/server-memory@2026.8.31).',
    );
    const loaded = loadPolicy(text, { filename: file });
    expect(loaded.ok).toBe(true);
    if (loaded.ok) {
      expect(loaded.policy.exact.size).toBe(9);
      expect(loaded.policy.exact.get('delete_entities')!.rules[0]!.action).toBe('deny');
    }
  });

  it('never overwrites without --force (exit 2), and overwrites with it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'keep me\n');
    const r = tollgate(['--server', 'memory', '-o', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`tollgate init: ${file} already exists; use --force`);
    expect(readFileSync(file, 'utf8')).toBe('keep me\n');
    const forced = tollgate(['--server', 'memory', '-o', file, '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toEqual({
      ok: true,
      file,
      server: 'memory',
      source: 'catalogue entry memory',
      tools: 9,
      categories: expect.objectContaining({ Destructive: 3 }),
    });
    expect(readFileSync(file, 'utf8')).toContain('version: "1"');
  });

  it('rejects an unknown server with a suggestion (exit 2) and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const r = tollgate(['--server', 'memry', '-o', join(dir, 'p.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no server "memry" in the catalogue (did you mean memory?)');
    expect(existsSync(join(dir, 'p.yaml'))).toBe(false);
  });

  it('a TOLLGATE_CATALOG_DIR that names no directory is an error, not a fallback to another catalogue', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const missing = join(dir, 'catalgo');
    const r = runCli(['init', '--server', 'memory', '-o', '-'], { env: { TOLLGATE_CATALOG_DIR: missing } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`TOLLGATE_CATALOG_DIR=${missing}: no such directory`);
    expect(r.stdout).toBe('');
  });

  it('names the catalogue file it cannot read (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    mkdirSync(join(dir, 'memory.yaml'));
    const r = tollgate(['--server', 'memory', '--catalog', dir, '-o', join(dir, 'p.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `tollgate init: cannot read the catalogue file ${join(dir, 'memory.yaml')}: EISDIR\n`,
    );
  });

  it('reports an unknown server before complaining about an existing output file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const existing = join(dir, 'tollgate.policy.yaml');
    writeFileSync(existing, 'keep me\n');
    const r = tollgate(['--server', 'nonexistent-xyz', '-o', existing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tollgate init: no server "nonexistent-xyz" in the catalogue');
    expect(r.stderr).not.toContain('already exists');
    // An id is never a path: ../ cannot reach a YAML file outside the catalogue.
    const traversal = tollgate(['--server', '../examples/policies/github', '-o', '-']);
    expect(traversal.code).toBe(2);
    expect(traversal.stderr).toContain('no server "../examples/policies/github" in the catalogue');
    expect(readFileSync(existing, 'utf8')).toBe('keep me\n');
  });

  it('reports an output it cannot write (missing directory, a directory) with exit 2, not a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const missing = tollgate(['--server', 'memory', '-o', join(dir, 'no', 'p.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `tollgate init: cannot write ${join(dir, 'no', 'p.yaml')}: directory ${join(dir, 'no')} does not exist\n`,
    );
    const isDir = tollgate(['--server', 'memory', '-o', dir, '--force']);
    expect(isDir.code).toBe(2);
    expect(isDir.stderr).toContain(`cannot write ${dir}: it is a directory`);
  });

  it('needs --server or a command (exit 2)', () => {
    const r = tollgate(['-o', '-']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give --server <id>');
  });

  it('an empty --server is a usage error (exit 2), not a live scan of an empty command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const file = join(dir, 'new.yaml');
    const message =
      '--server needs a catalogue id (e.g. github), got an empty string; for a live scan give the server command after --';
    const r = tollgate(['--server', '', '-o', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`tollgate init: ${message}\n`);
    expect(r.stdout).toBe('');
    const json = tollgate(['--server', '', '-o', file, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      errors: [{ code: 'usage', message }],
      warnings: [],
    });
    expect(existsSync(file)).toBe(false);
  });

  it('an empty server command after -- or an empty --upstream is a usage error (exit 2), naming what is empty', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-init-')), 'new.yaml');
    const r = tollgate(['-o', file, '--', '']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tollgate init: the server command after -- is empty (an unset variable?): give the program to start, e.g. -- npx -y @modelcontextprotocol/server-memory\n',
    );
    const u = tollgate(['--upstream', '', '-o', file]);
    expect(u.code).toBe(2);
    expect(u.stderr).toBe(
      'tollgate init: --upstream is empty: give a URL (e.g. https://mcp.example.com/mcp)\n',
    );
    expect(existsSync(file)).toBe(false);
  });

  it('says so when a server has too many tools for one policy (too-large, exit 2), writing nothing', () => {
    const odd = join(cliRoot, '..', 'catalog', 'test', 'fixtures', 'odd-server.mjs');
    const out = join(mkdtempSync(join(tmpdir(), 'tollgate-init-many-')), 'policy.yaml');
    const r = tollgate(['-o', out, '--json', '--', process.execPath, odd, 'many']);
    expect(r.code).toBe(2);
    const body = JSON.parse(r.stdout) as { ok: boolean; errors: Array<{ code: string; message: string }> };
    expect(body.ok).toBe(false);
    expect(body.errors[0]!.code).toBe('too-large');
    expect(body.errors[0]!.message).toMatch(
      /^the policy for 6000 tools would be \d+ bytes, over the 1048576 bytes \(1 MiB\) a policy may be/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('counts the tools the policy has rules for, not those left out (a repeated or a blank name)', () => {
    const odd = join(cliRoot, '..', 'catalog', 'test', 'fixtures', 'odd-server.mjs');
    const r = tollgate(['-o', '-', '--json', '--', process.execPath, odd, 'names']);
    expect(r.code).toBe(0);
    // 7 listed: "read_notes" twice and " " (no key can name it alone) are left out.
    const header = r.stdout.split('\n').find((l) => /^# \d+ tools?/.test(l));
    expect(header).toBe('# 5 tools: 3 Read, 2 Destructive.');
    const summary = JSON.parse(r.stderr.trimEnd().split('\n').at(-1)!) as {
      tools: number;
      categories: object;
    };
    expect(summary.tools).toBe(5);
    expect(summary.categories).toEqual({ Read: 3, Destructive: 2 });
    const loaded = loadPolicy(r.stdout, { filename: 'stdout.yaml' });
    expect(loaded.ok && loaded.policy.exact.size + loaded.policy.globs.length).toBe(5);
  });

  it('warns about a tool whose inputSchema does not compile, which required_args would refuse on every call', () => {
    const odd = join(cliRoot, '..', 'catalog', 'test', 'fixtures', 'odd-server.mjs');
    const r = tollgate(['-o', '-', '--json', '--', process.execPath, odd, 'broken-type']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stderr.trimEnd().split('\n').at(-1)!) as { notes?: string[] };
    const warned = (summary.notes ?? []).filter((n) => n.includes('is not a valid JSON Schema'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(
      /^warning: tool "update_note" lists an inputSchema that is not a valid JSON Schema \(schema is invalid: data\/properties\/text\/type must be equal to one of the allowed values/,
    );
    expect(warned[0]).toContain("its rule's `validate: { required_args: true }` refuses every call to it");
  });

  it('builds a starter policy from a live scan, classified on the spot, to stdout', () => {
    const r = tollgate(['-o', '-', '--', process.execPath, join(memoryDir, 'dist', 'index.js')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# Generated from a live scan of');
    // Recognised, but its entry curates no category: the header does not claim any.
    expect(r.stdout).toContain('(catalogue entry memory); tools classified on the spot.');
    expect(r.stdout).not.toContain('except the curated categories');
    const loaded = loadPolicy(r.stdout, { filename: 'stdout.yaml' });
    expect(loaded.ok).toBe(true);
    if (loaded.ok) {
      expect([...loaded.policy.exact.keys()].sort()).toEqual([
        'add_observations',
        'create_entities',
        'create_relations',
        'delete_entities',
        'delete_observations',
        'delete_relations',
        'open_nodes',
        'read_graph',
        'search_nodes',
      ]);
      expect(loaded.policy.exact.get('read_graph')!.rules[0]!.rateLimit).toMatchObject({ max: 60 });
    }
    // `node dist/index.js` names no package: none is made up from serverInfo (memory-server 0.6.3).
    expect(r.stdout.split('\n')[0]).toBe('# Tollgate starter policy for memory.');
    expect(r.stdout).not.toContain('memory-server@');
  });

  it('a live scan of a catalogued server gets its curated categories, like --server (filesystem write_file: denied)', () => {
    const data = mkdtempSync(join(tmpdir(), 'tollgate-init-fs-'));
    const live = tollgate(['-o', '-', '--', process.execPath, filesystemEntry, data]);
    expect(live.code).toBe(0);
    expect(live.stderr).toContain(
      'tollgate init: recognised catalogue entry filesystem (serverInfo name "secure-filesystem-server"',
    );
    expect(live.stderr).toContain(
      '`tollgate init --server filesystem` gives the starter policy from the catalogue',
    );
    expect(live.stdout).toContain('except the categories catalogue entry filesystem gives them');
    const curated = tollgate(['--server', 'filesystem', '-o', '-']);
    const a = loadPolicy(live.stdout, { filename: 'live.yaml' });
    const b = loadPolicy(curated.stdout, { filename: 'curated.yaml' });
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) {
      expect(a.policy.exact.get('write_file')!.rules[0]!.action).toBe('deny');
      // Every tool gets the same kind of rule as in the curated policy.
      const actions = (p: typeof a.policy) =>
        [...p.exact.entries()].map(([k, e]) => [k, e.rules.map((r) => r.action)]).sort();
      expect(actions(a.policy)).toEqual(actions(b.policy));
    }
    // With --json and the policy on stdout, the note goes into the summary on stderr.
    const json = tollgate(['-o', '-', '--json', '--', process.execPath, filesystemEntry, data]);
    // The server's own stderr comes first (inherited); the summary is the last line.
    const summary = JSON.parse(json.stderr.trimEnd().split('\n').at(-1)!) as {
      catalogEntry: string;
      notes: string[];
    };
    expect(json.stderr).not.toContain('tollgate init: recognised');
    expect(summary.catalogEntry).toBe('filesystem');
    expect(summary.notes[0]).toContain('recognised catalogue entry filesystem');
  });

  it.skipIf(process.platform === 'win32')(
    'a live scan that times out exits 2 at once and leaves no process of the server behind',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
      const pidFile = join(dir, 'sleep.pid');
      const started = Date.now();
      const r = tollgate([
        '--timeout',
        '1',
        '-o',
        join(dir, 'policy.yaml'),
        '--',
        'sh',
        '-c',
        `sleep 30 & echo $! > '${pidFile}'; wait`,
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('tollgate init: scan timed out after 1 s');
      expect(existsSync(join(dir, 'policy.yaml'))).toBe(false);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await goneWithin(await pidIn(pidFile), 500)).toBe(true);
    },
  );

  it('--help exits 0 and documents the options', () => {
    const r = tollgate(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--force');
    expect(r.stdout).toContain('--server <id>');
  });

  it('through the built binary: tollgate init output passes tollgate validate', () => {
    const bin = join(cliRoot, 'dist', 'bin.js');
    // `turbo run test` builds first; run `pnpm --filter tollgate build` when testing by hand.
    expect(existsSync(bin), `${bin} missing: build the CLI first`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
    const file = join(dir, 'stripe.yaml');
    const init = spawnSync(process.execPath, [bin, 'init', '--server', 'stripe-0.2.5', '-o', file], {
      encoding: 'utf8',
      cwd: dir,
    });
    expect(init.status).toBe(0);
    const validate = spawnSync(process.execPath, [bin, 'validate', '-c', file], {
      encoding: 'utf8',
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(validate.stdout + validate.stderr).toContain('is valid');
    expect(validate.status).toBe(0);
  });
});
