/**
 * Remote MCP on the root command (issue 7): `--upstream URL` (stdio client, Streamable HTTP
 * server) and `--transport http` (a Streamable HTTP listener at /mcp, in front of `-- CMD` or
 * `--upstream URL`). `run.ts` registers these options with {@link addRemoteOptions} and hands
 * over to `runRemote` (remote-action.ts) once the policy, store and enforcer are up; see docs/http.md.
 */

import type { DecisionLog, Enforcer, Logger } from '@tollgate/runtime';
import { type Command, InvalidArgumentError, Option } from 'commander';

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
  perSessionCounters?: boolean;
}

/** What `run.ts` has set up before handing over. */
export interface RemoteContext {
  enforcer: Enforcer;
  logger: Logger;
  decisionLog: DecisionLog;
  policyFile: string;
  failMode: 'closed' | 'open';
  watch: boolean;
  shutdownGraceMs: number;
  maxMessageBytes?: number;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    const err = new InvalidArgumentError('must be a port number (0-65535; 0 = any free port)');
    err.exitCode = 2;
    throw err;
  }
  return n;
}

function bytes(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    const err = new InvalidArgumentError('must be a positive integer (bytes)');
    err.exitCode = 2;
    throw err;
  }
  return n;
}

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
    .option('-H, --header <header>', 'request header for --upstream, "Name: value" (repeatable)', collect)
    .option('--bind <host>', 'address of the HTTP listener (--transport http)', '127.0.0.1')
    .option('--port <n>', 'port of the HTTP listener (--transport http)', port, 8787)
    .option(
      '--auth-token <token>',
      'bearer token HTTP clients must send (default $TOLLGATE_AUTH_TOKEN); required off loopback',
    )
    .option('--allowed-origin <origin>', 'accept browser requests from this Origin (repeatable)', collect)
    .option('--max-body-bytes <n>', 'largest HTTP request body the listener accepts (default 4 MiB)', bytes)
    .option('--per-session-counters', 'HTTP listener: each session counts in its own memory store');
}

/** True when the remote path must run instead of the stdio proxy. */
export function wantsRemote(opts: RemoteOptions): boolean {
  return opts.transport === 'http' || opts.upstream !== undefined;
}

/** A usage problem with the remote options, or undefined. `command` is what follows `--`. */
export function remoteUsageProblem(command: string[], opts: RemoteOptions): string | undefined {
  if (opts.upstream !== undefined) {
    if (command.length > 0) return 'use either --upstream <url> or -- <command>, not both';
    let url: URL;
    try {
      url = new URL(opts.upstream);
    } catch {
      return `--upstream ${opts.upstream} is not a URL (e.g. https://mcp.example.com/mcp)`;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return `--upstream must be http(s), not ${url.protocol}`;
  } else if (command.length === 0) {
    return 'missing the server: tollgate -c policy.yaml --transport http -- <command>, or --upstream <url>';
  }
  for (const h of opts.header ?? []) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/.test(h)) return `--header "${h}" is not "Name: value"`;
  }
  if (opts.header?.length && opts.upstream === undefined) return '--header only applies to --upstream';
  return undefined;
}
