/**
 * Live scan of an MCP server over stdio with the SDK's `Client`: initialize, then page through
 * `tools/list` following `nextCursor` (MCP spec 2025-11-25, "Pagination").
 *
 * On POSIX the server runs in its own process group (see scan-process.ts), and when the scan ends
 * — done, failed or timed out — the whole group is ended, so a wrapper such as `npx` cannot leave
 * its children running or keep the scan waiting on their stdout.
 */

import { setMaxListeners } from 'node:events';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  ListRootsRequestSchema,
  ListToolsResultSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { SnapshotTool } from './import.js';
import { oneLine } from './one-line.js';
import { GroupStdioTransport, type StdioDiagnostics } from './scan-process.js';
import type { CatalogLaunch } from './types.js';

/** What a scan found. */
export interface ScanResult {
  serverInfo: { name: string; version?: string; title?: string };
  tools: SnapshotTool[];
  /** Number of `tools/list` pages read. */
  pages: number;
}

/** Options of {@link scanServer}. */
export interface ScanOptions {
  /** Executable of a stdio server (ignored when `url` is given). */
  command: string;
  /** Streamable HTTP endpoint of a running server (MCP spec 2025-11-25, "Transports"), instead of `command`. */
  url?: string;
  /** Request headers sent to `url` (e.g. `Authorization`); ignored for a stdio server. */
  headers?: Record<string, string>;
  args?: string[];
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Whole-scan deadline in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** Where the child's stderr goes (default: ignored). */
  stderr?: 'inherit' | 'ignore' | 'pipe';
  /** Most `tools/list` pages read; a list with more is a {@link ScanError} (default 1,000). */
  maxPages?: number;
  /**
   * Declare the client capabilities agents' clients commonly declare (`roots`, `sampling`,
   * `elicitation`), so that tools a server lists only to such clients are listed (default true;
   * false scans as a client that declares none, as the catalogue's snapshots were taken).
   */
  clientCapabilities?: boolean;
}

/** The scan did not finish in time. */
export class ScanTimeoutError extends Error {
  override readonly name = 'ScanTimeoutError';
}

/** The scan failed: the server could not be started or reached, exited, or answered wrongly. One-line message. */
export class ScanError extends Error {
  override readonly name = 'ScanError';
}

/** Which request the scan was waiting for. */
type Phase = 'initialize' | 'tools/list';

/** Any `tools/list` result: checked against the MCP schema by {@link checkedToolsPage}, for a one-line message. */
const anyResult = z.unknown();

/** `; the server printed N lines ... (first: "...")`, or '' when its stdout was all JSON-RPC. */
function nonJsonNote(diag: StdioDiagnostics | undefined): string {
  if (!diag || diag.nonJsonLines === 0) return '';
  const n = diag.nonJsonLines;
  return `; the server printed ${n} line${n === 1 ? '' : 's'} on stdout that ${n === 1 ? 'is' : 'are'} not JSON-RPC (first: ${JSON.stringify(oneLine(diag.firstNonJson ?? '', 60))}); a stdio server must write only MCP messages to stdout (logs go to stderr)`;
}

/**
 * A `tools/list` page checked against the MCP schema (the SDK's `ListToolsResultSchema`), or a
 * {@link ScanError} naming the first offending tool on one line (the SDK's own error is the whole
 * zod issue list, one JSON document over many lines).
 */
function checkedToolsPage(raw: unknown): { tools: SnapshotTool[]; nextCursor?: string } {
  const parsed = ListToolsResultSchema.safeParse(raw);
  if (parsed.success) return parsed.data as { tools: SnapshotTool[]; nextCursor?: string };
  // Every problem, so that a server author fixes them in one go (at most five named, in one line).
  const issues = parsed.error.issues;
  const named = issues.slice(0, 5).map((issue) => describeIssue(raw, issue));
  const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
  throw new ScanError(
    `the server's tools/list answer does not follow the MCP schema: ${named.join('; ')}${more}; MCP clients reject such a list`,
  );
}

/**
 * One schema problem of a tools/list answer, naming the tool by its name where it has one (`raw`,
 * the answer, is undefined for an `initialize` answer, whose issues are named by path alone).
 */
function describeIssue(raw: unknown, issue: z.core.$ZodIssue): string {
  const path = issue.path;
  if (path[0] === 'tools' && typeof path[1] === 'number') {
    const tool = (raw as { tools?: Array<{ name?: unknown }> } | undefined)?.tools?.[path[1]];
    const who =
      typeof tool?.name === 'string'
        ? `tool "${oneLine(tool.name, 80)}" (tools[${path[1]}])`
        : `tools[${path[1]}]`;
    const field = path.slice(2).map(String).join('.');
    const absent =
      issue.code === 'invalid_type' &&
      tool !== undefined &&
      field !== '' &&
      path.length === 3 &&
      (tool as Record<string, unknown>)[field] === undefined;
    return absent
      ? `${who} has no ${field}`
      : `${who}${field ? ` ${field}` : ''}: ${oneLine(issue.message, 120)}`;
  }
  return `${path.map(String).join('.') || 'the result'}: ${oneLine(issue.message, 120)}`;
}

/** The innermost `code` (e.g. ECONNREFUSED) and message of an error's `cause` chain. */
function rootCause(err: unknown): { code?: string; message?: string } {
  let e: unknown = (err as { cause?: unknown } | undefined)?.cause;
  let found: { code?: string; message?: string } = {};
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const o = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    const message = typeof o.message === 'string' && o.message ? o.message : undefined;
    if (typeof o.code === 'string') found = { code: o.code, ...(message ? { message } : {}) };
    else if (!found.code && message) found = { message };
    e = o.cause ?? (Array.isArray(o.errors) ? o.errors[0] : undefined);
  }
  return found;
}

/** A one-line {@link ScanError} for what made the scan fail (see {@link scanServer}). */
async function describeFailure(
  err: unknown,
  ctx: { phase: Phase; command: string; url?: string; grouped?: GroupStdioTransport },
): Promise<Error> {
  if (err instanceof ScanError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // The SDK rejects an `initialize` answer its schema refuses with the schema library's error,
  // whose message is a multi-line JSON dump of every issue: named here in one line instead.
  const issues = (err as { issues?: unknown } | undefined)?.issues;
  if (Array.isArray(issues) && issues.length > 0) {
    const named = (issues as z.core.$ZodIssue[]).slice(0, 5).map((issue) => describeIssue(undefined, issue));
    const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
    return new ScanError(
      `the server's ${ctx.phase} answer does not follow the MCP schema: ${named.join('; ')}${more}; MCP clients reject it`,
      { cause: err },
    );
  }
  if (ctx.url) {
    if (err instanceof StreamableHTTPError && typeof err.code === 'number' && err.code >= 100) {
      const status = `HTTP ${err.code}${STATUS_CODES[err.code] ? ` ${STATUS_CODES[err.code]}` : ''}`;
      return new ScanError(
        `the URL answered ${status} to ${ctx.phase}; is it the server's MCP endpoint (often ending in /mcp)?`,
        { cause: err },
      );
    }
    const cause = rootCause(err);
    if (cause.code || cause.message) {
      const detail =
        cause.code && !cause.message?.includes(cause.code)
          ? `${cause.code}${cause.message ? ` (${cause.message})` : ''}`
          : cause.message!;
      return new ScanError(`cannot connect: ${oneLine(detail, 160)}`, { cause: err });
    }
    return new ScanError(oneLine(message), { cause: err });
  }
  const code = (err as NodeJS.ErrnoException).code;
  if ((err as NodeJS.ErrnoException).syscall?.startsWith('spawn') && typeof code === 'string')
    return new ScanError(`cannot start ${ctx.command}: ${code}`, { cause: err });
  const grouped = ctx.grouped;
  if (grouped && err instanceof McpError && err.code === ErrorCode.ConnectionClosed) {
    // stdout closes as the server exits; the exit status follows a moment later.
    const exit = await grouped.exitWithin(1000);
    const note = nonJsonNote(grouped.diagnostics());
    if (exit?.signal)
      return new ScanError(`server was ended by ${exit.signal} before answering ${ctx.phase}${note}`);
    if (exit)
      return new ScanError(`server exited with code ${exit.code} before answering ${ctx.phase}${note}`);
    return new ScanError(`server closed its stdout before answering ${ctx.phase}${note}`);
  }
  return new ScanError(`${oneLine(message)}${nonJsonNote(grouped?.diagnostics())}`);
}

/**
 * The scan's MCP client. It declares the client capabilities that agents' clients commonly
 * declare (Claude Code, VS Code: `roots`, `sampling`, `elicitation`; MCP spec 2025-11-25,
 * "Lifecycle > Initialization"), because a server may list some tools only to a client that
 * declares them (server-everything lists `get-roots-list`, `trigger-sampling-request` and
 * `trigger-elicitation-request` only then), and a policy drafted from a scan must cover what
 * the agent will see. Asked for anything during the scan, it answers with nothing: no roots, a
 * declined elicitation, a refused sampling request.
 */
function scanClient(declare: boolean): Client {
  const info = { name: 'tollgate-scan', version: '0.1.0' };
  if (!declare) return new Client(info);
  const client = new Client(info, {
    capabilities: { roots: { listChanged: false }, sampling: {}, elicitation: {} },
  });
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [] }));
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'decline' as const }));
  client.setRequestHandler(CreateMessageRequestSchema, () => {
    throw new McpError(ErrorCode.InvalidRequest, 'tollgate scan runs no model');
  });
  return client;
}

/**
 * Start the server (or connect to `url`), initialize, list every tool, and close the connection.
 * A stdio server's whole process group is ended before this settles (POSIX), on success too.
 * Every error message is one line, and says what went wrong where it can tell: the exit code of
 * a server that exited, the HTTP status or connection error code of a URL, the first tool that
 * breaks the `tools/list` schema, and stdout lines that are not JSON-RPC.
 * @throws {ScanTimeoutError} when initialize plus all pages take longer than `timeoutMs`.
 * @throws {ScanError} when the process cannot start or the server fails or answers wrongly.
 */
export async function scanServer(options: ScanOptions): Promise<ScanResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, options.env ?? {});
  const stdio = {
    command: options.command,
    args: options.args ?? [],
    env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stderr: options.stderr ?? 'ignore',
  } as const;
  // Process groups are POSIX: on Windows the SDK's transport (which also resolves `.cmd` shims).
  const grouped = options.url || process.platform === 'win32' ? undefined : new GroupStdioTransport(stdio);
  const transport: Transport = options.url
    ? new StreamableHTTPClientTransport(
        new URL(options.url),
        options.headers ? { requestInit: { headers: options.headers } } : undefined,
      )
    : (grouped ?? new StdioClientTransport(stdio));
  const client = scanClient(options.clientCapabilities ?? true);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(
        new ScanTimeoutError(
          `scan timed out after ${timeoutMs / 1000} s${nonJsonNote(grouped?.diagnostics())}`,
        ),
      );
    }, timeoutMs);
  });
  let phase: Phase = 'initialize';
  // An answer the SDK drops (not valid JSON-RPC) would leave its request waiting for the deadline.
  const malformed = new Promise<never>((_, reject) => {
    if (!grouped) return;
    grouped.onmalformedreply = (line, reason) =>
      reject(
        new ScanError(
          `the server's ${phase} answer is not a valid JSON-RPC response: ${reason} (${JSON.stringify(oneLine(line, 120))})`,
        ),
      );
    grouped.onoversizeline = (limitBytes) =>
      reject(
        new ScanError(
          `the server wrote a stdout line over ${limitBytes / 1024 / 1024} MiB during ${phase}: the MCP SDK's stdio client refuses a message that long, so the answer cannot be read`,
        ),
      );
  });
  malformed.catch(() => {});
  const work = (async (): Promise<ScanResult> => {
    await client.connect(transport, { signal: controller.signal, timeout: timeoutMs });
    phase = 'tools/list';
    const tools: SnapshotTool[] = [];
    let cursor: string | undefined;
    let pages = 0;
    const maxPages = options.maxPages ?? 1000;
    const cursors = new Set<string>();
    // One signal for every page: the SDK adds an abort listener per request.
    setMaxListeners(0, controller.signal);
    do {
      // Not `client.listTools`: its schema error is a multi-line zod dump; checked here instead.
      const raw = await client.request(
        { method: 'tools/list', params: cursor ? { cursor } : {} },
        anyResult,
        { signal: controller.signal, timeout: timeoutMs },
      );
      const page = checkedToolsPage(raw);
      pages++;
      for (const t of page.tools) tools.push(t as SnapshotTool);
      cursor = page.nextCursor;
      // A list cut short would leave tools out of the policy without a word: refuse instead.
      if (cursor !== undefined && cursors.has(cursor)) {
        throw new ScanError(
          `the server's tools/list pagination does not end: page ${pages} gave the cursor ${JSON.stringify(oneLine(cursor, 60))} again`,
        );
      }
      if (cursor !== undefined) cursors.add(cursor);
      if (cursor && pages >= maxPages) {
        throw new ScanError(
          `the server's tools/list has more than ${maxPages} pages (${tools.length} tools so far); stopped rather than scan part of it`,
        );
      }
    } while (cursor);
    const info = client.getServerVersion();
    return {
      serverInfo: {
        name: info?.name ?? options.command,
        ...(info?.version ? { version: info.version } : {}),
        ...(info?.title ? { title: info.title } : {}),
      },
      tools,
      pages,
    };
  })();
  let done = false;
  try {
    const result = await Promise.race([work, deadline, malformed]);
    done = true;
    return result;
  } catch (err) {
    if (err instanceof ScanTimeoutError) throw err;
    throw await describeFailure(err, {
      phase,
      command: options.command,
      ...(options.url ? { url: options.url } : {}),
      ...(grouped ? { grouped } : {}),
    });
  } finally {
    clearTimeout(timer);
    work.catch(() => {});
    // Timed out or failed: end the server's process group now rather than asking it politely.
    if (!done) await grouped?.terminate().catch(() => {});
    // Done: close its stdin, give it a moment, then end whatever is left of its group.
    await client.close().catch(() => {});
  }
}

/**
 * The {@link ScanOptions} that start a catalogued server the way its snapshot was taken:
 * `node <packageDir>/<entry> ...` for `cwd: package` launches, with `<scratch-dir>` in arguments
 * and environment replaced by `scratchDir` and the server run from `scratchDir`.
 * @param launch the catalogue entry's `launch`.
 * @param packageDir where the package (at the catalogued version) is installed.
 * @param scratchDir an empty directory the server may write to.
 */
export function launchOptions(launch: CatalogLaunch, packageDir: string, scratchDir: string): ScanOptions {
  const fill = (s: string) => s.split('<scratch-dir>').join(scratchDir);
  const args = launch.args.map(fill);
  if (launch.cwd === 'package' && args.length > 0) args[0] = join(packageDir, args[0]!);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(launch.env ?? {})) env[k] = fill(v);
  return {
    command: launch.command === 'node' ? process.execPath : launch.command,
    args,
    env,
    cwd: scratchDir,
  };
}
