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
import { foldName, withoutInvisible } from './jsonrpc/member-names.js';

/** `name` without invisible characters (`withoutInvisible`), folded as Go's `strings.EqualFold` compares (`foldName`). */
export function toolNameKey(name: string): string {
  return foldName(withoutInvisible(name));
}

/** The known tool names, and their folded forms (see the module comment). */
export class ToolNameIndex {
  private readonly exact = new Set<string>();
  private readonly byKey = new Map<string, string>();

  /** @param names every known tool name: the server's listed ones and those the policy names. */
  constructor(names: Iterable<string>) {
    for (const n of names) {
      this.exact.add(n);
      const key = toolNameKey(n);
      if (!this.byKey.has(key)) this.byKey.set(key, n);
    }
  }

  /**
   * The known name `name` stands for without being it (`Secret`, `secret\u0000` for `secret`), or
   * undefined: `name` is known itself, or equals no known name that way. Cost: one Set lookup for
   * a known name; a fold of `name` otherwise.
   */
  variantOf(name: string): string | undefined {
    if (this.exact.has(name) || this.byKey.size === 0) return undefined;
    return this.byKey.get(toolNameKey(name));
  }
}
