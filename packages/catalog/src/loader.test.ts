import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CatalogError, loadCatalog, parseCatalog } from './loader.js';

const GOOD = `id: demo
name: Demo server
package: { registry: npm, name: demo-mcp, version: 1.0.0 }
launch: { command: node, args: [dist/index.js], cwd: package }
tools:
  - name: list_things
    description: Lists the things.
    inputSchema: { type: object, properties: {} }
  - name: delete_thing
    description: Deletes one thing by id.
    annotations: { destructiveHint: true }
    inputSchema:
      type: object
      properties: { id: { type: string } }
      required: [id]
`;

function errorOf(fn: () => unknown): CatalogError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return err as CatalogError;
  }
  throw new Error('expected a CatalogError');
}

describe('parseCatalog', () => {
  it('reads a valid file', () => {
    const s = parseCatalog(GOOD, 'demo.yaml');
    expect(s.id).toBe('demo');
    expect(s.package).toEqual({ registry: 'npm', name: 'demo-mcp', version: '1.0.0' });
    expect(s.tools.map((t) => t.name)).toEqual(['list_things', 'delete_thing']);
    expect(s.tools[1]!.annotations).toEqual({ destructiveHint: true });
  });

  it('names file, line and column of a wrong value', () => {
    const bad = GOOD.replace('registry: npm', 'registry: cargo');
    const e = errorOf(() => parseCatalog(bad, 'demo.yaml'));
    expect(e.message).toMatch(/^demo\.yaml:3:/);
    expect(e.line).toBe(3);
    expect(e.column).toBe(22);
    expect(e.message).toContain('package.registry');
  });

  it('points a missing key at its parent mapping', () => {
    const bad = GOOD.replace('    description: Lists the things.\n', '');
    const e = errorOf(() => parseCatalog(bad, 'demo.yaml'));
    expect(e.line).toBe(6);
    expect(e.message).toContain('tools.0.description');
  });

  it('rejects an override without a reason, at the override', () => {
    const bad = GOOD.replace(
      '    annotations: { destructiveHint: true }',
      '    category:\n      value: Write\n      reason: ""',
    );
    const e = errorOf(() => parseCatalog(bad, 'demo.yaml'));
    expect(e.line).toBe(13);
    expect(e.message).toContain('reason');
  });

  it('rejects duplicate keys and duplicate tools', () => {
    expect(errorOf(() => parseCatalog(`${GOOD}name: again\n`, 'd.yaml')).message).toMatch(
      /^d\.yaml:\d+:\d+: Map keys must be unique/,
    );
    const dup = GOOD.replace('name: delete_thing', 'name: list_things');
    const e = errorOf(() => parseCatalog(dup, 'd.yaml'));
    expect(e.message).toContain('duplicate tool "list_things"');
    expect(e.line).toBe(9);
  });

  it('rejects descriptions over 25 words and a non-object inputSchema', () => {
    const long = GOOD.replace('Lists the things.', Array(26).fill('word').join(' '));
    expect(errorOf(() => parseCatalog(long)).message).toContain('longer than 25 words');
    const schema = GOOD.replace(
      'inputSchema: { type: object, properties: {} }',
      'inputSchema: { type: string }',
    );
    expect(errorOf(() => parseCatalog(schema)).message).toContain('type "object"');
  });

  it('reports YAML syntax errors with a position', () => {
    const e = errorOf(() => parseCatalog('id: [unclosed\n', 'x.yaml'));
    expect(e.file).toBe('x.yaml');
    expect(e.line).toBeGreaterThan(0);
  });
});

describe('loadCatalog', () => {
  it('loads a directory sorted by id and checks id against the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-catalog-'));
    writeFileSync(join(dir, 'demo.yaml'), GOOD);
    writeFileSync(join(dir, 'alpha.yaml'), GOOD.replace('id: demo', 'id: alpha'));
    expect(loadCatalog(dir).map((s) => s.id)).toEqual(['alpha', 'demo']);
    writeFileSync(join(dir, 'other.yaml'), GOOD);
    expect(errorOf(() => loadCatalog(dir)).message).toContain('does not match the file name "other"');
  });
});
