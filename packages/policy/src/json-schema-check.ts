/**
 * Load-time check of `validate.schema` blocks: a schema ajv cannot compile would otherwise only
 * surface on the first call that reaches the rule.
 *
 * - Dialect as the runtime picks it (`SchemaValidator` in `@tollgate/runtime`): a `$schema` naming
 *   draft-04/06/07 is checked as draft-07, 2019-09 as 2019-09, anything else (none, or a URI ajv
 *   does not know) as JSON Schema 2020-12 (MCP 2025-11-25 "JSON Schema Usage"). `$schema` and
 *   `$id` are set aside first, as the runtime does.
 * - Strict about what the author wrote: an unknown keyword (`patern`) or `format` (`emial`) is an
 *   error. JSON Schema ignores both, so the check would admit every value without a word: a
 *   policy fails open. (A server's `inputSchema`, which the policy author does not write, is
 *   checked leniently at run time.)
 * - `pattern` and `patternProperties` run on RE2, as at run time: a pattern RE2 cannot run is
 *   reported.
 */
import { Ajv, type Options } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { re2PatternEngine } from './regex.js';
import { didYouMean, getAt } from './validate.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** Why a `validate.schema` block cannot be used, and where in it (see {@link jsonSchemaProblem}). */
export interface JsonSchemaProblem {
  /** What ajv (or RE2) found, e.g. `unknown keyword "patern"`. */
  readonly message: string;
  /** Path inside the schema to the offending key (`['properties', 'path', 'patern']`); empty for the whole schema. */
  readonly at: readonly (string | number)[];
  /** A did-you-mean for an unknown keyword, when one is near. */
  readonly hint?: string;
}

/** The JSON Schema dialects Tollgate checks with (see {@link jsonSchemaDialect}). */
export type JsonSchemaDialect = 'draft7' | 'draft2019' | 'draft2020';

/**
 * The dialect a schema is checked with, from its `$schema`: draft-04, -06 and -07 as draft-07,
 * 2019-09 as 2019-09, anything else (none, or a URI ajv does not know) as 2020-12, the default of
 * MCP 2025-11-25 ("JSON Schema Usage"). One rule for a policy's `validate.schema` at load time and
 * for every schema the runtime validates arguments against.
 */
export function jsonSchemaDialect(schema: object): JsonSchemaDialect {
  const $schema = (schema as { $schema?: unknown }).$schema;
  const uri = typeof $schema === 'string' ? $schema : '';
  return /draft-0[467]/.test(uri) ? 'draft7' : /2019-09/.test(uri) ? 'draft2019' : 'draft2020';
}

/** A new ajv instance for `dialect`, with ajv-formats' formats added. */
export function createAjv(dialect: JsonSchemaDialect, options: Options): Ajv {
  const ajv =
    dialect === 'draft7'
      ? new Ajv(options)
      : dialect === 'draft2019'
        ? (new Ajv2019(options) as unknown as Ajv)
        : (new Ajv2020(options) as unknown as Ajv);
  addFormats(ajv);
  return ajv;
}

const instances = new Map<JsonSchemaDialect, Ajv>();

function ajvFor(dialect: JsonSchemaDialect): Ajv {
  let ajv = instances.get(dialect);
  if (!ajv) {
    ajv = createAjv(dialect, {
      // Unknown keywords and formats throw; the other strict checks (types, tuples) only lint
      // style that JSON Schema allows.
      strict: false,
      strictSchema: true,
      allErrors: true,
      logger: false,
      code: { regExp: re2PatternEngine('throw') },
    });
    instances.set(dialect, ajv);
  }
  return ajv;
}

/** The path of the first key named `key` in `value` (depth first), or undefined. */
function pathOfKey(
  value: unknown,
  key: string,
  at: (string | number)[] = [],
): (string | number)[] | undefined {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = pathOfKey(v, key, [...at, i]);
      if (found) return found;
    }
  } else if (typeof value === 'object' && value !== null) {
    if (Object.hasOwn(value, key)) return [...at, key];
    for (const [k, v] of Object.entries(value)) {
      const found = pathOfKey(v, key, [...at, k]);
      if (found) return found;
    }
  }
  return undefined;
}

/** `#/properties/u` (a JSON Pointer in a URI fragment) as path segments. */
function pointerPath(pointer: string): string[] {
  return pointer
    .replace(/^#\/?/, '')
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Why `schema` (a `validate.schema` block) is not a usable JSON Schema, or undefined when it is.
 * Never throws.
 */
export function jsonSchemaProblem(schema: Record<string, unknown>): JsonSchemaProblem | undefined {
  const ajv = ajvFor(jsonSchemaDialect(schema));
  // As the runtime: `$id` would clash across rules, and a `$schema` ajv does not know would make
  // it refuse the schema; the dialect was taken from it above.
  const { $id: _id, $schema: _dialect, ...rest } = schema;
  try {
    const ok = ajv.validateSchema(rest);
    if (!ok) {
      // The meta-schema reports one spot once per branch it tried (`items` is a schema or a list of
      // them, ...): each spot and message once, at the first spot.
      const errors = (ajv.errors ?? []).filter(
        (e, i, all) =>
          all.findIndex((o) => o.instancePath === e.instancePath && o.message === e.message) === i,
      );
      const first = errors[0];
      // A plain JSON Pointer (not a URI fragment: no percent-decoding); an index into a list is a
      // number, as the policy's positions need it to step into a YAML sequence.
      const at: (string | number)[] = [];
      for (const seg of first ? first.instancePath.split('/').slice(1) : []) {
        const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
        at.push(/^(0|[1-9]\d*)$/.test(key) && Array.isArray(getAt(rest, at)) ? Number(key) : key);
      }
      const tuple = at.at(-1) === 'items' && Array.isArray(getAt(rest, at));
      return {
        message: ajv.errorsText(errors, { dataVar: 'schema' }),
        at,
        ...(tuple
          ? {
              hint: 'a list under `items` is the draft-07 tuple form: write `prefixItems` (JSON Schema 2020-12), or give `$schema: "http://json-schema.org/draft-07/schema#"`',
            }
          : {}),
      };
    }
    ajv.compile(rest);
    return undefined;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const keyword = /^strict mode: unknown keyword: "(.*)"$/s.exec(message)?.[1];
    if (keyword !== undefined) {
      const guess = didYouMean(keyword, Object.keys(ajv.RULES.keywords));
      return {
        message: `unknown keyword "${keyword}": JSON Schema would ignore it, and the check with it`,
        at: pathOfKey(rest, keyword) ?? [],
        ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}),
      };
    }
    const format = /^unknown format "(.*)" (?:is used|ignored) in schema at path "(.*)"$/s.exec(message);
    if (format) {
      return {
        message: `unknown format "${format[1]}": JSON Schema would ignore it, and the check with it`,
        at: [...pointerPath(format[2]!), 'format'],
        hint: 'formats: date-time, date, time, duration, email, hostname, ipv4, ipv6, uri, uri-reference, uuid, regex, ...',
      };
    }
    return { message, at: [] };
  } finally {
    // ajv caches compiled schemas by object: a long-running proxy reloading its policy would keep
    // every version's.
    ajv.removeSchema(rest);
  }
}
