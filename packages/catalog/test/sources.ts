// Test helper: the captured snapshots, keyed by server id.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSourcesDir, readSnapshot, type Snapshot } from '../src/index.js';

/** Every snapshot of `catalog-sources/`; throws when the folder is missing (never skips silently). */
export function snapshots(): Map<string, Snapshot> {
  const dir = defaultSourcesDir();
  if (!existsSync(dir)) throw new Error(`catalog sources not found at ${dir}; set TOLLGATE_CATALOG_SOURCES`);
  const files = [
    join(dir, 'aws-bedrock-agentcore.tools.json'),
    ...readdirSync(join(dir, 'npm-scans'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(dir, 'npm-scans', f)),
  ];
  const out = new Map<string, Snapshot>();
  for (const f of files) {
    const s = readSnapshot(f);
    out.set(s.server.id, s);
  }
  return out;
}
