import type { Command } from 'commander';

/**
 * Registers `tollgate test FILE... [--json]`: runs policy test files (docs/runtime.md "Policy test
 * files") through the same `evaluate` the proxy uses, with an in-memory store and a virtual clock.
 * Exit codes: 0 all passed, 1 a test failed or a policy is invalid, 2 usage error or a test file
 * that cannot be read or parsed.
 */
export function registerTest(program: Command): void {
  program
    .command('test')
    .description(
      'Run policy test files: calls, clock advances and upstream outcomes against expected decisions',
    )
    .argument('<files...>', 'policy test files (YAML)')
    .option('--json', 'print one machine-readable JSON object on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 all tests passed, 1 a test failed or a policy is invalid, 2 usage error, or a test file that cannot be read or has problems (each listed as file:line:col).\nExample: tollgate test examples/tests/*.test.yaml',
    )
    .action(async (files: string[], opts: { json?: boolean }) => {
      const { runTest } = await import('./test-action.js');
      await runTest(files, opts);
    });
}
