import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emitPolicy } from './emit.js';
import { loadPolicy } from './load.js';
import type { PolicyDocument } from './schema.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/policies/', import.meta.url));

describe('emitPolicy', () => {
  it('prints keys in a stable order whatever the input order', () => {
    const doc = {
      tools: {
        t: {
          rules: [
            {
              on_deny: 'no',
              state: { increment_from: 'args.n', window: 'day', counter: 'c' },
              conditions: [{ value: 5, op: 'lte', path: 'state.t.c' }],
              action: 'evaluate',
              name: 'r',
            },
          ],
        },
      },
      hide: ['x'],
      default: 'allow',
      description: 'd',
      version: '1',
    } as PolicyDocument;
    expect(emitPolicy(doc)).toBe(`version: "1"
description: d
default: allow
hide:
  - x
tools:
  t:
    rules:
      - name: r
        action: evaluate
        conditions:
          - { path: state.t.c, op: lte, value: 5 }
        state: { counter: c, window: day, increment_from: args.n }
        on_deny: no
`);
  });

  it('keeps nested mappings in block style', () => {
    const text = emitPolicy({
      version: '1',
      tools: {
        t: {
          rules: [
            {
              action: 'allow',
              rate_limit: { max: 10, window: 60 },
              validate: { required_args: true, schema: { type: 'object', required: ['path'] } },
            },
            { conditions: [{ path: 'args.c', op: 'in', value: ['usd', 'eur'] }] },
          ],
        },
      },
    });
    expect(text).toContain(
      '        rate_limit: { max: 10, window: 60 }\n        validate:\n          required_args: true\n          schema:\n',
    );
    expect(text).toContain('          - { path: args.c, op: in, value: [ usd, eur ] }\n');
    expect(loadPolicy(text).ok).toBe(true);
  });

  it('adds a header and per-tool comments', () => {
    const text = emitPolicy(
      { version: '1', tools: { a: { rules: [] }, '*': { rules: [{ rate_limit: '5/minute' }] } } },
      {
        header: 'yaml-language-server: $schema=./policy.schema.json',
        comments: { '*': 'every tool\nshares this' },
      },
    );
    expect(text).toBe(`# yaml-language-server: $schema=./policy.schema.json

version: "1"
tools:
  a:
    rules: []
  # every tool
  # shares this
  "*":
    rules:
      - rate_limit: 5/minute
`);
    expect(loadPolicy(text).ok).toBe(true);
  });

  it.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')))(
    'round-trips %s: emit -> load gives the same hash',
    (f) => {
      const first = loadPolicy(readFileSync(EXAMPLES + f, 'utf8'), { filename: f });
      if (!first.ok) throw new Error(JSON.stringify(first.errors));
      const text = emitPolicy(first.document);
      const second = loadPolicy(text);
      if (!second.ok) throw new Error(JSON.stringify(second.errors));
      expect(second.policy.hash).toBe(first.policy.hash);
      expect(emitPolicy(second.document)).toBe(text); // a fixed point
    },
  );
  it('keeps a tool key named __proto__ (an own key, not the prototype)', () => {
    const tools = Object.fromEntries([['__proto__', { rules: [{ name: 'r', action: 'deny' }] }]]);
    const yaml = emitPolicy({ version: '1', default: 'allow', tools } as never);
    expect(yaml).toContain('  __proto__:\n    rules:');
    const loaded = loadPolicy(yaml, { filename: 'proto.yaml' });
    expect(loaded.ok && [...loaded.policy.exact.keys()]).toEqual(['__proto__']);
  });
});

describe('text Intercept would read as a number', () => {
  it('is written quoted, so the emitted policy loads with the same text', () => {
    const doc = {
      version: '1',
      tools: {
        a: { rules: [{ conditions: [{ path: 'args.port', op: 'not_in', value: ['3_306', '0_', 'x_1'] }] }] },
      },
    } as unknown as PolicyDocument;
    const text = emitPolicy(doc);
    expect(text).toContain('value: [ "3_306", "0_", x_1 ]');
    const loaded = loadPolicy(text);
    expect(loaded.ok).toBe(true);
  });
});
