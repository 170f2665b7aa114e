/**
 * `compilePolicy`: a validated document -> the frozen {@link CompiledPolicy} the runtime
 * evaluates. Exact tool names go in a map, globs and regexes are precompiled, condition paths
 * pre-split, counter and rate-limit keys resolved with their scope.
 */
import { policyHash } from './canonical.js';
import type {
  CompiledCondition,
  CompiledCounter,
  CompiledPolicy,
  CompiledRateLimit,
  CompiledRule,
  CompiledToolEntry,
  CompiledValidate,
  ConditionOp,
  FixedWindow,
  SourceLocation,
} from './compiled.js';
import { emitPolicy } from './emit.js';
import { PolicyCompileError } from './errors.js';
import { type ParsedPolicy, parsePolicy } from './parse.js';
import { tryCompileRegex } from './regex.js';
import type { PolicyCondition, PolicyDocument, PolicyRule } from './schema.js';
import { toolGlobMatcher } from './tool-glob.js';
import { exactToolName, isGlob } from './validate.js';
import { FIXED_WINDOW_MS, parseFixedRate, parseWindowMs } from './windows.js';

/** Most tool names whose rule lists (and hidden verdicts) are memoised; past this, lookups are computed each time. */
const MEMO_LIMIT = 10_000;

const sealed = new WeakSet<object>();

/** A Map whose mutators throw once built, so a compiled policy cannot be changed after the fact. */
class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super(entries);
    sealed.add(this);
    Object.freeze(this);
  }
  override set(key: K, value: V): this {
    if (sealed.has(this)) throw new TypeError('compiled policy maps are read-only');
    return super.set(key, value);
  }
  override delete(): boolean {
    throw new TypeError('compiled policy maps are read-only');
  }
  override clear(): void {
    throw new TypeError('compiled policy maps are read-only');
  }
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/**
 * Stable rate-limit counter key: `rl:<toolKey>:<ruleName>`, each part URI-encoded so `:` cannot
 * collide. A lone surrogate (which `encodeURIComponent` throws on) is written `%uD800`, a form
 * that encoding never produces, so it cannot collide either.
 */
export function rateLimitKey(toolKey: string, ruleName: string): string {
  return `rl:${keyPart(toolKey)}:${keyPart(ruleName)}`;
}

/** `text` URI-encoded, lone surrogates as `%uXXXX` (see {@link rateLimitKey}). */
function keyPart(text: string): string {
  return text.replace(/\p{Cs}|[^\p{Cs}]+/gu, (m) =>
    m.length === 1 && /\p{Cs}/u.test(m)
      ? `%u${m.charCodeAt(0).toString(16).toUpperCase()}`
      : encodeURIComponent(m),
  );
}

function isParsed(x: PolicyDocument | ParsedPolicy): x is ParsedPolicy {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as ParsedPolicy).locate === 'function' &&
    Array.isArray((x as ParsedPolicy).errors)
  );
}

/**
 * Compile a policy. Accepts the result of `parsePolicy` (positions refer to its file) or a plain
 * document (it is printed with `emitPolicy` and re-parsed, so positions refer to that text and
 * validation is exactly the one `parsePolicy` applies).
 * @throws PolicyCompileError carrying every error when the policy is invalid.
 */
export function compilePolicy(input: PolicyDocument | ParsedPolicy): CompiledPolicy {
  let parsed: ParsedPolicy;
  if (isParsed(input)) parsed = input;
  else {
    let text: string;
    try {
      text = emitPolicy(input);
    } catch (e) {
      throw new PolicyCompileError([
        {
          file: '<inline>',
          line: 1,
          column: 1,
          code: 'invalid-type',
          message: `document cannot be printed as YAML: ${e instanceof Error ? e.message : String(e)}`,
          severity: 'error',
        },
      ]);
    }
    parsed = parsePolicy(text);
  }
  if (parsed.errors.length > 0 || !parsed.document) throw new PolicyCompileError(parsed.errors);
  return build(parsed.document, parsed);
}

function build(doc: PolicyDocument, parsed: ParsedPolicy): CompiledPolicy {
  // `loc` and `parsed` must stay out of every closure made in this function: V8 gives all closures
  // of a scope one shared context, so a single closure naming `loc` would keep the whole YAML
  // document (nodes, source text, line table) alive for as long as `isHidden` and `rulesFor` live
  // (6.2 MB for the 1,000-rule benchmark policy). Hence the locator made elsewhere, and a loop.
  const loc = locatorOf(parsed);
  const counters = new Map<string, CompiledCounter>();
  const exact = new Map<string, CompiledToolEntry>();
  const globs: CompiledToolEntry[] = [];
  let wildcard: CompiledToolEntry | undefined;

  for (const [key, entry] of Object.entries(doc.tools ?? {})) {
    const kind: CompiledToolEntry['kind'] = key === '*' ? 'wildcard' : isGlob(key) ? 'glob' : 'exact';
    // An exact key names one tool, its `\` escapes read (`run\*` is the tool `run*`).
    const name = kind === 'exact' ? exactToolName(key) : key;
    const scope = key === '*' ? '_global' : name;
    const rules: CompiledRule[] = [];
    const ruleDocs = entry.rules ?? [];
    for (let i = 0; i < ruleDocs.length; i++)
      rules.push(compileRule(ruleDocs[i]!, key, i, scope, counters, loc));
    const matcher = kind === 'glob' ? toolGlobMatcher(key) : undefined;
    const compiled: CompiledToolEntry = Object.freeze({
      key,
      kind,
      matches:
        kind === 'wildcard'
          ? () => true
          : kind === 'glob'
            ? (name: string) => typeof name === 'string' && matcher!(name)
            : (tool: string) => tool === name,
      rules: Object.freeze(rules),
    });
    if (kind === 'exact') exact.set(name, compiled);
    else if (kind === 'glob') globs.push(compiled);
    else wildcard = compiled;
  }

  const hide = doc.hide ?? [];
  const hideAll = hide.includes('*');
  const hideExact = new Set(hide.filter((h) => !isGlob(h)).map(exactToolName));
  const hideGlobs = hide.filter((h) => isGlob(h));
  const hideMatch = hideGlobs.length ? toolGlobMatcher(hideGlobs) : undefined;

  // Tool names repeat: each name is matched against the hide globs once per policy.
  const hiddenMemo = new Map<string, boolean>();
  const isHidden = (tool: string): boolean => {
    if (typeof tool !== 'string') return false;
    if (hideAll) return true;
    if (!hideMatch) return hideExact.has(tool);
    const hit = hiddenMemo.get(tool);
    if (hit !== undefined) return hit;
    const hidden = hideExact.has(tool) || hideMatch(tool);
    if (hiddenMemo.size < MEMO_LIMIT) hiddenMemo.set(tool, hidden);
    return hidden;
  };

  const memo = new Map<string, readonly CompiledRule[]>();
  const frozenGlobs = Object.freeze(globs);
  const rulesFor = (tool: string): readonly CompiledRule[] => {
    const hit = memo.get(tool);
    if (hit) return hit;
    const list: CompiledRule[] = [];
    const e = exact.get(tool);
    if (e) list.push(...e.rules);
    for (const g of frozenGlobs) if (g.matches(tool)) list.push(...g.rules);
    if (wildcard) list.push(...wildcard.rules);
    const out = Object.freeze(list);
    if (memo.size < MEMO_LIMIT) memo.set(tool, out);
    return out;
  };

  const policy: CompiledPolicy = {
    version: '1',
    default: doc.default ?? 'allow',
    isHidden,
    hide: Object.freeze([...hide]),
    exact: new FrozenMap(exact),
    globs: frozenGlobs,
    entries: Object.freeze([...exact.values(), ...frozenGlobs, ...(wildcard ? [wildcard] : [])]),
    counters: new FrozenMap([...counters.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    rulesFor,
    isListed: (tool: string) => exact.has(tool) || frozenGlobs.some((g) => g.matches(tool)),
    hash: policyHash(doc),
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    ...(wildcard ? { wildcard } : {}),
  };
  return Object.freeze(policy);
}

/** Frozen source locations of policy paths, from the parsed document (see {@link build}). */
function locatorOf(parsed: ParsedPolicy): (path: (string | number)[]) => SourceLocation {
  return (path) => deepFreeze({ ...parsed.locate(path) });
}

function compileRule(
  rule: PolicyRule,
  key: string,
  index: number,
  scope: string,
  counters: Map<string, CompiledCounter>,
  loc: (path: (string | number)[]) => SourceLocation,
): CompiledRule {
  const rp = ['tools', key, 'rules', index];
  const name = rule.name ?? `${key}#${index + 1}`;
  const conditions = (rule.conditions ?? []).map((c, j) =>
    compileCondition(c, scope, loc([...rp, 'conditions', j])),
  );
  const out: {
    -readonly [K in keyof CompiledRule]: CompiledRule[K];
  } = {
    name,
    toolKey: key,
    action: rule.action ?? 'evaluate',
    conditions: Object.freeze(conditions),
    location: loc(rp),
  };
  if (rule.rate_limit !== undefined) out.rateLimit = compileRateLimit(rule.rate_limit, key, name);
  if (rule.validate) {
    const v: { requiredArgs: boolean; schema?: Readonly<Record<string, unknown>> } = {
      requiredArgs: rule.validate.required_args ?? false,
    };
    if (rule.validate.schema) v.schema = structuredClone(rule.validate.schema);
    out.validate = deepFreeze(v as CompiledValidate);
  }
  if (rule.state) {
    const window = rule.state.window as FixedWindow;
    const c: { -readonly [K in keyof CompiledCounter]: CompiledCounter[K] } = {
      id: `${scope}.${rule.state.counter}`,
      scope,
      name: rule.state.counter,
      window,
      windowMs: FIXED_WINDOW_MS[window],
      // 0 reads as 1, as in Intercept (see the increment-ignored warning).
      increment: rule.state.increment || 1,
    };
    if (rule.state.increment_from) {
      c.incrementFromPath = rule.state.increment_from;
      c.incrementFrom = Object.freeze(rule.state.increment_from.split('.').slice(1));
    }
    const frozen = deepFreeze(c as CompiledCounter);
    counters.set(frozen.id, frozen);
    out.state = frozen;
  }
  if (rule.on_deny !== undefined) out.onDeny = rule.on_deny;
  return Object.freeze(out);
}

function compileCondition(c: PolicyCondition, scope: string, location: SourceLocation): CompiledCondition {
  const segs = c.path.split('.');
  const source = segs[0] === 'state' ? 'state' : 'args';
  const out: { -readonly [K in keyof CompiledCondition]: CompiledCondition[K] } = {
    path: c.path,
    source,
    segments: Object.freeze(
      source === 'state' ? [segs.slice(1, -1).join('.'), segs[segs.length - 1]!] : segs.slice(1),
    ),
    op: c.op as ConditionOp,
    value: deepFreeze(c.op === 'regex' || c.op === 'not_regex' ? structuredClone(c.value) : nfcText(c.value)),
    location,
  };
  void scope;
  if (source === 'state') out.counterId = `${segs.slice(1, -1).join('.')}.${segs[segs.length - 1]}`;
  if (c.op === 'regex' || c.op === 'not_regex') {
    const r = tryCompileRegex(c.value as string);
    // Validation already rejected patterns that fail here.
    if (r.ok) out.regex = r.regex;
  }
  return Object.freeze(out);
}

/**
 * A copy of a condition value (`eq`, `neq`, `in`, `not_in`, `contains`) with its text in Unicode
 * normalization form C (UAX #15): a string, or each string of a list. The runtime compares
 * argument text in NFC too (`valueHolds` of `@tollgate/runtime`), so a name written decomposed
 * (`Re\u0301sume\u0301`, pasted from a macOS file name) meets the argument `Résumé`, sent either
 * way. Patterns are left as written: normalizing a regex rewrites its syntax (`[e\u0301]`).
 */
function nfcText(value: unknown): unknown {
  if (typeof value === 'string') return value.normalize('NFC');
  if (Array.isArray(value))
    return value.map((e) => (typeof e === 'string' ? e.normalize('NFC') : structuredClone(e)));
  return structuredClone(value);
}

function compileRateLimit(
  rl: NonNullable<PolicyRule['rate_limit']>,
  key: string,
  name: string,
): CompiledRateLimit {
  const k = rateLimitKey(key, name);
  if (typeof rl === 'string') {
    const f = parseFixedRate(rl)!;
    return Object.freeze({
      kind: 'fixed',
      max: f.max,
      window: f.window,
      windowMs: FIXED_WINDOW_MS[f.window],
      key: k,
    });
  }
  return Object.freeze({ kind: 'sliding', max: rl.max, windowMs: parseWindowMs(rl.window)!, key: k });
}
