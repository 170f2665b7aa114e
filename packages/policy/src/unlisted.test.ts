import { describe, expect, it } from 'vitest';
import { loadPolicy } from './load.js';
import { unlistedEntries } from './unlisted.js';

function policy(yaml: string) {
  const r = loadPolicy(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}

describe('unlistedEntries', () => {
  const listed = ['write_file', 'read_file', 'read_text_file', 'delete_repo', 'run*'];

  it('names the tools: keys and hide entries that match no listed tool, exact and glob', () => {
    const p = policy(
      [
        'version: "1"',
        'hide: [delete_repoo, "delete_*", "purge_*", "*"]',
        'tools:',
        '  wirte_file: { rules: [{ action: deny }] }',
        '  write_file: { rules: [{ action: deny }] }',
        '  "read_*": { rules: [{ rate_limit: 10/minute }] }',
        '  "raed_*": { rules: [{ rate_limit: 10/minute }] }',
        '  "*": { rules: [{ rate_limit: 100/minute }] }',
        '',
      ].join('\n'),
    );
    expect(unlistedEntries(p, listed)).toEqual({
      tools: ['wirte_file', 'raed_*'],
      hide: ['delete_repoo', 'purge_*'],
    });
  });

  it('reads an escaped exact key as the name it stands for', () => {
    const p = policy('version: "1"\nhide: ["run\\\\*", "walk\\\\*"]\n');
    expect(unlistedEntries(p, listed)).toEqual({ tools: [], hide: ['walk\\*'] });
  });

  it('names nothing when every entry matches', () => {
    const p = policy('version: "1"\nhide: [delete_repo]\ntools:\n  write_file: { rules: [] }\n');
    expect(unlistedEntries(p, listed)).toEqual({ tools: [], hide: [] });
  });
});
