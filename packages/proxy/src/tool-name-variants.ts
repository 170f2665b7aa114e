/**
 * Tool names that a lenient server could read as another tool's name.
 *
 * MCP tool names are compared exactly (spec 2025-11-25, "Tools > Tool Names"), and so does the
 * policy. A server may not: one that ignores case (`Secret`), trims whitespace (`secret `), stops
 * at a NUL (`secret\u0000`, a C string), or drops bytes that are not UTF-8 (`sec\xC0ret`, which
 * the proxy reads as `sec\uFFFDret`) would run `secret` for a name the policy judged as another
 * tool, unlisted and so perhaps allowed. A name that is not itself known, but equals a known one
 * (listed by the server, or named by the policy) once invisible characters are removed and case is
 * folded, is refused rather than forwarded.
 */
import { toolGlobMatcher } from '@tollgate/policy';
import type { PolicyToolNames } from './gate.js';
import { foldName, withoutInvisible } from './jsonrpc/member-names.js';

/** `name` without invisible characters (`withoutInvisible`), folded as Go's `strings.EqualFold` compares (`foldName`). */
export function toolNameKey(name: string): string {
  return foldName(withoutInvisible(name));
}

/** The known tool names and globs, and their folded forms (see the module comment). */
export class ToolNameIndex {
  private readonly exact = new Set<string>();
  private readonly byKey = new Map<string, string>();
  private readonly globs: Array<{
    glob: string;
    matches: (n: string) => boolean;
    folded: (n: string) => boolean;
  }>;

  /**
   * @param listed the tool names the server lists (empty before a listing)
   * @param policy the names the policy gives: its exact names are known names; a name one of its
   *   globs matches only once folded (`SECRET_key` for `secret_*`) is a variant too (a glob with a
   *   `[...]` class or a `\` escape whose text folding changes is not checked this way)
   */
  constructor(listed: Iterable<string>, policy?: PolicyToolNames) {
    const globs = policy?.globs ?? [];
    for (const n of [...listed, ...(policy?.exact ?? [])]) {
      this.exact.add(n);
      const key = toolNameKey(n);
      if (!this.byKey.has(key)) this.byKey.set(key, n);
    }
    this.globs = [];
    for (const glob of globs) {
      // Folding the text of a class (`[A-_]`, `[0-Z]`) or an escape (`a\ *`) can change what it
      // means, not only its case: a glob with one whose folding changes its text is left out.
      const folded = toolNameKey(glob);
      if (folded !== glob && /[[\\]/.test(glob)) continue;
      try {
        this.globs.push({ glob, matches: toolGlobMatcher(glob), folded: toolGlobMatcher(folded) });
      } catch {
        // A glob that folds into one the matcher cannot build (none in practice): not checked.
      }
    }
  }

  /**
   * What `name` stands for without being it: the known name (`secret` for `Secret` or
   * `secret\u0000`) or the policy glob (`secret_*` for `SECRET_key`) it equals once folded.
   * Undefined when `name` is known itself, or equals nothing that way. Cost: one Set lookup for a
   * known name; a fold and one match per glob otherwise.
   */
  variantOf(name: string): { readonly name: string } | { readonly glob: string } | undefined {
    if (this.exact.has(name)) return undefined;
    if (this.byKey.size === 0 && this.globs.length === 0) return undefined;
    const key = toolNameKey(name);
    const meant = this.byKey.get(key);
    if (meant !== undefined) return { name: meant };
    for (const g of this.globs) if (!g.matches(name) && g.folded(key)) return { glob: g.glob };
    return undefined;
  }

  /**
   * Why a `tools/call` naming `name` is refused (the text after "Invalid params: " of its -32602
   * answer), or undefined when {@link variantOf} finds nothing. The proxy and `tollgate explain`
   * say the same. A tool `isHidden` says is hidden is not named: the answer would tell an agent
   * the exact name of a tool the policy hides from it.
   */
  problem(name: string, isHidden?: (tool: string) => boolean): string | undefined {
    const meant = this.variantOf(name);
    if (meant === undefined) return undefined;
    const hidden = isHidden?.('name' in meant ? meant.name : toolNameKey(name)) === true;
    const what = hidden
      ? 'a tool name'
      : 'name' in meant
        ? `the tool ${JSON.stringify(meant.name)}`
        : `a tool the policy's glob ${JSON.stringify(meant.glob)} names`;
    return `tool name ${JSON.stringify(name)} differs from ${what} only by case or invisible characters (a server that ignores them would run that tool)`;
  }
}
