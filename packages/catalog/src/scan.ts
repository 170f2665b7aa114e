/**
 * Live scan of an MCP server over stdio with the SDK's `Client`: initialize, then page through
 * `tools/list` following `nextCursor` (MCP spec 2025-11-25, "Pagination").
 *
 * On POSIX the server runs in its own process group (see scan-process.ts), and when the scan ends
 * — done, failed or timed out — the whole group is ended, so a wrapper such as `npx` cannot leave
 * its children running or keep the scan waiting on their stdout.
 */

import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { SnapshotTool } from './import.js';
import { GroupStdioTransport } from './scan-process.js';
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
  args?: string[];
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Whole-scan deadline in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** Where the child's stderr goes (default: ignored). */
  stderr?: 'inherit' | 'ignore' | 'pipe';
  /** Guard against servers whose cursors never end (default 1,000 pages). */
  maxPages?: number;
}

/** The scan did not finish in time. */
export class ScanTimeoutError extends Error {
  override readonly name = 'ScanTimeoutError';
}

/**
 * Start the server (or connect to `url`), initialize, list every tool, and close the connection.
 * A stdio server's whole process group is ended before this settles (POSIX), on success too.
 * @throws {ScanTimeoutError} when initialize plus all pages take longer than `timeoutMs`.
 * @throws {Error} when the process cannot start or the server answers with an error.
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
    ? new StreamableHTTPClientTransport(new URL(options.url))
    : (grouped ?? new StdioClientTransport(stdio));
  const client = new Client({ name: 'tollgate-scan', version: '0.1.0' });
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ScanTimeoutError(`scan timed out after ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  const work = (async (): Promise<ScanResult> => {
    await client.connect(transport, { signal: controller.signal, timeout: timeoutMs });
    const tools: SnapshotTool[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, {
        signal: controller.signal,
        timeout: timeoutMs,
      });
      pages++;
      for (const t of page.tools) tools.push(t as SnapshotTool);
      cursor = page.nextCursor;
    } while (cursor && pages < (options.maxPages ?? 1000));
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
    const result = await Promise.race([work, deadline]);
    done = true;
    return result;
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
