// Live scans with the SDK Client against real MCP servers from npm: the catalogued entries are
// reproducible (same tools, same inputSchema), pagination is followed, a silent server times out, and
// no process of the server's (grandchildren of a wrapper such as `npx` included) outlives the scan.
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  defaultCatalogDir,
  launchOptions,
  loadCatalogFile,
  ScanTimeoutError,
  scanServer,
} from '../src/index.js';
import { startHttpFixture } from './fixtures/http-server.js';
import { goneWithin, pidIn } from './fixtures/process-gone.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * Drops `additionalProperties: false`. The memory server's schemas come from zod through the SDK,
 * and whether they carry `additionalProperties: false` depends on which zod the SDK resolves
 * (pnpm gives it zod 4 here; the snapshot's npm install did not). Same package version, same
 * properties, types and required lists: only that keyword differs.
 */
function withoutClosedObjects(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutClosedObjects);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      if (!(k === 'additionalProperties' && v === false)) out[k] = withoutClosedObjects(v);
    return out;
  }
  return value;
}

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

describe.each(['memory', 'everything'])('catalogue entry %s is reproducible', (id) => {
  it('scanning the installed package at the catalogued version yields the same tools', async () => {
    const entry = loadCatalogFile(join(defaultCatalogDir(), `${id}.yaml`));
    const dir = packageDir(entry.package.name);
    const installed = require(join(dir, 'package.json')) as { version: string };
    expect(installed.version).toBe(entry.package.version);
    const scratch = mkdtempSync(join(tmpdir(), `tollgate-scan-${id}-`));
    const result = await scanServer({ ...launchOptions(entry.launch!, dir, scratch), timeoutMs: 20_000 });
    expect(result.serverInfo.name).toBe(entry.source?.serverInfo?.name);
    expect(result.tools.map((t) => t.name)).toEqual(entry.tools.map((t) => t.name));
    for (const tool of result.tools) {
      const mine = entry.tools.find((t) => t.name === tool.name)!;
      if (id === 'everything') expect(tool.inputSchema, tool.name).toEqual(mine.inputSchema);
      else
        expect(withoutClosedObjects(tool.inputSchema), tool.name).toEqual(
          withoutClosedObjects(mine.inputSchema),
        );
      if (mine.annotations) expect(tool.annotations, tool.name).toEqual(mine.annotations);
    }
  });
});

describe('scanServer', () => {
  it('follows nextCursor through every page', async () => {
    const result = await scanServer({
      command: process.execPath,
      args: [join(here, 'fixtures', 'paged-server.mjs'), '7', '3'],
      // Generous: starting a Node child that loads the SDK takes seconds on a loaded CI machine.
      timeoutMs: 60_000,
    });
    expect(result.pages).toBe(3);
    expect(result.tools.map((t) => t.name)).toEqual([
      'list_items_0',
      'delete_item_1',
      'list_items_2',
      'delete_item_3',
      'list_items_4',
      'delete_item_5',
      'list_items_6',
    ]);
    expect(result.serverInfo).toEqual({ name: 'paged-fixture', version: '1.0.0' });
  }, 90_000);

  it('fails cleanly with ScanTimeoutError when the server never answers', async () => {
    const started = Date.now();
    const err = await scanServer({
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      timeoutMs: 800,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanTimeoutError);
    expect((err as Error).message).toBe('scan timed out after 0.8 s');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.skipIf(process.platform === 'win32')(
    'on timeout, ends the whole process group promptly, grandchildren included',
    async () => {
      const pidFile = join(mkdtempSync(join(tmpdir(), 'tollgate-scan-group-')), 'sleep.pid');
      const started = Date.now();
      // The shell stays (`wait`), and its `sleep` child holds the stdout pipe open.
      const err = await scanServer({
        command: 'sh',
        args: ['-c', `sleep 30 & echo $! > '${pidFile}'; wait`],
        timeoutMs: 1_000,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScanTimeoutError);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await goneWithin(await pidIn(pidFile), 500)).toBe(true);
    },
    20_000,
  );

  it.skipIf(process.platform === 'win32')(
    'after a successful scan, ends what the server left behind (a wrapper and its children)',
    async () => {
      const pidFile = join(mkdtempSync(join(tmpdir(), 'tollgate-scan-group-')), 'sleep.pid');
      const started = Date.now();
      // Like `npx`: a wrapper shell runs the real server, and also leaves a child of its own.
      const result = await scanServer({
        command: 'sh',
        args: [
          '-c',
          `sleep 30 & echo $! > '${pidFile}'; "$0" '${join(here, 'fixtures', 'paged-server.mjs')}' 2 5`,
          process.execPath,
        ],
        timeoutMs: 60_000,
      });
      expect(result.tools.map((t) => t.name)).toEqual(['list_items_0', 'delete_item_1']);
      expect(await goneWithin(await pidIn(pidFile), 500)).toBe(true);
      // Reading the tools takes a few seconds on a loaded machine; closing adds at most ~2 s.
      expect(Date.now() - started).toBeLessThan(30_000);
    },
    90_000,
  );

  it('reports a command that cannot start', async () => {
    await expect(
      scanServer({ command: '/nonexistent/tollgate-no-such-binary', timeoutMs: 5_000 }),
    ).rejects.toThrow();
  });

  it('scans a Streamable HTTP server given its URL', async () => {
    const fixture = await startHttpFixture();
    try {
      const result = await scanServer({ command: '', url: fixture.url, timeoutMs: 15_000 });
      expect(result.serverInfo).toEqual({ name: 'http-fixture', version: '2.0.0' });
      expect(result.tools.map((t) => t.name)).toEqual(['get_weather', 'run_query']);
    } finally {
      await fixture.close();
    }
  });
});
