/**
 * What `tollgate scan` and `tollgate init -- CMD` say besides their output: the catalogue entry a
 * live scan was recognised as, tool-name warnings, and tools left out of a generated policy.
 */

import type { CatalogServer } from '@tollgate/catalog';
import { type Recognition, readCatalogEntries } from '@tollgate/catalog';
import { printable } from '@tollgate/policy';
import { defaultCatalogDirOrProblem } from './catalogue-entry.js';

/**
 * The catalogue entries to recognise a scanned server among: `--catalog DIR`, else the default
 * catalogue (`defaultCatalogDir`). No catalogue found is not an error (nothing is recognised);
 * an explicit `--catalog` that cannot be read, or files in it that do not load, give a warning.
 */
export function catalogForScan(dir: string | undefined): { entries: CatalogServer[]; warnings: string[] } {
  let where = dir;
  if (!where) {
    const found = defaultCatalogDirOrProblem();
    if (!('dir' in found))
      return {
        entries: [],
        // A mistyped TOLLGATE_CATALOG_DIR is worth a word; no catalogue at all is not.
        warnings: process.env.TOLLGATE_CATALOG_DIR
          ? [`${found.problem}; no catalogue entry is recognised`]
          : [],
      };
    where = found.dir;
  }
  const { entries, problems } = readCatalogEntries(where);
  return {
    entries,
    warnings: problems.map((p) => `catalogue file skipped for recognition: ${p}`),
  };
}

/** Words of an option, variable, header or JSON key name that say its value is a secret. */
const SECRET_WORDS = new Set([
  'key',
  'apikey',
  'token',
  'secret',
  'password',
  'passwd',
  'pass',
  'pwd',
  'auth',
  'authorization',
  'credential',
  'credentials',
  'cookie',
  'bearer',
]);

/** Words that, last in a name, say its value is where a secret is kept, not the secret. */
const LOCATION_WORDS = new Set(['file', 'path', 'dir', 'url', 'env', 'name', 'id']);

/**
 * True when `name` (`API_KEY`, `--client-secret`, `apiKey`, `Authorization`) says its value is a
 * secret: one of its words is a secret word and the last one does not name where a secret is
 * kept (`--key-file`). `--no-...` flags take no value.
 */
function isSecretName(name: string): boolean {
  const bare = name.replace(/^-+/, '');
  if (/^no-/i.test(bare)) return false;
  const words = bare
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return words.some((w) => SECRET_WORDS.has(w)) && !LOCATION_WORDS.has(words.at(-1) ?? '');
}

/**
 * A URL path segment that looks like a key rather than a name (`/mcp/sk-ak-1a2b3c.../sse`): at
 * least 20 characters of letters, digits, `-` and `_`, with both letters and digits.
 */
const KEY_LIKE_SEGMENT = /(?<=\/)(?=[\w-]{20,}(?:[/?#]|$))(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]+/g;

/**
 * Tokens whose shape gives them away wherever they stand (a bare argument, a URL path): GitHub
 * (`ghp_`, `github_pat_`), Slack (`xoxb-`), Stripe and OpenAI (`sk_live_`, `sk-proj-`), AWS access
 * keys (`AKIA`), GitLab (`glpat-`), Linear (`lin_api_`), Google API keys (`AIza`).
 */
const KNOWN_TOKEN =
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|xox[abprs]-[\w-]{8,}|[sr]k[-_](?:live|test|proj)[-_][\w-]{6,}|AKIA[0-9A-Z]{16}|glpat-[\w-]{16,}|lin_api_[A-Za-z0-9]{16,}|AIza[\w-]{30,})\b/g;

/** `text` with every URL in it shown by `redactUrl`, key-like path segments and known tokens masked too. */
function maskUrls(text: string, redactUrl: (url: string) => string): string {
  return text
    .replace(/[A-Za-z][\w+.-]*:\/\/[^\s"'<>]+/g, (url) => redactUrl(url).replace(KEY_LIKE_SEGMENT, '***'))
    .replace(KNOWN_TOKEN, '***');
}

/** One command-line argument with the secret in it masked, given the argument before it. */
function maskArgument(arg: string, prev: string): string {
  if (/^--?[A-Za-z]/.test(prev) && !prev.includes('=') && isSecretName(prev)) return '***';
  // --name=value, and --env=NAME=value (the value names the variable).
  const option = /^(--?[\w.-]+)=(.*)$/s.exec(arg);
  if (option) {
    const [, flag, value] = option;
    if (isSecretName(flag!)) return `${flag}=***`;
    const inner = /^([A-Za-z_][\w.-]*)=/.exec(value!);
    if (inner && isSecretName(inner[1]!)) return `${flag}=${inner[0]}***`;
  }
  // NAME=value (`env API_KEY=x`, `docker -e API_KEY=x`).
  const assignment = option ? null : /^([A-Za-z_][\w.-]*)=/.exec(arg);
  if (assignment && isSecretName(assignment[1]!)) return `${assignment[0]}***`;
  // A header given as an argument: `Authorization: Bearer x`, `X-API-Key: x`, also as the value
  // of an option (`--header=Authorization:Bearer_x`).
  const headerIn = option && /^[A-Za-z][\w-]*:/.test(option[2]!) ? option[2]! : undefined;
  if (headerIn !== undefined && isSecretName(headerIn.slice(0, headerIn.indexOf(':'))))
    return `${option![1]}=${headerIn.slice(0, headerIn.indexOf(':'))}: ***`;
  const header = /^([A-Za-z][\w-]*):\s/.exec(arg);
  if (header && isSecretName(header[1]!)) return `${header[1]}: ***`;
  // JSON with secret-looking keys: `{"apiKey":"sk-123"}`, also as `--config={...}`.
  return arg.replace(/("([^"\\]*)"\s*:\s*)"(?:[^"\\]|\\.)*"/g, (m, head: string, key: string) =>
    isSecretName(key) ? `${head}"***"` : m,
  );
}

/**
 * What a scanned server is called in generated files, notes and errors, without the secrets
 * people put on command lines: an upstream URL with its query values, userinfo and key-like path
 * segments masked (`redactUrl`), or the command with `***` for the value of a secret-looking
 * variable (`env API_KEY=***`, `--env=API_KEY=***`), option (`--api-key=***`, `--token ***`),
 * header argument (`Authorization: ***`) or JSON key (`{"apiKey":"***"}`), and its URLs masked
 * alike. A name that says where a secret is kept (`--key-file path`) keeps its value.
 * @param upstream the `--upstream` URL, if the scan is of one
 * @param command the server command and its arguments otherwise
 * @returns the text to show, and `mask(text)`, which masks every URL and every secret value of
 *   the target in another text (an error message that quotes them)
 */
export async function shownTarget(
  upstream: string | undefined,
  command: readonly string[],
): Promise<{ text: string; mask: (text: string) => string }> {
  // Always loaded: even when the target holds no URL, an error message may quote one (a server's
  // own error naming its database, `redis://:pw@host`), and `mask` must hide its password too.
  const { redactUrl } = await import('@tollgate/proxy');
  const raw = upstream !== undefined ? [upstream] : command;
  const shown =
    upstream !== undefined
      ? [maskUrls(upstream, redactUrl)]
      : command.map((arg, i) => maskUrls(maskArgument(arg, i > 0 ? command[i - 1]! : ''), redactUrl));
  // Another text (an error message) may quote an argument whole: each one masked is replaced there
  // by its masked form, longest first, then every URL in it is masked.
  const changed = raw
    .map((arg, i) => [arg, shown[i]!] as const)
    .filter(([arg, masked]) => arg !== masked)
    .sort((a, b) => b[0].length - a[0].length);
  const mask = (text: string) =>
    maskUrls(
      changed.reduce((out, [arg, masked]) => out.split(arg).join(masked), text),
      redactUrl,
    );
  return { text: shown.join(' '), mask };
}

/** One line: which catalogue entry was recognised, what it changed, and the curated command. */
export function recognitionNote(r: Recognition): string {
  const { entry } = r;
  const catalogued = entry.source?.serverInfo?.version;
  const tools = (names: readonly string[]) =>
    `${names.length} tool${names.length === 1 ? '' : 's'} (${names.map((n) => printable(n)).join(', ')})`;
  // A raised tool may have a curated category of its own, used as a floor (see `Recognition.raised`).
  const curatedRaised = r.raised.some((n) => entry.tools.some((t) => t.name === n && t.category));
  const applied =
    r.overridden.length > 0
      ? `its curated categories apply to ${tools(r.overridden)}`
      : r.withheld.length > 0 || curatedRaised
        ? 'no curated category applies as catalogued'
        : 'it has no curated category for these tools';
  const withheld =
    r.withheld.length > 0
      ? `; not applied to ${tools(r.withheld)}, whose inputSchema or annotations differ from the catalogued ones: classified from what the server lists now`
      : '';
  const raised =
    r.raised.length > 0
      ? `; ${tools(r.raised)} raised to the catalogue's category, which the server's own listing understates`
      : '';
  const secrets =
    r.secrets.length > 0
      ? `; ${tools(r.secrets)} denied as the catalogue notes ${r.secrets.length === 1 ? 'it returns' : 'they return'} live credentials`
      : '';
  const version = r.versionDiffers ? `, serverInfo version ${printable(r.versionDiffers)}` : '';
  return (
    `recognised catalogue entry ${entry.id} (${r.by}${version}${catalogued ? `, catalogued at serverInfo version ${catalogued}` : ''}); ` +
    `${applied}${withheld}${raised}${secrets}; \`tollgate init --server ${entry.id}\` gives the starter policy from the catalogue`
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
