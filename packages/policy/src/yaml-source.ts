/**
 * The YAML layer: text -> plain value plus a locator that maps any path in that value back to
 * its line and column. Hostile input is bounded before and after parsing: a size cap, a nesting
 * cap checked by a linear pre-scan (the parser itself would take seconds on 100k nested `[`),
 * and an alias expansion cap (billion-laughs documents).
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  type YAMLMap,
} from 'yaml';
import type { SourceLocation } from './compiled.js';
import { type PolicyError, sortErrors } from './errors.js';
import { isExactDecimal, yamlNumberLiteral } from './exact-decimal.js';

/** Largest policy text accepted, in bytes (UTF-8). */
export const MAX_POLICY_BYTES = 1024 * 1024;
/** Deepest nesting of mappings and sequences accepted. */
export const MAX_POLICY_DEPTH = 64;
/** Most alias dereferences accepted while converting YAML to a value. */
export const MAX_ALIAS_COUNT = 100;

/** A path into the parsed value: mapping keys and sequence indexes. */
export type ValuePath = readonly (string | number)[];

/** Finds the source position of a path; `at: 'key'` points at the mapping key instead of its value. */
export type Locator = (path: ValuePath, at?: 'key' | 'value') => SourceLocation;

/** Result of {@link readYaml}. `value` is undefined when the YAML could not be used at all. */
export interface YamlSource {
  /**
   * The loaded value; undefined when the YAML is unusable. Present alongside errors when they are
   * only key problems (`duplicate-key`, `yaml-key-not-text`): the value is then what a lenient
   * loader would give (the last of duplicate keys wins), for the policy's own checks to run on.
   */
  value: unknown;
  errors: PolicyError[];
  /** Values YAML loads otherwise than a reader may expect (`yes` as text). */
  warnings?: PolicyError[];
  /**
   * `line:col` of the values whose tag was refused (`yaml-unknown-tag`: `!env deny`, `!!int abc`)
   * and which loaded as the same value written without it: the policy's own errors at those
   * positions restate the tag's error, and {@link parsePolicy} drops them.
   */
  taggedValues?: ReadonlySet<string>;
  locate: Locator;
}

/** YAML errors that still leave a value worth checking (see {@link YamlSource.value}). */
const LOADABLE_KEY_ERRORS: ReadonlySet<string> = new Set([
  'duplicate-key',
  'yaml-key-not-text',
  'inexact-number',
  // `3_306` loads as the text "3_306": the policy's checks run on it (an `op: lt` on it is also
  // reported as not a number), so this spelling does not hide the file's other problems.
  'yaml-number-as-text',
]);

/**
 * Plain scalars YAML 1.1 reads as booleans and YAML 1.2 (this loader) as text: `value: yes`
 * compares with the string "yes", never with an argument `true`.
 */
const YAML11_BOOLEANS: ReadonlySet<string> = new Set(
  ['yes', 'no', 'on', 'off'].flatMap((w) => [w, w[0]!.toUpperCase() + w.slice(1), w.toUpperCase()]),
);

/**
 * The number Go's YAML (yaml.v3, which Intercept loads policies with) reads from a plain scalar
 * that YAML 1.2 loads as text, as decimal text (exact, also past 2^53): one written with `_`
 * separators (`3_306`, `5_432.0`, `1e1_0`) or a `0b` binary literal (`0b11` is `"3"`). yaml.v3
 * drops every `_`, then reads an integer as Go source writes it (`strconv.ParseInt(s, 0, 64)`:
 * `0b`, `0o`, `0x`, and a leading `0` for octal) or a decimal number. Undefined for anything
 * else, `0x1F` and `0o17` included (numbers to both loaders).
 */
export function goNumberValue(written: string): string | undefined {
  if (!/^[-+]?[0-9]/.test(written) || !(written.includes('_') || /^[-+]?0[bB]/.test(written)))
    return undefined;
  const plain = written.replace(/_/g, '');
  const int = /^([-+]?)(0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(plain);
  if (int) {
    const digits = int[2]!;
    // A decimal with a leading zero is octal to Go (`0_755` is 493).
    const value = BigInt(/^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : digits.toLowerCase());
    return `${int[1] === '-' && value !== 0n ? '-' : ''}${value}`;
  }
  // yaml.v3's float pattern.
  if (!/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(plain)) return undefined;
  const value = Number(plain);
  return Number.isFinite(value) ? String(value) : undefined;
}

/** The operators whose value must be a number. */
const NUMERIC_OPS: ReadonlySet<string> = new Set(['lt', 'lte', 'gt', 'gte']);

/** True for the path of a condition's `value`, or of anything inside it (an `in` list's items). */
function isConditionValue(path: readonly (string | number)[] | undefined): boolean {
  return (
    path !== undefined &&
    path.length >= 7 &&
    path[0] === 'tools' &&
    path[2] === 'rules' &&
    path[4] === 'conditions' &&
    path[6] === 'value'
  );
}

/** Hints for the YAML mistakes people make most in hand-written policies. */
const SYNTAX_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces; YAML does not allow tabs for indentation',
  MISSING_CHAR: 'a quote or bracket opened earlier is never closed',
  BAD_INDENT: 'items of one mapping or list must start in the same column',
  MULTILINE_IMPLICIT_KEY: 'a key and its colon must be on one line; quote values that contain ": "',
  BLOCK_AS_IMPLICIT_KEY: 'quote values that contain ": "',
  UNEXPECTED_TOKEN: 'check the indentation and quoting of this line',
};

/**
 * The hint for a YAML parse error: by its message where the library's code is too coarse (one
 * code covers an unclosed `[` and a misaligned key), else by its code.
 */
function syntaxHint(code: string, message: string): string | undefined {
  if (message.startsWith('Flow sequence in block collection'))
    return 'a `[` opened earlier is never closed: end the list with `]` (the lines after it are read as part of it)';
  if (message.startsWith('Flow map in block collection'))
    return 'a `{` opened earlier is never closed: end the mapping with `}` (the lines after it are read as part of it)';
  if (message.startsWith('Sequence item without - indicator'))
    return 'this line is indented unlike the lines above it: the keys of one list item start in the column of its first key (just after `- `)';
  return SYNTAX_HINTS[code];
}

function err(
  file: string,
  line: number,
  column: number,
  code: PolicyError['code'],
  message: string,
  hint?: string,
) {
  const e: PolicyError = { file, line, column, code, message, severity: 'error' };
  if (hint) e.hint = hint;
  return e;
}

/**
 * A bare `*` (a key `*:`, `*_file:`, a list item `[*]`): YAML reads it as an alias, not as text.
 * `token` is what to quote (`*`, `*_file`), `key` gives the key form (`"*":`), `line` the line the
 * `*` is on when the error is reported on another one.
 */
const bareStarHint = (line: number | undefined, token: string, key = true): string =>
  `the bare \`${token}\`${key ? ' key' : ''}${line === undefined ? '' : ` on line ${line}`} starts a YAML alias; quote it: \`"${token}"${key ? ':' : ''}\``;

/**
 * The property name a mapping key becomes in the loaded value, exactly as yaml's `toJS` names it
 * (`null`/`~` -> `""`, `1` -> `"1"`, `true` -> `"true"`); an alias key is followed to its anchor.
 * Undefined for a key that is a list or mapping (which `toJS` would stringify with a warning).
 */
function keyName(key: unknown, doc: Document): string | undefined {
  const node = isAlias(key) ? key.resolve(doc) : key;
  if (!isScalar(node)) return node == null ? '' : undefined;
  const v = node.value;
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? undefined : String(v);
}

/**
 * YAML 1.1 tags the yaml library resolves into values JSON has no form for (a policy is JSON-like
 * data: strings, numbers, booleans, null, lists, mappings), with what each loads as.
 */
const NON_JSON_TAGS: ReadonlyMap<string, string> = new Map([
  ['tag:yaml.org,2002:binary', 'binary data'],
  ['tag:yaml.org,2002:set', 'a set'],
  ['tag:yaml.org,2002:omap', 'an ordered map'],
  ['tag:yaml.org,2002:pairs', 'a list of pairs'],
  ['tag:yaml.org,2002:timestamp', 'a date'],
]);

/** `!!map` for yaml's long form `tag:yaml.org,2002:map` in messages. */
const shortTag = (message: string): string =>
  message.replace(/^Unresolved tag: /, '').replace(/^tag:yaml\.org,2002:/, '!!');

/**
 * Depth of flow collections (`[`, `{`) and block indentation, found in one linear pass that
 * skips quoted scalars and comments. Returns the offset where the cap is first exceeded.
 */
function findExcessiveNesting(text: string, max: number): number | undefined {
  let depth = 0;
  let quote: string | undefined;
  let comment = false;
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      comment = false;
      lineStart = true;
      indent = 0;
      if (quote === undefined) continue;
    }
    if (comment) continue;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (lineStart) {
      if (c === ' ' || c === '-') {
        indent++;
        // Block nesting needs at least one column per level; two per level is typical.
        if (indent > max * 4) return i;
        continue;
      }
      lineStart = false;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ' '))) comment = true;
    else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1] ?? ' '))) quote = c;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth > max) return i;
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/**
 * `text` with each lone CR replaced by LF. YAML 1.2 (section 5.4, `b-break`) reads a lone CR as a
 * line break, as in files saved with classic Mac OS line endings; the yaml library does not, and
 * would read such a file as one line. Replaced one for one, so every offset, line and column
 * stays the file's own. CRLF is left as it is.
 */
export function yamlLineBreaks(text: string): string {
  return text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text;
}

/** Options of {@link readYaml}. */
export interface ReadYamlOptions {
  /**
   * Paths whose plain scalar values load as the text written, numbers and booleans included
   * (`name: 2` loads as `"2"`): as Go's yaml.v3 fills a string field, which is how PolicyLayer
   * Intercept reads a rule's `name` and `on_deny`. A path is a list of mapping keys and sequence
   * steps; `'*'` matches any key or index (`['tools', '*', 'rules', '*', 'name']`).
   */
  readonly textPaths?: ReadonlyArray<readonly string[]>;
}

/**
 * Parse YAML text. Never throws: every problem becomes a {@link PolicyError} with a position.
 * Duplicate keys are errors (YAML 1.2 requires unique keys; silently keeping the last one would
 * hide a policy author's mistake).
 */
export function readYaml(source: string, file: string, options: ReadYamlOptions = {}): YamlSource {
  const text = yamlLineBreaks(source);
  const lineCounter = new LineCounter();
  const fallback: Locator = () => ({ file, line: 1, column: 1 });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_POLICY_BYTES) {
    return {
      value: undefined,
      errors: [
        err(
          file,
          1,
          1,
          'input-too-large',
          `policy is ${bytes} bytes; the limit is ${MAX_POLICY_BYTES} bytes (1 MiB)`,
          'a policy this large is almost certainly not hand-written; split it or use globs',
        ),
      ],
      locate: fallback,
    };
  }
  const deep = findExcessiveNesting(text, MAX_POLICY_DEPTH);
  if (deep !== undefined) {
    lineCounter.addNewLine(0);
    for (let i = 0; i < deep; i++) if (text.charCodeAt(i) === 10) lineCounter.addNewLine(i + 1);
    const pos = lineCounter.linePos(deep);
    return {
      value: undefined,
      errors: [
        err(
          file,
          pos.line,
          pos.col,
          'yaml-too-deep',
          `YAML nests deeper than ${MAX_POLICY_DEPTH} levels`,
          'policies need at most about 8 levels; flatten the structure',
        ),
      ],
      locate: fallback,
    };
  }

  // Duplicate keys are found below in one pass: yaml's own uniqueKeys check is quadratic per mapping.
  // logLevel 'error': the library must not print warnings to stderr (e.g. when stringifying a
  // collection key); every problem it notices is turned into a positioned error below instead.
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: false,
    prettyErrors: false,
    strict: true,
    logLevel: 'error',
  });
  const posOf = (offset: number) => lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
  /**
   * The bare-`*` key an alias warning at `offset` is about (`*:` read as the alias `:`, `*_file:`
   * as `_file:`): its text without the colon and where its `*` is; undefined for another alias.
   */
  const aliasKeyAt = (offset: number): { token: string; offset: number } | undefined => {
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    const star = text.lastIndexOf('*', offset);
    if (star < lineStart) return undefined;
    const m = /^\*[^\s:]*:(?=\s|$)/.exec(text.slice(star));
    return m ? { token: m[0].slice(0, -1), offset: star } : undefined;
  };
  const errors: PolicyError[] = [];
  // The library can report one problem more than once: every flow collection left open
  // (`{a: {rules: [ }`) ends at the same place with the same message. Each is reported once.
  const reported = new Set<string>();
  for (const e of doc.errors) {
    const p = posOf(e.pos[0]);
    const key = `${e.code}\0${p.line}\0${p.col}\0${e.message}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const firstLine = e.message.split('\n')[0] ?? e.message;
    if (e.code === 'DUPLICATE_KEY') {
      errors.push(
        err(
          file,
          p.line,
          p.col,
          'duplicate-key',
          'duplicate key: mapping keys must be unique',
          'remove or rename one of the two entries',
        ),
      );
    } else if (e.code === 'MULTIPLE_DOCS' || /multiple documents/i.test(firstLine)) {
      errors.push(
        err(
          file,
          p.line,
          p.col,
          'yaml-multiple-documents',
          'a policy file holds exactly one YAML document',
          'remove the second `---` document',
        ),
      );
    } else {
      errors.push(
        err(
          file,
          p.line,
          p.col,
          'yaml-syntax',
          firstLine.replace(/ at line \d+, column \d+:?$/, ''),
          // `hide: [*]`, `- *`: a bare `*` as a value is an alias with no name.
          e.code === 'BAD_ALIAS' && text[e.pos[0]] === '*'
            ? bareStarHint(undefined, '*', false)
            : syntaxHint(e.code, firstLine),
        ),
      );
    }
  }

  // A tag the library could not apply leaves the value as written without it (`!env deny` loads
  // as "deny"): reported, and the value is still checked, so the tag hides no other problem.
  const failedTags = new Set<number>();
  const failedTagErrors = new Set<PolicyError>();
  const taggedValues = new Set<string>();
  // Warnings the library keeps to itself but a policy must not ignore.
  for (const w of doc.warnings) {
    const p = posOf(w.pos[0]);
    if (w.code === 'TAG_RESOLVE_FAILED' || w.code === 'BAD_COLLECTION_TYPE') {
      const first = w.message.split('\n')[0] ?? w.message;
      const tag = first.startsWith('Unresolved tag: ') ? shortTag(first) : undefined;
      failedTags.add(w.pos[0]);
      const refused = err(
        file,
        p.line,
        p.col,
        'yaml-unknown-tag',
        tag === undefined
          ? `YAML tag does not fit this value: ${shortTag(first)}`
          : tag.startsWith('!!')
            ? `YAML tag \`${tag}\` does not fit this value`
            : `unknown YAML tag \`${tag}\``,
        'remove the tag; a policy uses plain YAML values (quote a value that starts with `!`)',
      );
      failedTagErrors.add(refused);
      errors.push(refused);
    } else if (w.code === 'BAD_ALIAS' && aliasKeyAt(w.pos[0]) !== undefined) {
      // `*:` is an alias named ":", which is how YAML reads a bare `*` key (`*_file:` likewise). The
      // parser's own error for it lands on this line or the next ("Implicit map keys need to be
      // followed by map values", "Unexpected flow-map-start token"...); give those the real cause,
      // or report the key itself when the parser found nothing else wrong.
      const key = aliasKeyAt(w.pos[0])!;
      const star = posOf(key.offset);
      // Its errors: those on its own line, else the first on the next one (and no others: a later
      // line's own mistakes keep their hints).
      const sameLine = errors.filter((e) => e.code === 'yaml-syntax' && e.line === star.line);
      const nextLine = errors.find((e) => e.code === 'yaml-syntax' && e.line === star.line + 1);
      const related = sameLine.length > 0 ? sameLine : nextLine ? [nextLine] : [];
      for (const e of related) e.hint = bareStarHint(e.line === star.line ? undefined : star.line, key.token);
      if (related.length === 0)
        errors.push(
          err(
            file,
            star.line,
            star.col,
            'yaml-syntax',
            'a bare `*` is a YAML alias, not a key',
            bareStarHint(undefined, key.token),
          ),
        );
    }
  }

  // Key -> pair per mapping, built on first use, so locating is O(depth) even with 10,000 tools.
  const indexes = new WeakMap<object, Map<string, Pair>>();
  const pairIndex = (map: YAMLMap): Map<string, Pair> => {
    let idx = indexes.get(map);
    if (!idx) {
      idx = new Map();
      for (const p of map.items) {
        if (!isPair(p)) continue;
        const name = keyName(p.key, doc);
        // The last of duplicate keys is the one loaded (and checked): point there.
        if (name !== undefined) idx.set(name, p);
      }
      indexes.set(map, idx);
    }
    return idx;
  };
  const locate: Locator = (path, at = 'value') => {
    let node: unknown = doc.contents;
    let best: number | undefined = (doc.contents as Node | null)?.range?.[0];
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = pairIndex(node).get(String(seg));
        if (!pair) break;
        const keyStart = (pair.key as Node).range?.[0];
        if (last && at === 'key') {
          best = keyStart;
          break;
        }
        const v = pair.value as Node | null;
        best = v?.range?.[0] ?? keyStart;
        node = v;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        best = item.range?.[0] ?? best;
        node = item;
      } else break;
    }
    const p = posOf(best ?? 0);
    return { file, line: p.line, column: p.col };
  };

  // Syntax errors leave nothing to check; a refused tag leaves the value as if it were not there.
  if (errors.some((e) => !failedTagErrors.has(e))) {
    return { value: undefined, errors: sortErrors(errors), locate };
  }

  // Depth and duplicate keys of the composed tree (aliases are not followed here; their expansion
  // is capped below). YAML 1.2 requires unique keys; keeping the last one silently would hide a typo.
  const warnings: PolicyError[] = [];
  const stack: [unknown, number][] = [[doc.contents, 1]];
  // Where each node sits (mapping keys as loaded, sequence indexes), for checks that concern
  // one field only.
  const paths = new Map<unknown, readonly (string | number)[]>([[doc.contents, []]]);
  /** The `op` of the condition a condition value (at `path`) belongs to, as written. */
  const conditionOp = (path: readonly (string | number)[] | undefined): unknown =>
    path === undefined ? undefined : (doc.getIn([...path.slice(0, 6), 'op']) as unknown);
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    if (isScalar(n) && n.range) {
      const source = text.slice(n.range[0], n.range[1]).trim();
      // The scalar as written, without quotes (a tag is not in its range): `!!int "123"` is `123`.
      const written = source.replace(/^(["'])([\s\S]*)\1$/, '$2');
      const v = n.value;
      if (typeof v === 'number' && Number.isFinite(v)) {
        // A number the double rounds loads as another number than the one written: an ID
        // allow-list would admit its neighbours (`1098765432109876543` loads as ...500).
        const literal = yamlNumberLiteral(written);
        const exact =
          literal !== undefined ? isExactDecimal(literal) : !Number.isInteger(v) || Number.isSafeInteger(v);
        if (!exact) {
          const p = posOf(n.range[0]);
          errors.push(
            err(
              file,
              p.line,
              p.col,
              'inexact-number',
              `\`${written}\` has more digits than a number holds: it loads as ${v}`,
              // Quoting helps a condition's value (an ID compared as text), not a count or a limit.
              !isConditionValue(paths.get(n))
                ? 'write a number with at most 15 significant digits, which loads exactly'
                : (n as Node).tag !== undefined
                  ? `drop the tag and quote it (\`"${written}"\`) to compare it as text, as IDs should be`
                  : `quote it (\`"${written}"\`) to compare it as text, as IDs should be`,
            ),
          );
        }
      }
      if (
        typeof v === 'number' &&
        n.type === 'PLAIN' &&
        /^[-+]?0[0-7]+$/.test(written) &&
        Number.parseInt(written, 8) !== v &&
        isConditionValue(paths.get(n))
      ) {
        // `0755`: YAML 1.1 read an octal number (493), YAML 1.2 (this loader) reads 755.
        const p = posOf(n.range[0]);
        const octal = written.replace(/^([-+]?)0/, '$10o');
        warnings.push({
          ...err(
            file,
            p.line,
            p.col,
            'yaml-11-octal',
            `\`${written}\` loads as the number ${v}, not as the octal number ${Number.parseInt(written, 8)} (YAML 1.2)`,
            `write \`${octal}\` for the octal number, \`${v}\` for the decimal one, or quote it (\`"${written}"\`) to mean the text`,
          ),
          severity: 'warning',
        });
      } else if (
        typeof v === 'string' &&
        n.type === 'PLAIN' &&
        // `!!str 1_0` says it is text, to both loaders.
        (n as Node).tag === undefined &&
        goNumberValue(written) !== undefined &&
        isConditionValue(paths.get(n))
      ) {
        // `3_306`, `0b11`: text to YAML 1.2, a number to Intercept's YAML (Go's yaml.v3 drops the
        // underscores and parses numbers the way Go source writes them). Compared as text,
        // `not_in: [3_306]` would let 3306 through: refused, with the spelling that says it.
        const p = posOf(n.range[0]);
        const value = goNumberValue(written)!;
        const op = String(conditionOp(paths.get(n)));
        // Where the operator refuses the value anyway (`exists`, a scalar under `in`), parsePolicy
        // keeps the operator's error instead of this one.
        errors.push(
          err(
            file,
            p.line,
            p.col,
            'yaml-number-as-text',
            `\`${written}\` loads as the text "${written}" (YAML 1.2), where Intercept's YAML reads the number ${value}`,
            // Quoting gives the text, which only the text comparisons can use; a pattern is text.
            NUMERIC_OPS.has(op)
              ? `write \`${value}\``
              : op === 'regex' || op === 'not_regex'
                ? `quote it (\`"${written}"\`): a pattern is text`
                : `write \`${value}\` for the number, or quote it (\`"${written}"\`) to mean the text`,
          ),
        );
      } else if (
        typeof v === 'string' &&
        n.type === 'PLAIN' &&
        YAML11_BOOLEANS.has(written) &&
        isConditionValue(paths.get(n))
      ) {
        const p = posOf(n.range[0]);
        warnings.push({
          ...err(
            file,
            p.line,
            p.col,
            'yaml-11-boolean',
            `\`${written}\` loads as the text "${written}", not as a boolean (YAML 1.2)`,
            `write \`${/^(yes|on)$/i.test(written) ? 'true' : 'false'}\` for the boolean, or quote it (\`"${written}"\`) to mean the text`,
          ),
          severity: 'warning',
        });
      }
    }
    const tag = (n as Node | null)?.tag;
    if (tag !== undefined && failedTags.size > 0 && !NON_JSON_TAGS.has(tag)) {
      const start = (n as Node).range?.[0] ?? 0;
      if (failedTags.has(text.lastIndexOf(shortTag(tag), start))) {
        const p = posOf(start);
        taggedValues.add(`${p.line}:${p.col}`);
      }
    }
    if (tag !== undefined && NON_JSON_TAGS.has(tag)) {
      // Reported at the tag (the node's range starts at its value), when it is on the same line.
      const start = (n as Node).range?.[0] ?? 0;
      const written = text.lastIndexOf(shortTag(tag), start);
      const p = posOf(written !== -1 && !text.slice(written, start).includes('\n') ? written : start);
      errors.push(
        err(
          file,
          p.line,
          p.col,
          'yaml-unknown-tag',
          `YAML tag \`${shortTag(tag)}\` loads as ${NON_JSON_TAGS.get(tag)}, which a policy cannot use`,
          'remove the tag; a policy uses plain YAML values: strings, numbers, booleans, lists and mappings',
        ),
      );
    }
    if (isMap(n) || isSeq(n)) {
      if (d > MAX_POLICY_DEPTH) {
        const p = posOf((n as Node).range?.[0] ?? 0);
        errors.push(
          err(file, p.line, p.col, 'yaml-too-deep', `YAML nests deeper than ${MAX_POLICY_DEPTH} levels`),
        );
        return { value: undefined, errors, locate };
      }
      // Keys compared as the property names they become: `1` and `"1"` (or `null` and `""`) would
      // silently merge into one entry of the loaded value.
      const keys = isMap(n) ? new Map<string, Node>() : undefined;
      const here = paths.get(n) ?? [];
      let index = 0;
      for (const item of n.items as unknown[]) {
        if (isPair(item)) {
          const keyNode = item.key as Node | null;
          let at = keyNode?.range?.[0] ?? (item.value as Node | null)?.range?.[0] ?? 0;
          // An explicit key (`? [a, b]`) is reported at its `?` indicator.
          for (let i = at - 1; i >= 0 && text[i] !== '\n'; i--)
            if (text[i] === '?') at = i;
            else if (text[i] !== ' ' && text[i] !== '\t') break;
          const p = posOf(at);
          const name = keys ? keyName(keyNode, doc) : '';
          if (name === undefined) {
            errors.push(
              err(
                file,
                p.line,
                p.col,
                'yaml-complex-key',
                'a mapping key must be a plain value, not a list or mapping',
                'write the key as a name, e.g. `create_issue:`; quote it if it contains brackets',
              ),
            );
          } else if (keys && isScalar(keyNode) && keyNode.type === 'PLAIN' && keyNode.value === '<<') {
            // YAML 1.1's merge key, which Intercept's YAML applies, is an ordinary key to YAML 1.2:
            // the members it stands for would be missing, and `<<` taken for a name.
            errors.push(
              err(
                file,
                p.line,
                p.col,
                'yaml-merge-key',
                'merge keys (`<<: *name`) are not supported: YAML 1.2 reads `<<` as an ordinary key',
                'write the members out; an alias may stand for a whole value (`rate_limit: *hourly`)',
              ),
            );
          } else if (keys) {
            // `1.0:`, `0x1F:`, `.inf:` or `True:` load as "1", "31", "Infinity", "true": a rule
            // written under such a key would silently never apply to the tool named as written.
            const kv = isScalar(keyNode) ? keyNode.value : undefined;
            if ((typeof kv === 'number' || typeof kv === 'boolean') && keyNode?.range) {
              const written = text.slice(keyNode.range[0], keyNode.range[1]).trim();
              if (written !== name) {
                errors.push(
                  err(
                    file,
                    p.line,
                    p.col,
                    'yaml-key-not-text',
                    `key \`${written}\` is a YAML ${typeof kv} and loads as "${name}"`,
                    `quote it to keep it as written: \`"${written}":\``,
                  ),
                );
              }
            }
            const prior = keys.get(name);
            if (prior) {
              const src = (k: Node | null) => (k?.range ? text.slice(k.range[0], k.range[1]).trim() : '');
              const a = src(prior);
              const b = src(keyNode);
              const first = posOf(prior.range?.[0] ?? 0).line;
              errors.push(
                err(
                  file,
                  p.line,
                  p.col,
                  'duplicate-key',
                  `duplicate key "${name}": mapping keys must be unique`,
                  a !== b && a !== '' && b !== ''
                    ? `\`${b}\` and \`${a}\` (line ${first}) are the same key once loaded; remove or rename one of the two entries`
                    : `remove or rename one of the two entries (the first is on line ${first})`,
                ),
              );
            } else if (keyNode) keys.set(name, keyNode);
          }
          if (item.value) paths.set(item.value, [...here, name ?? '']);
          stack.push([item.value, d + 1]);
        } else {
          paths.set(item, [...here, index]);
          stack.push([item, d + 1]);
        }
        index++;
      }
    }
  }
  // Keys that collide or load as other text leave a usable value (the last entry wins): the
  // policy's own checks still run on it, so one duplicate key does not hide every other problem.
  if (errors.some((e) => !LOADABLE_KEY_ERRORS.has(e.code) && !failedTagErrors.has(e))) {
    return { value: undefined, errors: sortErrors(errors), locate };
  }

  if (options.textPaths) loadAsText(doc, options.textPaths);
  try {
    const value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    return {
      value,
      errors: sortErrors(errors),
      warnings: sortErrors(warnings),
      ...(taggedValues.size > 0 ? { taggedValues } : {}),
      locate,
    };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/alias/i.test(msg)) {
      errors.push(
        err(
          file,
          1,
          1,
          'yaml-alias-limit',
          `YAML aliases expand more than ${MAX_ALIAS_COUNT} times`,
          'write the repeated parts out, or use globs and "*" entries instead of anchors',
        ),
      );
    } else errors.push(err(file, 1, 1, 'yaml-syntax', msg));
    return { value: undefined, errors, locate };
  }
}

/** Plain number and boolean scalars at `paths` become their source text (see {@link ReadYamlOptions}). */
function loadAsText(doc: Document, paths: ReadonlyArray<readonly string[]>): void {
  const walk = (node: unknown, path: readonly string[]): void => {
    const step = path[0]!;
    const rest = path.slice(1);
    const children: Array<[unknown, unknown]> = isMap(node)
      ? node.items.map((pair) => [isScalar(pair.key) ? pair.key.value : undefined, pair])
      : isSeq(node)
        ? node.items.map((item, i) => [String(i), item])
        : [];
    for (const [key, child] of children) {
      if (step !== '*' && key !== step) continue;
      if (rest.length > 0) {
        walk(isPair(child) ? child.value : child, rest);
        continue;
      }
      const value = isPair(child) ? child.value : undefined;
      if (!isScalar(value) || value.type !== 'PLAIN' || typeof value.source !== 'string') continue;
      if (typeof value.value === 'number' || typeof value.value === 'boolean') value.value = value.source;
    }
  };
  for (const path of paths) walk(doc.contents, path);
}
