import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type CompiledPolicy, formatPolicyError, loadPolicy, type PolicyError } from '@tollgate/policy';
import type { Decision, ReasonCode } from './decision.js';
import { evaluate } from './evaluate.js';
import { checkPolicyTestFile, formatTestFileProblem, type TestFileProblem } from './policy-test-file.js';
import { SchemaValidator } from './schema-validator.js';
import { MemoryCounterStore } from './store/memory.js';

/*
 * Policy test files (`tollgate test`): YAML documents that pin what a policy decides for a
 * sequence of calls. Each test runs against a fresh in-memory counter store and its own clock,
 * through the same `evaluate` the proxy uses. The format is documented in docs/runtime.md.
 */

/** What a step expects; only the fields given are compared. */
export interface StepExpectation {
  allowed?: boolean;
  reason?: ReasonCode;
  rule?: string | null;
  message?: string;
  /** Substring the message must contain. */
  message_includes?: string;
  retry_after_ms?: number;
}

/** One step: a call (optionally repeated), or a clock advance. */
export type PolicyTestStep =
  | {
      kind: 'call';
      line: number;
      tool: string;
      args: Record<string, unknown>;
      /** `args` with numbers a double rounds as written (see `ToolCall.argsAsSent`); absent when none. */
      argsAsSent?: Record<string, unknown>;
      /** `result` (default) commits an admitted call, `error` rolls it back, `pending` leaves it reserved. */
      upstream: 'result' | 'error' | 'pending';
      repeat: number;
      expect: StepExpectation;
    }
  | { kind: 'advance'; line: number; ms: number };

/** One named test. */
export interface PolicyTestCase {
  name: string;
  line: number;
  steps: PolicyTestStep[];
}

/** A parsed test file. */
export interface PolicyTestFile {
  file: string;
  /** Path of the policy file, or a label for an inline policy. */
  policySource: string;
  policyText: string;
  /** Clock at the start of each test, epoch ms (default 2026-01-01T00:00:00Z). */
  start: number;
  /** `inputSchema` per tool, for `validate.required_args`. */
  schemas: Record<string, unknown>;
  tests: PolicyTestCase[];
}

/** A mismatch between expected and actual decision of one call. */
export interface StepFailure {
  test: string;
  /** 1-based step number within the test, and the line in the test file. */
  step: number;
  line: number;
  /** Which repetition failed (1-based) when `repeat` > 1. */
  repetition?: number;
  call: { tool: string; args: Record<string, unknown> };
  expected: StepExpectation;
  actual: {
    allowed: boolean;
    reason: ReasonCode;
    rule: string | null;
    message: string;
    retry_after_ms?: number;
  };
  /** Lines `- field: expected` / `+ field: actual` for every differing field. */
  diff: string[];
}

/** Outcome of one test file. */
export interface PolicyTestFileResult {
  file: string;
  /** Set when the file (or its policy) could not be used at all; then `tests` is empty. */
  error?: string;
  /** `true` when `error` is a policy problem (exit 1) rather than an unreadable/malformed test file (exit 2). */
  policyError?: boolean;
  /** With `policyError`: the policy's errors, each with its file, line, column and code. */
  policyErrors?: PolicyError[];
  tests: { name: string; line: number; passed: boolean; steps: number; failures: StepFailure[] }[];
  passed: number;
  failed: number;
}

/**
 * A malformed test file: every problem {@link checkPolicyTestFile} found. `line` and `column` are
 * those of the first; the message lists them all, one `file:line:col: code: message` a line.
 */
export class PolicyTestFileError extends Error {
  override readonly name = 'PolicyTestFileError';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(readonly problems: readonly TestFileProblem[]) {
    super(problems.map(formatTestFileProblem).join('\n'));
    const first = problems[0];
    this.file = first?.file ?? '';
    this.line = first?.line ?? 1;
    this.column = first?.column ?? 1;
  }
}

/**
 * Parse a policy test file with {@link checkPolicyTestFile}. Relative policy paths are resolved
 * against the test file's directory.
 *
 * @throws PolicyTestFileError for a malformed file (every problem, with lines and columns) or a
 *   policy file it names that cannot be read (`unreadable-policy`)
 * @throws Error when the test file itself cannot be read
 */
export async function parsePolicyTestFile(file: string): Promise<PolicyTestFile> {
  const text = await readFile(file, 'utf8');
  const checked = checkPolicyTestFile(text, file, (path) => ({ text: readFileSync(path, 'utf8') }));
  if (!checked.ok) throw new PolicyTestFileError(checked.problems);
  return checked.file;
}

function compare(expected: StepExpectation, d: Decision): string[] {
  const diff: string[] = [];
  const actual: Record<string, unknown> = {
    allowed: d.allowed,
    reason: d.reason,
    rule: d.rule ?? null,
    message: d.message,
    retry_after_ms: d.retryAfterMs,
  };
  for (const [k, want] of Object.entries(expected)) {
    if (k === 'message_includes') {
      if (typeof want !== 'string' || !d.message.includes(want)) {
        diff.push(
          `- message includes: ${JSON.stringify(want)}`,
          `+ message:          ${JSON.stringify(d.message)}`,
        );
      }
      continue;
    }
    const got = actual[k];
    if (JSON.stringify(got ?? null) !== JSON.stringify(want ?? null)) {
      diff.push(`- ${k}: ${JSON.stringify(want)}`, `+ ${k}: ${JSON.stringify(got ?? null)}`);
    }
  }
  return diff;
}

/** Options of {@link runPolicyTests}. */
export interface PolicyTestOptions {
  /**
   * What refuses a call before the policy sees it, as the proxy does (`tollgate test` passes the
   * proxy's check of `tools/call` params, e.g. argument names equal regardless of case): the
   * refusal message, or undefined to evaluate the call. A refused step's actual decision is
   * `allowed: false`, reason `invalid_arguments`, that message; no counter is touched.
   */
  refuse?: (
    call: { tool: string; args: Record<string, unknown> },
    context: PolicyTestRefusalContext,
  ) => string | undefined;
}

/** What {@link PolicyTestOptions.refuse} knows besides the call. */
export interface PolicyTestRefusalContext {
  /** The policy the file tests. */
  readonly policy: CompiledPolicy;
  /** The tool names the server lists, when the file names one (`server:`, `schemas:`); else empty. */
  readonly listed: readonly string[];
}

/** Run the tests of a parsed file against its policy. */
export async function runPolicyTests(
  t: PolicyTestFile,
  options: PolicyTestOptions = {},
): Promise<PolicyTestFileResult> {
  const loaded = loadPolicy(t.policyText, { filename: t.policySource });
  if (!loaded.ok) {
    return {
      file: t.file,
      error: `invalid policy:\n${loaded.errors.map(formatPolicyError).join('\n')}`,
      policyError: true,
      policyErrors: [...loaded.errors],
      tests: [],
      passed: 0,
      failed: 1,
    };
  }
  const policy: CompiledPolicy = loaded.policy;
  const validator = new SchemaValidator();
  const result: PolicyTestFileResult = { file: t.file, tests: [], passed: 0, failed: 0 };
  const refusalContext: PolicyTestRefusalContext = { policy, listed: Object.keys(t.schemas) };
  for (const test of t.tests) {
    const store = new MemoryCounterStore();
    let now = t.start;
    const failures: StepFailure[] = [];
    for (const [si, step] of test.steps.entries()) {
      if (step.kind === 'advance') {
        now += step.ms;
        continue;
      }
      for (let rep = 1; rep <= step.repeat; rep++) {
        const call =
          step.argsAsSent === undefined
            ? { tool: step.tool, args: step.args }
            : { tool: step.tool, args: step.args, argsAsSent: step.argsAsSent };
        const refused = options.refuse?.(call, refusalContext);
        const d: Decision =
          refused !== undefined
            ? { allowed: false, reason: 'invalid_arguments', message: refused, policyHash: policy.hash }
            : await evaluate(policy, call, {
                store,
                now: () => now,
                inputSchema: t.schemas[step.tool],
                validator,
              });
        if (d.reservation) {
          if (step.upstream === 'result') await store.commit(d.reservation, now);
          else if (step.upstream === 'error') await store.rollback(d.reservation);
        }
        const diff = compare(step.expect, d);
        if (diff.length > 0) {
          failures.push({
            test: test.name,
            step: si + 1,
            line: step.line,
            ...(step.repeat > 1 ? { repetition: rep } : {}),
            call,
            expected: step.expect,
            actual: {
              allowed: d.allowed,
              reason: d.reason,
              rule: d.rule ?? null,
              message: d.message,
              ...(d.retryAfterMs !== undefined ? { retry_after_ms: d.retryAfterMs } : {}),
            },
            diff,
          });
          break;
        }
      }
    }
    const passed = failures.length === 0;
    result.tests.push({ name: test.name, line: test.line, passed, steps: test.steps.length, failures });
    if (passed) result.passed++;
    else result.failed++;
  }
  return result;
}

/**
 * Parse and run one test file. Never throws: unreadable or malformed files come back with `error`.
 */
export async function runPolicyTestFile(file: string): Promise<PolicyTestFileResult> {
  try {
    return await runPolicyTests(await parsePolicyTestFile(file));
  } catch (err) {
    return { file, error: (err as Error).message, tests: [], passed: 0, failed: 1 };
  }
}
