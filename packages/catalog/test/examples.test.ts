// The example policies that name a catalogued server (`# Catalogue entry: <id>`) must govern that
// server's real tools: a rule under a tool the server does not have never fires, and its comment
// ("never delete a repository") would promise a protection that is not there.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { defaultCatalogDir, loadCatalogFile } from '../src/index.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/policies/', import.meta.url));
const ENTRY = /^# Catalogue entry: (\S+)/m;
/** Examples of the language itself, with made-up or mixed tool names and no server claimed. */
const GENERIC = ['default-deny.yaml', 'hide.yaml', 'payments.yaml', 'rate-limit.yaml'];

const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));

describe('example policies written for a catalogued server', () => {
  it('every example either names its catalogue entry or is one of the generic ones', () => {
    const unnamed = files.filter((f) => !ENTRY.test(readFileSync(join(EXAMPLES, f), 'utf8')));
    expect(unnamed).toEqual(GENERIC);
  });

  it.each(files.filter((f) => !GENERIC.includes(f)))('%s only has rules for tools the server lists', (f) => {
    const text = readFileSync(join(EXAMPLES, f), 'utf8');
    const id = ENTRY.exec(text)![1]!;
    const tools = loadCatalogFile(join(defaultCatalogDir(), `${id}.yaml`)).tools.map((t) => t.name);
    const r = loadPolicy(text, { filename: f });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const unknown = [...r.policy.exact.keys()].filter((name) => !tools.includes(name));
    const idleGlobs = r.policy.globs.filter((g) => !tools.some((t) => g.matches(t))).map((g) => g.key);
    expect({ unknown, idleGlobs }).toEqual({ unknown: [], idleGlobs: [] });
  });
});
