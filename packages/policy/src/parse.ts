/**
 * `parsePolicy`: policy text -> a validated, positioned document. Never throws on bad input;
 * every problem (YAML, structure, semantics) is returned at once.
 */
import { argumentPathWarnings } from './argument-paths.js';
import type { SourceLocation } from './compiled.js';
import { type PolicyError, sortErrors } from './errors.js';
import type { PolicyDocument } from './schema.js';
import { unlistedOf } from './unlisted.js';
import { didYouMean, exactToolName, isGlob, validatePolicyValue } from './validate.js';
import { type Locator, readYaml, type ValuePath, type YamlSource } from './yaml-source.js';

/**
 * Where number or boolean values load as text: a rule's `name` and `on_deny`, and the policy's
 * `description` (Intercept reads them into strings, so `name: 2` and `on_deny: 404` are its
 * policies). Nowhere else: inside a `validate.schema`, `name: false` is a schema.
 */
const TEXT_PATHS: ReadonlyArray<readonly string[]> = [
  ['description'],
  ['tools', '*', 'rules', '*', 'name'],
  ['tools', '*', 'rules', '*', 'on_deny'],
];

/** Options shared by `parsePolicy` and `loadPolicy`. */
export interface ParseOptions {
  /** Shown in every error and source location; defaults to `<inline>`. */
  filename?: string;
  /**
   * Every tool name the server lists (its whole `tools/list`, e.g. from the catalogue): `tools:`
   * keys, glob alternatives and `hide` entries naming none of them get an `unlisted-tool` warning.
   */
  toolNames?: Iterable<string>;
  /**
   * Every listed tool's `inputSchema`, by name: condition paths naming no argument of their tools
   * get an `unknown-argument` warning, and a `regex` on a list argument `regex-on-list` (see
   * `argumentPathWarnings`).
   */
  toolSchemas?: ReadonlyMap<string, unknown>;
}

/** The result of {@link parsePolicy}. */
export interface ParsedPolicy {
  /** The filename errors and locations refer to. */
  readonly file: string;
  /** The validated document; present exactly when `errors` is empty. */
  readonly document?: PolicyDocument;
  /** The raw value the YAML produced (undefined when the YAML itself was unusable). */
  readonly value: unknown;
  /** Every error, sorted by position. Empty when the policy is valid. */
  readonly errors: readonly PolicyError[];
  /** Problems that do not stop the policy from loading (e.g. unreachable rules). */
  readonly warnings: readonly PolicyError[];
  /**
   * Source position of a node, by path into the document (e.g. `['tools', 'create_issue', 'rules', 0]`).
   * With `at: 'key'` the position of the mapping key. Falls back to the nearest existing ancestor.
   */
  locate(path: ValuePath, at?: 'key' | 'value'): SourceLocation;
}

/**
 * Parse and validate policy YAML.
 * Bounded against hostile input: 1 MiB, 64 levels of nesting, 100 alias expansions
 * (codes `input-too-large`, `yaml-too-deep`, `yaml-alias-limit`).
 */
export function parsePolicy(text: string, opts: ParseOptions = {}): ParsedPolicy {
  const file = opts.filename ?? '<inline>';
  let src: YamlSource;
  if (typeof text !== 'string') {
    src = {
      value: undefined,
      errors: [
        {
          file,
          line: 1,
          column: 1,
          code: 'invalid-type',
          message: 'policy text must be a string',
          severity: 'error',
        },
      ],
      locate: () => ({ file, line: 1, column: 1 }),
    };
  } else src = readYaml(text, file, { textPaths: TEXT_PATHS });
  if (src.errors.length > 0 && src.value === undefined) {
    return Object.freeze({ file, value: src.value, errors: src.errors, warnings: [], locate: src.locate });
  }
  const checked = validatePolicyValue(src.value, src.locate);
  const replaced = replacementCharacter(text as string, file);
  const yamlWarnings = src.warnings ?? [];
  const unlisted =
    opts.toolNames !== undefined && checked.errors.length === 0 && src.errors.length === 0
      ? unlistedWarnings(src.value as PolicyDocument, new Set(opts.toolNames), src.locate)
      : [];
  const argumentPaths =
    opts.toolSchemas !== undefined && checked.errors.length === 0 && src.errors.length === 0
      ? argumentPathWarnings(src.value as PolicyDocument, opts.toolSchemas, src.locate)
      : [];
  const extra = [...yamlWarnings, ...unlisted, ...argumentPaths, ...(replaced ? [replaced] : [])];
  const warnings = extra.length > 0 ? sortErrors([...checked.warnings, ...extra]) : checked.warnings;
  // Key problems of the YAML (duplicates) come with a value: its own problems are reported too.
  const errors =
    src.errors.length > 0
      ? sortErrors(withoutRestated(src.errors, checked.errors, src.taggedValues))
      : checked.errors;
  const result: ParsedPolicy = {
    file,
    value: src.value,
    errors,
    warnings,
    locate: src.locate,
    ...(errors.length === 0 ? { document: src.value as PolicyDocument } : {}),
  };
  return Object.freeze(result);
}

/**
 * The YAML errors and the policy's own, with one error left where both report the same value:
 * - a value whose tag was refused (`max: !env 5` loads as the text "5"): the tag's error stays
 *   and the policy's errors at that value go (`taggedValues`, from {@link readYaml});
 * - a value written as Go writes numbers (`yaml-number-as-text`, `0b11`) beside
 *   `value-not-number` (`op: lt`): the YAML error stays, it names the number to write and the
 *   other one's hint is about quotes;
 * - the same beside `value-not-boolean` (`op: exists`) or `value-not-list` (a scalar under `in`):
 *   the operator's error stays, no number would do there and the YAML error's hint would mislead.
 */
function withoutRestated(
  yamlErrors: PolicyError[],
  policyErrors: PolicyError[],
  taggedValues: ReadonlySet<string> = new Set(),
): PolicyError[] {
  const at = (e: PolicyError) => `${e.line}:${e.column}`;
  const errors = policyErrors.filter((e) => !taggedValues.has(at(e)));
  const asText = new Set(yamlErrors.filter((e) => e.code === 'yaml-number-as-text').map(at));
  if (asText.size === 0) return [...yamlErrors, ...errors];
  const refused = new Set(
    errors.filter((e) => e.code === 'value-not-boolean' || e.code === 'value-not-list').map(at),
  );
  return [
    ...yamlErrors.filter((e) => e.code !== 'yaml-number-as-text' || !refused.has(at(e))),
    ...errors.filter((e) => e.code !== 'value-not-number' || !asText.has(at(e))),
  ];
}

/**
 * The hint of an `unlisted-tool` warning whose name is near no listed tool (otherwise the hint is
 * `did you mean ...?`). Exported so that a caller knowing where the names came from (the CLI's
 * `validate --server`, from a catalogue entry) can say more.
 */
export const NO_SUCH_TOOL_HINT = 'the server lists no such tool: check the spelling';

/**
 * `unlisted-tool` warnings for the `tools:` keys, plain alternatives of brace globs
 * (`{write_file,edit_fil}`) and `hide` entries of a valid `doc` that name none of `names`.
 */
function unlistedWarnings(doc: PolicyDocument, names: ReadonlySet<string>, locate: Locator): PolicyError[] {
  const out: PolicyError[] = [];
  const warn = (path: ValuePath, message: string, hint: string) =>
    out.push({ ...locate(path, 'key'), code: 'unlisted-tool', message, hint, severity: 'warning' });
  const nearest = (entry: string) => {
    const guess = didYouMean(exactToolName(entry), [...names]);
    return guess ? `did you mean \`${guess}\`?` : NO_SUCH_TOOL_HINT;
  };
  const keys = Object.keys(doc.tools ?? {});
  const hide = doc.hide ?? [];
  const unlisted = unlistedOf(keys, hide, names);
  for (const key of unlisted.tools)
    warn(
      ['tools', key],
      `tool key "${key}" names no tool the server lists, so its rules never apply`,
      isGlob(key) ? 'the server lists no tool this glob matches' : nearest(key),
    );
  for (const key of keys) {
    if (unlisted.tools.includes(key)) continue;
    for (const name of spelledOut(key))
      if (!names.has(name))
        warn(['tools', key], `"${name}" in tool key "${key}" names no tool the server lists`, nearest(name));
  }
  // `hide` entries are unique (`hide-duplicate` is an error): the first index is the entry's.
  for (const h of unlisted.hide)
    warn(
      ['hide', hide.indexOf(h)],
      `hide entry "${h}" names no tool the server lists, so it hides nothing`,
      isGlob(h) ? 'the server lists no tool this glob matches' : nearest(h),
    );
  for (const [i, h] of hide.entries()) {
    if (unlisted.hide.includes(h) || hide.indexOf(h) !== i) continue;
    for (const name of spelledOut(h))
      if (!names.has(name))
        warn(
          ['hide', i],
          `"${name}" in hide entry "${h}" names no tool the server lists, so it hides nothing`,
          nearest(name),
        );
  }
  return out;
}

/**
 * The tool names a key or hide entry with one `{a,b}` group and no other glob syntax spells out
 * (`{read,write}_file`: `read_file`, `write_file`); none for any other entry.
 */
function spelledOut(entry: string): string[] {
  const braces = /^([^{}*?[\]\\]*)\{([^{}*?[\]\\]*)\}([^{}*?[\]\\]*)$/.exec(entry);
  return (braces?.[2]?.split(',') ?? []).map((alt) => `${braces![1]}${alt}${braces![3]}`);
}

/**
 * A warning at the first U+FFFD of `text`: the character a UTF-8 decoder puts in place of bytes
 * that are not UTF-8, so a tool name or pattern holding it would never match what was meant.
 */
function replacementCharacter(text: string, file: string): PolicyError | undefined {
  const at = text.indexOf('\uFFFD');
  if (at === -1) return undefined;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  return {
    file,
    line,
    column,
    code: 'replacement-character',
    message:
      'the policy holds U+FFFD, the character that stands in for bytes that are not valid UTF-8: the file was probably saved in another encoding',
    hint: 'save the file as UTF-8 (write the character itself if U+FFFD is really meant)',
    severity: 'warning',
  };
}
