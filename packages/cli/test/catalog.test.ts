// `tollgate catalog import|stats` end to end: a child process runs the CLI (from source).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultCatalogDir, defaultSourcesDir, loadCatalogFile } from '@tollgate/catalog';
import { describe, expect, it } from 'vitest';
import { cliRoot, runCli } from './from-source.js';

const tollgate = (args: string[]) => runCli(['catalog', ...args], { timeoutMs: 120_000 });

describe('tollgate catalog import', { timeout: 120_000 }, () => {
  const snapshot = join(defaultSourcesDir(), 'npm-scans', 'time.json');
  const snap = JSON.parse(readFileSync(snapshot, 'utf8')) as {
    tools: Array<{ name: string; description: string }>;
  };

  it('writes catalog/<id>.yaml with our descriptions and the recorded package and launch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-'));
    const curation = join(dir, 'curation');
    mkdirSync(curation);
    const tools = Object.fromEntries(
      snap.tools.map((t, i) => [t.name, { description: `Our sentence number ${i}.`, category: 'Read' }]),
    );
    writeFileSync(join(curation, 'time.json'), JSON.stringify({ server: 'time', tools }));
    const out = join(dir, 'catalog');
    const r = tollgate(['import', snapshot, '--out', out, '--curation', curation]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${join(out, 'time.yaml')}: ${snap.tools.length} tools`);
    const entry = loadCatalogFile(join(out, 'time.yaml'));
    expect(entry.package).toEqual({ registry: 'npm', name: 'time-mcp', version: '1.0.6' });
    expect(entry.launch).toMatchObject({ command: 'node', args: ['dist/index.js'], cwd: 'package' });
    expect(entry.tools.map((t) => t.description)).toEqual(
      snap.tools.map((_, i) => `Our sentence number ${i}.`),
    );
  });

  it('a tool without a curated description is an error naming it (exit 1), never a copy of upstream', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-'));
    const curation = join(dir, 'curation');
    mkdirSync(curation);
    const [first, ...rest] = snap.tools;
    const tools = Object.fromEntries(rest.map((t) => [t.name, { description: 'Ours.' }]));
    writeFileSync(join(curation, 'time.json'), JSON.stringify({ server: 'time', tools }));
    const r = tollgate(['import', snapshot, '--out', join(dir, 'catalog'), '--curation', curation, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { results: Array<{ error?: string }> };
    expect(out.results[0]!.error).toBe(`time: no curated description for 1 tool(s): ${first!.name}`);
    expect(existsSync(join(dir, 'catalog', 'time.yaml'))).toBe(false);
  });
});

describe('tollgate catalog import: malformed snapshots', { timeout: 120_000 }, () => {
  it('names the file and every missing field by its JSON path (exit 1), never an internal TypeError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-bad-'));
    writeFileSync(join(dir, 's4.json'), '{"server":{"name":"x","version":"1"},"tools":[{"name":"a"}]}\n');
    writeFileSync(
      join(dir, 'no-id.json'),
      JSON.stringify({
        server: { name: 'x', package: { registry: 'npm', name: 'x' } },
        tools: [{ name: 'a', inputSchema: { type: 'object' } }],
      }),
    );
    const out = join(dir, 'out');
    const r = tollgate(['import', '-o', out, join(dir, 's4.json'), join(dir, 'no-id.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error s4.json: not a tools/list snapshot: server.id is missing; server.package is missing; tools[0].inputSchema is missing\n' +
        'error no-id.json: not a tools/list snapshot: server.id is missing\n',
    );
    expect(r.stdout).toBe('0 imported, 2 failed\n');
    expect(existsSync(out)).toBe(false);
  });
});

describe('tollgate catalog import of tollgate scan --json', { timeout: 120_000 }, () => {
  const catalogRequire = createRequire(join(cliRoot, '..', 'catalog', 'package.json'));
  const memoryDir = dirname(catalogRequire.resolve('@modelcontextprotocol/server-memory/package.json'));
  const memoryEntry = join(memoryDir, 'dist', 'index.js');

  it.skipIf(process.platform === 'win32')(
    'imports what `scan --json -- npx -y <package>@<version>` printed, as docs/catalog.md says',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-scan-'));
      // A stand-in `npx` that runs the installed memory server, so the scan needs no network.
      const npx = join(dir, 'npx');
      writeFileSync(npx, `#!/bin/sh\nexec '${process.execPath}' '${memoryEntry}'\n`);
      chmodSync(npx, 0o755);
      const scan = runCli(
        ['scan', '--json', '--', npx, '-y', '@modelcontextprotocol/server-memory@2026.8.31'],
        { timeoutMs: 120_000 },
      );
      expect(scan.code).toBe(0);
      const scanned = JSON.parse(scan.stdout) as { id: string; package: unknown };
      expect(scanned.id).toBe('memory');
      expect(scanned.package).toEqual({
        registry: 'npm',
        name: '@modelcontextprotocol/server-memory',
        version: '2026.8.31',
      });
      writeFileSync(join(dir, 'scan.json'), scan.stdout);
      const out = join(dir, 'out2');
      const r = tollgate(['import', '-o', out, join(dir, 'scan.json')]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${join(out, 'memory.yaml')}: 9 tools\n1 imported, 0 failed\n`);
      const entry = loadCatalogFile(join(out, 'memory.yaml'));
      const catalogued = loadCatalogFile(join(defaultCatalogDir(), 'memory.yaml'));
      expect(entry.package).toEqual(catalogued.package);
      expect(entry.source).toEqual({
        snapshot: 'scan.json',
        serverInfo: { name: 'memory-server', version: '0.6.3' },
      });
      // Our curated descriptions (packages/catalog/data/curation/memory.json), not the server's.
      expect(entry.tools.map((t) => [t.name, t.description])).toEqual(
        catalogued.tools.map((t) => [t.name, t.description]),
      );
    },
  );

  it('a scan that names no package is refused naming what is missing and how to add it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-scan-'));
    const scan = runCli(['scan', '--json', '--', process.execPath, memoryEntry], { timeoutMs: 120_000 });
    expect(scan.code).toBe(0);
    writeFileSync(join(dir, 'scan.json'), scan.stdout);
    const r = tollgate(['import', '-o', join(dir, 'out2'), join(dir, 'scan.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error scan.json: not a tools/list snapshot: package is missing (tollgate scan records the package only when the server command is `npx <package>`, its version too with `npx <package>@<version>`: scan it that way, or add "package": {"registry": "npm", "name": "<package>", "version": "<version>"})\n',
    );
    expect(r.stdout).toBe('0 imported, 1 failed\n');
  });
});

describe('tollgate catalog import: the output directory', { timeout: 120_000 }, () => {
  const snapshot = join(defaultSourcesDir(), 'npm-scans', 'memory.json');

  it('one that cannot be created exits 2 with one line, or the JSON failure object with --json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-out-'));
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    const out = join(blocker, 'catalog');
    const message = `cannot create the catalogue directory ${out}: ENOTDIR`;
    const json = tollgate(['import', '--out', out, '--json', snapshot]);
    expect(json.code).toBe(2);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      errors: [{ code: 'cannot-write', message }],
      warnings: [],
    });
    const text = tollgate(['import', '--out', out, snapshot]);
    expect(text.code).toBe(2);
    expect(text.stdout).toBe('');
    expect(text.stderr).toBe(`tollgate catalog import: ${message}\n`);
  });

  it('is not created when every import fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-import-out-'));
    const out = join(dir, 'catalog');
    const r = tollgate(['import', '--out', out, '--json', join(dir, 'missing.json')]);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { ok: boolean }).ok).toBe(false);
    expect(existsSync(out)).toBe(false);
  });
});

describe('tollgate catalog import --json', { timeout: 120_000 }, () => {
  it('puts the warning about overrides not carried over in the JSON, not on stderr', () => {
    const out = mkdtempSync(join(tmpdir(), 'tollgate-import-fresh-'));
    const snapshot = join(defaultSourcesDir(), 'npm-scans', 'filesystem.json');
    const json = tollgate(['import', snapshot, '--out', out, '--json']);
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const body = JSON.parse(json.stdout) as { ok: boolean; warnings: string[] };
    expect(body.ok).toBe(true);
    expect(body.warnings).toHaveLength(1);
    expect(body.warnings[0]).toMatch(
      /^filesystem: 1 curated category override\(s\) in .*filesystem\.yaml are absent from the output and were not carried over \(write_file\)/,
    );
    // Without --json the same warning is on stderr.
    const text = tollgate([
      'import',
      snapshot,
      '--out',
      mkdtempSync(join(tmpdir(), 'tollgate-import-fresh-')),
    ]);
    expect(text.stderr).toContain('warning: filesystem: 1 curated category override(s)');
  });
});

describe('tollgate catalog stats', { timeout: 120_000 }, () => {
  it('--json counts every tool per category and risk, per server and overall', () => {
    const r = tollgate(['stats', '--json']);
    expect(r.code).toBe(0);
    const stats = JSON.parse(r.stdout) as {
      servers: number;
      overall: { tools: number; byCategory: Record<string, number>; byRisk: Record<string, number> };
      perServer: Array<{ id: string; tools: number }>;
    };
    expect(stats.servers).toBe(62);
    expect(stats.overall.tools).toBe(2070);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    expect(sum(stats.overall.byCategory)).toBe(2070);
    expect(sum(stats.overall.byRisk)).toBe(2070);
    expect(stats.overall.byRisk.Critical).toBe(
      stats.overall.byCategory.Destructive! + stats.overall.byCategory.Financial!,
    );
    expect(stats.perServer.find((s) => s.id === 'memory')!.tools).toBe(9);
  });

  it('a missing, empty or non-directory --dir exits 2 with one line (JSON with --json)', () => {
    const empty = mkdtempSync(join(tmpdir(), 'tollgate-stats-empty-'));
    const missing = join(empty, 'nope');
    const file = join(empty, 'file.txt');
    writeFileSync(file, 'x');
    // A directory whose one catalogue file cannot be read: the file is named, not the directory.
    const unreadable = mkdtempSync(join(tmpdir(), 'tollgate-stats-unreadable-'));
    mkdirSync(join(unreadable, 'memory.yaml'));
    const cases: Array<[string, string]> = [
      [missing, `catalogue directory ${missing} does not exist`],
      [empty, `no catalogue files (*.yaml) in ${empty}`],
      [file, `${file} is not a directory`],
      [unreadable, `cannot read the catalogue file ${join(unreadable, 'memory.yaml')}: EISDIR`],
    ];
    for (const [dir, message] of cases) {
      const r = tollgate(['stats', '--dir', dir]);
      expect(r.code, dir).toBe(2);
      expect(r.stdout, dir).toBe('');
      expect(r.stderr, dir).toBe(`tollgate catalog stats: ${message}\n`);
    }
    const json = tollgate(['stats', '--dir', missing, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      errors: [{ code: 'catalogue', message: `catalogue directory ${missing} does not exist` }],
      warnings: [],
    });
  });

  it('a catalogue file that does not load exits 2 naming it (the JSON failure object with --json)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-stats-broken-'));
    const file = join(dir, 'filesystem.yaml');
    writeFileSync(file, 'id: filesystem\nname: x\n');
    const message =
      `${file}:1:1: Invalid input: expected object, received undefined (at package)\n` +
      `${file}:1:1: Invalid input: expected array, received undefined (at tools)`;
    const text = tollgate(['stats', '--dir', dir]);
    expect(text.code).toBe(2);
    expect(text.stdout).toBe('');
    expect(text.stderr).toBe(`tollgate catalog stats: ${message}\n`);
    const json = tollgate(['stats', '--dir', dir, '--json']);
    expect(json.code).toBe(2);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      errors: [{ code: 'catalogue', message, file, line: 1, column: 1 }],
      warnings: [],
    });
  });

  it('keeps the --json failure contract when TOLLGATE_CATALOG_DIR names no directory', () => {
    const env = { TOLLGATE_CATALOG_DIR: '/nonexistent/catalog' };
    const message = 'TOLLGATE_CATALOG_DIR=/nonexistent/catalog: no such directory';
    for (const args of [['stats'], ['import', 'snapshot.json']]) {
      const json = runCli(['catalog', ...args, '--json'], { env });
      expect(json.code, args[0]).toBe(2);
      expect(json.stderr, args[0]).toBe('');
      expect(JSON.parse(json.stdout), args[0]).toEqual({
        ok: false,
        errors: [{ code: 'catalogue', message }],
        warnings: [],
      });
      const text = runCli(['catalog', ...args], { env });
      expect(text.stderr, args[0]).toBe(`tollgate catalog ${args[0]}: ${message}\n`);
    }
  });

  it('prints a table', () => {
    const r = tollgate(['stats']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^server\s+Read\s+Write\s+Execute\s+Destructive\s+Financial\s+tools$/m);
    expect(r.stdout).toMatch(/^all \(62\)\s+.*\s2070$/m);
  });
});
