/**
 * Policy entries that name no tool a server lists: a `tools:` key or `hide` entry with a typo
 * (`wirte_file`, `delete_repoo`) validates, and then never applies. Under `default: allow` that
 * fails open without a word, so the proxy reports them once it has the server's whole tool list.
 */
import type { CompiledPolicy } from './compiled.js';
import { toolGlobMatcher } from './tool-glob.js';
import { exactToolName, isGlob } from './validate.js';

/** The entries of {@link unlistedEntries}, as written: exact keys before glob keys, `hide` in file order. */
export interface UnlistedEntries {
  /** `tools:` keys (exact or glob; never `"*"`) matching none of the listed tools. */
  readonly tools: readonly string[];
  /** `hide` entries (exact or glob; never `"*"`) matching none of the listed tools. */
  readonly hide: readonly string[];
}

/**
 * The `tools:` keys and `hide` entries of `policy` that match none of `toolNames` (a server's
 * complete `tools/list`, every page). Cost: one glob match per glob entry and listed name.
 *
 * @param toolNames every tool name the server lists
 */
export function unlistedEntries(policy: CompiledPolicy, toolNames: Iterable<string>): UnlistedEntries {
  // `"*"` is never unlisted: unlistedOf skips it.
  return unlistedOf(
    policy.entries.map((e) => e.key),
    policy.hide,
    new Set(toolNames),
  );
}

/**
 * The `tools:` keys and `hide` entries, as written, that match none of `names`; `"*"` is never
 * one (see {@link unlistedEntries}, and `parsePolicy`'s `toolNames`, which report them).
 */
export function unlistedOf(
  keys: readonly string[],
  hide: readonly string[],
  names: ReadonlySet<string>,
): UnlistedEntries {
  const matchesNone = (entry: string) => entry !== '*' && namesNoTool(entry, names);
  return { tools: keys.filter(matchesNone), hide: hide.filter(matchesNone) };
}

/**
 * True when the policy entry `entry` (an exact tool key with its `\` escapes, or a glob) matches
 * none of `names`. Cost: one glob match per name for a glob.
 */
export function namesNoTool(entry: string, names: ReadonlySet<string>): boolean {
  if (!isGlob(entry)) return !names.has(exactToolName(entry));
  const m = toolGlobMatcher(entry);
  for (const n of names) if (m(n)) return false;
  return true;
}
