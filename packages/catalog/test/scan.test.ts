// Live scans with the SDK Client against real MCP servers from npm: the catalogued entries are
// reproducible (same tools, same inputSchema), pagination is followed, a silent server times out, and
// no process of the server's (grandchildren of a wrapper such as `npx` included) outlives the scan.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import {
  checkScannedTools,
  classifyTool,
  defaultCatalogDir,
  draftFromScan,
  launchOptions,
  loadCatalogFile,
  packageFromCommand,
  ScanError,
  ScanTimeoutError,
  scanServer,
  starterPolicy,
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
    // As the snapshots were taken: a client that declares no capabilities.
    const result = await scanServer({
      ...launchOptions(entry.launch!, dir, scratch),
      timeoutMs: 20_000,
      clientCapabilities: false,
    });
    expect(result.serverInfo.name).toBe(entry.source?.serverInfo?.name);
    expect(result.tools.map((t) => t.name)).toEqual(entry.tools.map((t) => t.name));
    // A scan as agents' clients connect (roots, sampling, elicitation declared) lists what the
    // server offers them only: server-everything's three tools that use those capabilities.
    const asClients = await scanServer({ ...launchOptions(entry.launch!, dir, scratch), timeoutMs: 20_000 });
    const catalogued = new Set(entry.tools.map((t) => t.name));
    expect(asClients.tools.filter((t) => !catalogued.has(t.name)).map((t) => t.name)).toEqual(
      id === 'everything'
        ? ['get-roots-list', 'trigger-elicitation-request', 'trigger-sampling-request']
        : [],
    );
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

describe('scan failures are one precise line', () => {
  const oddServer = join(here, 'fixtures', 'odd-server.mjs');

  it('garbage on stdout, then a timeout: counts the lines that are not JSON-RPC and quotes the first', async () => {
    const err = await scanServer({
      command: process.execPath,
      args: [
        '-e',
        `console.log('Starting server on port 3000 ${'x'.repeat(80)}'); console.log('ready'); setInterval(() => {}, 1000)`,
      ],
      timeoutMs: 1_500,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanTimeoutError);
    const message = (err as Error).message;
    expect(message).toMatch(
      /^scan timed out after 1\.5 s; the server printed 2 lines on stdout that are not JSON-RPC \(first: "Starting server on port 3000 x+…"\)/,
    );
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(300);
  });

  it('a server that exits at once: its exit code, not "Connection closed"', async () => {
    const err = await scanServer({
      command: process.execPath,
      args: ['-e', 'process.exit(3)'],
      timeoutMs: 20_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanError);
    expect((err as Error).message).toBe('server exited with code 3 before answering initialize');
  });

  it('an initialize answer its schema refuses: one line naming the fields, not a zod issue dump', async () => {
    const err = await scanServer({
      command: process.execPath,
      args: [
        '-e',
        `process.stdin.once('data', () => process.stdout.write('{"jsonrpc":"2.0","id":0,"result":{}}\\n')); setTimeout(() => {}, 30000);`,
      ],
      timeoutMs: 20_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanError);
    expect((err as Error).message).toMatch(
      /^the server's initialize answer does not follow the MCP schema: protocolVersion: [^;]+; capabilities: [^;]+; serverInfo: [^;]+; MCP clients reject it$/,
    );
  });

  it('an answer that is not valid JSON-RPC fails the scan at once, saying why, not at the deadline', async () => {
    const answering = (answer: string) =>
      scanServer({
        command: process.execPath,
        args: [
          '-e',
          `require('readline').createInterface({ input: process.stdin }).on('line', (l) => { const m = JSON.parse(l); if (m.method === 'initialize') process.stdout.write(${JSON.stringify(answer)}.replace('ID', m.id) + '\\n'); }); setTimeout(() => {}, 60000);`,
        ],
        timeoutMs: 30_000,
      }).catch((e: unknown) => e);
    const started = Date.now();
    const err = await answering('{"jsonrpc":"2.0","id":ID,"result":null}');
    expect(err).toBeInstanceOf(ScanError);
    expect((err as Error).message).toBe(
      `the server's initialize answer is not a valid JSON-RPC response: its result is null, not an object ("{\\"jsonrpc\\":\\"2.0\\",\\"id\\":0,\\"result\\":null}")`,
    );
    // Well before the 30 s deadline it used to wait for.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(
      ((await answering('{"jsonrpc":"2.0","id":ID,"result":{},"error":{"code":1,"message":"x"}}')) as Error)
        .message,
    ).toContain('it has both result and error');
  });

  it('an answer line over 10 MiB fails the scan at once, saying so, not at the deadline', async () => {
    // 11 MiB written in 64 KiB pieces, as a server streams a large result.
    const server = `require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
      const m = JSON.parse(l);
      if (m.method !== 'initialize') return;
      const piece = 'x'.repeat(65536);
      process.stdout.write('{"jsonrpc":"2.0","id":' + m.id + ',"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"');
      for (let i = 0; i < 176; i++) process.stdout.write(piece);
      process.stdout.write('","version":"1"}}}\\n');
    }); setTimeout(() => {}, 60000);`;
    const started = Date.now();
    const err = await scanServer({
      command: process.execPath,
      args: ['-e', server],
      timeoutMs: 40_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanError);
    expect((err as Error).message).toBe(
      "the server wrote a stdout line over 10 MiB during initialize: the MCP SDK's stdio client refuses a message that long, so the answer cannot be read",
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  it('a tool without inputSchema: one line naming the tool, not a zod issue dump', async () => {
    const err = await scanServer({
      command: process.execPath,
      args: [oddServer, 'no-schema'],
      timeoutMs: 60_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanError);
    expect((err as Error).message).toBe(
      `the server's tools/list answer does not follow the MCP schema: tool "purge_notes" (tools[1]) has no inputSchema; MCP clients reject such a list`,
    );
  }, 90_000);

  it('a URL that is not an MCP endpoint: the HTTP status, not the HTML body', async () => {
    const http = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html>\n<html>\n<body>\n<h1>Not Found</h1>\n</body>\n</html>\n');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    try {
      const err = await scanServer({
        command: '',
        url: `http://127.0.0.1:${port}/wrong`,
        timeoutMs: 10_000,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScanError);
      expect((err as Error).message).toBe(
        "the URL answered HTTP 404 Not Found to initialize; is it the server's MCP endpoint (often ending in /mcp)?",
      );
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('a tools/list answer with several schema problems names them all, in one line', async () => {
    await expect(scanServer({ command: process.execPath, args: [oddServer, 'bad-schemas'] })).rejects.toThrow(
      /does not follow the MCP schema: tool "purge_notes" \(tools\[0\]\) has no inputSchema; tool "odd_notes" \(tools\[1\]\) inputSchema: [^;]+; tools\[2\] name: [^;]+; MCP clients reject such a list$/,
    );
  });

  it('pagination that never ends, or runs past the page cap, is a failure, not a quietly short list', async () => {
    await expect(scanServer({ command: process.execPath, args: [oddServer, 'loop'] })).rejects.toThrow(
      `the server's tools/list pagination does not end: page 2 gave the cursor "again" again`,
    );
    await expect(
      scanServer({ command: process.execPath, args: [oddServer, 'pages'], maxPages: 3 }),
    ).rejects.toThrow(
      `the server's tools/list has more than 3 pages (3 tools so far); stopped rather than scan part of it`,
    );
    const all = await scanServer({ command: process.execPath, args: [oddServer, 'pages'] });
    expect([all.pages, all.tools.map((t) => t.name)]).toEqual([
      5,
      ['tool0', 'tool1', 'tool2', 'tool3', 'tool4'],
    ]);
  });

  it('nothing listening: the connection error code, not a bare "fetch failed"', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await scanServer({
      command: '',
      url: `http://127.0.0.1:${port}/mcp`,
      timeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanError);
    expect((err as Error).message).toBe(`cannot connect: connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});

describe('from a live scan to a server entry', () => {
  const tool = (name: string, description = 'Reads a note.') => ({
    name,
    description,
    inputSchema: { type: 'object', properties: { id: { type: 'string' } } },
  });

  it('takes the package only from an npx command', () => {
    expect(packageFromCommand(['npx', '-y', '@modelcontextprotocol/server-memory@2026.8.31'])).toEqual({
      registry: 'npm',
      name: '@modelcontextprotocol/server-memory',
      version: '2026.8.31',
    });
    expect(packageFromCommand(['/usr/bin/npx', '--yes', 'mcp-server-time', '--flag'])).toEqual({
      registry: 'npm',
      name: 'mcp-server-time',
    });
    expect(packageFromCommand(['npx', '-y', '--package=@acme/mcp@1.2.3', 'acme-mcp', 'dir'])).toEqual({
      registry: 'npm',
      name: '@acme/mcp',
      version: '1.2.3',
    });
    // A tag or range is not a version.
    expect(packageFromCommand(['npx', '-y', 'foo@latest'])).toEqual({ registry: 'npm', name: 'foo' });
    expect(packageFromCommand(['node', 'dist/index.js'])).toBeUndefined();
    expect(packageFromCommand(['npx', './local/server.js'])).toBeUndefined();
  });

  it('never invents an npm package from serverInfo', () => {
    const scan = { serverInfo: { name: 'memory-server', version: '0.6.3' }, tools: [tool('read_graph')] };
    expect(draftFromScan(scan, { command: ['node', 'dist/index.js'] }).server.package).toBeUndefined();
    expect(draftFromScan(scan).server.package).toBeUndefined();
    const policy = starterPolicy(draftFromScan(scan).server);
    expect(policy.yaml.split('\n')[0]).toBe('# Tollgate starter policy for memory-server.');
    expect(
      draftFromScan(scan, { command: ['npx', '-y', '@modelcontextprotocol/server-memory@2026.8.31'] }).server
        .package,
    ).toEqual({ registry: 'npm', name: '@modelcontextprotocol/server-memory', version: '2026.8.31' });
  });

  it('recognises a catalogued server by serverInfo name and applies its curated category overrides', () => {
    const filesystem = loadCatalogFile(join(defaultCatalogDir(), 'filesystem.yaml'));
    const curated = filesystem.tools.filter((t) => t.category).map((t) => t.name);
    expect(curated).toContain('write_file');
    const scan = {
      serverInfo: { name: 'secure-filesystem-server', version: '0.2.0' },
      tools: filesystem.tools.map((t) => ({
        name: t.name,
        description: 'Writes a file.',
        inputSchema: t.inputSchema,
        ...(t.annotations ? { annotations: t.annotations } : {}),
      })),
    };
    const draft = draftFromScan(scan, { command: ['node', 'dist/index.js'], catalog: [filesystem] });
    expect(draft.recognised?.entry.id).toBe('filesystem');
    expect(draft.recognised?.overridden).toEqual(curated);
    expect(draft.recognised?.withheld).toEqual([]);
    expect(draft.recognised?.versionDiffers).toBeUndefined();
    expect(draft.server.id).toBe('filesystem');
    expect(draft.server.tools.find((t) => t.name === 'write_file')?.category?.value).toBe('Destructive');
    // Another server of the same tool names is not the catalogued one.
    const other = draftFromScan({ ...scan, serverInfo: { name: 'my-fs' } }, { catalog: [filesystem] });
    expect(other.recognised).toBeUndefined();
  });

  it('gives servers whose names differ only outside ASCII ids of their own (rule names end with the id)', () => {
    const id = (name: string) => draftFromScan({ serverInfo: { name }, tools: [] }).server.id;
    expect(id('Memory Server')).toBe('memory-server');
    expect(id('工具服务器')).toBe('server-3b457c');
    expect(id('数据服务器')).toMatch(/^server-[0-9a-f]{6}$/);
    expect(id('工具服务器')).not.toBe(id('数据服务器'));
    expect(id('工具服务器')).toBe(id('工具服务器'));
    expect(id('db 工具')).toMatch(/^db-[0-9a-f]{6}$/);
    // A name of any length gives an id of at most 64 characters, still one of its own.
    const long = id('n'.repeat(5000));
    expect(long).toMatch(/^n{57}-[0-9a-f]{6}$/);
    expect(id(`${'n'.repeat(4999)}m`)).not.toBe(long);
    expect(id('n'.repeat(64))).toBe('n'.repeat(64));
  });

  it('withholds a curated category from a live tool whose inputSchema or annotations differ from the catalogued one', () => {
    const everything = loadCatalogFile(join(defaultCatalogDir(), 'everything.yaml'));
    const slow = everything.tools.find((t) => t.name === 'trigger-long-running-operation')!;
    expect(slow.category?.value).toBe('Read');
    // A server that borrows the catalogued serverInfo name and tool name for another tool.
    const scan = {
      serverInfo: { name: everything.source!.serverInfo!.name, version: '9.9.9' },
      tools: [
        {
          name: slow.name,
          description: 'Deletes every file in the home directory permanently.',
          inputSchema: slow.inputSchema,
          annotations: { ...slow.annotations, destructiveHint: true },
        },
      ],
    };
    const draft = draftFromScan(scan, { catalog: [everything] });
    expect(draft.recognised).toMatchObject({
      overridden: [],
      withheld: [slow.name],
      versionDiffers: '9.9.9',
    });
    expect(draft.server.tools[0]!.category).toBeUndefined();
    expect(classifyTool(draft.server.tools[0]!).category).toBe('Destructive');
    // Another inputSchema withholds it too.
    const schema = { type: 'object', properties: { path: { type: 'string' } } };
    const other = draftFromScan(
      { ...scan, tools: [{ ...scan.tools[0]!, annotations: slow.annotations, inputSchema: schema }] },
      { catalog: [everything] },
    );
    expect(other.recognised?.withheld).toEqual([slow.name]);
  });

  it('keeps a curated category at least as severe as the live tool when only its annotations differ', () => {
    // server-filesystem 2025.12.18 lists write_file as catalogued but without openWorldHint.
    const filesystem = loadCatalogFile(join(defaultCatalogDir(), 'filesystem.yaml'));
    const write = filesystem.tools.find((t) => t.name === 'write_file')!;
    expect(write.category?.value).toBe('Destructive');
    const { openWorldHint: _dropped, ...hints } = write.annotations!;
    const scan = {
      serverInfo: { name: filesystem.source!.serverInfo!.name, version: '0.2.0' },
      tools: [
        {
          name: write.name,
          description: write.description,
          inputSchema: write.inputSchema,
          annotations: hints,
        },
      ],
    };
    expect(classifyTool({ ...scan.tools[0]! }).category).not.toBe('Destructive');
    const draft = draftFromScan(scan, { catalog: [filesystem] });
    expect(draft.recognised).toMatchObject({ overridden: ['write_file'], withheld: [] });
    expect(draft.server.tools[0]!.category?.value).toBe('Destructive');
  });

  it("carries the catalogue's secrets note to a live tool of the same name, whatever its listing", () => {
    const everything = loadCatalogFile(join(defaultCatalogDir(), 'everything.yaml'));
    const env = everything.tools.find((t) => t.name === 'get-env')!;
    expect(env.secrets?.reason).toMatch(/environment variable/);
    const draft = draftFromScan(
      {
        serverInfo: { name: everything.source!.serverInfo!.name },
        tools: [
          {
            name: 'get-env',
            description: 'Helpful for debugging.',
            inputSchema: { type: 'object', properties: { x: {} } },
          },
          { name: 'echo', description: 'Echoes.', inputSchema: { type: 'object' } },
        ],
      },
      { catalog: [everything] },
    );
    expect(draft.recognised?.secrets).toEqual(['get-env']);
    expect(draft.server.tools.find((t) => t.name === 'get-env')!.secrets).toEqual(env.secrets);
    expect(draft.server.tools.find((t) => t.name === 'echo')!.secrets).toBeUndefined();
    const policy = starterPolicy(draft.server);
    expect(policy.document.tools?.['get-env']?.rules?.[0]).toMatchObject({ action: 'deny' });
  });

  it('never classifies a tool of a recognised server less severe than the catalogue does', () => {
    // The catalogue classifies its own descriptions; a server's description can understate a tool
    // (git_branch lists, creates, renames and deletes branches).
    const git = loadCatalogFile(join(defaultCatalogDir(), 'git.yaml'));
    const branch = git.tools.find((t) => t.name === 'git_branch')!;
    const status = git.tools.find((t) => t.name === 'git_status')!;
    expect(branch.category).toBeUndefined();
    expect(classifyTool(branch).category).toBe('Destructive');
    const live = (t: typeof branch, description: string, inputSchema = t.inputSchema) => ({
      name: t.name,
      description,
      inputSchema,
      ...(t.annotations ? { annotations: t.annotations } : {}),
    });
    const scan = {
      serverInfo: { name: git.source!.serverInfo!.name, version: git.source!.serverInfo!.version },
      tools: [
        live(branch, 'Manages branches in the repository.'),
        // A new release's inputSchema does not lower it either.
        {
          ...live(branch, 'Manages branches.', { type: 'object', properties: { mode: { type: 'string' } } }),
          name: 'git_branch',
        },
        live(status, 'Shows the working tree status.'),
      ],
    };
    expect(classifyTool(scan.tools[0]!).category).toBe('Write');
    const draft = draftFromScan({ ...scan, tools: [scan.tools[0]!, scan.tools[2]!] }, { catalog: [git] });
    expect(draft.recognised?.raised).toEqual(['git_branch']);
    expect(draft.recognised?.overridden).not.toContain('git_branch');
    const raised = draft.server.tools.find((t) => t.name === 'git_branch')!;
    expect(raised.category).toEqual({
      value: 'Destructive',
      reason:
        "as catalogued: catalogue entry git classifies this tool Destructive from its description; the server's own listing reads as Write",
    });
    expect(draft.server.tools.find((t) => t.name === 'git_status')!.category).toBeUndefined();
    // The generated policy says where the category came from, not "manual override".
    const yaml = starterPolicy(draft.server).yaml;
    expect(yaml).toContain(
      "  # as catalogued: catalogue entry git classifies this tool Destructive from its description; the server's own listing reads as Write\n  git_branch:",
    );
    expect(yaml).not.toContain('manual override: as catalogued');
    const newer = draftFromScan({ ...scan, tools: [scan.tools[1]!] }, { catalog: [git] });
    expect(newer.recognised?.raised).toEqual(['git_branch']);
    // A curated override withheld (another inputSchema: a release that added a parameter, say)
    // still serves as a floor: raising is only ever stricter.
    const filesystem = loadCatalogFile(join(defaultCatalogDir(), 'filesystem.yaml'));
    const write = filesystem.tools.find((t) => t.name === 'write_file')!;
    const { category: _override, ...described } = write;
    expect(write.category?.value).toBe('Destructive');
    expect(classifyTool(described).category).not.toBe('Destructive');
    const changed = draftFromScan(
      {
        serverInfo: { name: filesystem.source!.serverInfo!.name },
        tools: [live(write, 'Writes a file.', { type: 'object', properties: { path: { type: 'string' } } })],
      },
      { catalog: [filesystem] },
    );
    expect(changed.recognised).toMatchObject({ withheld: [], raised: ['write_file'] });
    expect(changed.server.tools[0]!.category).toEqual({
      value: 'Destructive',
      reason:
        "as catalogued: catalogue entry filesystem gives this tool the curated category Destructive (its listing differs from the catalogued one); the server's own listing reads as Write",
    });
    // A live tool the classifier reads as more severe than the catalogue keeps its own category.
    const grim = draftFromScan(
      { ...scan, tools: [live(status, 'Permanently deletes every file in the repository.')] },
      { catalog: [git] },
    );
    expect(grim.recognised?.raised).toEqual([]);
    expect(classifyTool(grim.server.tools[0]!).category).toBe('Destructive');
  });

  it('reads the required list of an inputSchema as a set when matching a live tool to the catalogued one', () => {
    const filesystem = loadCatalogFile(join(defaultCatalogDir(), 'filesystem.yaml'));
    const write = filesystem.tools.find((t) => t.name === 'write_file')!;
    const required = write.inputSchema.required as string[];
    expect(required.length).toBeGreaterThan(1);
    const scan = {
      serverInfo: { name: filesystem.source!.serverInfo!.name },
      tools: [
        {
          name: write.name,
          inputSchema: { ...write.inputSchema, required: [...required].reverse() },
          ...(write.annotations ? { annotations: write.annotations } : {}),
        },
      ],
    };
    const draft = draftFromScan(scan, { catalog: [filesystem] });
    expect(draft.recognised).toMatchObject({ overridden: ['write_file'], withheld: [] });
  });

  it('warns about tool names outside the MCP rules and listed twice, keeping the first listing', () => {
    const checked = checkScannedTools([
      tool('read_notes'),
      tool('*'),
      tool('bad name'),
      tool('read_notes', 'Deletes every note.'),
      tool('x'.repeat(129)),
    ]);
    expect(checked.tools.map((t) => t.name)).toEqual(['read_notes', '*', 'bad name', 'x'.repeat(129)]);
    expect(checked.tools[0]!.description).toBe('Reads a note.');
    expect(checked.warnings).toEqual([
      'tool "read_notes" is listed 2 times (MCP tool names are unique within a server); only the first listing is used',
      'tool name "*" is outside the MCP tool-name rules (1-128 characters of A-Z a-z 0-9 _ - .): it contains "*"',
      'tool name "bad name" is outside the MCP tool-name rules (1-128 characters of A-Z a-z 0-9 _ - .): it contains " "',
      `tool name "${'x'.repeat(59)}…" is outside the MCP tool-name rules (1-128 characters of A-Z a-z 0-9 _ - .): it is 129 characters long`,
    ]);
  });

  it('a starter policy keys every tool alone, escaping glob characters, never as a wildcard or glob', () => {
    const names = [
      'read_notes',
      '*',
      'delete_*',
      'a?b',
      '[x]',
      '!x',
      'x(y)',
      '{a,b}',
      '__proto__',
      'user/profile',
    ];
    const policy = starterPolicy({
      id: 'odd',
      name: 'odd',
      tools: names.map((n) => ({ ...tool(n, 'Deletes every note.'), inputSchema: { type: 'object' } })),
    });
    const loaded = loadPolicy(policy.yaml, { filename: 'odd.yaml' });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.policy.wildcard).toBeUndefined();
    expect(loaded.policy.globs).toEqual([]);
    // Every tool is keyed alone: glob characters escaped, each key naming exactly its tool.
    expect([...loaded.policy.exact.keys()].sort()).toEqual([...names].sort());
    expect(Object.keys(policy.document.tools ?? {}).sort()).toEqual(
      [
        'read_notes',
        '\\*',
        'delete_\\*',
        'a\\?b',
        '\\[x\\]',
        '\\!x',
        'x\\(y\\)',
        '\\{a,b\\}',
        '__proto__',
        'user/profile',
      ].sort(),
    );
    // A tool named like a glob never gets another tool's rules.
    expect(loaded.policy.rulesFor('delete_everything')).toEqual([]);
    expect(loaded.policy.rulesFor('ab')).toEqual([]);
    expect(loaded.policy.rulesFor('a')).toEqual([]);
    expect(loaded.policy.rulesFor('a?b').length).toBe(1);
    expect(policy.skipped).toBeUndefined();
    expect(policy.escaped?.find((e) => e.name === '*')).toEqual({ name: '*', key: '\\*' });
    // Only a name no key can stand for is left out.
    const blank = starterPolicy({
      id: 'odd',
      name: 'odd',
      tools: [{ ...tool(' ', 'Lists.'), inputSchema: { type: 'object' } }],
    });
    expect(blank.skipped).toEqual([{ name: ' ', reason: 'a blank name cannot be a policy key' }]);
  });
});
