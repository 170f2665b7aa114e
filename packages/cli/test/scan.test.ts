// `tollgate scan` end to end: a child process runs the CLI (from source) against real
// MCP servers from npm and a paginating SDK server fixture.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultCatalogDir, loadCatalogFile, parseCatalog } from '@tollgate/catalog';
import { loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { startHttpFixture } from '../../catalog/test/fixtures/http-server.js';
import { goneWithin, pidIn } from '../../catalog/test/fixtures/process-gone.js';
import { cliRoot, runCli, runCliAsync } from './from-source.js';
import { serverBin } from './servers.js';

const catalogRequire = createRequire(join(cliRoot, '..', 'catalog', 'package.json'));
const everything = join(
  dirname(catalogRequire.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist',
  'index.js',
);
const pagedFixture = join(cliRoot, '..', 'catalog', 'test', 'fixtures', 'paged-server.mjs');
const oddFixture = join(cliRoot, '..', 'catalog', 'test', 'fixtures', 'odd-server.mjs');
const memoryDir = dirname(catalogRequire.resolve('@modelcontextprotocol/server-memory/package.json'));
const filesystemEntry = serverBin('server-filesystem');

/**
 * A stand-in `npx` (first on no PATH: called by its full path) that runs the installed memory
 * server whatever its arguments, so `npx -y <pkg>@<version>` is scanned without the network.
 */
function fakeNpx(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollgate-npx-')), 'npx');
  writeFileSync(file, `#!/bin/sh\nexec '${process.execPath}' '${join(memoryDir, 'dist', 'index.js')}'\n`);
  chmodSync(file, 0o755);
  return file;
}

const tollgate = (args: string[]) => runCli(['scan', ...args]);

const tollgateAsync = (args: string[]) => runCliAsync(['scan', ...args]);

/**
 * server-everything's tools listed only to a client that declares roots, sampling and elicitation,
 * as `tollgate scan` does (agents' clients declare them); the catalogue's snapshot was taken
 * without them.
 */
const LISTED_TO_CAPABLE_CLIENTS = [
  'get-roots-list',
  'trigger-elicitation-request',
  'trigger-sampling-request',
];

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
      expect([...loaded.policy.exact.keys()].sort()).toEqual(
        [...catalogued.tools.map((t) => t.name), ...LISTED_TO_CAPABLE_CLIENTS].sort(),
      );
  });

  it("--json of a recognised server carries the catalogue's secrets note and the High risk it brings", () => {
    const r = tollgate(['--json', '--', process.execPath, everything, 'stdio']);
    expect(r.code).toBe(0);
    const tools = JSON.parse(r.stdout).tools as Array<{
      name: string;
      secrets?: { reason: string };
      classification: { risk: string };
    }>;
    const env = tools.find((t) => t.name === 'get-env')!;
    expect(env.classification.risk).toBe('High');
    expect(env.secrets?.reason).toMatch(/environment variable/);
    // Only the catalogued note: the other tools carry none.
    expect(tools.filter((t) => t.secrets).map((t) => t.name)).toEqual(['get-env']);
  });

  it('a draft entry of a recognised server records no raised category as a curated override', () => {
    // A server that calls itself git-mcp-server and lists git_branch with a description that
    // understates it: the scaffold denies it as the catalogue does, the draft entry keeps no
    // category for it (the raise is the classifier's answer, not a curated decision).
    const git = loadCatalogFile(join(defaultCatalogDir(), 'git.yaml'));
    const branch = git.tools.find((t) => t.name === 'git_branch')!;
    const tools = [{ name: branch.name, description: 'Manages branches.', inputSchema: branch.inputSchema }];
    const server = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
      rl.on('line', (l) => {
        const m = JSON.parse(l);
        if (m.method === 'initialize') out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: ${JSON.stringify(git.source!.serverInfo)} } });
        else if (m.method === 'tools/list') out({ jsonrpc: '2.0', id: m.id, result: { tools: ${JSON.stringify(tools)} } });
      });`;
    const scaffold = tollgate(['--', process.execPath, '-e', server]);
    expect(scaffold.code).toBe(0);
    expect(scaffold.stdout).toContain('name: "destructive: denied by default (git)"');
    const draft = tollgate(['--format', 'catalog', '--', process.execPath, '-e', server]);
    expect(draft.code).toBe(0);
    const entry = parseCatalog(`${draft.stdout}package: { registry: npm, name: x }\n`, 'scan.yaml');
    expect(entry.tools.map((t) => [t.name, t.category])).toEqual([['git_branch', undefined]]);
  });

  it('--format catalog prints a draft catalogue entry with the same tools as the catalogue, and no invented package', () => {
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
    expect(r.stdout).toContain('# Curated category overrides carried over from catalogue entry everything.');
    // `node dist/index.js` names no package: the draft says so instead of making one up.
    expect(r.stdout).toContain('# package: unknown (the command is not `npx <package>`)');
    expect(r.stdout).not.toMatch(/^package:/m);
    const entry = parseCatalog(`${r.stdout}package: { registry: npm, name: x }\n`, 'scan.yaml');
    const catalogued = loadCatalogFile(join(defaultCatalogDir(), 'everything.yaml'));
    expect(entry.id).toBe('everything');
    expect(
      entry.tools
        .filter((t) => !LISTED_TO_CAPABLE_CLIENTS.includes(t.name))
        .map((t) => [t.name, t.inputSchema, t.annotations]),
    ).toEqual(catalogued.tools.map((t) => [t.name, t.inputSchema, t.annotations]));
    expect(entry.tools.filter((t) => LISTED_TO_CAPABLE_CLIENTS.includes(t.name))).toHaveLength(3);
  });

  it.skipIf(process.platform === 'win32')(
    '--format catalog takes the package from `npx -y <pkg>@<version>`, not from serverInfo',
    () => {
      const npx = fakeNpx();
      const r = tollgate([
        '--format',
        'catalog',
        '--',
        npx,
        '-y',
        '@modelcontextprotocol/server-memory@2026.8.31',
      ]);
      expect(r.code).toBe(0);
      const entry = parseCatalog(r.stdout, 'scan.yaml');
      expect(entry.package).toEqual({
        registry: 'npm',
        name: '@modelcontextprotocol/server-memory',
        version: '2026.8.31',
      });
      expect(r.stdout).not.toContain('memory-server@0.6.3');
      // Recognised as the catalogue's memory entry, which has no curated category to carry over.
      expect(r.stderr).toContain('it has no curated category for these tools');
      expect(r.stdout).not.toContain('Curated category overrides carried over');
      const policy = tollgate(['--', npx, '-y', '@modelcontextprotocol/server-memory@2026.8.31']);
      expect(policy.stdout.split('\n')[0]).toBe(
        '# Tollgate starter policy for memory (@modelcontextprotocol/server-memory@2026.8.31).',
      );
      const plain = tollgate(['--', process.execPath, join(memoryDir, 'dist', 'index.js')]);
      expect(plain.stdout.split('\n')[0]).toBe('# Tollgate starter policy for memory.');
    },
  );

  it('a catalogued server is recognised and its curated categories apply (filesystem write_file: Destructive)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-scan-fs-'));
    const r = tollgate(['--', process.execPath, filesystemEntry, dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'tollgate scan: recognised catalogue entry filesystem (serverInfo name "secure-filesystem-server"',
    );
    expect(r.stderr).toContain('its curated categories apply to 1 tool (write_file)');
    expect(r.stderr).toContain(
      '`tollgate init --server filesystem` gives the starter policy from the catalogue',
    );
    const loaded = loadPolicy(r.stdout, { filename: 'scaffold.yaml' });
    expect(loaded.ok).toBe(true);
    if (loaded.ok) expect(loaded.policy.exact.get('write_file')!.rules[0]!.action).toBe('deny');
    const json = tollgate(['--json', '--', process.execPath, filesystemEntry, dir]);
    const out = JSON.parse(json.stdout) as {
      catalogEntry: string;
      tools: Array<{ name: string; classification: { category: string; overridden: boolean } }>;
    };
    expect(out.catalogEntry).toBe('filesystem');
    expect(out.tools.find((t) => t.name === 'write_file')!.classification).toMatchObject({
      category: 'Destructive',
      overridden: true,
    });
    // An empty catalogue recognises nothing: write_file is classified on the spot.
    const empty = mkdtempSync(join(tmpdir(), 'tollgate-scan-catalog-'));
    const bare = tollgate(['--catalog', empty, '--', process.execPath, filesystemEntry, dir]);
    expect(bare.stderr).not.toContain('recognised');
    const bareLoaded = loadPolicy(bare.stdout, { filename: 'bare.yaml' });
    if (bareLoaded.ok) expect(bareLoaded.policy.exact.get('write_file')!.rules[0]!.action).toBe('allow');
  });

  it('tool names: "*" and globs are keyed escaped (never a wildcard or glob), odd and repeated names are warned about', () => {
    const r = tollgate(['--', process.execPath, oddFixture, 'names']);
    expect(r.code).toBe(0);
    const loaded = loadPolicy(r.stdout, { filename: 'scaffold.yaml' });
    expect(loaded.ok).toBe(true);
    if (loaded.ok) {
      expect(loaded.policy.wildcard).toBeUndefined();
      expect(loaded.policy.globs).toEqual([]);
      // Each named tool has its own rule, under a key that names it alone.
      expect([...loaded.policy.exact.keys()].sort()).toEqual([
        '!x',
        '*',
        'bad name',
        'delete_*',
        'read_notes',
      ]);
      // The first listing of read_notes wins (a read), not the second (a delete).
      expect(loaded.policy.exact.get('read_notes')!.rules[0]!.action).toBe('allow');
      // "*" (deletes every note) got a Destructive rule of its own; it does not apply to others.
      expect(loaded.policy.exact.get('*')!.rules[0]!.action).not.toBe('allow');
      expect(loaded.policy.rulesFor('delete_all').length).toBe(0);
    }
    expect(r.stdout).toMatch(/^ {2}\\\*:$/m);
    expect(r.stdout).toMatch(/^ {2}delete_\\\*:$/m);
    expect(r.stderr).toContain(
      'tollgate scan: note: tool "delete_*" is keyed `delete_\\*` in the policy: a \\ makes the next character plain text, so the key names this tool alone, not a glob',
    );
    expect(r.stderr).toContain(
      'tollgate scan: warning: tool " " left out of the scaffold, so default: allow lets it run without rules (a blank name cannot be a policy key)',
    );
    expect(r.stderr).toContain(
      'tollgate scan: warning: tool "read_notes" is listed 2 times (MCP tool names are unique within a server); only the first listing is used',
    );
    expect(r.stderr).toContain(
      'tollgate scan: warning: tool name "bad name" is outside the MCP tool-name rules (1-128 characters of A-Z a-z 0-9 _ - .): it contains " "',
    );
    expect(r.stderr).not.toContain('tool "*" left out');
    expect(r.stderr).toContain('tollgate scan: note: tool "!x" is keyed `\\!x` in the policy');
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
    // Past a Node timer's range (about 24.8 days) a timeout would fire at once: refused.
    const long = tollgate(['--timeout', '86401', '--', 'x']);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('expected at most 86400 seconds (one day)');
    // Decimal only: Number() would read these as 16, 1000 and 5.
    for (const v of ['0x10', '1e3', '+5']) {
      const odd = tollgate(['--timeout', v, '--', 'x']);
      expect(odd.code, v).toBe(2);
      expect(odd.stderr, v).toContain('expected a number of seconds greater than 0, in decimal');
    }
    expect(tollgate(['--format', 'xml', '--', 'x']).code).toBe(2);
    const empty = tollgate(['--', '']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('the server command after -- is empty (an unset variable?)');
    const id = tollgate(['--format', 'catalog', '--id', 'My Server', '--', 'x']);
    expect(id.code).toBe(2);
    expect(id.stderr).toBe(
      'tollgate scan: --id "My Server" is not a catalogue id: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit\n',
    );
    const both = tollgate(['--json', '--format', 'catalog', '--', 'x']);
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stdout)).toEqual({
      ok: false,
      errors: [{ code: 'usage', message: 'give either --json or --format catalog, not both' }],
      warnings: [],
    });
  });

  it('scan failures are one line with --json too: exit code, non-JSON-RPC output, a tool without inputSchema', () => {
    const exited = tollgate(['--json', '--', process.execPath, '-e', 'process.exit(3)']);
    expect(exited.code).toBe(2);
    expect(JSON.parse(exited.stdout).errors).toEqual([
      {
        code: 'scan-failed',
        message: `could not scan ${process.execPath} -e process.exit(3): server exited with code 3 before answering initialize`,
      },
    ]);
    const chatty = tollgate([
      '--json',
      '--timeout',
      '2',
      '--',
      process.execPath,
      '-e',
      "console.log('listening on 3000'); setInterval(() => {}, 1000)",
    ]);
    expect(chatty.code).toBe(2);
    const [timeout] = JSON.parse(chatty.stdout).errors;
    expect(timeout.code).toBe('scan-timeout');
    expect(timeout.message).toMatch(
      /^scan timed out after 2 s; the server printed 1 line on stdout that is not JSON-RPC \(first: "listening on 3000"\)/,
    );
    const noSchema = tollgate(['--', process.execPath, oddFixture, 'no-schema']);
    expect(noSchema.code).toBe(2);
    expect(noSchema.stderr).toBe(
      `tollgate scan: could not scan ${process.execPath} ${oddFixture} no-schema: the server's tools/list answer does not follow the MCP schema: tool "purge_notes" (tools[1]) has no inputSchema; MCP clients reject such a list\n`,
    );
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

  it('--header authenticates a scan (and init) of an upstream; without it the 401 is reported', async () => {
    const fixture = await startHttpFixture({ token: 'T0KEN-SECRET' });
    try {
      const refused = await tollgateAsync(['--upstream', fixture.url]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('401');
      const ok = await tollgateAsync([
        '--json',
        '--upstream',
        fixture.url,
        '-H',
        'Authorization: Bearer T0KEN-SECRET',
      ]);
      expect(ok.code).toBe(0);
      expect((JSON.parse(ok.stdout) as { tools: unknown[] }).tools).toHaveLength(2);
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-upstream-'));
      const init = await runCliAsync([
        'init',
        '--upstream',
        fixture.url,
        '-H',
        'Authorization: Bearer T0KEN-SECRET',
        '-o',
        join(dir, 'p.yaml'),
      ]);
      expect(init.code).toBe(0);
      const policy = readFileSync(join(dir, 'p.yaml'), 'utf8');
      expect(policy).toContain(
        `# Generated from a live scan of ${fixture.url}; tools classified on the spot.`,
      );
      expect(policy).not.toContain('T0KEN-SECRET');
      expect(loadPolicy(policy).ok).toBe(true);
    } finally {
      await fixture.close();
    }
    // From a file (-H @FILE, as curl reads it): the token stays out of the command line.
    const headerDir = mkdtempSync(join(tmpdir(), 'tollgate-header-file-'));
    const headerFile = join(headerDir, 'upstream.headers');
    writeFileSync(
      headerFile,
      '# the upstream token\r\nAuthorization: Bearer T0KEN-SECRET\r\n\nX-Team: core\n',
    );
    const fixtureAgain = await startHttpFixture({ token: 'T0KEN-SECRET' });
    try {
      const fromFile = await tollgateAsync([
        '--json',
        '--upstream',
        fixtureAgain.url,
        '-H',
        `@${headerFile}`,
      ]);
      expect(fromFile.stderr).toBe('');
      expect(fromFile.code).toBe(0);
      expect((JSON.parse(fromFile.stdout) as { tools: unknown[] }).tools).toHaveLength(2);
    } finally {
      await fixtureAgain.close();
    }
    const missing = tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '-H', `@${join(headerDir, 'nope')}`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`cannot read header file ${join(headerDir, 'nope')}: ENOENT`);
    writeFileSync(join(headerDir, 'empty'), '# nothing\n\n');
    expect(
      tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '-H', `@${join(headerDir, 'empty')}`]).stderr,
    ).toContain('holds no "Name: value" line');
    // A bad line is named by its file and line number, its value not shown.
    writeFileSync(join(headerDir, 'bad'), '# token\nX-Team: core\nAuthorization Bearer S3CRET\n');
    const bad = tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '-H', `@${join(headerDir, 'bad')}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      `header file ${join(headerDir, 'bad')}, line 3: --header starting "Authorization" is not "Name: value" (the rest is not shown)`,
    );
    expect(bad.stderr).not.toContain('S3CRET');
    // Usage errors, before anything is started.
    expect(tollgate(['-H', 'Authorization: Bearer x', '--', 'node', 'x.js']).stderr).toBe(
      'tollgate scan: --header only applies to --upstream\n',
    );
    expect(tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '-H', 'Authorization: Bearer ']).stderr).toBe(
      'tollgate scan: --header Authorization: "Bearer" with no credentials after it (an unset variable?); give them, or leave out the header\n',
    );
    expect(runCli(['init', '--server', 'memory', '--upstream', 'http://127.0.0.1:9/mcp']).stderr).toBe(
      'tollgate init: give one of --server, --upstream or a command after --, not two\n',
    );
  });

  it('keeps a key in the upstream URL or on the command line out of the scaffold and the draft entry', async () => {
    const fixture = await startHttpFixture();
    try {
      const url = `${fixture.url}?api_key=SECRET-URL-KEY`;
      const scaffold = await tollgateAsync(['--upstream', url]);
      expect(scaffold.code).toBe(0);
      expect(scaffold.stdout).toContain(`# Scaffold from a live scan of: ${fixture.url}?api_key=***\n`);
      const entry = await tollgateAsync(['--format', 'catalog', '--upstream', url]);
      expect(entry.stdout).toContain(
        `# Draft catalogue entry from a live scan of: ${fixture.url}?api_key=***\n`,
      );
      expect(scaffold.stdout + scaffold.stderr + entry.stdout + entry.stderr).not.toContain('SECRET-URL-KEY');
    } finally {
      await fixture.close();
    }
    const local = tollgate(['--', 'env', 'API_KEY=SECRET-ENV-KEY', process.execPath, pagedFixture]);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain(
      `# Scaffold from a live scan of: env API_KEY=*** ${process.execPath} ${pagedFixture}\n`,
    );
    expect(local.stdout).not.toContain('SECRET-ENV-KEY');
  });

  it('--upstream failures: the HTTP status of a wrong path, the error code when nothing listens', async () => {
    const fixture = await startHttpFixture();
    const wrong = fixture.url.replace(/\/mcp$/, '/nothing-here');
    await fixture.close();
    // Closed: nothing listens on that port any more.
    const refused = await tollgateAsync(['--json', '--upstream', wrong]);
    expect(refused.code).toBe(2);
    const port = new URL(wrong).port;
    expect(JSON.parse(refused.stdout).errors).toEqual([
      {
        code: 'scan-failed',
        message: `could not scan ${wrong}: cannot connect: connect ECONNREFUSED 127.0.0.1:${port}`,
      },
    ]);
    const { createServer } = await import('node:http');
    const http = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html>\n<html><body><h1>404</h1>\n</body></html>\n');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/wrong`;
    try {
      const r = await tollgateAsync(['--upstream', url]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `tollgate scan: could not scan ${url}: the URL answered HTTP 404 Not Found to initialize; is it the server's MCP endpoint (often ending in /mcp)?\n`,
      );
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
