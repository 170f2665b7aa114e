import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  buildCatalogEntry,
  carryOverrides,
  defaultBinName,
  ImportError,
  normalizeSnapshot,
  readSnapshot,
  serializeCatalog,
} from './import.js';
import { parseCatalog } from './loader.js';

const npmScan = {
  id: 'demo',
  package: '@acme/demo-mcp',
  packageVersion: '2.0.1',
  bin: 'demo-mcp',
  launch: { command: 'node', args: ['dist/index.js', '--stdio'], env: { TOKEN: 'dummy' }, note: 'dummies' },
  protocolVersion: '2025-11-25',
  serverInfo: { name: 'demo', version: '2.0.1' },
  scannedAt: '2026-11-29T00:00:00.000Z',
  tools: [
    { name: 'get_x', description: 'Upstream words about getting x.', inputSchema: { type: 'object' } },
    {
      name: 'drop_x',
      title: 'Drop X',
      description: 'Upstream words.',
      inputSchema: { type: 'object', properties: { id: { type: 'string' } } },
      annotations: { destructiveHint: true },
    },
  ],
};

describe('normalizeSnapshot', () => {
  it('records package, version and the launch command of an npm scan', () => {
    const s = normalizeSnapshot(npmScan, 'demo.json');
    expect(s.server.package).toEqual({ registry: 'npm', name: '@acme/demo-mcp', version: '2.0.1' });
    expect(s.server.launch).toEqual({
      command: 'node',
      args: ['dist/index.js', '--stdio'],
      env: { TOKEN: 'dummy' },
      cwd: 'package',
      npx: 'npx -y --package=@acme/demo-mcp@2.0.1 demo-mcp --stdio',
      note: 'dummies',
    });
    expect(s.server.source).toMatchObject({ snapshot: 'demo.json', protocolVersion: '2025-11-25' });
  });
  it('names the executable npm installs when the scan recorded none or a scoped package name (the name without its scope)', () => {
    const { bin: _bin, ...withoutBin } = npmScan;
    const s = normalizeSnapshot(withoutBin, 'demo.json');
    expect(s.server.launch?.npx).toBe('npx -y --package=@acme/demo-mcp@2.0.1 demo-mcp --stdio');
    const scoped = normalizeSnapshot({ ...npmScan, bin: '@acme/demo-mcp' }, 'demo.json');
    expect(scoped.server.launch?.npx).toBe('npx -y --package=@acme/demo-mcp@2.0.1 demo-mcp --stdio');
    expect(defaultBinName('@stripe/mcp')).toBe('mcp');
    expect(defaultBinName('tavily-mcp')).toBe('tavily-mcp');
  });
  it('rejects an unknown shape', () => {
    expect(() => normalizeSnapshot({ foo: 1 }, 'x.json')).toThrow(ImportError);
    expect(() => normalizeSnapshot([], 'x.json')).toThrow(
      'x.json: not a tools/list snapshot (expected {server, tools}, {id, package, tools} or the output of tollgate scan --json)',
    );
  });
  it('names the file and every missing or mistyped field by its JSON path, never a TypeError', () => {
    const bad = (raw: unknown) => {
      try {
        normalizeSnapshot(raw, 's4.json');
      } catch (err) {
        expect(err).toBeInstanceOf(ImportError);
        return (err as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad({ server: { name: 'x', version: '1' }, tools: [{ name: 'a' }] })).toBe(
      's4.json: not a tools/list snapshot: server.id is missing; server.package is missing; tools[0].inputSchema is missing',
    );
    const tool = { name: 'a', inputSchema: { type: 'object' } };
    expect(bad({ server: { name: 'x', package: { registry: 'npm', name: 'x' } }, tools: [tool] })).toBe(
      's4.json: not a tools/list snapshot: server.id is missing',
    );
    // The id is the output file name: one that could leave the catalogue directory is refused.
    expect(
      bad({ server: { id: '../x', name: 'x', package: { registry: 'npm', name: 'x' } }, tools: [tool] }),
    ).toBe(
      's4.json: not a tools/list snapshot: server.id: must be a catalogue id: lower-case letters, digits, ".", "_" or "-"',
    );
    expect(
      bad({ ...npmScan, id: undefined, tools: [{ ...tool, annotations: { readOnlyHint: 'yes' } }] }),
    ).toBe(
      's4.json: not a tools/list snapshot: id is missing; tools[0].annotations.readOnlyHint: Invalid input: expected boolean, received string',
    );
    expect(bad({ server: { id: 'x', name: 'x', package: { registry: 'npm', name: 'x' } } })).toBe(
      's4.json: not a tools/list snapshot: tools is missing',
    );
  });
});

describe('normalizeSnapshot: the output of tollgate scan --json', () => {
  const scan = {
    ok: true,
    id: 'demo',
    package: { registry: 'npm', name: '@acme/demo-mcp', version: '2.0.1' },
    serverInfo: { name: 'demo-server', version: '0.3.0' },
    pages: 1,
    warnings: [],
    tools: npmScan.tools.map((t) => ({ ...t, parameters: '(none)', classification: { category: 'Read' } })),
  };
  it('reads the id, package and serverInfo the scan recorded', () => {
    const s = normalizeSnapshot(scan, 'scan.json');
    expect(s.server).toEqual({
      id: 'demo',
      name: 'demo-server',
      package: { registry: 'npm', name: '@acme/demo-mcp', version: '2.0.1' },
      source: { snapshot: 'scan.json', serverInfo: { name: 'demo-server', version: '0.3.0' } },
    });
    expect(s.tools.map((t) => t.name)).toEqual(['get_x', 'drop_x']);
  });
  it('says what is missing from a scan that named no package, and how to get it', () => {
    const { package: _package, ...withoutPackage } = scan;
    expect(() => normalizeSnapshot(withoutPackage, 'scan.json')).toThrow(
      'scan.json: not a tools/list snapshot: package is missing (tollgate scan records the package only when the server command is `npx <package>`, its version too with `npx <package>@<version>`: scan it that way, or add "package": {"registry": "npm", "name": "<package>", "version": "<version>"})',
    );
    expect(() => normalizeSnapshot({ ok: false, errors: [], warnings: [] }, 'scan.json')).toThrow(
      'scan.json: the output of a failed scan (ok: false): no tools to import',
    );
  });
});

describe('buildCatalogEntry', () => {
  const snapshot = normalizeSnapshot(npmScan, 'demo.json');
  it('takes descriptions from the curation file, never from upstream, and drops hand labels', () => {
    const entry = buildCatalogEntry(snapshot, {
      server: 'demo',
      tools: {
        get_x: { description: 'Returns x.', category: 'Read' },
        drop_x: { description: 'Removes x for good.', category: 'Destructive' },
      },
    });
    expect(entry.tools.map((t) => t.description)).toEqual(['Returns x.', 'Removes x for good.']);
    expect(entry.tools[1]).toMatchObject({ title: 'Drop X', annotations: { destructiveHint: true } });
    expect(entry.tools.some((t) => t.category)).toBe(false);
    const again = parseCatalog(serializeCatalog(entry), 'demo.yaml');
    expect(again).toEqual(entry);
  });
  it('copies a curated secrets note into the entry, and the serializer keeps it', () => {
    const entry = buildCatalogEntry(snapshot, {
      server: 'demo',
      tools: {
        get_x: { description: 'Returns x.', secrets: ' Returns the API key of x. ' },
        drop_x: { description: 'Removes x for good.' },
      },
    });
    expect(entry.tools[0]!.secrets).toEqual({ reason: 'Returns the API key of x.' });
    expect(entry.tools[1]!.secrets).toBeUndefined();
    const yaml = serializeCatalog(entry);
    expect(yaml).toContain('    secrets:\n      reason: Returns the API key of x.\n');
    expect(parseCatalog(yaml, 'demo.yaml')).toEqual(entry);
    // A note must say what the result carries.
    expect(() =>
      buildCatalogEntry(snapshot, {
        server: 'demo',
        tools: { get_x: { description: 'Returns x.', secrets: ' ' }, drop_x: { description: 'Removes x.' } },
      }),
    ).toThrow('tools.0.secrets.reason: a secrets note must say what the result carries (reason)');
    expect(() =>
      buildCatalogEntry(snapshot, {
        server: 'demo',
        tools: {
          get_x: { description: 'Returns x.', secrets: { reason: 'x' } as unknown as string },
          drop_x: { description: 'Removes x.' },
        },
      }),
    ).toThrow('demo: a curated secrets note must be text (what the result carries): get_x');
  });
  it('names every tool without a curated description', () => {
    expect(() =>
      buildCatalogEntry(snapshot, { server: 'demo', tools: { get_x: { description: 'Returns x.' } } }),
    ).toThrow('demo: no curated description for 1 tool(s): drop_x');
    expect(() => buildCatalogEntry(snapshot, undefined)).toThrow(
      /get_x, drop_x \(no curation file demo\.json\)/,
    );
  });
});

describe('carryOverrides', () => {
  it('keeps manual overrides across a re-import, by tool name', () => {
    const snapshot = normalizeSnapshot(npmScan, 'demo.json');
    const curation = {
      server: 'demo',
      tools: { get_x: { description: 'Returns x.' }, drop_x: { description: 'Removes x.' } },
    };
    const previous = buildCatalogEntry(snapshot, curation);
    previous.tools[0]!.category = { value: 'Financial', reason: 'every call is billed' };
    const next = carryOverrides(previous, buildCatalogEntry(snapshot, curation));
    expect(next.tools[0]!.category).toEqual({ value: 'Financial', reason: 'every call is billed' });
    expect(next.tools[1]!.category).toBeUndefined();
    expect(carryOverrides(undefined, previous)).toBe(previous);
  });

  it('warns, naming how many, when curated overrides are absent from the output', () => {
    const snapshot = normalizeSnapshot(npmScan, 'demo.json');
    const curation = {
      server: 'demo',
      tools: { get_x: { description: 'Returns x.' }, drop_x: { description: 'Removes x.' } },
    };
    const curated = buildCatalogEntry(snapshot, curation);
    curated.tools[0]!.category = { value: 'Financial', reason: 'every call is billed' };
    curated.tools[1]!.category = { value: 'Write', reason: 'x can be put back' };
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    // Importing into an empty directory: no previous file, so nothing is carried, and it says so.
    const fresh = carryOverrides(undefined, buildCatalogEntry(snapshot, curation), { curated, warn });
    expect(fresh.tools.some((t) => t.category)).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^demo: 2 curated category override\(s\) .* not carried over \(get_x, drop_x\)/,
    );
    // A previous file with one of them: one is missing.
    const partial = buildCatalogEntry(snapshot, curation);
    partial.tools[0]!.category = { value: 'Financial', reason: 'every call is billed' };
    carryOverrides(partial, buildCatalogEntry(snapshot, curation), { curated, warn });
    expect(warnings[1]).toMatch(/^demo: 1 curated category override\(s\) .*\(drop_x\)/);
    // The catalogue file itself as previous: everything carried, no warning.
    carryOverrides(curated, buildCatalogEntry(snapshot, curation), { curated, warn });
    expect(warnings).toHaveLength(2);
  });
});

describe('serializeCatalog and YAML 1.1 readers', () => {
  it('quotes strings a YAML 1.1 reader would load as booleans, dates or numbers', () => {
    const snapshot = normalizeSnapshot(npmScan, 'demo.json');
    const entry = buildCatalogEntry(
      {
        ...snapshot,
        tools: [
          {
            name: 'get_x',
            inputSchema: {
              type: 'object',
              properties: {
                mode: { type: 'string', enum: ['off', 'on', 'NO', 'Yes', 'yes', 'no', 'y', 'n', 'normal'] },
                path: { type: 'string', default: '.' },
                at: { type: 'string', default: '1:20' },
                flag: { type: 'boolean', default: false },
                limit: { type: 'integer', default: 10 },
              },
            },
          },
        ],
      },
      { server: 'demo', tools: { get_x: { description: 'Returns x.' } } },
    );
    const text = serializeCatalog(entry);
    for (const s of ['off', 'on', 'NO', 'Yes', 'yes', 'no', 'y', 'n', '1:20', '2025-11-25'])
      expect(text).toContain(`"${s}"`);
    expect(text).toContain('- normal\n');
    expect(text).toContain('default: false\n');
    expect(text).toContain('default: 10\n');
    // A YAML 1.1 reader and a YAML 1.2 reader load the same values.
    expect(parse(text, { version: '1.1' })).toEqual(parse(text));
    expect(parseCatalog(text, 'demo.yaml')).toEqual(entry);
  });
});

describe('readSnapshot: files that are not JSON', () => {
  it('says a file is empty, places a syntax error at line:col, and reads past a byte-order mark', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-snapshot-'));
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const message = (path: string) => {
      try {
        readSnapshot(path);
        return 'read';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const empty = file('empty.json', '  \n');
    expect(message(empty)).toBe(`${empty}: the file is empty, not a tools/list snapshot`);
    const truncated = file('bad.json', '{\n  "ok": true,\n  "id" "x"\n}');
    expect(message(truncated)).toMatch(
      new RegExp(`^${truncated.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:8: not JSON: `),
    );
    // V8 quotes a short text whole, its newline included: the message stays on one line.
    const garbage = file('garbage.json', 'garbage\n');
    expect(message(garbage)).toMatch(
      new RegExp(`^${garbage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not JSON: `),
    );
    expect(message(garbage)).not.toContain('\n');
    const bom = file('bom.json', '\uFEFF{"ok":true,"id":"x"}');
    expect(message(bom)).toMatch(/^bom\.json: not a tools\/list snapshot: package is missing/);
  });
});
