import { type PolicyTestFileResult, runPolicyTestFile } from '@tollgate/runtime';
import pc from 'picocolors';

function render(r: PolicyTestFileResult): string {
  const lines: string[] = [];
  if (r.error) {
    lines.push(`${pc.red('✗')} ${r.file}`);
    for (const l of r.error.split('\n')) lines.push(pc.red(`    ${l}`));
    return lines.join('\n');
  }
  lines.push(
    `${r.failed ? pc.red('✗') : pc.green('✓')} ${r.file} ${pc.dim(`(${r.passed}/${r.tests.length} passed)`)}`,
  );
  for (const t of r.tests) {
    if (t.passed) {
      lines.push(`    ${pc.green('✓')} ${t.name}`);
      continue;
    }
    lines.push(`    ${pc.red('✗')} ${t.name}`);
    for (const f of t.failures) {
      const rep = f.repetition ? `, repetition ${f.repetition}` : '';
      lines.push(
        `        step ${f.step} (${r.file}:${f.line}${rep}): ${f.call.tool} ${JSON.stringify(f.call.args)}`,
      );
      for (const d of f.diff) lines.push(`          ${d.startsWith('-') ? pc.green(d) : pc.red(d)}`);
    }
  }
  return lines.join('\n');
}

/**
 * The action of `tollgate test FILE...`: run each policy test file in turn and print the results
 * (stdout; one JSON object with `--json`). Sets `process.exitCode`: 0 all passed, 1 a test failed
 * or a policy is invalid, 2 a test file that cannot be read or parsed.
 */
export async function runTest(files: string[], opts: { json?: boolean }): Promise<void> {
  const results: PolicyTestFileResult[] = [];
  for (const f of files) results.push(await runPolicyTestFile(f));
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
