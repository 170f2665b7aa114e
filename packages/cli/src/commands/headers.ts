/**
 * `--header "Name: value"` options (`-H`), for every command that talks to a Streamable HTTP
 * server: the proxy's `--upstream` and `tollgate scan|init --upstream`. Checked at startup,
 * because a header fetch refuses, or one the transport sets itself, would fail every request.
 */

import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';

/** A header file (`-H @FILE`) larger than this is refused (bytes): it holds a few header lines. */
const HEADER_FILE_MAX_BYTES = 64 * 1024;

/**
 * Commander collector of `-H, --header` values, repeatable. `@FILE` (as curl reads it) stands for
 * the header lines of FILE, one `Name: value` a line (blank lines and lines starting with `#` are
 * skipped; `\r\n` endings are fine), read once at startup: a token kept in a file stays out of the
 * command line, which every local user can read (`ps`, `/proc/<pid>/cmdline`).
 *
 * @throws InvalidArgumentError when FILE cannot be read or is over 64 KiB, or a line of it is not a
 *   usable header (see {@link headerListProblem}; the message names the file and the line)
 */
export function collectHeader(value: string, previous: string[] = []): string[] {
  if (!value.startsWith('@')) return [...previous, value];
  const file = value.slice(1);
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > HEADER_FILE_MAX_BYTES)
      throw new InvalidArgumentError(`header file ${file} is over ${HEADER_FILE_MAX_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InvalidArgumentError(`cannot read header file ${file}: ${code}`);
  }
  const lines: string[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    // Said here, where the file and line are known (the list is checked again as a whole).
    const problem = headerListProblem([line]);
    if (problem) throw new InvalidArgumentError(`header file ${file}, line ${i + 1}: ${problem}`);
    lines.push(line);
  }
  if (lines.length === 0) throw new InvalidArgumentError(`header file ${file} holds no "Name: value" line`);
  return [...previous, ...lines];
}

/**
 * Request headers the HTTP client of upstream mode sets itself (lowercase): a `--header` naming
 * one would break every request (a wrong `Content-Length`, a foreign session id).
 */
export const TRANSPORT_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  // Hop-by-hop and protocol-switching headers: fetch refuses requests that carry them.
  'keep-alive',
  'upgrade',
  'expect',
]);

/** Headers whose value is `<auth-scheme> <credentials>` (RFC 9110 section 11.6). */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization']);

/**
 * Authentication scheme names (the IANA registry, and ones APIs use in `Authorization`), in
 * lowercase: alone in an authorization header, such a word is a scheme without its credentials.
 */
const AUTH_SCHEMES: ReadonlySet<string> = new Set([
  'basic',
  'bearer',
  'digest',
  'dpop',
  'gnap',
  'hoba',
  'mutual',
  'negotiate',
  'ntlm',
  'oauth',
  'privatetoken',
  'scram-sha-1',
  'scram-sha-256',
  'vapid',
  'token',
  'apikey',
  'api-key',
  'key',
  'sso-key',
  'ssws',
  'aws4-hmac-sha256',
]);

/** A word shaped like an authentication scheme name (`Token`, `ApiKey`, `AWS4-HMAC-SHA256`). */
const SCHEME_WORD = /^[A-Za-z][A-Za-z0-9-]{0,23}$/;

/**
 * What is wrong with a `--header` value that carries nothing, or undefined for another value:
 * - empty (`-H "X-Api-Key: $UNSET"`);
 * - `Bearer` or `Basic` alone (`-H "Authorization: Bearer $UNSET"`);
 * - in `Authorization` or `Proxy-Authorization`, any scheme without its credentials: a known
 *   scheme name alone (`Token`, `ApiKey`, `Digest`), or a single scheme-shaped word followed by
 *   nothing but white space, which `-H "Authorization: Token $UNSET"` leaves. (A single word
 *   without trailing space may be a key sent without a scheme, which some APIs take.)
 * Sent as it is, every request would be refused (401) long after startup.
 *
 * @param name - the header's name, as given
 * @param raw - its value as given, before trimming
 */
function emptyHeaderProblem(name: string, raw: string): string | undefined {
  const value = raw.trim();
  if (value === '') return 'its value is empty (an unset variable?); give it one, or leave out the header';
  const alone = `"${value}" with no credentials after it (an unset variable?); give them, or leave out the header`;
  if (!CREDENTIAL_HEADERS.has(name.toLowerCase()) || !SCHEME_WORD.test(value)) return undefined;
  if (AUTH_SCHEMES.has(value.toLowerCase())) return alone;
  // Not a scheme Tollgate knows: it may be a key after all, so it is not shown.
  if (/\s$/.test(raw))
    return 'one word with nothing after it, as a scheme without its credentials (an unset variable?); give them, or leave out the header (the value is not shown)';
  return undefined;
}

/** True when fetch accepts this header as it is (every request would fail on it otherwise). */
function sendableHeader(name: string, value: string): boolean {
  try {
    new Headers([[name, value]]);
    return true;
  } catch {
    return false;
  }
}

/**
 * What is wrong with the first bad `--header` of `list`, or undefined when all are usable: not
 * `Name: value`, a header the transport sets itself, an empty value or a scheme without
 * credentials, or a value fetch refuses. A value is never shown (it may be a secret).
 */
export function headerListProblem(list: readonly string[] = []): string | undefined {
  for (const h of list) {
    const name = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):/.exec(h)?.[1];
    // The value may be a secret (`Authorization Bearer ...` with its colon missing): never shown.
    if (name === undefined) {
      const start = JSON.stringify(h.split(/[:\s]/, 1)[0]!.slice(0, 40));
      return `--header starting ${start} is not "Name: value" (the rest is not shown)`;
    }
    if (TRANSPORT_HEADERS.has(name.toLowerCase()))
      return `--header ${name}: Tollgate sets ${name} itself (it belongs to the HTTP transport); remove it`;
    const empty = emptyHeaderProblem(name, h.slice(h.indexOf(':') + 1));
    if (empty) return `--header ${name}: ${empty}`;
    // fetch's own rules (what every request would fail on); the value may be a secret: not shown.
    if (!sendableHeader(name, h.slice(h.indexOf(':') + 1).trim())) {
      return `--header ${name}: its value is not a valid HTTP header value (no line breaks or NUL, only Latin-1 characters: no emoji); the value is not shown`;
    }
  }
  return undefined;
}

/** `--header "Name: value"` options as a header object (checked by {@link headerListProblem}). */
export function headerObject(list: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const i = h.indexOf(':');
    out[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return out;
}
