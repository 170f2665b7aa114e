/**
 * Load-time check of `validate.schema` blocks: a schema ajv cannot compile would otherwise only
 * surface on the first call that reaches the rule. Dialect as the runtime uses it: draft-07 when
 * `$schema` names draft-04/06/07, otherwise JSON Schema 2020-12 (MCP 2025-11-25 "JSON Schema Usage").
 * `pattern` and `patternProperties` run on RE2, as at run time: a pattern RE2 cannot run is reported.
 */
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { re2PatternEngine } from './regex.js';

/** `pattern` keywords run on RE2; one RE2 cannot run makes the schema an error (see regex.ts). */
const RE2_PATTERNS = re2PatternEngine('throw');

let draft7: Ajv | undefined;
let draft2020: Ajv | undefined;

/** Why `schema` is not a usable JSON Schema, or undefined when ajv compiles it. Never throws. */
export function jsonSchemaProblem(schema: Record<string, unknown>): string | undefined {
  const opts = {
    strict: false,
    allErrors: true,
    validateFormats: false,
    logger: false,
    code: { regExp: RE2_PATTERNS },
  } as const;
  const legacy = typeof schema.$schema === 'string' && /draft-0[4-7]/.test(schema.$schema);
  if (legacy) draft7 ??= new Ajv(opts);
  else draft2020 ??= new Ajv2020(opts) as unknown as Ajv;
  const ajv = (legacy ? draft7 : draft2020)!;
  try {
    const ok = ajv.validateSchema(schema);
    if (!ok) return ajv.errorsText(ajv.errors, { dataVar: 'schema' });
    ajv.compile(schema);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    // Compiled schemas are cached by $id; drop them so one policy cannot poison the next.
    if (typeof schema.$id === 'string') ajv.removeSchema(schema.$id);
  }
}
