/**
 * Condition paths checked against the tools' `inputSchema`s (`tollgate validate --server`): a
 * condition on `args.pth` where the tool takes `path` validates, and then fails on every call (a
 * missing path fails the condition, so the rule denies); a `regex` on an argument the schema
 * declares as a list fails on every call too (`regex` tests strings, not lists). Both fail closed,
 * but only show up as denials at run time.
 */
import type { PolicyError } from './errors.js';
import type { PolicyDocument } from './schema.js';
import { toolGlobMatcher } from './tool-glob.js';
import { didYouMean, exactToolName, isGlob } from './validate.js';
import type { Locator } from './yaml-source.js';

/** The top-level arguments a tool's `inputSchema` declares, and which of them are lists. */
interface DeclaredArguments {
  readonly names: ReadonlySet<string>;
  readonly lists: ReadonlySet<string>;
}

/**
 * The `properties` of an object `inputSchema`; undefined when the schema does not pin them (no
 * `properties`, `patternProperties`, or an `additionalProperties` that admits others outright), so
 * nothing can be said. An `additionalProperties` left out is read as "the listed ones": servers
 * leave it out while naming every argument they take.
 */
function declaredArguments(schema: unknown): DeclaredArguments | undefined {
  if (schema === null || typeof schema !== 'object') return undefined;
  const s = schema as { properties?: unknown; patternProperties?: unknown; additionalProperties?: unknown };
  if (s.patternProperties !== undefined) return undefined;
  // A schema that says outright it takes other arguments (`true`, or a schema for them).
  if (
    s.additionalProperties === true ||
    (s.additionalProperties !== null && typeof s.additionalProperties === 'object')
  )
    return undefined;
  if (s.properties === null || typeof s.properties !== 'object' || Array.isArray(s.properties))
    return undefined;
  const props = s.properties as Record<string, unknown>;
  const lists = new Set<string>();
  for (const [name, p] of Object.entries(props))
    if (p !== null && typeof p === 'object' && (p as { type?: unknown }).type === 'array') lists.add(name);
  return { names: new Set(Object.keys(props)), lists };
}

/**
 * Warnings for conditions whose `args.` path names an argument that no tool of its key declares
 * (`unknown-argument`), and for `regex` conditions on an argument every such tool declares as a
 * list (`regex-on-list`). Tools without a schema that pins their arguments are not judged; keys
 * that match no listed tool are `unlisted-tool`'s. Positions are the condition's `path` value.
 *
 * @param schemas every listed tool's name and `inputSchema` (its whole `tools/list`)
 */
export function argumentPathWarnings(
  doc: PolicyDocument,
  schemas: ReadonlyMap<string, unknown>,
  locate: Locator,
): PolicyError[] {
  const out: PolicyError[] = [];
  for (const [key, entry] of Object.entries(doc.tools ?? {})) {
    if (key === '*') continue;
    const names = isGlob(key)
      ? [...schemas.keys()].filter(toolGlobMatcher(key))
      : schemas.has(exactToolName(key))
        ? [exactToolName(key)]
        : [];
    const declared = names.map((n) => declaredArguments(schemas.get(n)));
    // Only when every tool of the key pins its arguments can a missing one be called a typo.
    if (declared.length === 0 || declared.some((d) => d === undefined)) continue;
    const args = declared as DeclaredArguments[];
    for (const [i, rule] of (entry.rules ?? []).entries()) {
      for (const [j, cond] of (rule.conditions ?? []).entries()) {
        const segs = cond.path.split('.');
        if (segs[0] !== 'args' || segs.length < 2) continue;
        const arg = segs[1]!;
        const at = locate(['tools', key, 'rules', i, 'conditions', j, 'path']);
        const tools =
          names.length === 1 ? `"${names[0]}"` : `any of the ${names.length} tools "${key}" matches`;
        if (!args.some((a) => a.names.has(arg))) {
          if (cond.op === 'exists' && cond.value === false) continue;
          const known = [...new Set(args.flatMap((a) => [...a.names]))];
          const guess = didYouMean(arg, known);
          out.push({
            ...at,
            code: 'unknown-argument',
            message: `${cond.path}: "${arg}" is no argument of ${tools} (inputSchema), so the condition finds nothing and fails on every call`,
            hint: guess
              ? `did you mean \`args.${[guess, ...segs.slice(2)].join('.')}\`?`
              : `its arguments: ${known.join(', ') || '(none)'}`,
            severity: 'warning',
          });
        } else if (cond.op === 'regex' && segs.length === 2 && args.every((a) => a.lists.has(arg))) {
          out.push({
            ...at,
            code: 'regex-on-list',
            message: `${cond.path} is a list in the inputSchema of ${tools}: regex tests strings, so it fails on every call`,
            hint: 'to confine every element, use a validate.schema with an items pattern, or not_regex (which searches every element); see "Lists of paths" in docs/policy-reference.md',
            severity: 'warning',
          });
        }
      }
    }
  }
  return out;
}
