import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { policyJsonSchema } from './json-schema.js';

const FILE = fileURLToPath(new URL('../schema/policy.schema.json', import.meta.url));

describe('policy JSON Schema', () => {
  it('matches the committed schema/policy.schema.json (run `pnpm --filter @tollgate/policy schema` to refresh)', () => {
    expect(JSON.parse(readFileSync(FILE, 'utf8'))).toEqual(policyJsonSchema);
  });

  it('describes the language for editors', () => {
    const s = policyJsonSchema as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, { enum?: string[]; const?: string }>;
    };
    expect(s.required).toEqual(['version']);
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.version!.const).toBe('1');
    expect(s.properties.default!.enum).toEqual(['allow', 'deny']);
    const text = JSON.stringify(s);
    for (const op of ['not_in', 'contains', 'exists', 'increment_from', 'required_args', 'on_deny'])
      expect(text).toContain(op);
  });
});
