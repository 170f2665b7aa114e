// Whole-catalogue checks: coverage of every snapshot, our own words, and every policy compiles.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from '@tollgate/policy';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  buildCatalogEntry,
  type CatalogServer,
  carryOverrides,
  classifyTool,
  defaultCatalogDir,
  defaultCurationDir,
  loadCatalog,
  readCuration,
  recommendedPolicy,
  type Snapshot,
  serializeCatalog,
  sharedRun,
  starterPolicy,
} from '../src/index.js';
import { snapshots } from './sources.js';

let servers: CatalogServer[];
let sources: Map<string, Snapshot>;
beforeAll(() => {
  servers = loadCatalog(defaultCatalogDir());
  sources = snapshots();
}, 120_000);

describe('catalogue coverage', () => {
  it('has one file per snapshot, 62 servers and 2,070 tools', () => {
    expect(servers.map((s) => s.id).sort()).toEqual([...sources.keys()].sort());
    expect(servers).toHaveLength(62);
    expect(servers.reduce((n, s) => n + s.tools.length, 0)).toBe(2070);
  });

  it('has every tool of every snapshot, with the same inputSchema and annotations', () => {
    const problems: string[] = [];
    for (const [id, snap] of sources) {
      const entry = servers.find((s) => s.id === id)!;
      const byName = new Map(entry.tools.map((t) => [t.name, t]));
      for (const tool of snap.tools) {
        const mine = byName.get(tool.name);
        if (!mine) problems.push(`${id}/${tool.name}: missing`);
        else if (JSON.stringify(mine.inputSchema) !== JSON.stringify(tool.inputSchema))
          problems.push(`${id}/${tool.name}: inputSchema differs`);
        else if (tool.annotations && Object.keys(tool.annotations).length && !mine.annotations)
          problems.push(`${id}/${tool.name}: annotations dropped`);
      }
      if (entry.tools.length !== snap.tools.length)
        problems.push(`${id}: ${entry.tools.length} vs ${snap.tools.length}`);
    }
    expect(problems).toEqual([]);
  });

  it('records package version and launch command for every npm server', () => {
    for (const s of servers.filter((s) => s.package.registry === 'npm')) {
      expect(s.package.version, s.id).toMatch(/^\d+\.\d+\.\d+/);
      expect(s.launch?.command, s.id).toBe('node');
      expect(s.launch?.npx, s.id).toContain(`${s.package.name}@${s.package.version}`);
      // `npx --package=<pkg> <bin>` runs <bin>: an executable's name, never a scoped package name.
      const words = s.launch?.npx?.split(' ') ?? [];
      const bin = words[words.findIndex((w) => w.startsWith('--package=')) + 1];
      expect(bin, s.id).toMatch(/^[\w.-]+$/);
    }
  });
});

describe('the catalogue is what `tollgate catalog import` writes', () => {
  it('re-importing every snapshot (overrides carried over) reproduces catalog/ byte for byte', () => {
    const differ: string[] = [];
    for (const [id, snap] of sources) {
      const file = join(defaultCatalogDir(), `${id}.yaml`);
      const previous = servers.find((s) => s.id === id);
      const entry = carryOverrides(
        previous,
        buildCatalogEntry(snap, readCuration(defaultCurationDir(), id)),
        {
          curated: null,
        },
      );
      if (serializeCatalog(entry) !== readFileSync(file, 'utf8')) differ.push(id);
    }
    expect(differ).toEqual([]);
  });

  it('YAML 1.1 readers (PyYAML) load the same values: no unquoted off, NO, Yes or bare dates', () => {
    // A Date only appears when a YAML 1.1 reader takes a string for a timestamp.
    const typed = (v: unknown) =>
      JSON.stringify(v, function (this: Record<string, unknown>, k, x) {
        return this[k] instanceof Date ? `Date ${x}` : x;
      });
    const differ: string[] = [];
    for (const s of servers) {
      const text = readFileSync(join(defaultCatalogDir(), `${s.id}.yaml`), 'utf8');
      if (typed(parse(text, { version: '1.1' })) !== typed(parse(text))) differ.push(s.id);
    }
    expect(differ).toEqual([]);
  }, 120_000);
});

describe('manual overrides', () => {
  it('each has a reason, wins, and differs from what the classifier alone says', () => {
    const overrides = servers.flatMap((s) =>
      s.tools.filter((t) => t.category).map((t) => ({ server: s.id, tool: t })),
    );
    expect(overrides.length).toBeGreaterThan(0);
    for (const { server, tool } of overrides) {
      const { category: override, ...bare } = tool;
      expect(override!.reason.trim().length, `${server}/${tool.name}`).toBeGreaterThan(10);
      expect(classifyTool(tool)).toMatchObject({ category: override!.value, overridden: true });
      expect(classifyTool(bare).category, `${server}/${tool.name} override is redundant`).not.toBe(
        override!.value,
      );
    }
  });
});

describe('descriptions are our own', () => {
  it('no description shares a run of 6+ consecutive words with the upstream text', () => {
    const copies: string[] = [];
    let compared = 0;
    for (const [id, snap] of sources) {
      const entry = servers.find((s) => s.id === id)!;
      for (const tool of snap.tools) {
        const mine = entry.tools.find((t) => t.name === tool.name)!;
        compared++;
        const run = sharedRun(mine.description, tool.description ?? '');
        if (run) copies.push(`${id}/${tool.name}: "${run}"`);
        if (
          mine.description.trim() === (tool.description ?? '').trim() &&
          mine.description.split(' ').length >= 6
        )
          copies.push(`${id}/${tool.name}: verbatim`);
      }
    }
    expect(compared).toBe(2070);
    expect(copies).toEqual([]);
  });

  it('the check itself catches a copied description', () => {
    const snap = sources.get('memory')!;
    const upstream = snap.tools.find((t) => (t.description ?? '').split(' ').length >= 6)!.description!;
    expect(sharedRun(`Ours: ${upstream}`, upstream)).not.toBeNull();
  });
});

describe('every recommended and starter policy compiles with the real compiler', () => {
  it('compiles 62 starter policies and 2,070 recommended policies', () => {
    const failures: string[] = [];
    let compiled = 0;
    for (const server of servers) {
      const starter = starterPolicy(server);
      const r = loadPolicy(starter.yaml, { filename: `${server.id}.starter.yaml` });
      if (!r.ok) failures.push(`${server.id}: ${r.errors.map((e) => e.message).join('; ')}`);
      else {
        compiled++;
        expect(r.policy.exact.size).toBe(server.tools.length);
      }
      for (const tool of server.tools) {
        const rec = recommendedPolicy(server, tool, classifyTool(tool));
        const rr = loadPolicy(rec.yaml, { filename: `${server.id}/${tool.name}.yaml` });
        if (!rr.ok) failures.push(`${server.id}/${tool.name}: ${rr.errors.map((e) => e.message).join('; ')}`);
        else compiled++;
      }
    }
    expect(failures).toEqual([]);
    expect(compiled).toBe(62 + 2070);
  }, 120_000);
});
