import { loadPolicy } from '@tollgate/policy';

/**
 * Compiles policy YAML with the real compiler (`loadPolicy` from `@tollgate/policy`, the same
 * path `tollgate validate` takes), so the site can never publish a policy the CLI would reject.
 *
 * @param yaml - policy text
 * @param filename - name reported in errors, e.g. `github.yaml`
 * @param what - human description of the policy for the error message
 * @throws Error listing every compile error as `file:line:col` when the policy does not compile
 */
export function assertPolicyCompiles(yaml: string, filename: string, what: string): void {
  let result: unknown;
  try {
    result = loadPolicy(yaml, { filename });
  } catch (err) {
    throw new Error(`${what} does not compile: ${err instanceof Error ? err.message : String(err)}\n${yaml}`);
  }
  const errors = (result as { ok?: boolean; errors?: unknown[] } | undefined)?.errors;
  if (
    (result as { ok?: boolean } | undefined)?.ok === false ||
    (Array.isArray(errors) && errors.length > 0)
  ) {
    throw new Error(`${what} does not compile:\n${JSON.stringify(errors, null, 2)}\n${yaml}`);
  }
}
