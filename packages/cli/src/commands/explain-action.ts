import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  comparePolicyErrors,
  didYouMean,
  formatPolicyError,
  loadPolicy,
  MAX_POLICY_BYTES,
  type PolicyError,
  printable,
} from '@tollgate/policy';
import { callParamsProblem, duplicateMemberProblem, ToolNameIndex } from '@tollgate/proxy';
import {
  argumentsAsSent,
  type ConditionTrace,
  type CounterStore,
  type Decision,
  defaultPaths,
  evaluate,
  formatDuration,
  InexactNumber,
  jsonText,
  MemoryCounterStore,
  openCounterStore,
  patternAsWritten,
  policyToolNamesOf,
  type RuleTrace,
  redactDsn,
} from '@tollgate/runtime';
import { pc } from '../colors.js';
import { readBounded, tooLargeMessage } from '../read-bounded.js';
import { emptyStateOptionProblem, stateDsnOf, unexpandedTildeProblem } from './state-dsn.js';

/** Parsed options of `tollgate explain`. */
export interface ExplainOptions {
  config: string;
  tool: string;
  args?: string;
  inputSchema?: string;
  /** Catalogue server id: the tool's inputSchema comes from its entry (unless --input-schema). */
  server?: string;
  catalog?: string;
  json?: boolean;
  stateDir?: string;
  stateDsn?: string;
  statePrefix?: string;
}

/** The JSON printed by `tollgate explain --json`. */
export interface ExplainOutput {
  /** Always true here: the call was explained (its decision is in `decision`). */
  ok: true;
  policy: { file: string; hash: string };
  call: { tool: string; args: Record<string, unknown> };
  /** Which counter state was read (`memory` when none exists yet: fresh counters). */
  state: string;
  decision: Omit<Decision, 'trace' | 'reservation'>;
  rules: readonly RuleTrace[];
  /**
   * Notes on how the call was explained, e.g. that the `--server` catalogue entry lists no such
   * tool, so no inputSchema was checked. Printed on stderr without `--json`. Empty when none.
   */
  notes: string[];
  /**
   * Set when the proxy would refuse the call before consulting the policy (JSON-RPC `-32602`,
   * e.g. argument names equal regardless of case): the error message. `decision` is then a
   * denial with reason `invalid_arguments` and `rules` is empty.
   */
  refused?: string;
}

/**
 * A problem with explain's input that is not in the policy text: `unreadable-file` (with the
 * policy `file`), `invalid-args`, `invalid-input-schema`, `invalid-option`, `catalogue` (`--server`: no such entry or tool), `state-unavailable`.
 */
export interface ExplainInputError {
  file?: string;
  code: string;
  message: string;
}

/**
 * What `tollgate explain --json` prints when it cannot decide (bad policy file, bad `--args`,
 * counter state that cannot open): the shape of `tollgate validate --json`'s failure.
 */
export interface ExplainErrorOutput {
  ok: false;
  /** The `-c` policy file. */
  file: string;
  errors: ReadonlyArray<PolicyError | ExplainInputError>;
  warnings: readonly PolicyError[];
}

/**
 * Reports input that stops explain before a decision: the {@link ExplainErrorOutput} on stdout
 * with `--json`, else `text` on stderr; sets `process.exitCode`.
 */
function fail(
  opts: ExplainOptions,
  exitCode: number,
  errors: ExplainErrorOutput['errors'],
  text: readonly string[],
  warnings: readonly PolicyError[] = [],
): void {
  process.exitCode = exitCode;
  if (opts.json) {
    const out: ExplainErrorOutput = { ok: false, file: opts.config, errors, warnings };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else for (const line of text) process.stderr.write(`${line}\n`);
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new Error(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

const show = (v: unknown) =>
  v === undefined ? 'missing' : v instanceof InexactNumber ? String(v) : jsonText(v, false);

/**
 * The `--json` document, indented; arguments nested too deep for `JSON.stringify` (which throws
 * `RangeError` past a few thousand levels, while `JSON.parse` accepts them) make it compact.
 */
function jsonOutput(out: ExplainOutput): string {
  try {
    return JSON.stringify(out, null, 2);
  } catch (err) {
    if (err instanceof RangeError) return jsonText(out, false);
    throw err;
  }
}

function conditionLine(c: ConditionTrace): string {
  const mark = c.passed ? pc.green('✓') : pc.red('✗');
  const actual = c.path.startsWith('state.')
    ? c.actual === undefined
      ? ''
      : `  (would be ${show(c.actual)})`
    : `  (actual ${c.found ? show(c.actual) : 'missing'})`;
  return `      ${mark} ${printable(`${c.path} ${c.op} ${shownValue(c.op, c.expected)}`)}${pc.dim(printable(actual))}`;
}

/**
 * A condition's value as written in a policy: a pattern (`regex`, `not_regex`) in YAML single
 * quotes, so it can be pasted back as it is (JSON would double every backslash); anything else
 * as JSON.
 */
function shownValue(op: string, value: unknown): string {
  if ((op === 'regex' || op === 'not_regex') && typeof value === 'string') return patternAsWritten(value);
  return JSON.stringify(value);
}

function ruleLines(t: RuleTrace): string[] {
  const mark = t.outcome === 'passed' ? pc.green('✓') : t.outcome === 'failed' ? pc.red('✗') : pc.dim('·');
  const where = `${t.toolKey === '*' ? '"*"' : printable(t.toolKey)}, line ${t.location.line}`;
  const lines = [
    `  ${mark} ${pc.bold(printable(t.rule))}  ${pc.dim(`[${where}]`)}${t.action === 'deny' ? '  action: deny' : ''}`,
  ];
  if (t.validate) {
    lines.push(
      `      ${t.validate.passed ? pc.green('✓') : pc.red('✗')} validate${t.validate.errors.length ? `: ${printable(t.validate.errors.join('; '))}` : ''}`,
    );
  }
  for (const c of t.conditions) lines.push(conditionLine(c));
  if (t.rateLimit) {
    const rl = t.rateLimit;
    const per =
      rl.kind === 'fixed'
        ? `per ${formatDuration(rl.windowMs)} (fixed, UTC)`
        : `in any ${formatDuration(rl.windowMs)}`;
    const count = rl.count === undefined ? '' : `: this call would be ${rl.count} of ${rl.max}`;
    lines.push(`      rate limit ${rl.max} ${per}${count}`);
  }
  if (t.counter) {
    const inc = t.counter.increment === undefined ? 'invalid increment' : `+${t.counter.increment}`;
    const value = t.counter.value === undefined ? '' : ` -> ${t.counter.value}`;
    lines.push(`      counter ${printable(t.counter.id)} ${inc}${value}`);
  }
  if (t.outcome === 'failed' && t.detail) lines.push(pc.dim(`      ${t.reason}: ${printable(t.detail)}`));
  return lines;
}

/**
 * Open the state explain reads: the store `stateDsn` names (see `stateDsnOf`), the default SQLite
 * file when it exists, else fresh memory.
 */
async function openState(
  opts: ExplainOptions,
  stateDsn: string | undefined,
): Promise<{ store: CounterStore; label: string }> {
  if (stateDsn) {
    const store = await openCounterStore({ stateDsn, prefix: opts.statePrefix });
    // The label is printed (and in --json): never the password.
    const dsn = redactDsn(stateDsn);
    return { store, label: store.kind === 'redis' ? `redis (${dsn})` : dsn };
  }
  const file = join(opts.stateDir ?? defaultPaths().stateDir, 'tollgate.sqlite');
  if (existsSync(file))
    return { store: await openCounterStore({ stateDir: opts.stateDir }), label: `sqlite (${file})` };
  return {
    store: new MemoryCounterStore(),
    label: `memory (no state yet: ${file} does not exist, so counters start at zero)`,
  };
}

/**
 * The inputSchema of `tool` in the catalogue entry `server`: `{ schema }`, `{ missing }` (a note:
 * the entry lists no such tool, with the nearest name) or `{ problem }` (no such entry). The
 * catalogue module loads only when asked for.
 */
async function catalogueSchema(
  server: string,
  tool: string,
  catalog: string | undefined,
): Promise<
  | { schema: Record<string, unknown>; names: string[] }
  | { missing: string; names: string[] }
  | { problem: string }
> {
  const { catalogueServer } = await import('./catalogue-entry.js');
  const entry = catalogueServer(server, catalog);
  if (typeof entry === 'string') return { problem: entry };
  const names = entry.tools.map((t) => t.name);
  const listed = entry.tools.find((t) => t.name === tool);
  if (listed) return { schema: listed.inputSchema, names };
  const near = didYouMean(
    tool,
    entry.tools.map((t) => t.name),
  );
  return {
    names,
    missing: `catalogue entry ${entry.id} has no tool ${JSON.stringify(tool)}${near ? ` (did you mean ${near}?)` : ''}: explained without its inputSchema, as the proxy would if the server listed none`,
  };
}

/**
 * The action of `tollgate explain`: evaluate one `tools/call` against the policy in peek mode
 * (counters read, never taken) and print every rule's trace and the decision (stdout; JSON with
 * `--json`). Sets `process.exitCode`: 0 allowed, 1 denied or invalid policy, 2 unreadable file,
 * bad `--args`/`--input-schema` JSON or a counter store that cannot open. Those input problems
 * go to stderr as text, or with `--json` to stdout as an {@link ExplainErrorOutput} (the shape
 * of `tollgate validate --json`).
 */
export async function runExplain(opts: ExplainOptions): Promise<void> {
  let args: Record<string, unknown>;
  let argsAsSent: Record<string, unknown> | undefined;
  let inputSchema: unknown;
  try {
    args = parseJsonObject(opts.args ?? '{}', '--args');
    // As the proxy does: numbers a double rounds are judged by the digits written.
    argsAsSent = argumentsAsSent(opts.args ?? '{}', args);
  } catch (e) {
    const message = (e as Error).message;
    return fail(opts, 2, [{ code: 'invalid-args', message }], [`tollgate explain: ${message}`]);
  }
  try {
    if (opts.inputSchema !== undefined) inputSchema = parseJsonObject(opts.inputSchema, '--input-schema');
  } catch (e) {
    const message = (e as Error).message;
    return fail(opts, 2, [{ code: 'invalid-input-schema', message }], [`tollgate explain: ${message}`]);
  }
  if (opts.catalog !== undefined && opts.server === undefined) {
    const message = '--catalog applies to --server <id>';
    return fail(opts, 2, [{ code: 'invalid-option', message }], [`tollgate explain: ${message}`]);
  }
  // The server's tool names, when the catalogue lists them: a called name that reads as one of
  // them is refused, as the proxy refuses it once the server has listed its tools.
  let listedNames: string[] = [];
  const notes: string[] = [];
  if (opts.server !== undefined) {
    // As a test file's `server:` does: the entry's schema unless --input-schema gives one, and a
    // tool the entry does not list is explained without one (a note says so).
    const found = await catalogueSchema(opts.server, opts.tool, opts.catalog);
    if ('problem' in found)
      return fail(
        opts,
        2,
        [{ code: 'catalogue', message: found.problem }],
        [`tollgate explain: ${found.problem}`],
      );
    listedNames = found.names;
    if ('missing' in found) {
      if (opts.json) notes.push(found.missing);
      else process.stderr.write(`tollgate explain: note: ${found.missing}\n`);
    } else inputSchema ??= found.schema;
  }
  const file = opts.config;
  let text: string;
  try {
    // A pipe or /dev/stdin works too; nothing is read past the policy size cap.
    const read = readBounded(file, MAX_POLICY_BYTES);
    if (!read.ok) {
      const message = tooLargeMessage(read, MAX_POLICY_BYTES, 'policy');
      const error: PolicyError = {
        file,
        line: 1,
        column: 1,
        code: 'input-too-large',
        message,
        severity: 'error',
      };
      return fail(opts, 1, [error], [`tollgate explain: ${message}`]);
    }
    text = read.text;
  } catch (e) {
    const message = (e as Error).message;
    return fail(opts, 2, [{ file, code: 'unreadable-file', message }], [`tollgate explain: ${message}`]);
  }
  const loaded = loadPolicy(text, { filename: file });
  if (!loaded.ok) {
    return fail(
      opts,
      1,
      [...loaded.errors].sort(comparePolicyErrors),
      [
        ...loaded.errors.map((e) => pc.red(formatPolicyError(e))),
        `tollgate explain: ${file} is not a valid policy (run tollgate validate)`,
      ],
      [...loaded.warnings].sort(comparePolicyErrors),
    );
  }
  const policy = loaded.policy;
  // What the proxy refuses before the policy sees it (same check, same message as on the wire).
  const problem =
    callParamsProblem({ name: opts.tool, arguments: args }) ??
    duplicateMemberProblem(opts.args ?? '{}') ??
    new ToolNameIndex(listedNames, policyToolNamesOf(policy)).problem(opts.tool, (tool) =>
      policy.isHidden(tool),
    );
  if (problem !== undefined) {
    const refused = `Invalid params: ${problem}`;
    process.exitCode = 1;
    if (opts.json) {
      const out: ExplainOutput = {
        ok: true,
        policy: { file: opts.config, hash: policy.hash },
        call: { tool: opts.tool, args },
        state: 'not read',
        decision: { allowed: false, reason: 'invalid_arguments', message: refused, policyHash: policy.hash },
        rules: [],
        notes,
        refused,
      };
      process.stdout.write(`${jsonOutput(out)}\n`);
    } else {
      process.stdout.write(
        `${pc.red(pc.bold('REFUSED'))} before the policy: the proxy answers JSON-RPC -32602 ${refused}\n`,
      );
    }
    return;
  }
  let state: { store: CounterStore; label: string };
  const emptyOption = emptyStateOptionProblem(opts, process.env) ?? unexpandedTildeProblem(opts, process.env);
  if (emptyOption) {
    return fail(
      opts,
      2,
      [{ code: 'invalid-option', message: emptyOption }],
      [`tollgate explain: ${emptyOption}`],
    );
  }
  const stateDsn = stateDsnOf(opts, process.env);
  if (opts.statePrefix !== undefined && !/^rediss?:\/\//.test(stateDsn ?? '')) {
    const message =
      '--state-prefix applies to a Redis store (--state-dsn redis://...); SQLite counters are kept apart by --state-dir';
    return fail(opts, 2, [{ code: 'invalid-option', message }], [`tollgate explain: ${message}`]);
  }
  try {
    state = await openState(opts, stateDsn);
  } catch (e) {
    const message = `cannot open counter state: ${(e as Error).message}`;
    return fail(opts, 2, [{ code: 'state-unavailable', message }], [`tollgate explain: ${message}`]);
  }
  const call = argsAsSent === undefined ? { tool: opts.tool, args } : { tool: opts.tool, args, argsAsSent };
  const decision = await evaluate(policy, call, {
    store: state.store,
    mode: 'peek',
    trace: true,
    inputSchema,
  });
  await state.store.close();
  const { trace = [], reservation: _r, ...bare } = decision;
  process.exitCode = decision.allowed ? 0 : 1;
  if (opts.json) {
    const out: ExplainOutput = {
      ok: true,
      policy: { file: opts.config, hash: policy.hash },
      call,
      state: state.label,
      decision: bare,
      rules: trace,
      notes,
    };
    process.stdout.write(`${jsonOutput(out)}\n`);
    return;
  }
  const lines = [
    `${pc.dim('policy')}  ${printable(opts.config)} ${pc.dim(`(sha256 ${policy.hash.slice(0, 12)}, default ${policy.default})`)}`,
    `${pc.dim('call')}    ${printable(`${opts.tool} ${argsAsSent === undefined ? jsonText(args, false) : (opts.args ?? '{}').trim()}`)}`,
    `${pc.dim('state')}   ${printable(state.label)}`,
    '',
  ];
  if (decision.reason === 'hidden')
    lines.push(`  ${pc.red('✗')} hidden by \`hide\`: rules are not evaluated`);
  else if (decision.reason === 'not_listed') {
    lines.push(
      `  ${pc.red('✗')} not listed under \`tools\` and the default is deny: rules are not evaluated`,
    );
  } else if (trace.length === 0) lines.push(pc.dim('  no rules apply to this tool'));
  for (const t of trace) lines.push(...ruleLines(t));
  lines.push('');
  if (decision.allowed) {
    lines.push(
      `${pc.green(pc.bold('ALLOWED'))}${decision.failedOpen ? ' (uncounted: state unavailable, fail mode open)' : ''}`,
    );
  } else {
    const rule = decision.rule ? ` by rule "${printable(decision.rule)}"` : '';
    lines.push(`${pc.red(pc.bold('DENIED'))}${rule} ${pc.dim(`(${decision.reason})`)}`);
    lines.push(`  ${printable(decision.message)}`);
    if (decision.retryAfterMs !== undefined) lines.push(pc.dim(`  retry after ${decision.retryAfterMs} ms`));
    if (decision.reason === 'schema_unavailable' && inputSchema === undefined) {
      // The proxy has the schema from the server's tools/list; explain has only what it is given.
      lines.push(
        pc.dim(
          "  the proxy checks this against the tool's inputSchema from tools/list: pass it with --input-schema '<json>', or --server <catalogue id> for a catalogued server, to explain the call as the proxy decides it",
        ),
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
