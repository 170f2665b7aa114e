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
  /** `additionalProperties` admits other arguments outright (`true`, or a schema for them). */
  readonly open: boolean;
}

/**
 * The top-level `properties` of an object `inputSchema`; undefined when the schema may declare
 * others elsewhere (no `properties`; `patternProperties`, `allOf`/`anyOf`/`oneOf`, `$ref`, `if`,
 * `dependentSchemas`, `unevaluatedProperties`), so nothing can be said. An `additionalProperties`
 * left out is read as "the listed ones" (servers leave it out while naming every argument they
 * take); one that admits others outright marks the tool `open`: it may take any argument.
 */
function declaredArguments(schema: unknown): DeclaredArguments | undefined {
  if (schema === null || typeof schema !== 'object') return undefined;
  const s = schema as Record<string, unknown>;
  // Arguments declared elsewhere than the top-level `properties` (branches, references,
  // conditionals), or admitted by pattern: nothing can be said.
  for (const k of [
    'patternProperties',
    'allOf',
    'anyOf',
    'oneOf',
    '$ref',
    'if',
    'dependentSchemas',
    'unevaluatedProperties',
  ])
    if (s[k] !== undefined) return undefined;
  if (s.properties === null || typeof s.properties !== 'object' || Array.isArray(s.properties))
    return undefined;
  const props = s.properties as Record<string, unknown>;
  const lists = new Set<string>();
  for (const [name, p] of Object.entries(props))
    if (p !== null && typeof p === 'object' && isListType((p as { type?: unknown }).type)) lists.add(name);
  const extra = s.additionalProperties;
  const open = extra === true || (extra !== null && typeof extra === 'object');
  return { names: new Set(Object.keys(props)), lists, open };
}

/**
 * For a path `args.a.b...`: the first segment below the top-level argument that its object schema
 * pins and does not declare (`at`, the index in `segs`; `known`, the names declared there).
 * Undefined when every segment is declared, or when the schema stops saying at some level (no
 * `properties`, open to others, a list, a combinator: see {@link declaredArguments}).
 */
function undeclaredNested(
  schema: unknown,
  segs: readonly string[],
): { at: number; known: string[] } | undefined {
  let s = schema;
  for (let k = 1; k < segs.length; k++) {
    const d = declaredArguments(s);
    if (!d || d.open) return undefined;
    const name = segs[k]!;
    if (!d.names.has(name)) return k === 1 ? undefined : { at: k, known: [...d.names] };
    s = (s as { properties: Record<string, unknown> }).properties[name];
  }
  return undefined;
}

/** `type: array`, or a list of types that are all `array` or `null` (`["array", "null"]`). */
function isListType(type: unknown): boolean {
  if (type === 'array') return true;
  return Array.isArray(type) && type.includes('array') && type.every((t) => t === 'array' || t === 'null');
}

/**
 * Warnings for conditions whose `args.` path names an argument that no tool of its key declares,
 * or, under a glob or `"*"`, that some of the tools it matches do not take (`unknown-argument`: the
 * rule denies every call to those), and for `regex` conditions on an argument every such tool
 * declares as a list (`regex-on-list`). Tools without a schema that pins their arguments are not
 * judged; keys that match no listed tool are `unlisted-tool`'s. Positions are the condition's
 * `path` value.
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
    const hidden = doc.hide?.length ? toolGlobMatcher(doc.hide) : undefined;
    const names = (
      key === '*'
        ? [...schemas.keys()]
        : isGlob(key)
          ? [...schemas.keys()].filter(toolGlobMatcher(key))
          : schemas.has(exactToolName(key))
            ? [exactToolName(key)]
            : []
    ).filter((n) => !hidden?.(n)); // hidden tools are denied anyway
    // Tools whose schema does not pin their arguments are not judged.
    const pinned: Array<{ name: string; args: DeclaredArguments; schema: unknown }> = [];
    for (const n of names) {
      const d = declaredArguments(schemas.get(n));
      if (d) pinned.push({ name: n, args: d, schema: schemas.get(n) });
    }
    if (pinned.length === 0) continue;
    const allPinned = pinned.length === names.length;
    const args = pinned.map((p) => p.args);
    for (const [i, rule] of (entry.rules ?? []).entries()) {
      for (const [j, cond] of (rule.conditions ?? []).entries()) {
        const segs = cond.path.split('.');
        if (segs[0] !== 'args' || segs.length < 2) continue;
        if (cond.op === 'exists' && cond.value === false) continue;
        const arg = segs[1]!;
        const at = locate(['tools', key, 'rules', i, 'conditions', j, 'path']);
        const tools =
          names.length === 1 ? `"${names[0]}"` : `any of the ${names.length} tools "${key}" matches`;
        const lacking = pinned.filter((p) => !p.args.open && !p.args.names.has(arg)).map((p) => p.name);
        if (lacking.length === pinned.length && allPinned) {
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
        } else if (lacking.length > 0 && names.length > 1) {
          // A glob or "*" rule applies to every tool it matches (rules add up): those without the
          // argument are denied on every call.
          const shown = lacking
            .slice(0, 5)
            .map((n) => `"${n}"`)
            .join(', ');
          out.push({
            ...at,
            code: 'unknown-argument',
            message: `${cond.path}: ${lacking.length} of the ${names.length} tools "${key}" matches ${lacking.length === 1 ? 'takes' : 'take'} no "${arg}" argument (${shown}${lacking.length > 5 ? ', ...' : ''}), so the condition fails, and the rule denies, every call to them`,
            hint: `put the rule under a key naming only the tools that take "${arg}"`,
            severity: 'warning',
          });
        } else if (segs.length > 2 && lacking.length === 0 && allPinned) {
          // A member below the argument (`args.payment.amout`): judged where every tool's schema
          // pins the members at that level and none declares it.
          const misses = pinned.map((p) => undeclaredNested(p.schema, segs));
          const miss = misses[0];
          // Named precisely when every tool misses the same member (a glob's tools may differ).
          if (
            miss &&
            misses.every((m) => m !== undefined && m.at === miss.at && m.known.join() === miss.known.join())
          ) {
            const parent = segs.slice(1, miss.at).join('.');
            const name = segs[miss.at]!;
            const guess = didYouMean(name, miss.known);
            out.push({
              ...at,
              code: 'unknown-argument',
              message: `${cond.path}: "${parent}" of ${tools} has no member "${name}" (inputSchema), so the condition finds nothing and fails on every call`,
              hint: guess
                ? `did you mean \`args.${[...segs.slice(1, miss.at), guess, ...segs.slice(miss.at + 1)].join('.')}\`?`
                : `the members of "${parent}": ${miss.known.join(', ') || '(none)'}`,
              severity: 'warning',
            });
          }
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
