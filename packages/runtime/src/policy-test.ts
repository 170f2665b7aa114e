import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type CompiledPolicy, formatPolicyError, loadPolicy } from '@tollgate/policy';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, stringify } from 'yaml';
import type { Decision, ReasonCode } from './decision.js';
import { evaluate } from './evaluate.js';
import { SchemaValidator } from './schema-validator.js';
import { MemoryCounterStore } from './store/memory.js';
import { parseDuration } from './windows.js';

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
  tests: { name: string; line: number; passed: boolean; steps: number; failures: StepFailure[] }[];
  passed: number;
  failed: number;
}

/** A malformed test file, with the line of the offending node. */
export class PolicyTestFileError extends Error {
  override readonly name = 'PolicyTestFileError';
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
  }
}

const DEFAULT_START = Date.UTC(2026, 0, 1);
const EXPECT_KEYS = new Set(['allowed', 'reason', 'rule', 'message', 'message_includes', 'retry_after_ms']);
const STEP_KEYS = new Set(['call', 'args', 'expect', 'upstream', 'repeat', 'advance', 'name']);

/**
 * Parse a policy test file. Relative policy paths are resolved against the test file's directory.
 *
 * @throws PolicyTestFileError for malformed files (with a line number)
 * @throws Error when the file or its policy file cannot be read
 */
export async function parsePolicyTestFile(file: string): Promise<PolicyTestFile> {
  const text = await readFile(file, 'utf8');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const lineOf = (n: unknown) => {
    const r = (n as Node | undefined)?.range;
    return r ? lc.linePos(r[0]).line : 1;
  };
  const fail = (n: unknown, msg: string): never => {
    throw new PolicyTestFileError(file, lineOf(n), msg);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new PolicyTestFileError(
      file,
      e.linePos?.[0]?.line ?? 1,
      e.message.split('\n')[0] ?? 'invalid YAML',
    );
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, 'a test file is a mapping with `policy` and `tests`');
  const get = (m: unknown, key: string) => (isMap(m) ? m.get(key, true) : undefined);

  const policyNode = get(root, 'policy');
  let policySource: string;
  let policyText: string;
  if (isScalar(policyNode) && typeof policyNode.value === 'string') {
    policySource = resolve(dirname(file), policyNode.value);
    policyText = await readFile(policySource, 'utf8');
  } else if (isMap(policyNode)) {
    policySource = `${file} (inline policy)`;
    policyText = stringify(policyNode.toJSON());
  } else {
    return fail(policyNode ?? root, '`policy` must be a path to a policy file or an inline policy mapping');
  }

  let start = DEFAULT_START;
  const startNode = get(root, 'start');
  if (startNode !== undefined) {
    const v = isScalar(startNode) ? startNode.value : undefined;
    const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(t)) fail(startNode, '`start` must be an ISO 8601 time, e.g. 2026-11-29T10:00:00Z');
    start = t;
  }

  const schemas: Record<string, unknown> = {};
  const toolsNode = get(root, 'tools');
  if (toolsNode !== undefined) {
    if (!isMap(toolsNode)) fail(toolsNode, '`tools` maps tool names to their inputSchema');
    Object.assign(schemas, (toolsNode as Node).toJSON());
  }

  const testsNode = get(root, 'tests');
  if (!isSeq(testsNode) || testsNode.items.length === 0) {
    return fail(testsNode ?? root, '`tests` must be a non-empty list of { name, steps }');
  }
  for (const pair of root.items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!['policy', 'start', 'tools', 'tests', 'description'].includes(k)) {
      fail(pair.key, `unknown key "${k}" (expected policy, start, tools, tests, description)`);
    }
  }

  const tests: PolicyTestCase[] = testsNode.items.map((t, ti) => {
    if (!isMap(t)) return fail(t, 'each test is a mapping with `name` and `steps`');
    const name = t.get('name');
    const stepsNode = t.get('steps', true);
    if (!isSeq(stepsNode)) return fail(t, '`steps` must be a list');
    const steps = stepsNode.items.map((s): PolicyTestStep => {
      if (!isMap(s)) return fail(s, 'a step is a mapping: { call, args, expect } or { advance }');
      for (const pair of s.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        if (!STEP_KEYS.has(k))
          fail(pair.key, `unknown step key "${k}" (expected ${[...STEP_KEYS].join(', ')})`);
      }
      const line = lineOf(s);
      const json = s.toJSON() as Record<string, unknown>;
      if (json.advance !== undefined) {
        try {
          return { kind: 'advance', line, ms: parseDuration(json.advance) };
        } catch (err) {
          return fail(s.get('advance', true), (err as Error).message);
        }
      }
      if (typeof json.call !== 'string' || json.call === '')
        return fail(s, 'a step needs `call: <tool name>` or `advance`');
      const args = json.args ?? {};
      if (args === null || typeof args !== 'object' || Array.isArray(args))
        fail(s.get('args', true), '`args` must be a mapping');
      const upstream = json.upstream ?? 'result';
      if (upstream !== 'result' && upstream !== 'error' && upstream !== 'pending') {
        fail(s.get('upstream', true), '`upstream` must be result, error or pending');
      }
      const repeat = json.repeat ?? 1;
      if (typeof repeat !== 'number' || !Number.isInteger(repeat) || repeat < 1) {
        fail(s.get('repeat', true), '`repeat` must be a positive integer');
      }
      const expect = (json.expect ?? {}) as Record<string, unknown>;
      if (typeof expect !== 'object' || Array.isArray(expect))
        fail(s.get('expect', true), '`expect` must be a mapping');
      for (const k of Object.keys(expect)) {
        if (!EXPECT_KEYS.has(k))
          fail(s.get('expect', true), `unknown expect key "${k}" (expected ${[...EXPECT_KEYS].join(', ')})`);
      }
      return {
        kind: 'call',
        line,
        tool: json.call,
        args: args as Record<string, unknown>,
        upstream: upstream as 'result' | 'error' | 'pending',
        repeat: repeat as number,
        expect: expect as StepExpectation,
      };
    });
    return { name: typeof name === 'string' ? name : `test ${ti + 1}`, line: lineOf(t), steps };
  });
  return { file, policySource, policyText, start, schemas, tests };
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

/** Run the tests of a parsed file against its policy. */
export async function runPolicyTests(t: PolicyTestFile): Promise<PolicyTestFileResult> {
  const loaded = loadPolicy(t.policyText, { filename: t.policySource });
  if (!loaded.ok) {
    return {
      file: t.file,
      error: `invalid policy:\n${loaded.errors.map(formatPolicyError).join('\n')}`,
      policyError: true,
      tests: [],
      passed: 0,
      failed: 1,
    };
  }
  const policy: CompiledPolicy = loaded.policy;
  const validator = new SchemaValidator();
  const result: PolicyTestFileResult = { file: t.file, tests: [], passed: 0, failed: 0 };
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
        const call = { tool: step.tool, args: step.args };
        const d = await evaluate(policy, call, {
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
