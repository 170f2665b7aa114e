/**
 * Validation of a parsed policy value: the zod schema for structure and types, then the checks
 * that span fields (operator vs value, counters read vs defined, reachability, duplicates).
 * Both passes always run, so every problem is reported at once, each with its source position.
 */
import { closest, distance } from 'fastest-levenshtein';
import picomatch from 'picomatch';
import type { z } from 'zod';
import { type PolicyError, type PolicyErrorCode, sortErrors } from './errors.js';
import { jsonSchemaProblem } from './json-schema-check.js';
import { tryCompileRegex } from './regex.js';
import { CONDITION_OPS, FIXED_WINDOWS, KNOWN_KEYS, policyDocumentSchema, RULE_ACTIONS } from './schema.js';
import { toolGlobMatcher } from './tool-glob.js';
import { MAX_SLIDING_WINDOW_MS, parseWindowMs, windowLengthMs } from './windows.js';
import { goNumberValue, type Locator, type ValuePath } from './yaml-source.js';

/** Errors and warnings found by {@link validatePolicyValue}, sorted by position. */
export interface ValidationResult {
  errors: PolicyError[];
  warnings: PolicyError[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/**
 * A JavaScript regex literal with flags (`/abc/i`): group 1 the body (no unescaped `/`), group 2
 * the flags. Without flags, `/etc/` is a plausible pattern for a path and is left alone.
 */
const JS_REGEX_LITERAL = /^\/((?:[^/\\]|\\.)+)\/([dgimsuvy]+)$/;

/**
 * How a value reads in a message. Non-finite numbers in YAML spelling (JSON would print `null`);
 * infinity is also what a number too large for a double (`1e400`) loads as.
 */
const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'a list'
      : typeof v === 'object'
        ? 'a mapping'
        : typeof v === 'number' && !Number.isFinite(v)
          ? Number.isNaN(v)
            ? '.nan (not a number)'
            : `${v > 0 ? '' : '-'}.inf (infinity, or a number too large to represent, such as 1e400)`
          : `${JSON.stringify(v)} (${typeof v})`;

/**
 * The known word closest to `word` (Levenshtein distance) when it is near enough to be a plausible
 * typo: at most max(2, a third of `word`'s length) edits; else undefined (also for no `known`).
 * Used for "did you mean" hints on policy keys, test file keys and values.
 */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const best = closest(word, known as string[]);
  return distance(word, best) <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** True when a tool key or hide entry is a glob rather than an exact tool name. */
export function isGlob(key: string): boolean {
  return key !== '*' && picomatch.scan(key).isGlob;
}

/**
 * The tool name an exact (non-glob) key or hide entry stands for: `\` escapes the next character
 * there as in a glob (docs/policy-reference.md), so `run\*` names the tool `run*`.
 */
export function exactToolName(key: string): string {
  return key.includes('\\') ? key.replace(/\\(.)/gsu, '$1') : key;
}

/** Why picomatch cannot build a matcher with strict bracket checking, or undefined when it can. */
function globProblem(glob: string): string | undefined {
  // picomatch would read a leading `!` as "everything except"; too easy to misread in a policy.
  if (glob.startsWith('!')) return 'negated globs ("!...") are not supported';
  // Only strings with glob syntax can be malformed globs; MCP tool names never contain these.
  // Escaped characters are text, and so is a `]` that no `[` opens (`x\[1]` names `x[1]`).
  const unescaped = glob.replace(/\\./gsu, '');
  if (!/[[{}()*?]/.test(unescaped)) return undefined;
  // Shell and picomatch syntax that Tollgate's globs do not have: refused rather than matched as
  // literal text (a `hide: ["tool_{1..3}"]` that hides no `tool_1` fails open).
  if (/\{(?:-?\d+|[A-Za-z])\.\.(?:-?\d+|[A-Za-z])(?:\.\.-?\d+)?\}/.test(unescaped)) {
    return 'brace ranges ("{1..3}") are not supported: list the alternatives, {1,2,3}';
  }
  if (/[@*+?!]\(/.test(unescaped)) {
    return 'extglobs ("@(a|b)", "*(a)", "+(a)", "?(a)", "!(a)") are not supported: use {a,b} alternatives';
  }
  if (/\[[!^]?\[:[a-z]+:\]/.test(unescaped)) {
    return 'POSIX classes ("[[:alpha:]]") are not supported: list the characters, [a-zA-Z]';
  }
  try {
    picomatch.makeRe(glob, { strictBrackets: true });
    // What picomatch accepts, the matcher must build too (`[z-a]`, a reversed range, picomatch
    // turns into a regex that matches nothing, without an error).
    toolGlobMatcher(glob);
    return undefined;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return message.replace(/^glob ".*?" cannot be matched: /su, '');
  }
}

function globHint(problem: string): string {
  if (problem.startsWith('negated'))
    return 'to allow only some tools, use `default: deny` and list them under `tools`';
  if (/^(brace ranges|extglobs|POSIX classes)/.test(problem)) {
    return 'Tollgate globs have *, ?, {a,b}, [abc] and [!abc] (docs/policy-reference.md); escape a literal character with a backslash';
  }
  if (/range/.test(problem))
    return 'a character range runs from the lower character to the higher one: [a-z], not [z-a]';
  return 'close every [ ], { } and ( ), or escape a literal one with a backslash';
}

function knownKeysFor(path: ValuePath): readonly string[] {
  const n = path.length;
  if (n === 0) return KNOWN_KEYS.document;
  if (n === 2 && path[0] === 'tools') return KNOWN_KEYS.toolEntry;
  if (n === 4 && path[2] === 'rules') return KNOWN_KEYS.rule;
  if (n === 6 && path[4] === 'conditions') return KNOWN_KEYS.condition;
  if (n === 5 && path[4] === 'state') return KNOWN_KEYS.state;
  if (n === 5 && path[4] === 'validate') return KNOWN_KEYS.validate;
  if (n === 5 && path[4] === 'rate_limit') return KNOWN_KEYS.rateLimit;
  return [];
}

/** Paths whose zod issues are superseded by the precise checks below. */
function handledBySemanticPass(path: ValuePath): boolean {
  const p = path.map(String);
  const last = p[p.length - 1];
  if (p.includes('rate_limit')) return true;
  if (p.length === 7 && p[4] === 'conditions' && (last === 'op' || last === 'value')) return true;
  if (p.length === 6 && p[4] === 'state' && (last === 'window' || last === 'increment')) return true;
  if (p.length === 6 && p[4] === 'validate' && last === 'schema') return true;
  return false;
}

const FIELD_CODES: Record<string, PolicyErrorCode> = {
  version: 'invalid-version',
  default: 'invalid-default',
  action: 'invalid-action',
};

/**
 * Validate a plain value (from YAML) as a policy document. Never throws.
 * @param value the parsed YAML value
 * @param locate maps a path to its position (see `readYaml`)
 */
export function validatePolicyValue(value: unknown, locate: Locator): ValidationResult {
  const errors: PolicyError[] = [];
  const warnings: PolicyError[] = [];
  const seen = new Set<string>();
  const add = (
    path: ValuePath,
    code: PolicyErrorCode,
    message: string,
    hint?: string,
    opts: { at?: 'key' | 'value'; severity?: 'error' | 'warning' } = {},
  ) => {
    const loc = locate(path, opts.at);
    const severity = opts.severity ?? 'error';
    const key = `${loc.line}:${loc.column}:${code}:${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    const e: PolicyError = { ...loc, code, message, severity };
    if (hint) e.hint = hint;
    (severity === 'error' ? errors : warnings).push(e);
  };

  if (!isObj(value)) {
    add(
      [],
      'not-a-mapping',
      `a policy must be a YAML mapping, got ${describe(value)}`,
      'start with `version: "1"`',
    );
    return { errors, warnings };
  }

  // Pass 1: structure and types.
  const parsed = policyDocumentSchema.safeParse(value);
  if (!parsed.success) for (const issue of parsed.error.issues) mapZodIssue(issue, value, add);

  // Pass 2: the rules that span fields.
  semanticChecks(value, add);

  return { errors: sortErrors(errors), warnings: sortErrors(warnings) };
}

type Add = (
  path: ValuePath,
  code: PolicyErrorCode,
  message: string,
  hint?: string,
  opts?: { at?: 'key' | 'value'; severity?: 'error' | 'warning' },
) => void;

/** The value at `path` in `root` (an index steps into a list, a name into a mapping), or undefined. */
export function getAt(root: unknown, path: ValuePath): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isObj(v)) v = v[String(seg)];
    else return undefined;
  }
  return v;
}

function mapZodIssue(issue: z.core.$ZodIssue, root: unknown, add: Add): void {
  const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  if (handledBySemanticPass(path)) return;
  const last = path[path.length - 1];
  const field = last === undefined ? 'document' : String(last);
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysFor(path);
    for (const k of issue.keys) {
      const guess = didYouMean(k, known);
      add(
        [...path, k],
        'unknown-key',
        `unknown key \`${k}\`${path.length ? ` in ${describePath(path)}` : ''}`,
        guess ? `did you mean \`${guess}\`?` : known.length ? `allowed keys: ${known.join(', ')}` : undefined,
        { at: 'key' },
      );
    }
    return;
  }
  const actual = getAt(root, path);
  if (actual === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    const hint = field === 'version' ? 'add `version: "1"` at the top of the file' : undefined;
    add(path.slice(0, -1), 'missing-field', `missing required field \`${field}\``, hint);
    return;
  }
  const code = FIELD_CODES[field];
  if (code === 'invalid-version') {
    add(
      path,
      code,
      `version must be "1", got ${describe(actual)}`,
      typeof actual === 'number'
        ? 'quote it: `version: "1"` (a bare 1 is a number in YAML)'
        : 'set `version: "1"`',
    );
    return;
  }
  if (code === 'invalid-default') {
    const guess = typeof actual === 'string' ? didYouMean(actual, ['allow', 'deny']) : undefined;
    add(
      path,
      code,
      `default must be "allow" or "deny", got ${describe(actual)}`,
      guess ? `did you mean \`${guess}\`?` : 'use allow or deny, or omit the field (allow)',
    );
    return;
  }
  if (code === 'invalid-action') {
    const guess = typeof actual === 'string' ? didYouMean(actual, RULE_ACTIONS) : undefined;
    add(
      path,
      code,
      `action must be "evaluate", "allow" or "deny", got ${describe(actual)}`,
      guess ? `did you mean \`${guess}\`?` : 'use evaluate (the default), allow or deny',
    );
    return;
  }
  if (path.length === 6 && path[4] === 'state' && field === 'counter') return; // reported precisely below
  const expected = issue.message
    .replace(/^Invalid input: /, '')
    .replace(/, received \w+$/, '')
    .replace(/\brecord\b/, 'object');
  const wantsList = /expected array/.test(issue.message);
  const wantsMapping = /expected (object|record)/.test(issue.message);
  add(
    path,
    'invalid-type',
    `${describePath(path)}: ${expected}, got ${describe(actual)}`,
    path.length === 2 && path[0] === 'tools' && TOOL_ENTRY_KEYS.has(String(path[1])) && actual !== null
      ? `\`${String(path[1])}\` is read as a tool of that name: indent it under its tool's name (two more spaces)`
      : actual === null
        ? wantsList
          ? 'a key with nothing after the colon is null in YAML; write `[]` for an empty list, or remove the key'
          : wantsMapping
            ? 'a key with nothing after the colon is null in YAML; write `{}` for an empty mapping, or remove the key'
            : 'a key with nothing after the colon is null in YAML; give it a value, or remove the key'
        : Array.isArray(actual) === false && wantsList
          ? 'write a list: `[a, b]` or one `- item` per line'
          : Array.isArray(actual) && wantsMapping && path.length === 2 && path[0] === 'tools'
            ? 'a tool entry is a mapping: `{}` lists the tool without rules, `{ rules: [...] }` gives it rules'
            : undefined,
  );
}

/** Keys of a tool entry, which land under `tools:` when written one indentation level too far out. */
const TOOL_ENTRY_KEYS: ReadonlySet<string> = new Set(['rules', 'description']);

function describePath(path: ValuePath): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s || 'document';
}

/**
 * A scalar as a YAML flow-sequence item that loads as the same value: plain where YAML reads the
 * text as that string (`rm`, `/tmp/x`), else quoted (`"yes"`, `"1"`, `"a b"`); numbers and
 * booleans as they are.
 */
function flowItem(x: unknown): string {
  if (typeof x !== 'string') return JSON.stringify(x) ?? String(x);
  const plain =
    /^[A-Za-z_/.][\w./-]*$/.test(x) && !/^(y|n|yes|no|true|false|on|off|null|~|\.inf|\.nan)$/i.test(x);
  return plain ? x : JSON.stringify(x);
}

/** Operators people write from other languages, and the name this language uses. */
const OP_SYMBOLS: Record<string, string> = {
  '<': 'lt',
  '<=': 'lte',
  '>': 'gt',
  '>=': 'gte',
  '=': 'eq',
  '==': 'eq',
  '===': 'eq',
  '!=': 'neq',
  '!==': 'neq',
  '=~': 'regex',
  '!~': 'not_regex',
  matches: 'regex',
  not_matches: 'not_regex',
  not_match: 'not_regex',
  equals: 'eq',
  includes: 'contains',
};

const EXPECTS: Partial<
  Record<(typeof CONDITION_OPS)[number], 'list' | 'number' | 'boolean' | 'string' | 'scalar'>
> = {
  in: 'list',
  not_in: 'list',
  lt: 'number',
  lte: 'number',
  gt: 'number',
  gte: 'number',
  exists: 'boolean',
  regex: 'string',
  not_regex: 'string',
  eq: 'scalar',
  neq: 'scalar',
  contains: 'scalar',
};

function checkRateLimit(rl: unknown, base: ValuePath, add: Add): void {
  const windows = FIXED_WINDOWS as readonly string[];
  if (typeof rl === 'string') {
    const slash = rl.indexOf('/');
    if (slash < 0) {
      add(
        base,
        'invalid-rate-limit',
        `rate_limit must be \`N/minute\`, \`N/hour\`, \`N/day\` or { max, window }, got ${describe(rl)}`,
        'e.g. `rate_limit: 5/hour` or `rate_limit: { max: 10, window: 60 }`',
      );
      return;
    }
    const count = rl.slice(0, slash).trim();
    const window = rl.slice(slash + 1).trim();
    const n = Number(count);
    let bad = false;
    if (!/^[0-9]+$/.test(count) || !Number.isSafeInteger(n) || n <= 0) {
      bad = true;
      add(
        base,
        'invalid-rate-limit-count',
        `rate_limit count must be a positive integer, got "${count}"`,
        'e.g. `rate_limit: 5/hour`',
      );
    } else if (count.startsWith('0')) {
      bad = true;
      add(
        base,
        'invalid-rate-limit-count',
        `rate_limit count must be written without leading zeros, got "${count}"`,
        `write \`${n}/${window}\``,
      );
    }
    if (!bad && windows.includes(window) && rl !== `${count}/${window}`)
      add(
        base,
        'invalid-rate-limit',
        `rate_limit must be written without spaces (N/minute, N/hour or N/day), got ${JSON.stringify(rl)}`,
        `write \`${count}/${window}\``,
      );
    if (!windows.includes(window)) {
      const guess = didYouMean(window.replace(/s$/, ''), windows);
      add(
        base,
        'invalid-rate-limit-window',
        `rate_limit window must be "minute", "hour" or "day", got "${window}"`,
        window === 'second' || window === 'sec' || window === 's'
          ? 'per-second limits use the sliding form: `rate_limit: { max: N, window: 1 }`'
          : guess
            ? `did you mean \`${count}/${guess}\`?`
            : 'use N/minute, N/hour or N/day, or { max, window } for other windows',
      );
    }
    return;
  }
  if (isObj(rl)) {
    if (!('max' in rl))
      add(
        base,
        'missing-field',
        'missing required field `max` in rate_limit',
        'e.g. `{ max: 10, window: 60 }`',
      );
    else if (typeof rl.max !== 'number' || !Number.isSafeInteger(rl.max) || rl.max <= 0)
      add(
        [...base, 'max'],
        'invalid-rate-limit-count',
        `rate_limit max must be a positive integer, got ${describe(rl.max)}`,
      );
    if (!('window' in rl))
      add(
        base,
        'missing-field',
        'missing required field `window` in rate_limit',
        'seconds, or `30s`, `5m`, `1h`, `1d`',
      );
    else if (parseWindowMs(rl.window) === undefined) {
      const ms = windowLengthMs(rl.window);
      const unitless = typeof rl.window === 'string' && /^\s*[0-9]+(?:\.[0-9]+)?\s*$/.test(rl.window);
      add(
        [...base, 'window'],
        'invalid-rate-limit-window',
        ms !== undefined && ms > MAX_SLIDING_WINDOW_MS
          ? `rate_limit window must be at most 366d (${MAX_SLIDING_WINDOW_MS / 1000} seconds), got ${describe(rl.window)}`
          : unitless
            ? `rate_limit window "${rl.window as string}" is text without a unit`
            : ms === undefined
              ? `rate_limit window must be a number of seconds or a duration like 30s, 5m, 1h, 1d, 1.5h (digits and one unit), got ${describe(rl.window)}`
              : `rate_limit window must be at least 1 ms (0.001 seconds), got ${describe(rl.window)}`,
        unitless
          ? `write \`${(rl.window as string).trim()}s\` (or the number unquoted, in seconds)`
          : undefined,
      );
    }
    for (const k of Object.keys(rl))
      if (k !== 'max' && k !== 'window') {
        const guess = didYouMean(k, KNOWN_KEYS.rateLimit);
        add(
          [...base, k],
          'unknown-key',
          `unknown key \`${k}\` in rate_limit`,
          guess ? `did you mean \`${guess}\`?` : 'allowed keys: max, window',
          { at: 'key' },
        );
      }
    return;
  }
  add(
    base,
    'invalid-rate-limit',
    `rate_limit must be \`N/minute|hour|day\` or { max, window }, got ${describe(rl)}`,
    'e.g. `rate_limit: 5/hour`',
  );
}

interface CounterRef {
  path: ValuePath;
  scope: string;
  counter: string;
}

/**
 * What makes a tool name or argument path hold text nobody can see: whitespace at either end, or
 * an invisible character (zero-width, bidi control, other format or control character). A key
 * written so matches only a name spelled the same way, which no MCP tool name is (tool names use
 * letters, digits, `_`, `-`, `.` and `/`: MCP 2025-11-25 "Tools", "Tool names").
 */
function invisibleText(s: string): string | undefined {
  if (/^\s/u.test(s)) return 'starts with whitespace';
  if (/\s$/u.test(s)) return 'ends with whitespace';
  return invisibleCharacter(s);
}

/** `s` without whitespace beside the commas and braces of its brace groups. */
function tidyBraces(s: string): string {
  return s.replace(/(?<!\\)\{[^{}]*\}/g, (g) => g.replace(/\s*([{,}])\s*/g, '$1'));
}

/**
 * For a tool key or hide entry: {@link invisibleText}, or an alternative of a brace group that
 * starts or ends with whitespace (`{write_file, edit_file}` names " edit_file", not "edit_file").
 */
function invisibleInName(s: string): string | undefined {
  const unseen = invisibleText(s);
  if (unseen || !isGlob(s)) return unseen;
  for (const group of s.matchAll(/(?<!\\)\{([^{}]*)\}/g))
    for (const alt of group[1]!.split(','))
      if (/^\s|\s$/u.test(alt) && alt.trim() !== '')
        return `has the brace alternative ${JSON.stringify(alt)}, which ${/^\s/u.test(alt) ? 'starts' : 'ends'} with whitespace`;
  return undefined;
}

/**
 * `holds the invisible character U+XXXX` for the first character of `s` nobody can see: a
 * zero-width, bidi control, other format or control character, a line or paragraph separator, or
 * a Hangul filler. Undefined when there is none.
 */
function invisibleCharacter(s: string): string | undefined {
  // A zero-width joiner inside an emoji sequence (👨‍💻) is part of what is seen; Hangul fillers
  // are letters (Lo) that show nothing.
  const m = /[\p{Cf}\p{Cc}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0]/u.exec(
    s.replace(/(?<=\p{Extended_Pictographic}\uFE0F?)\u200D(?=\p{Extended_Pictographic})/gu, ''),
  );
  if (m)
    return `holds the invisible character U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return undefined;
}

function semanticChecks(doc: Obj, add: Add): void {
  // hide
  const hidden: string[] = [];
  if (Array.isArray(doc.hide)) {
    const seen = new Map<string, number>();
    doc.hide.forEach((h, i) => {
      if (typeof h !== 'string') return;
      if (h.trim() === '') {
        add(
          ['hide', i],
          'hide-empty-entry',
          `hide[${i}]: entry must not be empty`,
          'remove it or write a tool name',
        );
        return;
      }
      // Exact entries compare as the names they stand for (`move\_file` is `move_file`).
      const as = isGlob(h) ? h : exactToolName(h);
      if (seen.has(as))
        add(
          ['hide', i],
          'hide-duplicate',
          as === h
            ? `hide: duplicate entry "${h}" (also hide[${seen.get(as)}])`
            : `hide: duplicate entry "${h}", the tool "${as}" (also hide[${seen.get(as)}])`,
          'remove the duplicate',
        );
      else seen.set(as, i);
      const unseen = invisibleInName(h);
      if (unseen) {
        // A brace alternative with a space names no tool (MCP tool names hold none): an error,
        // as the tool the author meant would stay visible and callable.
        const brace = unseen.startsWith('has the brace');
        add(
          ['hide', i],
          brace ? 'brace-alternative-space' : 'invisible-text',
          `hide entry ${JSON.stringify(h)} ${unseen}, so it hides no tool spelled without it`,
          brace ? `write ${JSON.stringify(tidyBraces(h))}` : 'write the tool name alone',
          brace ? undefined : { severity: 'warning' },
        );
      }
      const p = globProblem(h);
      if (p) add(['hide', i], 'invalid-glob', `hide[${i}]: invalid glob "${h}": ${p}`, globHint(p));
      else hidden.push(h);
    });
  }
  const hiddenMatch = hidden.length ? toolGlobMatcher(hidden) : () => false;

  // `default: deny` lists tools by exact or glob key only: `"*"` rules apply to listed tools and
  // never list one, so a policy whose only entry is `"*"` denies every call.
  if (doc.default === 'deny' && isObj(doc.tools)) {
    const keys = Object.keys(doc.tools);
    if (keys.length === 1 && keys[0] === '*')
      add(
        ['default'],
        'wildcard-lists-nothing',
        'default: deny with no tool key but "*": every call is denied, since "*" rules apply to listed tools and list none',
        'list the tools the agent may call under their names or a glob (`"read_*"`), or use `default: allow`',
        { severity: 'warning' },
      );
  }

  if (!isObj(doc.tools)) return;
  const defined = new Map<string, ValuePath>();
  const reads: CounterRef[] = [];

  // Exact keys by the tool they name: `write\_file` and `write_file` are one tool, and two
  // entries for it would leave one entry's rules out.
  const exactNames = new Map<string, string>();
  // `"*"` and glob entries with an unconditional deny rule, and the exact entries they may cover
  // (checked after the loop: `denied-by-wildcard`).
  const denyingKeys: { key: string; denyAt: number; denyName?: string }[] = [];
  const exactEntries: { key: string; path: ValuePath; hasRules: boolean; denies: boolean }[] = [];
  const globEntries: { key: string; path: ValuePath; hasRules: boolean }[] = [];
  for (const [key, entry] of Object.entries(doc.tools)) {
    const entryPath = ['tools', key];
    if (key !== '*' && !isGlob(key) && key.trim() !== '') {
      const name = exactToolName(key);
      const prior = exactNames.get(name);
      if (prior !== undefined)
        add(
          entryPath,
          'duplicate-key',
          `tool key "${key}" names the tool "${name}", as "${prior}" does: only one entry's rules would apply`,
          'merge the two entries into one',
          { at: 'key' },
        );
      else exactNames.set(name, key);
    }
    if (key.trim() === '')
      add(
        entryPath,
        'empty-tool-key',
        'tool key must not be empty',
        'write a tool name, a glob or "*" (a bare `null` or `~` key is empty in YAML; quote it if a tool has that name)',
        { at: 'key' },
      );
    const unseen = key.trim() === '' ? undefined : invisibleInName(key);
    if (unseen) {
      const brace = unseen.startsWith('has the brace');
      add(
        entryPath,
        brace ? 'brace-alternative-space' : 'invisible-text',
        `tool key ${JSON.stringify(key)} ${unseen}, so its rules apply to no tool spelled without it`,
        brace ? `write ${JSON.stringify(tidyBraces(key))}` : 'write the tool name alone',
        brace ? { at: 'key' } : { at: 'key', severity: 'warning' },
      );
    }
    const glob = isGlob(key);
    const badGlob = globProblem(key);
    if (badGlob)
      add(entryPath, 'invalid-glob', `invalid glob "${key}": ${badGlob}`, globHint(badGlob), {
        at: 'key',
      });
    if (key !== '*' && !glob && hidden.length && hiddenMatch(exactToolName(key)))
      add(
        entryPath,
        'hidden-tool-has-rules',
        isObj(entry) && Array.isArray(entry.rules) && entry.rules.length > 0
          ? `tool "${key}" is hidden, so its rules never run`
          : `tool "${key}" is hidden, so its entry never applies`,
        'remove it from `hide` or drop its rules',
        {
          at: 'key',
          severity: 'warning',
        },
      );
    const rules = isObj(entry) && Array.isArray(entry.rules) ? entry.rules : undefined;
    const denyRule = rules?.findIndex((r) => isObj(r) && r.action === 'deny') ?? -1;
    if (key === '*' || glob) {
      if (denyRule !== -1 && !badGlob) {
        const name = (rules![denyRule] as Obj).name;
        denyingKeys.push({ key, denyAt: denyRule, ...(typeof name === 'string' ? { denyName: name } : {}) });
      }
      // A glob entry is covered by a denying "*" (another glob may or may not overlap it).
      else if (glob && !badGlob)
        globEntries.push({ key, path: entryPath, hasRules: (rules?.length ?? 0) > 0 });
    } else if (key.trim() !== '' && !(hidden.length && hiddenMatch(exactToolName(key))))
      exactEntries.push({
        key,
        path: entryPath,
        hasRules: (rules?.length ?? 0) > 0,
        denies: denyRule !== -1,
      });
    if (!isObj(entry) || !Array.isArray(entry.rules)) continue;
    const scope = key === '*' ? '_global' : isGlob(key) ? key : exactToolName(key);
    const names = new Map<string, number>();
    let denyAt: number | undefined;
    const toolReads = reads.length;
    /** Rules that count a counter but read only another scope's of that name (checked below). */
    const copied: Array<{ name: string; counted: string; other: CounterRef }> = [];
    entry.rules.forEach((rule, i) => {
      const rp: ValuePath = ['tools', key, 'rules', i];
      if (!isObj(rule)) return;
      const name = typeof rule.name === 'string' ? rule.name : `${key}#${i + 1}`;
      if (typeof rule.name === 'string' && rule.name.trim() === '')
        add(
          [...rp, 'name'],
          'empty-name',
          'rule name must not be empty',
          'give the rule a name, or omit `name` to get an automatic one',
        );
      else if (names.has(name))
        add(
          typeof rule.name === 'string' ? [...rp, 'name'] : rp,
          'duplicate-rule-name',
          `duplicate rule name "${name}" under "${key}" (also rules[${names.get(name)}])`,
          'rule names identify denials and rate-limit buckets; make them unique',
        );
      else names.set(name, i);
      if (typeof rule.on_deny === 'string' && rule.on_deny.trim() === '')
        add(
          [...rp, 'on_deny'],
          'empty-name',
          'on_deny message must not be empty',
          'write a message for the agent, or omit on_deny',
        );

      if (denyAt !== undefined)
        add(
          rp,
          'unreachable-rule',
          `rule "${name}" can never run: rules[${denyAt}] under "${key}" always denies`,
          'remove it, or remove the deny rule',
          {
            severity: 'warning',
          },
        );

      const action = typeof rule.action === 'string' ? rule.action : 'evaluate';
      const conds = Array.isArray(rule.conditions) ? rule.conditions : [];
      const hasRl = rule.rate_limit !== undefined;
      if (action === 'deny') {
        denyAt ??= i;
        if (conds.length > 0)
          add(
            [...rp, 'conditions'],
            'deny-with-conditions',
            'deny rules must not have conditions',
            'remove `conditions`, or use action: evaluate to deny only when a condition fails',
            { at: 'key' },
          );
        for (const k of ['rate_limit', 'state', 'validate'] as const)
          if (rule[k] !== undefined)
            add(
              [...rp, k],
              'deny-with-rate-limit',
              `${k} cannot be used with action "deny"`,
              `remove \`${k}\` or change the action`,
              { at: 'key' },
            );
      } else if (action === 'evaluate' && conds.length === 0 && !hasRl && rule.validate === undefined) {
        add(
          rp,
          'evaluate-without-conditions',
          'evaluate rules must have at least one condition, a rate_limit or a validate block',
          'add a condition, or use `action: allow` for a rule that only counts',
        );
      } else if (
        action === 'allow' &&
        conds.length === 0 &&
        !hasRl &&
        rule.validate === undefined &&
        rule.state === undefined
      ) {
        add(
          rp,
          'rule-has-no-effect',
          `rule "${name}" checks nothing`,
          'add rate_limit/validate/conditions, or remove the rule (an empty `rules: []` lists a tool)',
          { severity: 'warning' },
        );
      }
      const v = rule.validate as { required_args?: unknown; schema?: unknown } | null | undefined;
      if (isObj(v) && v.required_args !== true && v.schema === undefined) {
        add(
          [...rp, 'validate'],
          'rule-has-no-effect',
          `rule "${name}": validate checks nothing`,
          'set `required_args: true` or give a `schema`, or remove `validate`',
          { severity: 'warning' },
        );
      }
      if (hasRl && action !== 'deny') {
        if (conds.length > 0 || rule.state !== undefined)
          add(
            [...rp, 'rate_limit'],
            'rate-limit-with-conditions',
            'rate_limit cannot be combined with conditions or state',
            'put the rate_limit in its own rule',
            { at: 'key' },
          );
      }
      if (hasRl) checkRateLimit(rule.rate_limit, [...rp, 'rate_limit'], add);

      const readsBefore = reads.length;
      if (Array.isArray(rule.conditions))
        rule.conditions.forEach((c, j) => {
          if (isObj(c)) checkCondition(c, [...rp, 'conditions', j], add, reads);
        });
      // A rule copied from another tool that counts under its new tool but still reads the old
      // tool's counter of the same name: its own count is never checked, so nothing limits it.
      const counted =
        isObj(rule.state) && typeof rule.state.counter === 'string' ? rule.state.counter : undefined;
      if (counted !== undefined && !glob) {
        const own = reads.slice(readsBefore).filter((r) => r.counter === counted);
        if (own.length > 0 && !own.some((r) => r.scope === scope))
          copied.push({ name, counted, other: own[0]! });
      }

      if (isObj(rule.validate) && 'schema' in rule.validate) {
        const schema = rule.validate.schema;
        const problem = isObj(schema)
          ? jsonSchemaProblem(schema)
          : { message: `expected a mapping, got ${describe(schema)}`, at: [] };
        if (problem)
          add(
            [...rp, 'validate', 'schema', ...problem.at],
            'invalid-validate-schema',
            `validate.schema is not a usable JSON Schema: ${problem.message}`,
            problem.hint ?? 'e.g. `schema: { type: object, properties: { path: { type: string } } }`',
            ...(problem.at.length > 0 ? [{ at: 'key' as const }] : []),
          );
      }

      if (isObj(rule.state)) checkState(rule.state, [...rp, 'state'], key, glob, scope, defined, add);
    });
    // Its own count may be read by another rule of the tool: then the limit holds.
    for (const { name, counted, other } of copied) {
      if (reads.slice(toolReads).some((r) => r.scope === scope && r.counter === counted)) continue;
      add(
        [...other.path, 'path'],
        'counter-read-elsewhere',
        `rule "${name}" counts "${counted}" for "${key}" but reads state.${other.scope}.${counted}, the counter of ${other.scope === '_global' ? 'the "*" entry' : `"${other.scope}"`}, and no rule of "${key}" reads its own: its count is never checked`,
        `write \`state.${scope}.${counted}\` to limit this tool's calls (a rule copied from another tool?)`,
        { severity: 'warning' },
      );
    }
  }

  // Every rule of a call's exact entry, its matching globs and `"*"` must pass (evaluation
  // order, docs/policy-reference.md): an exact entry under a denying wildcard never lets a call
  // through, which is rarely what its author meant (`default: deny` denies the unlisted tools).
  if (denyingKeys.length > 0) {
    const matchers = denyingKeys.map((d) => ({
      ...d,
      matches: d.key === '*' ? () => true : toolGlobMatcher(d.key),
    }));
    const wildcard = matchers.find((m) => m.key === '*');
    const hintFor = (key: string, by: { key: string }) =>
      by.key !== '*'
        ? `to allow "${key}", narrow the glob "${by.key}"; to deny it, remove its entry`
        : doc.default === 'deny'
          ? 'remove the "*" deny rule: `default: deny` already denies the tools without an entry'
          : 'to deny only the tools without an entry, drop the "*" deny rule and write `default: deny`';
    const warn = (e: { key: string; path: ValuePath; hasRules: boolean }, by: (typeof matchers)[number]) =>
      add(
        e.path,
        'denied-by-wildcard',
        `tool${isGlob(e.key) ? 's' : ''} "${e.key}" ${isGlob(e.key) ? 'are' : 'is'} always denied: rules[${by.denyAt}]${by.denyName === undefined ? '' : ` (${JSON.stringify(by.denyName)})`} under "${by.key}" denies every tool it matches, so ${e.hasRules ? 'its rules never let a call through' : 'its entry allows nothing'}`,
        hintFor(e.key, by),
        { at: 'key', severity: 'warning' },
      );
    for (const e of exactEntries) {
      if (e.denies) continue;
      const by = matchers.find((m) => m.matches(exactToolName(e.key)));
      if (by !== undefined) warn(e, by);
    }
    if (wildcard !== undefined) for (const e of globEntries) warn(e, wildcard);
  }

  for (const r of reads) {
    const id = `${r.scope}.${r.counter}`;
    if (defined.has(id)) continue;
    const guess = didYouMean(id, [...defined.keys()]);
    const under = r.scope === '_global' ? '*' : r.scope;
    add(
      [...r.path, 'path'],
      'undefined-counter',
      `condition references state.${id} but no rule defines that counter`,
      guess
        ? `did you mean \`state.${guess}\`?`
        : r.counter.startsWith('_rate_')
          ? `\`${r.counter}\` is Intercept's internal count of a rate_limit, which no condition can read here: a \`rate_limit\` rule under "${under}" denies past its bound by itself, or count with \`state: { counter: <name>, window: ${windowOfName(r.counter.slice(6)) ?? 'hour'} }\` and read that`
          : `add \`state: { counter: ${r.counter}, window: ${windowOfName(r.counter) ?? 'day'} }\` to a rule under "${under}"`,
    );
  }
}

/** The fixed window a counter's name speaks of (`hourly_count` is hour), if any. */
function windowOfName(name: string): 'minute' | 'hour' | 'day' | undefined {
  const words = name.toLowerCase();
  if (/(^|[^a-z])(minute|minutes)([^a-z]|$)|minutely/.test(words)) return 'minute';
  if (/(^|[^a-z])(hour|hours|hr)([^a-z]|$)|hourly/.test(words)) return 'hour';
  if (/(^|[^a-z])(day|days)([^a-z]|$)|daily/.test(words)) return 'day';
  return undefined;
}

function checkCondition(c: Obj, cp: ValuePath, add: Add, reads: CounterRef[]): void {
  if (typeof c.path === 'string') {
    const unseen = invisibleText(c.path);
    if (unseen)
      add(
        [...cp, 'path'],
        'invisible-text',
        `path ${JSON.stringify(c.path)} ${unseen}: it names an argument spelled with it, which a call rarely sends`,
        'write the path alone, e.g. `args.amount`',
        { severity: 'warning' },
      );
    const segs = c.path.split('.');
    if (segs[0] === 'args') {
      if (segs.length < 2 || segs.slice(1).some((s) => s === ''))
        add(
          [...cp, 'path'],
          'invalid-path',
          `path "${c.path}" has an empty segment`,
          'write `args.<field>`, e.g. `args.amount`',
        );
    } else if (segs[0] === 'state') {
      // The counter is the last segment (counter names have no dots); the scope is everything
      // between, so dotted tool names such as `github.create_issue` work as scopes.
      if (segs.length < 3 || segs.some((s) => s === ''))
        add(
          [...cp, 'path'],
          'invalid-state-path',
          `state path must be state.<scope>.<counter>, got "${c.path}"`,
          'scope is the tool name, or _global for counters under "*"',
        );
      else reads.push({ path: cp, scope: segs.slice(1, -1).join('.'), counter: segs[segs.length - 1]! });
    } else {
      add(
        [...cp, 'path'],
        'invalid-path',
        `path must start with "args." or "state.", got "${c.path}"`,
        segs[0] === 'arguments'
          ? 'write `args.` instead of `arguments.`'
          : 'use args.<field> or state.<scope>.<counter>',
      );
    }
  }
  if (!('op' in c)) {
    // The schema pass leaves condition fields to this one: without an op, nothing else reports it.
    add(
      cp,
      'missing-field',
      'missing required field `op`',
      `give the operator, one of: ${CONDITION_OPS.join(', ')} (e.g. \`{ path: args.amount, op: lte, value: 100 }\`)`,
    );
    return;
  }
  const op = c.op;
  if (typeof op !== 'string' || !(CONDITION_OPS as readonly string[]).includes(op)) {
    const guess =
      typeof op === 'string'
        ? (OP_SYMBOLS[op.trim()] ?? didYouMean(op.trim().toLowerCase(), CONDITION_OPS))
        : undefined;
    add(
      [...cp, 'op'],
      'unknown-operator',
      `unknown operator ${typeof op === 'string' ? `"${op}"` : describe(op)}`,
      guess ? `did you mean \`${guess}\`?` : `use one of: ${CONDITION_OPS.join(', ')}`,
    );
    return;
  }
  if (!('value' in c)) {
    add(cp, 'missing-field', `missing required field \`value\` for operator "${op}"`);
    return;
  }
  const v = c.value;
  const vp = [...cp, 'value'];
  switch (EXPECTS[op as keyof typeof EXPECTS]) {
    case 'list':
      if (!Array.isArray(v))
        add(
          vp,
          'value-not-list',
          `operator "${op}" requires a list value, got ${describe(v)}`,
          'e.g. `value: [usd, eur]`',
        );
      else if (v.length === 0)
        add(
          vp,
          'empty-list',
          op === 'in'
            ? '`in: []` admits no value, so the condition fails and the rule denies every call'
            : '`not_in: []` refuses no value, so the condition checks nothing',
          op === 'in'
            ? 'list the values to admit, or use `action: deny` to deny the tool'
            : 'list the values to refuse, or remove the condition',
          { severity: 'warning' },
        );
      else
        for (let i = 0; i < v.length; i++) {
          const item = v[i];
          if (item === null || typeof item !== 'object') continue;
          const kind = Array.isArray(item) ? 'a list' : 'a mapping';
          add(
            [...vp, i],
            'list-item-never-matches',
            `item ${i + 1} of \`${op}\` is ${kind}: each argument is compared with the items one value at a time, so this item matches no argument${op === 'not_in' ? ' and refuses nothing' : ''}`,
            Array.isArray(item) && item.length > 0 && item.every((x) => x === null || typeof x !== 'object')
              ? `write its values as items of this list, e.g. \`value: [${item.map(flowItem).join(', ')}]\``
              : 'remove it, and list the values themselves (strings, numbers or booleans)',
            { severity: 'warning' },
          );
        }
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v))
        add(
          vp,
          'value-not-number',
          `operator "${op}" requires a numeric value, got ${describe(v)}`,
          typeof v === 'string' && numberSpelled(v) !== undefined
            ? numberHint(v)
            : typeof v === 'number'
              ? 'infinity and NaN are not allowed; write a finite number, e.g. `value: 100`'
              : 'write a number, e.g. `value: 100`',
        );
      break;
    case 'boolean':
      if (typeof v !== 'boolean')
        add(
          vp,
          'value-not-boolean',
          `operator "exists" requires a boolean value, got ${describe(v)}`,
          'use `value: true` or `value: false`',
        );
      break;
    case 'string':
      if (typeof v !== 'string')
        add(
          vp,
          'value-not-string',
          `${op} value must be a string, got ${describe(v)}`,
          'quote the pattern, e.g. `value: "^feat/"`',
        );
      else {
        const r = tryCompileRegex(v);
        if (!r.ok)
          add(
            vp,
            r.unsupported ? 'regex-unsupported' : 'invalid-regex',
            `invalid regex "${v}": ${r.reason}`,
            r.hint,
          );
        else if (v === '')
          add(
            vp,
            'regex-empty',
            op === 'not_regex'
              ? 'an empty regex matches every string, so this `not_regex` condition never holds and the rule denies every call'
              : 'an empty regex matches every string, so this condition only checks that the value is a string',
            op === 'not_regex'
              ? 'write the pattern the argument must not match, or use `action: deny` to deny the tool'
              : 'write the pattern, or use `op: exists` to require the argument',
            { severity: 'warning' },
          );
        else {
          const js = JS_REGEX_LITERAL.exec(v);
          if (js)
            add(
              vp,
              'regex-js-delimiters',
              `regex "${v}" is written as a JavaScript literal: RE2 matches the slashes${js[2] ? ` and "${js[2]}"` : ''} as text`,
              `write the pattern alone${js[2]?.includes('i') ? `; for a case-insensitive match use \`(?i)${js[1]}\`` : ''}`,
              { severity: 'warning' },
            );
        }
      }
      break;
    case 'scalar':
      if (v !== null && typeof v === 'object')
        add(
          vp,
          'value-not-scalar',
          `operator "${op}" requires a string, number, boolean or null, got ${describe(v)}`,
          op === 'eq' || op === 'neq' ? 'to compare against several values use `in` / `not_in`' : undefined,
        );
      break;
  }
  // A value pasted with a zero-width space or a bidi mark in it compares equal to no argument typed
  // without one: an allow-list refuses the real value, and a deny-list (neq, not_in) lets it through.
  if (op === 'eq' || op === 'neq' || op === 'in' || op === 'not_in' || op === 'contains') {
    const texts: [string, ValuePath][] = Array.isArray(v)
      ? v.flatMap((x, i): [string, ValuePath][] => (typeof x === 'string' ? [[x, [...vp, i]]] : []))
      : typeof v === 'string'
        ? [[v, vp]]
        : [];
    for (const [text, at] of texts) {
      const unseen = invisibleCharacter(text);
      if (unseen)
        add(
          at,
          'invisible-text',
          `${op} value ${JSON.stringify(text)} ${unseen}, so it ${op === 'contains' ? 'is found only in text' : 'equals only text'} spelled with it`,
          "retype the value without it; to refuse arguments that hold such characters, add `{ op: not_regex, value: '\\p{Cf}' }`",
          { severity: 'warning' },
        );
    }
  }
}

function checkState(
  s: Obj,
  sp: ValuePath,
  key: string,
  glob: boolean,
  scope: string,
  defined: Map<string, ValuePath>,
  add: Add,
): void {
  if (glob) {
    add(
      sp,
      'counter-under-glob',
      `state counters cannot be declared under the glob "${key}": a glob has no single scope`,
      'declare the counter under each exact tool name, or under "*" for one shared counter; for call counts use rate_limit, which a glob shares across the tools it matches',
      { at: 'key' },
    );
  }
  if ('counter' in s) {
    if (typeof s.counter !== 'string' || s.counter.trim() === '' || s.counter.includes('.')) {
      add(
        [...sp, 'counter'],
        'counter-empty',
        typeof s.counter === 'string' && s.counter.includes('.')
          ? `counter name "${s.counter}" must not contain a dot`
          : 'counter must not be empty',
        'write a name such as `daily_spend`',
      );
    } else if (!glob) {
      const id = `${scope}.${s.counter}`;
      const prior = defined.get(id);
      if (prior)
        add(
          [...sp, 'counter'],
          'duplicate-counter',
          `duplicate state counter "${s.counter}" (also used by ${describePath(prior)})`,
          'use a different counter name',
        );
      else defined.set(id, sp.slice(0, -1));
    }
  }
  if ('window' in s && !(FIXED_WINDOWS as readonly unknown[]).includes(s.window)) {
    const guess = typeof s.window === 'string' ? didYouMean(s.window, FIXED_WINDOWS) : undefined;
    add(
      [...sp, 'window'],
      'invalid-window',
      `window must be "minute", "hour", or "day", got ${describe(s.window)}`,
      guess ? `did you mean \`${guess}\`?` : 'counters use calendar-aligned UTC windows: minute, hour or day',
    );
  }
  if ('increment' in s) {
    if (typeof s.increment !== 'number' || !Number.isFinite(s.increment) || s.increment < 0)
      add(
        [...sp, 'increment'],
        'invalid-increment',
        `increment must be a non-negative finite number, got ${describe(s.increment)}`,
      );
    else if ('increment_from' in s)
      // Intercept reads such a rule (it adds the argument's value); it loads here the same way.
      add(
        [...sp, 'increment'],
        'increment-ignored',
        "increment is ignored: increment_from is set, and the counter adds the argument's value",
        'remove increment',
        { at: 'key', severity: 'warning' },
      );
    else if (s.increment === 0)
      // Intercept reads 0 as "not given", that is 1; a counter adding nothing would limit nothing.
      add(
        [...sp, 'increment'],
        'increment-ignored',
        'increment: 0 counts 1 per call, as in Intercept (a counter that adds nothing would never limit)',
        'remove increment (1 per call is the default), or give the amount each call adds',
        { severity: 'warning' },
      );
  }
  if (typeof s.increment_from === 'string') {
    const segs = s.increment_from.split('.');
    if (segs[0] !== 'args' || segs.length < 2 || segs.some((x) => x === ''))
      add(
        [...sp, 'increment_from'],
        'increment-from-not-args',
        `increment_from must start with "args.", got "${s.increment_from}"`,
        'use a path to a numeric argument, e.g. `args.amount`',
      );
  }
}

/**
 * The number a quoted condition value spells, as decimal text: `"100"` and `"0x1F"` as JavaScript
 * reads them, `"3_306"` and `"0b11"` as Intercept's YAML (Go) reads them; undefined for text that
 * is no number.
 */
function numberSpelled(v: string): string | undefined {
  const t = v.trim();
  if (t === '') return undefined;
  const go = goNumberValue(t);
  if (go !== undefined) return go;
  return Number.isFinite(Number(t)) ? String(Number(t)) : undefined;
}

/**
 * The hint for a quoted number under a numeric operator: unquoted as written when YAML 1.2 reads
 * it as that number (`"100"`, `"1.5e3"`), else the decimal to write (`"0b11"`: `value: 3`, which
 * written unquoted would load as text).
 */
function numberHint(v: string): string {
  const t = v.trim();
  if (/^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/.test(t)) return `remove the quotes: \`value: ${t}\``;
  return `write the number: \`value: ${numberSpelled(t)}\``;
}
