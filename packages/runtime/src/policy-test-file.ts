/**
 * Reading policy test files (`tollgate test`; format in docs/runtime.md, "`tollgate test` and
 * policy test files"). One checker for every reader: it reports every problem of a file at once,
 * each at its line and column with a stable code (like `tollgate validate` for policies): YAML
 * syntax, unknown keys (with the closest known one), missing and wrongly typed fields, and
 * `expect` values no decision can have (`reason: allowd`, `rule: 5`). A file without problems
 * becomes a {@link PolicyTestFile} for {@link runPolicyTests}.
 *
 * How files are read is the caller's: {@link parsePolicyTestFile} reads them whole; the CLI reads
 * pipes and bounds their size.
 */
import { dirname, resolve } from 'node:path';
import {
  didYouMean,
  isExactDecimal,
  MAX_ALIAS_COUNT,
  MAX_POLICY_DEPTH,
  MAX_SLIDING_WINDOW_MS,
  yamlLineBreaks,
  yamlNumberLiteral,
} from '@tollgate/policy';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  stringify,
  visit,
  type YAMLMap,
} from 'yaml';
import { REASON_CODES } from './decision.js';
import { type InexactNumberMark, withInexactNumbers } from './exact-arguments.js';
import type { PolicyTestCase, PolicyTestFile, PolicyTestStep, StepExpectation } from './policy-test.js';
import { SchemaValidator } from './schema-validator.js';
import { parseDuration } from './windows.js';

/** One problem of a test file, at a 1-based line and column. */
export interface TestFileProblem {
  file: string;
  line: number;
  column: number;
  /**
   * `yaml-syntax`, `unknown-key`, `missing-key`, `invalid-type`, `invalid-value`,
   * `unreadable-policy`, `unknown-server`, `input-too-large`; `unreadable-file` from
   * `tollgate test` for a test file it cannot read.
   */
  code: string;
  message: string;
}

/** `file:line:col: code: message`, the format `tollgate validate` uses. */
export const formatTestFileProblem = (p: TestFileProblem): string =>
  `${p.file}:${p.line}:${p.column}: ${p.code}: ${p.message}`;

/** What {@link checkPolicyTestFile} found: the file to run, or every problem (never both). */
export type TestFileCheck =
  | {
      ok: true;
      file: PolicyTestFile;
      /** Set when the policy file named by `policy` was over the reader's size bound (its message). */
      policyTooLarge?: string;
    }
  | { ok: false; problems: TestFileProblem[] };

/**
 * Reads the policy file a test file names (`policy: path`, resolved against the test file's
 * directory): its text, or `{ tooLarge }` with a message when the reader bounds its size.
 *
 * @throws Error when it cannot be read (reported as `unreadable-policy` at the `policy` key)
 */
export type PolicyFileReader = (path: string) => { text: string } | { tooLarge: string };

/**
 * The inputSchemas of a catalogued server's tools, by tool name (`server: <id>` in a test file),
 * or why there are none (an unknown id, with near ids).
 */
export type CatalogueSchemaReader = (id: string) => { tools: Record<string, unknown> } | { problem: string };

const ROOT_KEYS = ['policy', 'start', 'server', 'tools', 'tests', 'description'];
const TEST_KEYS = ['name', 'steps', 'description'];
const STEP_KEYS = ['call', 'args', 'expect', 'upstream', 'repeat', 'advance', 'name'];
const CALL_ONLY_KEYS = ['call', 'args', 'expect', 'upstream', 'repeat'];
const EXPECT_KEYS = ['allowed', 'reason', 'rule', 'message', 'message_includes', 'retry_after_ms'];
const UPSTREAMS = ['result', 'error', 'pending'];
const DEFAULT_START = Date.UTC(2026, 0, 1);
/**
 * Latest time a test's clock may read: a year's window (the longest) before the end of the
 * JavaScript Date range (8.64e15 ms after the epoch), so every window open then ends at a time a
 * denial message can show (`at +275759-...`), rather than failing the run with `Invalid time value`.
 */
const LATEST_CLOCK = 8.64e15 - MAX_SLIDING_WINDOW_MS;
const LATEST_CLOCK_TEXT = new Date(LATEST_CLOCK).toISOString();
/** Earliest time a test's clock may start at: the start of JavaScript's dates (ms). */
const EARLIEST_CLOCK = -8.64e15;
const LATEST_CLOCK_WHY =
  "the latest time a test's clock can read (a year before JavaScript's dates end, so every window can end)";

/**
 * An ISO 8601 time: a date, optionally a time (`T` or a space; seconds and fractions optional) and,
 * with a time, an offset. Years are 4 digits, or 6 with a sign as JavaScript writes them.
 */
const ISO_TIME =
  /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?)?$/;

/**
 * The epoch milliseconds of an ISO 8601 time (`start:` of a test file), or undefined when `text` is
 * not one or names a time that does not exist: a day the month has not (Feb 30, Apr 31, Feb 29 of a
 * common year), hour 24 or more, minute or second 60 or more, an offset past 23:59 (JavaScript's
 * parser would roll Feb 30 over to March 2). A time without an offset is UTC, as every window is.
 */
function parseStartTime(text: string): number | undefined {
  const m = ISO_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', offset = 'Z'] = m;
  const year = Number(y);
  // The fields as written must name a time that exists (read in UTC, before the offset), checked
  // in a year of the same leap status inside JavaScript's range (2000 or 2001).
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const fields = new Date(0);
  fields.setUTCFullYear(leap ? 2000 : 2001, Number(mo) - 1, Number(d));
  fields.setUTCHours(Number(h), Number(mi), Number(sec));
  const exists =
    fields.getUTCMonth() === Number(mo) - 1 &&
    fields.getUTCDate() === Number(d) &&
    fields.getUTCHours() === Number(h) &&
    fields.getUTCMinutes() === Number(mi) &&
    fields.getUTCSeconds() === Number(sec);
  if (!exists) return undefined;
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac}${offset.toUpperCase()}`);
  if (!Number.isNaN(t)) return t;
  // A time that exists but lies outside JavaScript's dates (`+999999-...`): out of range, which
  // the caller reports as such. (An offset past 23:59 leaves Date.parse NaN too.)
  if (!/^[+-]\d{2}:\d{2}$/.test(offset) || Number(offset.slice(1, 3)) < 24) {
    if (Math.abs(year) > 270_000) return year > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }
  return undefined;
}

/** Largest `repeat` of a step: a test runs its calls one by one (about a second per 100,000). */
const MAX_REPEAT = 1_000_000;

/** One JSON Schema compiler for the `tools:` of every test file read (ajv is costly to build). */
let checker: SchemaValidator | undefined;
const schemaChecker = (): SchemaValidator => {
  checker ??= new SchemaValidator();
  return checker;
};

/** How a YAML value reads in a message: `"allowd" (string)`, `5 (number)`, `a list`. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${JSON.stringify(v)} (${typeof v})`;
}

/**
 * The first YAML-only number in `root` (`.inf`, `-.Inf`, `.nan`: JSON has no such values), with its
 * node for the position; iterative, so any nesting is walked without recursion.
 */
function nonJsonNumber(root: Node): { node: Node; text: string } | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const n = stack.pop();
    if (isScalar(n)) {
      // `1e400` is a JSON number (read as the digits sent); `.inf` and `.nan` are YAML's own.
      const source = typeof n.source === 'string' ? n.source : '';
      if (typeof n.value === 'number' && /^[-+]?\.(inf|nan)$/i.test(source)) return { node: n, text: source };
    } else if (isMap(n)) {
      for (const pair of n.items) stack.push(pair.key, pair.value);
    } else if (isSeq(n)) {
      for (const item of n.items) stack.push(item);
    }
  }
  return undefined;
}

/**
 * True for a test file read from a stream rather than a directory (`-`, `/dev/stdin`,
 * `/dev/fd/N`, `/proc/self/fd/N`, what `<(generate-tests)` gives): its relative `policy` path is
 * resolved against the working directory, not `/dev`.
 */
function readFromStream(file: string): boolean {
  return file === '-' || /^\/(?:dev\/stdin|dev\/fd\/\d+|proc\/self\/fd\/\d+)$/.test(file);
}

/** Levels of lists and mappings in `node` (0 for a scalar); iterative, stops past the cap. */
function depthOf(node: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[node, 0]];
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    if (!(isMap(n) || isSeq(n))) continue;
    if (d + 1 > max) max = d + 1;
    if (max > MAX_POLICY_DEPTH) return max;
    for (const item of n.items as unknown[]) {
      if (isPair(item)) {
        stack.push([item.key, d + 1]);
        stack.push([item.value, d + 1]);
      } else stack.push([item, d + 1]);
    }
  }
  return max;
}

const keyOf = (pair: Pair): string => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key));

/**
 * Checks the text of one test file and reads the policy it names with `readPolicy`.
 *
 * @param source the test file's YAML text (LF, CRLF or CR line endings)
 * @param file its path: problems carry it, and a relative `policy` path is resolved against its
 *   directory
 * @param readServer looks up `server: <id>` (the tools' inputSchemas of a catalogue entry, which
 *   `tools:` entries override); without it, a `server` key is an `unknown-server` problem
 * @returns the file to run, or every problem sorted by position; never throws
 */
export function checkPolicyTestFile(
  source: string,
  file: string,
  readPolicy: PolicyFileReader,
  readServer?: CatalogueSchemaReader,
): TestFileCheck {
  const lc = new LineCounter();
  // Lone CRs are line breaks, as in policy files.
  const text = yamlLineBreaks(source);
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const problems: TestFileProblem[] = [];
  const at = (node: unknown, fallback?: unknown): { line: number; column: number } => {
    const r = (node as Node | undefined)?.range ?? (fallback as Node | undefined)?.range;
    if (!r) return { line: 1, column: 1 };
    const p = lc.linePos(r[0]);
    return { line: p.line, column: p.col };
  };
  const report = (node: unknown, code: string, message: string, fallback?: unknown) => {
    problems.push({ file, ...at(node, fallback), code, message });
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      // `linePos` is only filled with prettyErrors: the offset gives the place.
      const pos = e.linePos?.[0] ?? (e.pos?.[0] !== undefined ? lc.linePos(e.pos[0]) : undefined);
      problems.push({
        file,
        line: pos?.line ?? 1,
        column: pos?.col ?? 1,
        code: 'yaml-syntax',
        message: e.message.split('\n')[0] ?? 'invalid YAML',
      });
    }
    return { ok: false, problems };
  }
  if (depthOf(doc.contents) > MAX_POLICY_DEPTH) {
    problems.push({
      file,
      line: 1,
      column: 1,
      code: 'too-deep',
      message: `the file nests more than ${MAX_POLICY_DEPTH} levels of lists and mappings`,
    });
    return { ok: false, problems };
  }
  // Aliases (`*name`) stand for the value anchored `&name`, as in policy files; each is replaced
  // by that node so the checks below see the value. Bounded as policies are: at most
  // MAX_ALIAS_COUNT aliases expanded (a "billion laughs" file is refused), and no alias inside
  // the value it names.
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    problems.push({
      file,
      line: 1,
      column: 1,
      code: 'yaml-alias-limit',
      message: `the file's aliases expand too far (${e instanceof Error ? e.message : String(e)}); write the values out, or use fewer aliases`,
    });
    return { ok: false, problems };
  }
  let cycle = false;
  let merge = false;
  visit(doc, {
    Pair(_key, pair) {
      // YAML 1.1's merge key (`<<: *base`) is plain text in YAML 1.2: it would become an argument
      // named "<<". Refused, as in policies; quote it ("<<") for an argument of that name.
      if (isScalar(pair.key) && pair.key.value === '<<' && pair.key.type === 'PLAIN') {
        merge = true;
        report(
          pair.key,
          'yaml-merge-key',
          'merge keys (`<<: *name`) are not supported: write the members out (quote "<<" for a key of that name)',
        );
      }
      return undefined;
    },
  });
  if (merge) return { ok: false, problems };
  visit(doc, {
    Alias(_key, node, path) {
      const target = node.resolve(doc);
      if (!target) return undefined;
      if (path.includes(target as never)) {
        cycle = true;
        report(node, 'yaml-alias-limit', `alias *${node.source} is inside the value it names`);
        return visit.SKIP;
      }
      return target;
    },
  });
  if (cycle) return { ok: false, problems };

  /** Reports keys of `map` not in `known`, with the closest known key. */
  const unknownKeys = (map: YAMLMap, known: readonly string[], what: string) => {
    for (const pair of map.items) {
      const k = keyOf(pair);
      if (known.includes(k)) continue;
      // MCP's own name for the call's arguments, and the parameter key of a tools/call.
      const guess = k === 'arguments' && known.includes('args') ? 'args' : didYouMean(k, known);
      report(
        pair.key,
        'unknown-key',
        `unknown ${what} key "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}; expected one of ${known.join(', ')}`,
      );
    }
  };

  const root = doc.contents;
  if (!isMap(root)) {
    report(
      root,
      'invalid-type',
      `a test file is a mapping with \`policy\` and \`tests\`, got ${describe(doc.toJSON())}`,
    );
    return { ok: false, problems };
  }
  unknownKeys(root, ROOT_KEYS, 'top-level');

  // policy: a path (relative to the test file) or an inline mapping.
  const policyNode = root.get('policy', true);
  let policySource = '';
  let policyText = '';
  let policyTooLarge: string | undefined;
  if (policyNode === undefined) {
    report(root, 'missing-key', '`policy` is required: a path to a policy file or an inline policy mapping');
  } else if (isScalar(policyNode) && typeof policyNode.value === 'string' && policyNode.value !== '') {
    policySource = resolve(readFromStream(file) ? process.cwd() : dirname(file), policyNode.value);
    try {
      const p = readPolicy(policySource);
      if ('text' in p) policyText = p.text;
      else policyTooLarge = p.tooLarge;
    } catch (err) {
      report(
        policyNode,
        'unreadable-policy',
        `cannot read policy ${policyNode.value}: ${(err as Error).message}`,
      );
    }
  } else if (isMap(policyNode)) {
    policySource = `${file} (inline policy)`;
    policyText = stringify(policyNode.toJSON());
  } else {
    report(
      policyNode,
      'invalid-type',
      `\`policy\` must be a path to a policy file or an inline policy mapping, got ${describe((policyNode as Node).toJSON())}`,
    );
  }

  let start = DEFAULT_START;
  const startNode = root.get('start', true);
  if (startNode !== undefined) {
    const v = isScalar(startNode) ? startNode.value : undefined;
    const t = typeof v === 'string' ? parseStartTime(v) : undefined;
    if (t === undefined) {
      report(
        startNode,
        'invalid-value',
        `\`start\` must be an ISO 8601 time, e.g. 2026-11-29T10:00:00Z, got ${describe((startNode as Node).toJSON())}`,
      );
    } else if (t < EARLIEST_CLOCK) {
      report(
        startNode,
        'invalid-value',
        `\`start\` must be at least ${new Date(EARLIEST_CLOCK).toISOString()}, the earliest time JavaScript's dates can show, got ${describe(v)}`,
      );
    } else if (t > LATEST_CLOCK) {
      report(
        startNode,
        'invalid-value',
        `\`start\` must be at most ${LATEST_CLOCK_TEXT}, ${LATEST_CLOCK_WHY}, got ${describe(v)}`,
      );
    } else start = t;
  }

  const schemas: Record<string, unknown> = {};
  const serverNode = root.get('server', true);
  if (serverNode !== undefined) {
    const id = isScalar(serverNode) ? serverNode.value : undefined;
    if (typeof id !== 'string' || id === '') {
      report(serverNode, 'invalid-type', '`server` must be a catalogue server id, e.g. github');
    } else {
      const found = readServer?.(id) ?? { problem: 'catalogue servers cannot be looked up here' };
      if ('problem' in found) report(serverNode, 'unknown-server', found.problem);
      else Object.assign(schemas, found.tools);
    }
  }
  const toolsNode = root.get('tools', true);
  if (toolsNode !== undefined) {
    if (!isMap(toolsNode)) {
      report(toolsNode, 'invalid-type', '`tools` maps tool names to their inputSchema (a mapping)');
    } else {
      for (const pair of toolsNode.items) {
        if (!isMap(pair.value)) {
          report(
            pair.value ?? pair.key,
            'invalid-type',
            `the inputSchema of tool "${keyOf(pair)}" must be a mapping (a JSON Schema object), got ${describe((pair.value as Node | null)?.toJSON?.() ?? null)}`,
          );
        } else {
          const schema = pair.value.toJSON() as object;
          // Found now, with its position, rather than as every call's `invalid_arguments` later.
          const compiled = schemaChecker().compile(schema);
          if (compiled instanceof Error) {
            report(
              pair.value,
              'invalid-value',
              `the inputSchema of tool "${keyOf(pair)}" is not a JSON Schema the proxy can use: ${compiled.message}`,
            );
          } else schemas[keyOf(pair)] = schema;
        }
      }
    }
  }

  const descriptionNode = root.get('description', true);
  if (
    descriptionNode !== undefined &&
    !(isScalar(descriptionNode) && typeof descriptionNode.value === 'string')
  ) {
    report(descriptionNode, 'invalid-type', '`description` must be a string');
  }

  const tests: PolicyTestCase[] = [];
  /** Test names seen so far, with the line of each. */
  const names = new Map<string, number>();
  const testsNode = root.get('tests', true);
  if (testsNode === undefined) {
    report(root, 'missing-key', '`tests` is required: a non-empty list of { name, steps }');
  } else if (!isSeq(testsNode) || testsNode.items.length === 0) {
    report(testsNode, 'invalid-type', '`tests` must be a non-empty list of { name, steps }');
  } else {
    for (const [ti, t] of testsNode.items.entries()) {
      const test = checkTest(t, ti);
      if (test) tests.push(test);
    }
  }

  function checkTest(t: unknown, ti: number): PolicyTestCase | undefined {
    if (!isMap(t)) {
      report(
        t,
        'invalid-type',
        `each test is a mapping with \`name\` and \`steps\`, got ${describe((t as Node | null)?.toJSON?.() ?? t)}`,
        testsNode,
      );
      return undefined;
    }
    unknownKeys(t, TEST_KEYS, 'test');
    const nameNode = t.get('name', true);
    let name = `test ${ti + 1}`;
    if (nameNode !== undefined) {
      if (isScalar(nameNode) && typeof nameNode.value === 'string') name = nameNode.value;
      else
        report(
          nameNode,
          'invalid-type',
          `\`name\` must be a string, got ${describe((nameNode as Node).toJSON())}`,
        );
    }
    if (isScalar(nameNode) && typeof nameNode.value === 'string') {
      const first = names.get(name);
      if (first !== undefined)
        report(
          nameNode,
          'invalid-value',
          `a second test is named "${name}" (the first is on line ${first}); give each test its own name`,
        );
      else names.set(name, at(nameNode).line);
    }
    const stepsNode = t.get('steps', true);
    if (stepsNode === undefined) {
      report(t, 'missing-key', `test "${name}" has no \`steps\` (a list of calls and clock advances)`);
      return undefined;
    }
    if (!isSeq(stepsNode)) {
      report(stepsNode, 'invalid-type', '`steps` must be a list');
      return undefined;
    }
    if (stepsNode.items.length === 0) {
      report(
        stepsNode,
        'invalid-value',
        `test "${name}" has no steps, so it would pass without checking anything`,
      );
      return undefined;
    }
    const steps: PolicyTestStep[] = [];
    /** The test's clock after the steps so far (an invalid `start` was reported: the default). */
    let clock = start;
    for (const s of stepsNode.items) {
      const step = checkStep(s);
      if (!step) continue;
      steps.push(step);
      if (step.kind !== 'advance' || clock > LATEST_CLOCK) continue;
      clock += step.ms;
      if (clock > LATEST_CLOCK) {
        // Found here, at the advance: a run would stop at the first denial message with a time.
        const node = (s as YAMLMap).get('advance', true) as Node;
        const written = node.range ? text.slice(node.range[0], node.range[1]) : String(step.ms);
        report(
          node,
          'invalid-value',
          `advance ${written} takes the clock of test "${name}" (from ${new Date(start).toISOString()}) past ${LATEST_CLOCK_TEXT}, ${LATEST_CLOCK_WHY}`,
        );
      }
    }
    return { name, line: at(t).line, steps };
  }

  function checkStep(s: unknown): PolicyTestStep | undefined {
    if (!isMap(s)) {
      report(s, 'invalid-type', 'a step is a mapping: { call, args, expect } or { advance }', testsNode);
      return undefined;
    }
    unknownKeys(s, STEP_KEYS, 'step');
    const line = at(s).line;
    const nameNode = s.get('name', true);
    if (nameNode !== undefined && !(isScalar(nameNode) && typeof nameNode.value === 'string')) {
      report(
        nameNode,
        'invalid-type',
        `a step's \`name\` must be a string, got ${describe((nameNode as Node).toJSON())}`,
      );
    }
    const advanceNode = s.get('advance', true);
    if (advanceNode !== undefined) {
      for (const k of CALL_ONLY_KEYS) {
        const n = s.get(k, true);
        if (n !== undefined) {
          const keyNode = s.items.find((p) => keyOf(p) === k)?.key;
          report(
            keyNode ?? n,
            'invalid-value',
            `a step is either \`advance\` or \`call\`; \`${k}\` cannot go with \`advance\``,
          );
        }
      }
      try {
        // A number is shown as written: `1e400` reads as Infinity.
        const written =
          isScalar(advanceNode) &&
          typeof advanceNode.value === 'number' &&
          typeof advanceNode.source === 'string'
            ? advanceNode.source
            : undefined;
        return { kind: 'advance', line, ms: parseDuration((advanceNode as Node).toJSON(), written) };
      } catch (err) {
        report(advanceNode, 'invalid-value', (err as Error).message);
        return undefined;
      }
    }
    let ok = true;
    const bad = (node: unknown, code: string, message: string) => {
      report(node, code, message, s);
      ok = false;
    };
    const callNode = s.get('call', true);
    const tool = isScalar(callNode) ? callNode.value : undefined;
    if (callNode === undefined)
      bad(s, 'missing-key', 'a step needs `call: <tool name>` or `advance: <duration>`');
    else if (typeof tool !== 'string' || tool === '')
      bad(
        callNode,
        'invalid-type',
        `\`call\` must be a tool name (a non-empty string), got ${describe((callNode as Node).toJSON())}`,
      );

    const argsNode = s.get('args', true);
    const args = argsNode === undefined ? {} : (argsNode as Node).toJSON();
    const argsAsSent = isMap(argsNode)
      ? withInexactNumbers(args, inexactYamlNumbers(argsNode, text))
      : undefined;
    if (argsNode !== undefined && !isMap(argsNode))
      bad(argsNode, 'invalid-type', `\`args\` must be a mapping, got ${describe(args)}`);
    else if (argsNode !== undefined) {
      const odd = nonJsonNumber(argsNode as Node);
      if (odd)
        bad(
          odd.node,
          'invalid-value',
          `${odd.text} in \`args\` is not a JSON number: no client can send it (1e400 is one, read as the digits written)`,
        );
    }

    const upstreamNode = s.get('upstream', true);
    const upstream = upstreamNode === undefined ? 'result' : (upstreamNode as Node).toJSON();
    if (!UPSTREAMS.includes(upstream)) {
      const guess = typeof upstream === 'string' ? didYouMean(upstream, UPSTREAMS) : undefined;
      bad(
        upstreamNode,
        'invalid-value',
        `\`upstream\` must be result, error or pending, got ${describe(upstream)}${guess ? ` (did you mean "${guess}"?)` : ''}`,
      );
    }

    const repeatNode = s.get('repeat', true);
    const repeat = repeatNode === undefined ? 1 : (repeatNode as Node).toJSON();
    if (typeof repeat !== 'number' || !Number.isSafeInteger(repeat) || repeat < 1)
      bad(repeatNode, 'invalid-value', `\`repeat\` must be a positive integer, got ${describe(repeat)}`);
    else if (repeat > MAX_REPEAT)
      bad(
        repeatNode,
        'invalid-value',
        `\`repeat\` must be at most ${MAX_REPEAT} (each repetition is a call), got ${repeat}`,
      );

    const expect = checkExpect(s.get('expect', true));
    if (!ok || !expect) return undefined;
    return {
      kind: 'call',
      line,
      tool: tool as string,
      args: args as Record<string, unknown>,
      ...(argsAsSent === undefined ? {} : { argsAsSent: argsAsSent as Record<string, unknown> }),
      upstream: upstream as 'result' | 'error' | 'pending',
      repeat: repeat as number,
      expect,
    };
  }

  function checkExpect(node: unknown): StepExpectation | undefined {
    if (node === undefined) return {};
    if (isMap(node) && node.items.length === 0) {
      report(
        node,
        'invalid-value',
        '`expect: {}` checks nothing; name what the call should get (`allowed`, `reason`, `rule`, ...) or leave `expect` out',
      );
      return undefined;
    }
    if (!isMap(node)) {
      report(
        node,
        'invalid-type',
        `\`expect\` must be a mapping, got ${describe((node as Node | null)?.toJSON?.() ?? node)}`,
      );
      return undefined;
    }
    let ok = true;
    const bad = (n: unknown, code: string, message: string) => {
      report(n, code, message, node);
      ok = false;
    };
    for (const pair of node.items) {
      const k = keyOf(pair);
      if (!EXPECT_KEYS.includes(k)) {
        const guess = didYouMean(k, EXPECT_KEYS);
        bad(
          pair.key,
          'unknown-key',
          `unknown expect key "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}; expected one of ${EXPECT_KEYS.join(', ')}`,
        );
        continue;
      }
      const v = (pair.value as Node | null)?.toJSON?.() ?? null;
      const where = pair.value ?? pair.key;
      switch (k) {
        case 'allowed':
          if (typeof v !== 'boolean')
            bad(where, 'invalid-type', `\`allowed\` must be true or false, got ${describe(v)}`);
          break;
        case 'reason':
          if (typeof v !== 'string') {
            bad(where, 'invalid-type', `\`reason\` must be a reason code (a string), got ${describe(v)}`);
          } else if (!(REASON_CODES as readonly string[]).includes(v)) {
            const guess = didYouMean(v, REASON_CODES);
            bad(
              where,
              'invalid-value',
              `unknown reason "${v}"${guess ? ` (did you mean "${guess}"?)` : ''}; one of ${REASON_CODES.join(', ')}`,
            );
          }
          break;
        case 'rule':
          if (v !== null && typeof v !== 'string')
            bad(where, 'invalid-type', `\`rule\` must be a rule name (a string) or null, got ${describe(v)}`);
          break;
        case 'message':
        case 'message_includes':
          if (typeof v !== 'string')
            bad(where, 'invalid-type', `\`${k}\` must be a string, got ${describe(v)}`);
          else if (k === 'message_includes' && v === '')
            bad(where, 'invalid-value', '`message_includes: ""` matches every message, so it checks nothing');
          break;
        case 'retry_after_ms':
          if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
            bad(
              where,
              'invalid-type',
              `\`retry_after_ms\` must be a whole number of milliseconds, 0 or more, got ${describe(v)}`,
            );
          break;
      }
    }
    return ok ? (node.toJSON() as StepExpectation) : undefined;
  }

  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, problems };
  }
  return {
    ok: true,
    file: { file, policySource, policyText, start, schemas, tests },
    ...(policyTooLarge ? { policyTooLarge } : {}),
  };
}

/**
 * The numbers of a step's `args` written with more digits than a double holds (`channel_id:
 * 1098765432109876543`), with their paths: the step then calls with those digits, as the proxy
 * judges a call that sends them (see `ToolCall.argsAsSent`). Only decimal literals are read.
 */
function inexactYamlNumbers(root: Node, text: string): InexactNumberMark[] {
  const marks: InexactNumberMark[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isMap(node))
      for (const pair of node.items)
        walk(pair.value, [...path, String((pair.key as Node | null)?.toJSON?.() ?? pair.key)]);
    else if (isSeq(node))
      node.items.forEach((item, i) => {
        walk(item, [...path, i]);
      });
    else if (isScalar(node) && typeof node.value === 'number' && node.range) {
      const literal = yamlNumberLiteral(text.slice(node.range[0], node.range[1]).trim());
      if (literal !== undefined && !isExactDecimal(literal)) marks.push({ path, text: literal });
    }
  };
  walk(root, []);
  return marks;
}
