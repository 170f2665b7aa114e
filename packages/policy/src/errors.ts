/**
 * Policy errors: one shape for every problem found in a policy file, from YAML syntax to
 * counters read but never defined. Each carries a stable `code` (see {@link POLICY_ERROR_CODES})
 * so tools and tests can rely on it while messages stay free to improve.
 */
import { printable } from './printable.js';

/** One problem found in a policy file. Lines and columns are 1-based. */
export interface PolicyError {
  /** The filename given to `parsePolicy`, or `<inline>`. */
  file: string;
  line: number;
  column: number;
  /** Stable kebab-case code, e.g. `unknown-key`, `invalid-regex` (see {@link POLICY_ERROR_CODES}). */
  code: PolicyErrorCode;
  /** What is wrong, in one sentence. */
  message: string;
  /** How to fix it, when there is something more useful to say than the message. */
  hint?: string;
  /** `error` makes the policy unusable; `warning` is reported but the policy still loads. */
  severity: 'error' | 'warning';
}

/**
 * Every code a {@link PolicyError} can carry, with a one-line explanation. Codes are stable across
 * releases; `docs/policy-reference.md` maps them to Intercept's POLICY.md validation messages.
 */
export const POLICY_ERROR_CODES = {
  'input-too-large': 'The policy text exceeds the size cap (1 MiB).',
  'yaml-syntax': 'The text is not well-formed YAML.',
  'yaml-too-deep': 'The YAML nests deeper than the cap (64 levels).',
  'yaml-alias-limit': 'The YAML expands too many aliases (a "billion laughs" document).',
  'yaml-multiple-documents': 'The file holds more than one YAML document.',
  'yaml-unknown-tag':
    'A YAML tag (`!foo`, or a `!!` tag on the wrong kind of node) that the policy cannot use.',
  'inexact-number':
    'A number has more digits than a double holds, so it loads as another number (quote IDs to compare them as text).',
  'yaml-11-boolean':
    'A plain `yes`/`no`/`on`/`off` in a condition value, which YAML 1.1 reads as a boolean, loads as text here (YAML 1.2) (warning).',
  'yaml-11-octal':
    'A plain number with a leading zero (`0755`) in a condition value, which YAML 1.1 reads as octal, loads as decimal here (YAML 1.2) (warning).',
  'yaml-number-as-text':
    'A plain number written with `_` separators or as `0b` binary (`3_306`, `1_000.5`, `0b11`) in a condition value: text here (YAML 1.2), a number to Intercept.',
  'yaml-merge-key':
    'A YAML 1.1 merge key (`<<: *name`), which YAML 1.2 reads as an ordinary key: write the members out.',
  'yaml-complex-key': 'A mapping key is a list or mapping (`? [a, b]`); keys must be plain scalars.',
  'yaml-key-not-text':
    'An unquoted key that YAML reads as a number or boolean and loads as other text (`1.0` as "1", `0x1F` as "31").',
  'duplicate-key':
    'A mapping repeats a key (also when the two differ only in YAML type, e.g. `1` and `"1"`).',
  'not-a-mapping': 'The document (or a node that must be a mapping) is not a mapping.',
  'missing-field': 'A required field is absent.',
  'unknown-key': 'A key the language does not define.',
  'invalid-type': 'A field has the wrong type.',
  'invalid-version': '`version` is not "1".',
  'invalid-default': '`default` is not allow or deny.',
  'invalid-action': '`action` is not evaluate, allow or deny.',
  'empty-name': 'A rule `name` or `on_deny` message is blank.',
  'duplicate-rule-name': 'Two rules under the same tool key share a name.',
  'hide-empty-entry': 'A `hide` entry is blank.',
  'hide-duplicate': 'A `hide` entry appears twice.',
  'invalid-glob': 'A tool key or `hide` entry is not a valid glob.',
  'empty-tool-key': 'A key under `tools` is blank.',
  'deny-with-conditions': 'An `action: deny` rule has conditions, which would never be checked.',
  'deny-with-rate-limit': 'An `action: deny` rule has a `rate_limit`, `state` or `validate` block.',
  'evaluate-without-conditions': 'An `action: evaluate` rule has nothing to evaluate.',
  'invalid-path': 'A condition path does not start with `args.` or `state.`, or has empty segments.',
  'invalid-state-path': 'A `state.` path is not `state.<scope>.<counter>`.',
  'unknown-operator': 'A condition `op` is not one of the eleven operators.',
  'value-not-list': '`in` / `not_in` need a list value.',
  'value-not-number': '`lt` / `lte` / `gt` / `gte` need a finite number.',
  'value-not-boolean': '`exists` needs true or false.',
  'value-not-string': '`regex` needs a string pattern.',
  'value-not-scalar': '`eq` / `neq` / `contains` need a string, number, boolean or null.',
  'invalid-regex': 'A `regex` pattern does not compile.',
  'regex-unsupported':
    'A `regex` uses a feature the linear-time engine cannot run (backreferences, lookaround).',
  'counter-empty': '`state.counter` is blank or contains a dot.',
  'invalid-window': '`state.window` is not minute, hour or day.',
  'invalid-increment': '`state.increment` is not a non-negative finite number.',
  'increment-ignored':
    '`state.increment` is 0 (read as 1, as in Intercept) or is given beside `increment_from` (which wins) (warning).',
  'increment-from-not-args': '`state.increment_from` does not start with `args.`.',
  'counter-under-glob': 'A `state` counter is declared under a glob key, which has no single scope.',
  'brace-alternative-space':
    'An alternative of a brace group in a tool key or hide entry starts or ends with whitespace (`{write_file, edit_file}`): it names no tool, as MCP tool names hold no spaces.',
  'counter-read-elsewhere':
    "A rule counts a counter under its tool but its conditions read another scope's counter of that name, never its own (warning).",
  'undefined-counter': 'A condition reads `state.<scope>.<counter>` but no rule defines that counter.',
  'duplicate-counter': 'Two rules define the same counter in the same scope.',
  'invalid-rate-limit': '`rate_limit` is neither `N/window` nor `{ max, window }`.',
  'invalid-rate-limit-count': 'The count of a `rate_limit` is not a positive integer.',
  'invalid-rate-limit-window': 'The window of a `rate_limit` is not minute/hour/day or a positive duration.',
  'rate-limit-with-conditions': 'A rule combines `rate_limit` with `conditions` or `state`.',
  'invalid-validate-schema': '`validate.schema` is not a JSON Schema object.',
  'unreachable-rule': 'A rule follows an unconditional deny in the same entry and can never run (warning).',
  'hidden-tool-has-rules': 'A tool is both hidden and given rules; its rules never run (warning).',
  'unlisted-tool':
    'A `tools:` key, a plain alternative of a brace glob or a `hide` entry names no tool the server lists, checked when its tool names are given (`tollgate validate --server`) (warning).',
  'unknown-argument':
    'A condition path names an argument (or a member below one) none of its tools declares in its `inputSchema`, or that some tools of its glob or `"*"` key do not take, so it fails on every call (to those); checked when the tools are given (`tollgate validate --server`) (warning).',
  'regex-on-list':
    'A `regex` condition reads an argument its tools declare as a list, so it fails on every call (`tollgate validate --server`) (warning).',
  'denied-by-wildcard':
    'An exact tool entry is matched by a `"*"` or glob entry whose deny rule always fails, so the tool is always denied (warning).',
  'wildcard-lists-nothing':
    '`default: deny` and no tool key but `"*"`: `"*"` lists no tool, so every call is denied (warning).',
  'empty-list':
    'An `in` or `not_in` condition has an empty list: `in: []` denies every call, `not_in: []` checks nothing (warning).',
  'list-item-never-matches':
    'An item of an `in` or `not_in` list is itself a list or a mapping; arguments are compared with items one value at a time, so it matches nothing (warning).',
  'rule-has-no-effect':
    'An `action: allow` rule carries nothing to check, or a `validate` block checks nothing (warning).',
  'invisible-text':
    'A tool key, hide entry or path starts or ends with whitespace or holds an invisible character, so it matches nothing a client sends; or an `eq`/`neq`/`in`/`not_in`/`contains` value holds an invisible character, so it equals no argument typed without it (warning).',
  'replacement-character':
    'The text holds U+FFFD, which stands in for bytes that were not valid UTF-8 when the file was read (warning).',
  'regex-empty': 'A `regex` condition has an empty pattern, which matches every string (warning).',
  'regex-js-delimiters':
    'A `regex` value is written as a JavaScript literal with flags (`/abc/i`); RE2 matches the slashes as text (warning).',
} as const;

/** A stable error code: one of the keys of {@link POLICY_ERROR_CODES}. */
export type PolicyErrorCode = keyof typeof POLICY_ERROR_CODES;

/**
 * Render an error the way compilers do: `file:line:col: code: message`, followed by
 * `\n  hint: ...` when the error has a hint. Warnings read `file:line:col: warning code: message`.
 */
export function formatPolicyError(e: PolicyError): string {
  const kind = e.severity === 'warning' ? `warning ${e.code}` : e.code;
  const head = `${e.file}:${e.line}:${e.column}: ${kind}: ${e.message}`;
  // A policy's keys and values are quoted in messages: no control or bidi character of theirs
  // reaches the terminal (see `printable`).
  return (e.hint ? `${head}\n  hint: ${e.hint}` : head)
    .split('\n')
    .map((line) => printable(line))
    .join('\n');
}

/**
 * Thrown by `compilePolicy` when the document is invalid. `errors` holds every problem found
 * (never just the first); `message` is their formatted list.
 */
export class PolicyCompileError extends Error {
  readonly errors: readonly PolicyError[];
  constructor(errors: readonly PolicyError[]) {
    super(`invalid policy:\n${errors.map(formatPolicyError).join('\n')}`);
    this.name = 'PolicyCompileError';
    this.errors = errors;
  }
}

/**
 * The one order in which problems are reported: by line, then column; at the same position errors
 * come before warnings, then by code. Use it for errors and warnings together.
 */
export function comparePolicyErrors(a: PolicyError, b: PolicyError): number {
  return (
    a.line - b.line ||
    a.column - b.column ||
    (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) ||
    a.code.localeCompare(b.code)
  );
}

/** Sort problems in place with {@link comparePolicyErrors}, so output is deterministic. */
export function sortErrors<T extends PolicyError[]>(errors: T): T {
  return errors.sort(comparePolicyErrors);
}
