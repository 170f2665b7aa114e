import { formatPolicyError, loadPolicy } from '@tollgate/policy';

/**
 * Compiles policy YAML with the real compiler (`loadPolicy` from `@tollgate/policy`, the same
 * path `tollgate validate` takes), so the site can never publish a policy the CLI would reject.
 *
 * @param yaml - policy text
 * @param filename - name reported in errors, e.g. `github.yaml`
 * @param what - human description of the policy for the error message
 * @throws Error listing every compile error as `file:line:col: code: message` when the policy does not compile
 */
export function assertPolicyCompiles(yaml: string, filename: string, what: string): void {
  const result = loadPolicy(yaml, { filename });
  if (!result.ok) {
    throw new Error(
      `${what} does not compile:\n${result.errors.map(formatPolicyError).join('\n')}\n--- ${filename}\n${yaml}`,
    );
  }
}
