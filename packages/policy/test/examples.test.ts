import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../src/index.js';

const DIR = fileURLToPath(new URL('../../../examples/policies/', import.meta.url));
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

function load(name: string) {
  const r = loadPolicy(readFileSync(DIR + name, 'utf8'), { filename: name });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}:${e.column} ${e.code} ${e.message}`).join('\n'));
  return r;
}

describe('examples/policies', () => {
  it('has the examples the docs and demo refer to', () => {
    for (const f of [
      'github.yaml',
      'payments.yaml',
      'default-deny.yaml',
      'hide.yaml',
      'rate-limit.yaml',
      'recommended.yaml',
      'filesystem.yaml',
      'github-agent.yaml',
      'memory.yaml',
    ])
      expect(files).toContain(f);
  });

  it.each(files)('%s validates with no errors and no warnings, and points editors at the schema', (f) => {
    const r = load(f);
    expect(r.warnings).toEqual([]);
    expect(readFileSync(DIR + f, 'utf8').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=../../packages/policy/schema/policy.schema.json',
    );
  });

  it('filesystem.yaml confines writes to a sandbox directory', () => {
    const { policy } = load('filesystem.yaml');
    expect(policy.isHidden('move_file')).toBe(true);
    for (const tool of ['write_file', 'edit_file', 'create_directory']) {
      const [rule] = policy.rulesFor(tool);
      const [inside, noDotDot] = rule!.conditions;
      expect([inside!.op, noDotDot!.op]).toEqual(['regex', 'not_regex']);
      // Both conditions must hold: a path naming `sandbox`, with no `..` segment anywhere.
      const re = { test: (p: string) => inside!.regex!.test(p) && !noDotDot!.regex!.test(p) };
      for (const ok of [
        'sandbox',
        'sandbox/a.txt',
        './sandbox/x/y.md',
        '/tmp/demo/sandbox/notes.txt',
        'sandbox/.hidden',
        'sandbox/..x',
        'sandbox/a..b/c',
        '/home/me/sandbox/./x',
      ])
        expect(re.test(ok), `${tool} ${ok}`).toBe(true);
      for (const bad of [
        'notes.txt',
        '/etc/passwd',
        'sandbox/../secrets',
        '/tmp/demo/sandbox/../../etc/passwd',
        'sandboxes/a',
        'my-sandbox/a',
        'sandbox/a/../../b',
        'x/sandbox/../sandbox/y',
        '/a/../../sandbox/x',
        'sandbox/..',
        '../sandbox/x',
      ])
        expect(re.test(bad), `${tool} ${bad}`).toBe(false);
    }
    // Every read tool shares one bucket through the `read_*` glob.
    const keys = ['read_text_file', 'read_media_file', 'read_multiple_files', 'read_file'].map(
      (t) => policy.rulesFor(t)[0]!.rateLimit!.key,
    );
    expect(new Set(keys)).toEqual(new Set(['rl:read_*:reads%20per%20minute']));
    expect(policy.rulesFor('list_directory').map((r) => r.name)).toEqual(['global burst guard']);
  });

  it('payments.yaml counts spend from args.amount per day', () => {
    const { policy } = load('payments.yaml');
    expect(policy.counters.get('create_charge.daily_spend')).toMatchObject({
      window: 'day',
      incrementFrom: ['amount'],
    });
    expect(policy.rulesFor('delete_customer')[0]!.action).toBe('deny');
  });

  it('default-deny.yaml lists only its tools', () => {
    const { policy } = load('default-deny.yaml');
    expect(policy.default).toBe('deny');
    expect(policy.isListed('read_file')).toBe(true);
    expect(policy.isListed('delete_file')).toBe(false);
  });
});
