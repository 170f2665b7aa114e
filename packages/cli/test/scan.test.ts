// `tollgate scan` end to end: a child process runs the CLI (from source) against real
// MCP servers from npm and a paginating SDK server fixture.
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultCatalogDir, loadCatalogFile, parseCatalog } from '@tollgate/catalog';
import { loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { startHttpFixture } from '../../catalog/test/fixtures/http-server.js';
import { goneWithin, pidIn } from '../../catalog/test/fixtures/process-gone.js';
import { cliRoot, runCli, runCliAsync } from './from-source.js';

const catalogRequire = createRequire(join(cliRoot, '..', 'catalog', 'package.json'));
const everything = join(
  dirname(catalogRequire.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist',
  'index.js',
);
const pagedFixture = join(cliRoot, '..', 'catalog', 'test', 'fixtures', 'paged-server.mjs');

const tollgate = (args: string[]) => runCli(['scan', ...args]);

const tollgateAsync = (args: string[]) => runCliAsync(['scan', ...args]);

describe('tollgate scan', { timeout: 120_000 }, () => {
  it('prints a policy scaffold with a description comment and parameter summary per tool', () => {
    const r = tollgate(['--', process.execPath, everything, 'stdio']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/# Scaffold from a live scan of: .*server-everything/);
    expect(r.stdout).toContain('# parameters: message (string, required)');
    const loaded = loadPolicy(r.stdout, { filename: 'scaffold.yaml' });
    expect(loaded.ok).toBe(true);
    const catalogued = loadCatalogFile(join(defaultCatalogDir(), 'everything.yaml'));
    if (loaded.ok)
      expect([...loaded.policy.exact.keys()].sort()).toEqual(catalogued.tools.map((t) => t.name).sort());
  });

  it('--format catalog prints a valid draft catalogue entry with the same tools as the catalogue', () => {
    const r = tollgate([
      '--format',
      'catalog',
      '--id',
      'everything',
      '--',
      process.execPath,
      everything,
      'stdio',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("# Descriptions are the server's own first sentences");
    const entry = parseCatalog(r.stdout, 'scan.yaml');
    const catalogued = loadCatalogFile(join(defaultCatalogDir(), 'everything.yaml'));
    expect(entry.id).toBe('everything');
    expect(entry.tools.map((t) => [t.name, t.inputSchema, t.annotations])).toEqual(
      catalogued.tools.map((t) => [t.name, t.inputSchema, t.annotations]),
    );
  });

  it('--json follows nextCursor across pages and classifies each tool', () => {
    const r = tollgate(['--json', '--', process.execPath, pagedFixture, '5', '2']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      pages: number;
      tools: Array<{ name: string; parameters: string; classification: { category: string } }>;
    };
    expect(out.pages).toBe(3);
    expect(out.tools.map((t) => [t.name, t.classification.category])).toEqual([
      ['list_items_0', 'Read'],
      ['delete_item_1', 'Destructive'],
      ['list_items_2', 'Read'],
      ['delete_item_3', 'Destructive'],
      ['list_items_4', 'Read'],
    ]);
    expect(out.tools[0]!.parameters).toBe('id (string, required)');
  });

  it('times out cleanly with exit 2', () => {
    const started = Date.now();
    const r = tollgate(['--timeout', '1', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tollgate scan: scan timed out after 1 s');
    expect(r.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it.skipIf(process.platform === 'win32')(
    'on timeout, exits 2 at once and leaves no process of the server behind',
    async () => {
      const pidFile = join(mkdtempSync(join(tmpdir(), 'tollgate-scan-cli-')), 'sleep.pid');
      const started = Date.now();
      // A wrapper (like npx) whose child keeps the stdout pipe open for 30 s.
      const r = tollgate(['--timeout', '1', '--', 'sh', '-c', `sleep 30 & echo $! > '${pidFile}'; wait`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('tollgate scan: scan timed out after 1 s');
      expect(r.stdout).toBe('');
      // Startup of the CLI from source (tsx) is most of this; before the fix it took the full 30 s.
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await goneWithin(await pidIn(pidFile), 500)).toBe(true);
    },
  );

  it('usage errors exit 2: no command, bad timeout, bad format', () => {
    expect(tollgate([]).code).toBe(2);
    const t = tollgate(['--timeout', 'soon', '--', 'x']);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('expected a number of seconds greater than 0');
    expect(tollgate(['--format', 'xml', '--', 'x']).code).toBe(2);
  });

  it('a command that cannot start exits 2 with a message', () => {
    const r = tollgate(['--timeout', '5', '--', '/nonexistent/no-such-server']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tollgate scan: could not scan /nonexistent/no-such-server');
  });

  it('--upstream scans a running Streamable HTTP server', async () => {
    const fixture = await startHttpFixture();
    try {
      const r = await tollgateAsync(['--json', '--upstream', fixture.url]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as {
        tools: Array<{ name: string; classification: { category: string } }>;
      };
      expect(out.tools.map((t) => [t.name, t.classification.category])).toEqual([
        ['get_weather', 'Read'],
        ['run_query', 'Execute'],
      ]);
    } finally {
      await fixture.close();
    }
    expect(tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '--', 'x']).code).toBe(2);
  });
});
