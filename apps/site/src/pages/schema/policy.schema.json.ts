import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as policy from '@tollgate/policy';
import type { APIRoute } from 'astro';
import { repoRoot } from '../../lib/repo.ts';

/**
 * The policy JSON Schema at a stable URL, for `# yaml-language-server: $schema=<site>/schema/policy.schema.json`.
 * Served byte for byte from `packages/policy/schema/policy.schema.json` (the file the policy package
 * publishes); when that file has not been generated, from the package's `policyJsonSchema` export.
 *
 * @throws Error when neither exists, failing the build rather than publishing no schema
 */
export const GET: APIRoute = () => {
  const file = join(repoRoot(), 'packages/policy/schema/policy.schema.json');
  let body: string;
  if (existsSync(file)) body = readFileSync(file, 'utf8');
  else {
    const exported = (policy as Record<string, unknown>).policyJsonSchema;
    const schema = typeof exported === 'function' ? (exported as () => unknown)() : exported;
    if (!schema || typeof schema !== 'object')
      throw new Error(`${file} is missing and @tollgate/policy exports no policyJsonSchema`);
    body = `${JSON.stringify(schema, null, 2)}\n`;
  }
  return new Response(body, { headers: { 'Content-Type': 'application/schema+json' } });
};
