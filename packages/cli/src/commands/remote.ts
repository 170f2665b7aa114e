/**
 * Remote MCP on the root command (issue 7): `--upstream URL` (stdio client, Streamable HTTP
 * server) and `--transport http` (a Streamable HTTP listener at /mcp, in front of `-- CMD` or
 * `--upstream URL`). `run.ts` registers these options with {@link addRemoteOptions} and hands
 * over to `runRemote` (remote-action.ts) once the policy, store and enforcer are up; see docs/http.md.
 */

import type { DecisionLog, Enforcer, Logger } from '@tollgate/runtime';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { decimalNumber, decimalWholeNumber } from '../option-values.js';
import { collectHeader, headerListProblem } from './headers.js';

/** The remote options as commander parses them. */
export interface RemoteOptions {
  transport?: 'stdio' | 'http';
  upstream?: string;
  header?: string[];
  bind?: string;
  port?: number;
  authToken?: string;
  allowedOrigin?: string[];
  maxBodyBytes?: number;
  maxSessions?: number;
  /** `--session-idle-timeout`, in seconds (0 = never). */
  sessionIdleTimeout?: number;
  perSessionCounters?: boolean;
}

/** What `run.ts` has set up before handing over. */
export interface RemoteContext {
  enforcer: Enforcer;
  logger: Logger;
  decisionLog: DecisionLog;
  policyFile: string;
  shutdownGraceMs: number;
  /** `--max-message-bytes`, or its default (`DEFAULT_MAX_MESSAGE_BYTES` of `@tollgate/proxy`). */
  maxMessageBytes: number;
}

/** A bad option value: commander prints it; exit code 2 (usage), not commander's default 1. */
function usage(message: string): InvalidArgumentError {
  const err = new InvalidArgumentError(message);
  err.exitCode = 2;
  return err;
}

/**
 * `--port`. Empty or blank (`--port "$PORT"` with `PORT` unset) is a usage error: `Number('')`
 * is 0, which would listen on a random port without a word.
 */
function port(value: string): number {
  if (value.trim() === '') {
    throw usage(
      'the port is empty (an unset variable?); give a port number (0-65535; 0 = any free port), or leave out --port for 8787',
    );
  }
  const n = decimalWholeNumber(value);
  if (n === undefined || n > 65535) throw usage('must be a port number (0-65535; 0 = any free port)');
  return n;
}

/**
 * A parser of a positive integer option, in decimal digits (`unit` names what it counts in the
 * message, if any): `--max-body-bytes`, `--max-sessions`, and the proxy's `--max-message-bytes`.
 */
export const positiveInteger =
  (unit?: string) =>
  (value: string): number => {
    const n = decimalWholeNumber(value);
    if (n === undefined || n <= 0) throw usage(`must be a positive integer${unit ? ` (${unit})` : ''}`);
    return n;
  };

/**
 * `--session-idle-timeout`: seconds, from 0 (never end an idle session) to a week. Empty or blank
 * is a usage error: `Number('')` is 0, which would never end an idle session, without a word.
 */
function idleSeconds(value: string): number {
  if (value.trim() === '') {
    throw usage(
      'the timeout is empty (an unset variable?); give a number of seconds from 0 (never) to 604800 (a week), or leave out --session-idle-timeout for 1800',
    );
  }
  // Decimal only (`0x10` and `1e3` are refused, not converted); a fraction of a second is fine.
  const n = decimalNumber(value);
  if (n === undefined || n > 604_800)
    throw usage('must be a number of seconds from 0 (never) to 604800 (a week)');
  return n;
}

/**
 * An `Origin` as browsers send it: `scheme://host[:port]`, nothing after (a trailing `/` is
 * tolerated). Returns the form the listener compares with: for http(s) the serialised origin
 * (`https://App.Example.com:443/` -> `https://app.example.com`), else the value lowercased.
 */
function parseOrigin(value: string): string | undefined {
  const v = value.trim().replace(/\/$/, '');
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+$/i.test(v)) return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return undefined;
  }
  if (url.host === '') return undefined;
  return url.origin !== 'null' ? url.origin : v.toLowerCase();
}

/**
 * A bearer token. An empty or blank one (`--auth-token "$UNSET"`) is a usage error: taking it as
 * "no token" would start an unauthenticated listener without a word.
 */
function authToken(value: string): string {
  if (value.trim() === '') {
    throw usage(
      'the token is empty (an unset variable?); to listen without authentication (loopback only), leave out --auth-token',
    );
  }
  return value;
}

const origin = (value: string, previous: string[] = []): string[] => {
  const o = parseOrigin(value);
  if (o === undefined) throw usage('must be an origin, scheme://host[:port] (e.g. https://app.example.com)');
  return [...previous, o];
};

/**
 * Options that configure the HTTP listener, as `[option key, flag]`: without `--transport http`
 * nothing would use them, so giving one is a usage error (see {@link listenerOnlyProblem}).
 */
export const LISTENER_ONLY_OPTIONS: ReadonlyArray<readonly [keyof RemoteOptions, string]> = [
  ['bind', '--bind'],
  ['port', '--port'],
  ['authToken', '--auth-token'],
  ['allowedOrigin', '--allowed-origin'],
  ['maxBodyBytes', '--max-body-bytes'],
  ['maxSessions', '--max-sessions'],
  ['sessionIdleTimeout', '--session-idle-timeout'],
  ['perSessionCounters', '--per-session-counters'],
];

/** Adds the remote options to the root command. */
export function addRemoteOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--transport <kind>', 'how clients reach Tollgate: stdio, or http (Streamable HTTP at /mcp)')
        .choices(['stdio', 'http'])
        .default('stdio'),
    )
    .option(
      '--upstream <url>',
      'the MCP server is remote: its Streamable HTTP endpoint (instead of -- <command>)',
    )
    .option(
      '-H, --header <header>',
      'request header for --upstream, "Name: value", or @FILE for the header lines of FILE (keeps a token out of the command line); repeatable; an empty value, or a scheme such as "Bearer" alone, is refused',
      collectHeader,
    )
    .option('--bind <host>', 'address of the HTTP listener (--transport http)', '127.0.0.1')
    .option('--port <n>', 'port of the HTTP listener (--transport http)', port, 8787)
    .option(
      '--auth-token <token>',
      'bearer token HTTP clients must send (default $TOLLGATE_AUTH_TOKEN); required off loopback',
      authToken,
    )
    .option(
      '--allowed-origin <origin>',
      'accept browser requests from this Origin, scheme://host[:port] (repeatable)',
      origin,
    )
    .option(
      '--max-body-bytes <n>',
      'largest HTTP request body the listener accepts (default 4 MiB)',
      positiveInteger('bytes'),
    )
    .option(
      '--max-sessions <n>',
      'most HTTP sessions at once; beyond it initialize gets HTTP 503 (default 64)',
      positiveInteger(),
    )
    .option(
      '--session-idle-timeout <seconds>',
      'end an HTTP session whose client sent no request this long, its server child with it; a client holding a stream open is pinged then, and its session ends unless it answers within a quarter of the timeout (1-60 s) (default 1800; 0 = never)',
      idleSeconds,
    )
    .option('--per-session-counters', 'HTTP listener: each session counts in its own memory store');
}

/** True when the remote path must run instead of the stdio proxy. */
export function wantsRemote(opts: RemoteOptions): boolean {
  return opts.transport === 'http' || opts.upstream !== undefined;
}

/**
 * The usage problem of listener options given without `--transport http`, or undefined: one line
 * naming every such flag given. `given` tells whether the user set an option (its value may be a
 * default, as for `--bind` and `--port`).
 */
export function listenerOnlyProblem(
  opts: RemoteOptions,
  given: (key: keyof RemoteOptions) => boolean,
): string | undefined {
  if (opts.transport === 'http') return undefined;
  const flags = LISTENER_ONLY_OPTIONS.filter(([key]) => given(key)).map(([, flag]) => flag);
  if (flags.length === 0) return undefined;
  const names = flags.length === 1 ? flags[0] : `${flags.slice(0, -1).join(', ')} and ${flags.at(-1)}`;
  return flags.length === 1
    ? `${names} needs --transport http: it only applies to the HTTP listener`
    : `${names} need --transport http: they only apply to the HTTP listener`;
}

/**
 * Why `upstream` cannot be an `--upstream` URL (not a URL, not http(s), credentials in it), or
 * undefined. The proxy, `tollgate scan` and `tollgate init` refuse with this one check.
 */
export function upstreamUrlProblem(upstream: string): string | undefined {
  if (upstream.trim() === '') return '--upstream is empty: give a URL (e.g. https://mcp.example.com/mcp)';
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    return `--upstream ${upstream} is not a URL (e.g. https://mcp.example.com/mcp)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `--upstream must be http(s), not ${url.protocol}`;
  // fetch refuses such a URL on every request, and would print it, password included.
  if (url.username !== '' || url.password !== '')
    return "--upstream must not contain credentials (user:password@host): send them in a header instead, e.g. -H 'Authorization: Bearer ...'";
  return undefined;
}

/** A usage problem with the remote options, or undefined. `command` is what follows `--`. */
export function remoteUsageProblem(command: string[], opts: RemoteOptions): string | undefined {
  if (opts.upstream !== undefined) {
    if (command.length > 0) return 'use either --upstream <url> or -- <command>, not both';
    const urlProblem = upstreamUrlProblem(opts.upstream);
    if (urlProblem) return urlProblem;
  } else if (command.length === 0) {
    return 'missing the server: tollgate -c policy.yaml --transport http -- <command>, or --upstream <url>';
  }
  const headerProblem = headerListProblem(opts.header);
  if (headerProblem) return headerProblem;
  if (opts.header?.length && opts.upstream === undefined) return '--header only applies to --upstream';
  return undefined;
}
