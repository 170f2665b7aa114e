import { printable } from '@tollgate/policy';
import { callParamsProblem, ToolNameIndex } from '@tollgate/proxy';
import {
  formatTestFileProblem,
  type PolicyTestFileResult,
  type PolicyTestRefusalContext,
  policyToolNamesOf,
  runPolicyTests,
  type TestFileProblem,
} from '@tollgate/runtime';
import { pc } from '../colors.js';
import { plural } from '../plural.js';
import { readPolicyTestFile } from '../policy-test-file.js';

/** Known tool names per tested policy (see {@link proxyRefusal}). */
const nameIndexes = new WeakMap<PolicyTestRefusalContext, ToolNameIndex>();

/**
 * The proxy's refusal of a call's params (JSON-RPC -32602), as `tollgate explain` shows it: the
 * params check, then a tool name that reads as one the policy or the file's server names.
 */
function proxyRefusal(
  call: { tool: string; args: Record<string, unknown> },
  context: PolicyTestRefusalContext,
): string | undefined {
  let names = nameIndexes.get(context);
  if (!names) {
    names = new ToolNameIndex(context.listed, policyToolNamesOf(context.policy));
    nameIndexes.set(context, names);
  }
  const problem = callParamsProblem({ name: call.tool, arguments: call.args }) ?? names.problem(call.tool);
  return problem === undefined ? undefined : `Invalid params: ${problem}`;
}

/** A file's result; `problems` lists every problem of a test file that could not be run. */
type FileResult = PolicyTestFileResult & { problems?: TestFileProblem[] };

/** Checks one test file (every problem at once), then runs it. Never throws. */
async function runFile(file: string): Promise<FileResult> {
  const failed = (error: string, extra: Partial<FileResult> = {}): FileResult => ({
    file,
    error,
    tests: [],
    passed: 0,
    failed: 1,
    ...extra,
  });
  let read: ReturnType<typeof readPolicyTestFile>;
  try {
    read = readPolicyTestFile(file);
  } catch (err) {
    const message = `cannot read ${file}: ${(err as Error).message}`;
    return failed(message, { problems: [{ file, line: 1, column: 1, code: 'unreadable-file', message }] });
  }
  if (!read.ok) {
    const { problems } = read;
    return failed(
      `${problems.map(formatTestFileProblem).join('\n')}\ninvalid test file, ${plural(problems.length, 'problem')}`,
      { problems },
    );
  }
  if (read.policyTooLarge) {
    const { policySource } = read.file;
    return failed(`invalid policy:\n${policySource}:1:1: input-too-large: ${read.policyTooLarge}`, {
      policyError: true,
      policyErrors: [
        {
          file: policySource,
          line: 1,
          column: 1,
          code: 'input-too-large',
          message: read.policyTooLarge,
          severity: 'error',
        },
      ],
    });
  }
  try {
    // The proxy refuses some calls before the policy sees them; a test must see that too.
    return await runPolicyTests(read.file, { refuse: proxyRefusal });
  } catch (err) {
    return failed((err as Error).message);
  }
}

function render(r: FileResult): string {
  const lines: string[] = [];
  if (r.error) {
    lines.push(`${pc.red('✗')} ${printable(r.file)}`);
    for (const l of r.error.split('\n')) lines.push(pc.red(`    ${printable(l)}`));
    return lines.join('\n');
  }
  lines.push(
    `${r.failed ? pc.red('✗') : pc.green('✓')} ${printable(r.file)} ${pc.dim(`(${r.passed}/${r.tests.length} passed)`)}`,
  );
  for (const t of r.tests) {
    if (t.passed) {
      lines.push(`    ${pc.green('✓')} ${printable(t.name)}`);
      continue;
    }
    lines.push(`    ${pc.red('✗')} ${printable(t.name)}`);
    for (const f of t.failures) {
      const rep = f.repetition ? `, repetition ${f.repetition}` : '';
      lines.push(
        printable(
          `        step ${f.step} (${r.file}:${f.line}${rep}): ${f.call.tool} ${JSON.stringify(f.call.args)}`,
        ),
      );
      for (const d of f.diff.map(printable))
        lines.push(`          ${d.startsWith('-') ? pc.green(d) : pc.red(d)}`);
      // What decided, when the diff does not already say it: a bare `allowed` flip tells nothing.
      const a = f.actual;
      const said = f.diff.join('\n');
      const why = [
        ...(said.includes('+ reason:') ? [] : [`reason ${a.reason}`]),
        ...(a.rule === null || said.includes('+ rule:') ? [] : [`rule ${JSON.stringify(a.rule)}`]),
      ];
      const message = said.includes('+ message') ? '' : `: ${a.message}`;
      if (why.length > 0) lines.push(pc.dim(printable(`          (${why.join(', ')}${message})`)));
    }
  }
  return lines.join('\n');
}

/**
 * The action of `tollgate test FILE...`: run each policy test file in turn and print the results
 * (stdout; one JSON object with `--json`). Sets `process.exitCode`: 0 all passed, 1 a test failed
 * or a policy is invalid, 2 a test file that cannot be read or has problems (every one is
 * reported, as `file:line:col: code: message`; `problems` in `--json`).
 */
export async function runTest(files: string[], opts: { json?: boolean }): Promise<void> {
  const results: FileResult[] = [];
  for (const f of files) results.push(await runFile(f));
  const passed = results.reduce((a, r) => a + r.passed, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  const broken = results.some((r) => r.error && !r.policyError);
  process.exitCode = broken ? 2 : failed > 0 ? 1 : 0;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ ok: failed === 0, passed, failed, files: results }, null, 2)}\n`,
    );
    return;
  }
  for (const r of results) process.stdout.write(`${render(r)}\n`);
  const summary = `${passed} passed, ${failed} failed`;
  process.stdout.write(`\n${failed ? pc.red(summary) : pc.green(summary)}\n`);
}
