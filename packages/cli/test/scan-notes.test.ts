import { join } from 'node:path';
import { defaultCatalogDir, loadCatalogFile } from '@tollgate/catalog';
import { describe, expect, it } from 'vitest';
import { catalogForScan, recognitionNote, shownTarget, skippedNote } from '../src/commands/scan-notes.js';

describe('skippedNote', () => {
  it('says what happens to calls of a tool left out of a generated policy', () => {
    expect(skippedNote({ name: 'delete_*', reason: 'a glob' }, 'scaffold')).toBe(
      'warning: tool "delete_*" left out of the scaffold, so default: allow lets it run without rules (a glob)',
    );
    // The proxy refuses an empty tool name (-32602): it does not run at all.
    expect(skippedNote({ name: '', reason: 'empty' }, 'policy')).toBe(
      'warning: tool "" left out of the policy, the proxy refuses calls to a tool with an empty name anyway (empty)',
    );
  });
});

describe('recognitionNote', () => {
  it('names the curated categories applied and withheld, and a serverInfo version other than the catalogued one', () => {
    const entry = loadCatalogFile(join(defaultCatalogDir(), 'everything.yaml'));
    expect(
      recognitionNote({
        entry,
        by: 'serverInfo name "mcp-servers/everything"',
        overridden: [],
        withheld: ['trigger-long-running-operation'],
        raised: [],
        secrets: [],
        versionDiffers: '9.9.9',
      }),
    ).toBe(
      'recognised catalogue entry everything (serverInfo name "mcp-servers/everything", serverInfo version 9.9.9, ' +
        'catalogued at serverInfo version 2.0.0); no curated category applies as catalogued; not applied to 1 tool ' +
        '(trigger-long-running-operation), whose inputSchema or annotations differ from the catalogued ones: ' +
        'classified from what the server lists now; `tollgate init --server everything` gives the starter policy from the catalogue',
    );
    expect(
      recognitionNote({
        entry,
        by: 'package x',
        overridden: ['a', 'b'],
        withheld: [],
        raised: [],
        secrets: [],
      }),
    ).toBe(
      'recognised catalogue entry everything (package x, catalogued at serverInfo version 2.0.0); its curated ' +
        'categories apply to 2 tools (a, b); `tollgate init --server everything` gives the starter policy from the catalogue',
    );
    expect(
      recognitionNote({
        entry,
        by: 'package x',
        overridden: [],
        withheld: [],
        raised: ['get-env'],
        secrets: [],
      }),
    ).toBe(
      'recognised catalogue entry everything (package x, catalogued at serverInfo version 2.0.0); it has no curated ' +
        "category for these tools; 1 tool (get-env) raised to the catalogue's category, which the server's own " +
        'listing understates; `tollgate init --server everything` gives the starter policy from the catalogue',
    );
    // A raised tool with a curated category of its own (a withheld override used as a floor): the
    // entry does have a curated category for it.
    const filesystem = loadCatalogFile(join(defaultCatalogDir(), 'filesystem.yaml'));
    expect(filesystem.tools.find((t) => t.name === 'write_file')?.category?.value).toBe('Destructive');
    expect(
      recognitionNote({
        entry: filesystem,
        by: 'package x',
        overridden: [],
        withheld: [],
        raised: ['write_file'],
        secrets: [],
      }),
    ).toContain(
      "; no curated category applies as catalogued; 1 tool (write_file) raised to the catalogue's category,",
    );
    expect(
      recognitionNote({
        entry,
        by: 'package x',
        overridden: [],
        withheld: [],
        raised: [],
        secrets: ['get-env'],
      }),
    ).toBe(
      'recognised catalogue entry everything (package x, catalogued at serverInfo version 2.0.0); it has no curated ' +
        'category for these tools; 1 tool (get-env) denied as the catalogue notes it returns live credentials; ' +
        '`tollgate init --server everything` gives the starter policy from the catalogue',
    );
  });
});

describe('shownTarget', () => {
  const shown = async (upstream: string | undefined, command: string[] = []) =>
    (await shownTarget(upstream, command)).text;

  it('masks the secrets people put on a command line or in an upstream URL', async () => {
    expect(await shown('https://user:pw@mcp.example.com/mcp?api_key=SECRET&x#frag')).toBe(
      'https://***:***@mcp.example.com/mcp?api_key=***&***',
    );
    expect(
      await shown(undefined, [
        'env',
        'API_KEY=SECRET1',
        'DEBUG=1',
        'npx',
        '-y',
        '@acme/mcp@1.2.0',
        '--token',
        'SECRET2',
        '--client-secret=SECRET3',
        '--url',
        'https://h.example/sse?key=SECRET4',
        '--env=GITHUB_TOKEN=SECRET5',
        '-e',
        'OPENAI_API_KEY=SECRET6',
        '--header',
        'Authorization: Bearer SECRET7',
        '-H',
        'X-API-Key: SECRET8',
        '--config',
        '{"apiKey":"SECRET9","region":"eu"}',
        '--settings={"password":"SECRET10"}',
        'https://actions.example.com/mcp/sk-ak-1a2b3c4d5e6f7g8h9i0j/sse',
        '--verbose',
        'plain',
      ]),
    ).toBe(
      'env API_KEY=*** DEBUG=1 npx -y @acme/mcp@1.2.0 --token *** --client-secret=*** --url https://h.example/sse?key=*** ' +
        '--env=GITHUB_TOKEN=*** -e OPENAI_API_KEY=*** --header Authorization: *** -H X-API-Key: *** ' +
        '--config {"apiKey":"***","region":"eu"} --settings={"password":"***"} https://actions.example.com/mcp/***/sse --verbose plain',
    );
  });

  it('masks tokens whose shape gives them away, wherever they stand', async () => {
    expect(
      await shown(undefined, [
        'node',
        's.js',
        'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
        'xoxb-1234-5678-abcdefgh',
        'AKIAIOSFODNN7EXAMPLE',
        '-k',
        'sk-proj-DDDD3333',
        '--header=Authorization:Bearer_xyz',
      ]),
    ).toBe('node s.js *** *** *** -k *** --header=Authorization: ***');
    expect(await shown('http://127.0.0.1:59999/mcp/sk-live-PATHSECRET')).toBe(
      'http://127.0.0.1:59999/mcp/***',
    );
  });

  it('keeps what only says where a secret is, or is no secret', async () => {
    const command = [
      'server',
      '--key-file',
      '/etc/k.pem',
      '--no-auth',
      '/srv/data',
      '--author',
      'Ada',
      'TOKEN_PATH=/run/t',
    ];
    expect(await shown(undefined, command)).toBe(command.join(' '));
    expect(await shown(undefined, ['npx', '-y', '@modelcontextprotocol/server-memory'])).toBe(
      'npx -y @modelcontextprotocol/server-memory',
    );
  });

  it('masks an error message that quotes the target', async () => {
    const url = 'http://user:pw@127.0.0.1:1/mcp?token=SECRET#frag';
    const { mask } = await shownTarget(url, []);
    expect(mask(`Request cannot be constructed from a URL that includes credentials: ${url}`)).toBe(
      'Request cannot be constructed from a URL that includes credentials: http://***:***@127.0.0.1:1/mcp?token=***',
    );
    const local = await shownTarget(undefined, ['env', 'API_KEY=SECRET1', 'node', 's.js']);
    expect(local.mask('cannot start env API_KEY=SECRET1 node s.js')).toBe(
      'cannot start env API_KEY=*** node s.js',
    );
    // A stdio server's own error may quote a URL with a password: masked too.
    const plain = await shownTarget(undefined, ['node', 's.js']);
    expect(plain.mask('MCP error -32603: cannot reach redis://:hunter2@cache:6379')).toBe(
      'MCP error -32603: cannot reach redis://***:***@cache:6379',
    );
  });
});

describe('catalogForScan', () => {
  it('warns that a TOLLGATE_CATALOG_DIR naming no directory recognises nothing', () => {
    const before = process.env.TOLLGATE_CATALOG_DIR;
    process.env.TOLLGATE_CATALOG_DIR = '/nonexistent/catalog';
    try {
      expect(catalogForScan(undefined)).toEqual({
        entries: [],
        warnings: [
          'TOLLGATE_CATALOG_DIR=/nonexistent/catalog: no such directory; no catalogue entry is recognised',
        ],
      });
    } finally {
      if (before === undefined) delete process.env.TOLLGATE_CATALOG_DIR;
      else process.env.TOLLGATE_CATALOG_DIR = before;
    }
    expect(catalogForScan(undefined).entries.length).toBeGreaterThan(50);
  });
});
