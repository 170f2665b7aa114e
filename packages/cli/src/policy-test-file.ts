/**
 * How `tollgate test` reads its test files: the runtime's `checkPolicyTestFile` (every problem at
 * once, as `file:line:col: code: message`) over reads that also take pipes (`tollgate test
 * <(...)`) and bound their size: each file, and each policy a file names, is read once; a
 * `server: <id>` is looked up in the catalogue (default lookup, `$TOLLGATE_CATALOG_DIR`).
 */
import { MAX_POLICY_BYTES } from '@tollgate/policy';
import { checkPolicyTestFile, type TestFileCheck } from '@tollgate/runtime';
import { catalogueServer } from './commands/catalogue-entry.js';
import { readBounded, tooLargeMessage } from './read-bounded.js';

/** Largest test file read (a pipe is read up to this many bytes plus one). */
export const MAX_TEST_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Reads and checks one test file and the policy it names. A test file over
 * {@link MAX_TEST_FILE_BYTES} is one `input-too-large` problem; a policy over
 * `MAX_POLICY_BYTES` comes back as `policyTooLarge`.
 *
 * @throws Error when the test file itself cannot be read (missing, a directory)
 */
export function readPolicyTestFile(file: string): TestFileCheck {
  const read = readBounded(file, MAX_TEST_FILE_BYTES);
  if (!read.ok) {
    return {
      ok: false,
      problems: [
        {
          file,
          line: 1,
          column: 1,
          code: 'input-too-large',
          message: tooLargeMessage(read, MAX_TEST_FILE_BYTES, 'test file'),
        },
      ],
    };
  }
  return checkPolicyTestFile(
    read.text,
    file,
    (path) => {
      const policy = readBounded(path, MAX_POLICY_BYTES);
      return policy.ok
        ? { text: policy.text }
        : { tooLarge: tooLargeMessage(policy, MAX_POLICY_BYTES, 'policy') };
    },
    (id) => {
      const entry = catalogueServer(id, undefined);
      return typeof entry === 'string'
        ? { problem: entry }
        : { tools: Object.fromEntries(entry.tools.map((t) => [t.name, t.inputSchema])) };
    },
  );
}
