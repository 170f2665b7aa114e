import { createHash } from 'node:crypto';
import { createAjv, type JsonSchemaDialect, jsonSchemaDialect, re2PatternEngine } from '@tollgate/policy';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';

/** Outcome of validating a call's arguments against a JSON Schema. */
export type SchemaCheck = { ok: true } | { ok: false; errors: string[] };

/**
 * Validates tool arguments with ajv, compiling each distinct schema once.
 *
 * Dialect: `jsonSchemaDialect` of `@tollgate/policy` (draft-04/06/07 as draft-07, 2019-09 as
 * 2019-09, everything else as 2020-12, the default for `inputSchema` in MCP 2025-11-25, "JSON
 * Schema Usage"), the rule a policy's `validate.schema` is checked by at load time. Unknown keywords are ignored (`strict: false`) because servers decorate schemas freely.
 * `pattern` and `patternProperties` run on RE2, in linear time, not on JavaScript's backtracking
 * engine (`^(a+)+$` would otherwise take seconds per argument); a pattern RE2 cannot run
 * (lookaround, backreferences: only a server's schema can hold one, a policy's is refused at load)
 * is not checked.
 */
export class SchemaValidator {
  private readonly ajv: Record<JsonSchemaDialect, Ajv>;
  private readonly byObject = new WeakMap<object, ValidateFunction | Error>();
  private readonly byHash = new Map<string, ValidateFunction | Error>();

  constructor() {
    // `pattern` runs on RE2 (linear time): a server's or policy's schema cannot stall the proxy.
    const opts = {
      strict: false,
      allErrors: true,
      validateSchema: true,
      // An unknown `format` in a server's schema is ignored without ajv's console.warn, which
      // would reach stderr unstructured, once per schema.
      logger: false,
      code: { regExp: re2PatternEngine('skip') },
    } as const;
    this.ajv = {
      draft7: createAjv('draft7', opts),
      draft2019: createAjv('draft2019', opts),
      draft2020: createAjv('draft2020', opts),
    };
  }

  /** Compiled validator for `schema` (cached by identity, then by content hash), or the compile error. */
  compile(schema: object): ValidateFunction | Error {
    const hit = this.byObject.get(schema);
    if (hit) return hit;
    const hash = createHash('sha256').update(JSON.stringify(schema)).digest('hex');
    let fn = this.byHash.get(hash);
    if (!fn) {
      const ajv = this.ajv[jsonSchemaDialect(schema)];
      try {
        // `$id` would make ajv refuse a second schema with the same id from another server; an
        // unrecognised `$schema` would make it refuse the schema: both are dropped.
        const { $id: _id, $schema: _dialect, ...rest } = schema as Record<string, unknown>;
        fn = ajv.compile(rest);
      } catch (err) {
        fn = err instanceof Error ? err : new Error(String(err));
      }
      this.byHash.set(hash, fn);
    }
    this.byObject.set(schema, fn);
    return fn;
  }

  /**
   * Validate `args` against `schema`.
   *
   * @returns `ok: false` with readable messages (`/amount must be number`) when the arguments do
   *   not match, or when the schema itself does not compile (`invalid schema: ...`).
   */
  validate(schema: unknown, args: unknown): SchemaCheck {
    if (schema === null || typeof schema !== 'object') {
      return schema === true || schema === undefined
        ? { ok: true }
        : { ok: false, errors: ['invalid schema'] };
    }
    const fn = this.compile(schema);
    if (fn instanceof Error) return { ok: false, errors: [`invalid schema: ${fn.message}`] };
    if (fn(args)) return { ok: true };
    return { ok: false, errors: (fn.errors ?? []).map(formatAjvError) };
  }
}

function formatAjvError(e: ErrorObject): string {
  const where = e.instancePath || '(arguments)';
  if (e.keyword === 'additionalProperties') {
    return `${where} has unexpected property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (e.keyword === 'required') {
    return `${where} is missing required property "${(e.params as { missingProperty: string }).missingProperty}"`;
  }
  return `${where} ${e.message ?? 'is invalid'}`;
}
