import { createHash } from 'node:crypto';
import { re2PatternEngine } from '@tollgate/policy';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** Outcome of validating a call's arguments against a JSON Schema. */
export type SchemaCheck = { ok: true } | { ok: false; errors: string[] };

/**
 * Validates tool arguments with ajv, compiling each distinct schema once.
 *
 * Dialect: a schema whose `$schema` names draft-04/06/07 is checked as draft-07, 2019-09 as
 * 2019-09, everything else (including no `$schema`) as JSON Schema 2020-12, the default dialect for `inputSchema` in MCP 2025-11-25 ("JSON Schema
 * Usage"). Unknown keywords are ignored (`strict: false`) because servers decorate schemas freely.
 * `pattern` and `patternProperties` run on RE2, in linear time, not on JavaScript's backtracking
 * engine (`^(a+)+$` would otherwise take seconds per argument); a pattern RE2 cannot run
 * (lookaround, backreferences: only a server's schema can hold one, a policy's is refused at load)
 * is not checked.
 */
export class SchemaValidator {
  private readonly draft7: Ajv;
  private readonly draft2019: Ajv;
  private readonly draft2020: Ajv;
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
    this.draft7 = new Ajv(opts);
    this.draft2019 = new Ajv2019(opts) as unknown as Ajv;
    this.draft2020 = new Ajv2020(opts) as unknown as Ajv;
    addFormats(this.draft7);
    addFormats(this.draft2019);
    addFormats(this.draft2020);
  }

  /** Compiled validator for `schema` (cached by identity, then by content hash), or the compile error. */
  compile(schema: object): ValidateFunction | Error {
    const hit = this.byObject.get(schema);
    if (hit) return hit;
    const hash = createHash('sha256').update(JSON.stringify(schema)).digest('hex');
    let fn = this.byHash.get(hash);
    if (!fn) {
      const $schema = (schema as { $schema?: unknown }).$schema;
      const dialect = typeof $schema === 'string' ? $schema : '';
      const ajv = /draft-0[467]/.test(dialect)
        ? this.draft7
        : /2019-09/.test(dialect)
          ? this.draft2019
          : this.draft2020;
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
