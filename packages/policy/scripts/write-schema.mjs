// Writes schema/policy.schema.json from the zod schema (via the built dist/). Run after `build`;
// `src/json-schema.test.ts` fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildPolicyJsonSchema } from '../dist/index.js';

const out = fileURLToPath(new URL('../schema/policy.schema.json', import.meta.url));
writeFileSync(out, `${JSON.stringify(buildPolicyJsonSchema(), null, 2)}\n`);
process.stderr.write(`wrote ${out}\n`);
