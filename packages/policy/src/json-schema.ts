/**
 * JSON Schema (draft 2020-12) of the policy language, generated from the zod schema so editors can
 * autocomplete and check policies: put `# yaml-language-server: $schema=<url or path>` at the top
 * of a policy file. The same object is committed as `schema/policy.schema.json`.
 */
import { z } from 'zod';
import { policyDocumentSchema } from './schema.js';

/** Build the JSON Schema object of policy language version "1". */
export function buildPolicyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(policyDocumentSchema, {
    target: 'draft-2020-12',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: 'https://raw.githubusercontent.com/tollgate-dev/tollgate/main/packages/policy/schema/policy.schema.json',
    title: 'Tollgate policy',
    ...schema,
  };
}

/** The JSON Schema of policy language version "1" (see {@link buildPolicyJsonSchema}). */
export const policyJsonSchema: Readonly<Record<string, unknown>> = buildPolicyJsonSchema();
