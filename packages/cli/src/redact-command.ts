/**
 * A server command line as Tollgate may show it (the start-up log line on stderr, `server_command`
 * in the decision log, `tollgate status`, usage errors): servers are often given their credentials
 * as arguments (`--api-key=sk_live_...`, `-token VALUE`, `DATABASE_URL=postgres://u:pw@db`), and
 * these places are read by others (an MCP client's log files; the decision log, which an agent with
 * a file-reading tool may reach). The command itself is run as given; only what is shown is masked.
 * Self-contained (no proxy code), so `tollgate status` can mask lines written by older versions.
 */

const MASK = '***';

/** The last word of a name that makes it a credential (`GITHUB_TOKEN`, `--client-secret`). */
const SECRET_WORDS = new Set([
  'token',
  'tokens',
  'secret',
  'password',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'credential',
  'credentials',
  'auth',
  'authorization',
  'cookie',
  'bearer',
  'pat',
  'apikey',
]);

/** Words that make a following `key` a credential (`api-key`, `accessKey`); `sort-key` is not. */
const KEY_QUALIFIERS = new Set([
  'api',
  'access',
  'secret',
  'private',
  'master',
  'signing',
  'encryption',
  'license',
  'subscription',
  'service',
  'account',
  'client',
  'app',
  'admin',
  'session',
  'consumer',
  'webhook',
  'deploy',
  'personal',
  'auth',
]);

/** First words of a boolean option (`--no-auth`), which takes no value to mask. */
const BOOLEAN_PREFIXES = new Set([
  'no',
  'disable',
  'enable',
  'use',
  'with',
  'without',
  'skip',
  'require',
  'allow',
]);

/**
 * Well-known token shapes, masked wherever they stand: Stripe, GitHub, GitLab, Slack, AWS access
 * key ids, npm, Neon, DigitalOcean, Google, Hugging Face, OpenAI/Anthropic-style keys, JWTs.
 */
const TOKEN_SHAPES =
  /(?:\b(?:sk|rk|pk)_(?:live|test)_\w+|\bgh[pousr]_\w{20,}|\bgithub_pat_\w+|\bglpat-[\w-]{20,}|\bxox[abposr]-[\w-]+|\bxapp-[\w-]+|\bAKIA[0-9A-Z]{16}\b|\bnpm_\w{30,}|\bnapi_\w{20,}|\bdop_v1_\w+|\bAIza[\w-]{35}|\bhf_[A-Za-z]{30,}|\bsk-(?:ant-|proj-)?[\w-]{20,}|\beyJ[\w-]+\.[\w-]+\.[\w-]+)/g;

/** Webhook URLs whose path is the credential: Slack, Discord, Telegram bots. */
const SECRET_PATHS =
  /((?:hooks\.slack\.com\/services|discord(?:app)?\.com\/api\/webhooks)\/)[^\s?#"']+|(api\.telegram\.org\/bot)[^\s/?#"']+/gi;

/** Whether an option, variable, header or JSON member named `name` holds a credential. */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const last = words.at(-1);
  if (last === undefined) return false;
  if (SECRET_WORDS.has(last)) return true;
  if (last === 'key' || last === 'keys') return words.length === 1 || KEY_QUALIFIERS.has(words.at(-2)!);
  return false;
}

/** A value that names a file rather than holding a secret (`/path/key.pem`, `./creds`). */
function isPath(value: string): boolean {
  return /^(?:\/|\.{1,2}\/|~\/)/.test(value);
}

/** The credentials inside one piece of text masked: URLs, `NAME=value`, `Name: value`, JSON members, token shapes, and each word of a text with spaces. */
function maskText(text: string, depth = 0): string {
  // `Authorization: Bearer x`, `X-Api-Key: x` (a header given as an argument, spaces and all).
  const header = /^([A-Za-z][\w-]*):\s*(.+)$/s.exec(text);
  if (header && isSecretName(header[1]!) && !header[2]!.startsWith('//')) return `${header[1]}: ${MASK}`;
  if (depth < 2 && /\s/.test(text.trim())) {
    // A shell string (`sh -c "server --api-key=x"`) or `Bearer <token>`: each word on its own.
    const words = text.split(/(\s+)/);
    return maskWords(
      words.filter((_w, i) => i % 2 === 0),
      depth + 1,
    )
      .map((w, i) => (i === 0 ? w : `${words[2 * i - 1]}${w}`))
      .join('');
  }
  const assignment = /^([A-Za-z_][\w.-]*)=(.*)$/s.exec(text);
  if (assignment) {
    if (isSecretName(assignment[1]!) && !isPath(assignment[2]!)) return `${assignment[1]}=${MASK}`;
    return `${assignment[1]}=${maskText(assignment[2]!, depth)}`;
  }
  let out = text
    // `scheme://user:password@host`: both masked; `redis://:password@host` (no user) too.
    .replace(/([a-z][a-z0-9+.-]*:\/\/)(?:[^/\s:@?#]+(?::[^/\s@?#]*)?|:[^/\s@?#]*)@/gi, (m, scheme: string) =>
      m.startsWith(`${scheme}:`) ? `${scheme}:${MASK}@` : `${scheme}${MASK}:${MASK}@`,
    )
    .replace(SECRET_PATHS, (_m, hook?: string, bot?: string) => `${hook ?? bot}${MASK}`)
    .replace(TOKEN_SHAPES, MASK)
    .replace(/"([^"\\]+)"(\s*:\s*)"(?:[^"\\]|\\.)*"/g, (m, name: string, colon: string) =>
      isSecretName(name) ? `"${name}"${colon}"${MASK}"` : m,
    );
  // A URL's query values.
  if (out.includes('://'))
    out = out.replace(/([?&][^=&#\s]+)=[^&#\s]*/g, (_m, key: string) => `${key}=${MASK}`);
  return out;
}

/** Masks a list of words as arguments (no executable among them). */
function maskWords(words: readonly string[], depth: number): string[] {
  const out: string[] = [];
  let maskNext = false;
  for (const word of words) {
    if (maskNext) {
      maskNext = false;
      if (!word.startsWith('-')) {
        out.push(isPath(word) ? word : MASK);
        continue;
      }
    }
    // `--api-key=v`, `--api-key v`, and Go-style single-dash long options (`-token v`).
    const option = /^(--?)([A-Za-z][\w.-]*)(?:=(.*))?$/s.exec(word);
    if (option && (option[1] === '--' || option[2]!.length > 1)) {
      const [, dashes, name, value] = option as unknown as [string, string, string, string | undefined];
      if (isSecretName(name)) {
        if (value !== undefined) out.push(`${dashes}${name}=${isPath(value) ? value : MASK}`);
        else {
          out.push(word);
          const first = name.toLowerCase().split(/[^a-z0-9]+/)[0]!;
          maskNext = !BOOLEAN_PREFIXES.has(first);
        }
      } else out.push(value === undefined ? word : `${dashes}${name}=${maskText(value, depth)}`);
      continue;
    }
    // `-eSECRET=value` (a short option with a variable attached).
    const attached = /^-([A-Za-z])([A-Za-z_][\w.-]*=.*)$/s.exec(word);
    if (attached) {
      out.push(`-${attached[1]}${maskText(attached[2]!, depth)}`);
      continue;
    }
    out.push(maskText(word, depth));
  }
  return out;
}

/**
 * `argv` with the credentials it shows masked as `***`:
 * - the value of an option whose name says it is a credential (its last word `token`, `secret`,
 *   `password`, `pass`, `credentials`, `auth`, `cookie`, `bearer`..., or `key` after `api`,
 *   `access`, `secret`, `private`...: `--api-key`, `--sort-key` is kept), given as `--name=VALUE`,
 *   `--name VALUE` or Go-style `-name VALUE`, unless the value is a path or another option, or the
 *   option is a boolean one (`--no-auth`);
 * - the value of such a `NAME=VALUE` (`GITHUB_TOKEN=...`, also after `-e`), header (`Authorization:
 *   Bearer ...`) or JSON member (`{"apiKey": "..."}`);
 * - a URL's user information and query values, anywhere in a word (`DATABASE_URL=postgres://u:pw@db`),
 *   and the path of Slack, Discord and Telegram webhook URLs;
 * - words shaped like well-known tokens (`sk_live_...`, `ghp_...`, `xoxb-...`, `AIza...`, a JWT),
 *   also inside a longer word;
 * - the same inside a word holding spaces (`sh -c "server --api-key=..."`), word by word.
 * The first word (the executable) is kept. Short options (`-t TOKEN`) cannot be told from others
 * and are kept.
 *
 * @returns a new array of the same length
 */
export function redactCommand(argv: readonly string[]): string[] {
  if (argv.length === 0) return [];
  return [argv[0]!, ...maskWords(argv.slice(1), 0)];
}

/**
 * `text` (a message that quotes a command-line word, such as commander's `unknown option
 * '--api-key=...'`) with the values of credential options and well-known token shapes masked.
 */
export function redactMessage(text: string): string {
  return text
    .replace(/(-{1,2})([A-Za-z][\w.-]*)=([^\s'"]+)/g, (m, dashes: string, name: string) =>
      isSecretName(name) ? `${dashes}${name}=${MASK}` : m,
    )
    .replace(TOKEN_SHAPES, MASK);
}
