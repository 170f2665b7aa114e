/**
 * What `tollgate scan` and `tollgate init -- CMD` say besides their output: the catalogue entry a
 * live scan was recognised as, tool-name warnings, and tools left out of a generated policy.
 */

import type { CatalogServer } from '@tollgate/catalog';
import { type Recognition, readCatalogEntries } from '@tollgate/catalog';
import { printable } from '@tollgate/policy';
import { defaultCatalogDirOrNull } from './catalogue-entry.js';

/**
 * The catalogue entries to recognise a scanned server among: `--catalog DIR`, else the default
 * catalogue (`defaultCatalogDir`). No catalogue found is not an error (nothing is recognised);
 * an explicit `--catalog` that cannot be read, or files in it that do not load, give a warning.
 */
export function catalogForScan(dir: string | undefined): { entries: CatalogServer[]; warnings: string[] } {
  const where = dir ?? defaultCatalogDirOrNull();
  if (!where) return { entries: [], warnings: [] };
  const { entries, problems } = readCatalogEntries(where);
  return {
    entries,
    warnings: problems.map((p) => `catalogue file skipped for recognition: ${p}`),
  };
}

/** An option or variable name whose value is not shown (an API key, a token, a password). */
const SECRET_NAME = /key|token|secret|pass|pwd|auth|credential|cookie/i;

/**
 * What a scanned server is called in generated files, notes and errors, without the secrets
 * people put on command lines: an upstream URL with its query values and userinfo masked
 * (`redactUrl`), or the command with `***` for the value of a secret-looking variable
 * (`env API_KEY=***`), option (`--api-key=***`, `--token ***`) or URL in it.
 * @param upstream the `--upstream` URL, if the scan is of one
 * @param command the server command and its arguments otherwise
 */
export async function shownTarget(upstream: string | undefined, command: readonly string[]): Promise<string> {
  // The proxy package (and with it the MCP SDK's HTTP client) loads only when a URL is shown.
  const redactUrl =
    upstream !== undefined || command.some((a) => a.includes('://'))
      ? (await import('@tollgate/proxy')).redactUrl
      : (u: string) => u;
  if (upstream !== undefined) return redactUrl(upstream);
  return command
    .map((arg, i) => {
      const prev = i > 0 ? command[i - 1]! : '';
      if (/^--?[A-Za-z]/.test(prev) && !prev.includes('=') && SECRET_NAME.test(prev)) return '***';
      const assignment = /^(?:--?)?([A-Za-z_][\w.-]*)=/.exec(arg);
      if (assignment && SECRET_NAME.test(assignment[1]!)) return `${assignment[0]}***`;
      return arg.replace(/[A-Za-z][\w+.-]*:\/\/\S+/g, (url) => redactUrl(url));
    })
    .join(' ');
}

/** One line: which catalogue entry was recognised, what it changed, and the curated command. */
export function recognitionNote(r: Recognition): string {
  const { entry } = r;
  const catalogued = entry.source?.serverInfo?.version;
  const tools = (names: readonly string[]) =>
    `${names.length} tool${names.length === 1 ? '' : 's'} (${names.map((n) => printable(n)).join(', ')})`;
  const applied =
    r.overridden.length > 0
      ? `its curated categories apply to ${tools(r.overridden)}`
      : r.withheld.length > 0
        ? 'no curated category applies'
        : 'it has no curated category for these tools';
  const withheld =
    r.withheld.length > 0
      ? `; not applied to ${tools(r.withheld)}, whose inputSchema or annotations differ from the catalogued ones: classified from what the server lists now`
      : '';
  const version = r.versionDiffers ? `, serverInfo version ${printable(r.versionDiffers)}` : '';
  return (
    `recognised catalogue entry ${entry.id} (${r.by}${version}${catalogued ? `, catalogued at serverInfo version ${catalogued}` : ''}); ` +
    `${applied}${withheld}; \`tollgate init --server ${entry.id}\` gives the curated policy`
  );
}

/**
 * The note for a tool whose policy key is written escaped (`run*` as `run\*`): its name holds glob
 * characters, and the escape makes the key name that tool alone.
 */
export function escapedNote(e: { name: string; key: string }): string {
  return `note: tool ${printable(JSON.stringify(e.name))} is keyed \`${printable(e.key)}\` in the policy: a \\ makes the next character plain text, so the key names this tool alone, not a glob`;
}

/**
 * The warning for a tool left out of a generated policy (no key can name it alone: a blank name):
 * what happens to calls to it. A tool with an empty name is refused by the proxy itself
 * (`-32602`); any other runs without rules under `default: allow`.
 */
export function skippedNote(s: { name: string; reason: string }, what: 'scaffold' | 'policy'): string {
  const fate =
    s.name === ''
      ? 'the proxy refuses calls to a tool with an empty name anyway'
      : 'so default: allow lets it run without rules';
  return `warning: tool ${printable(JSON.stringify(s.name))} left out of the ${what}, ${fate} (${s.reason})`;
}
