/**
 * The stdio transport of a live scan on POSIX: the SDK's `Transport` over a server started by
 * `@tollgate/process`, the way the proxy runs upstream servers.
 *
 * - The server leads its own process group: everything it starts (the real server under `npx`, a
 *   `sleep` under `sh -c`) stays in that group, and ending the scan ends the whole group. The
 *   SDK's own `StdioClientTransport` signals the direct child only, so a wrapper's children kept
 *   the stdout pipe open and the scan (and the CLI) waited for them.
 * - If Tollgate itself dies mid-scan, the process package's watchdog ends the group.
 */

import {
  deserializeMessage,
  STDIO_DEFAULT_MAX_BUFFER_SIZE,
  serializeMessage,
} from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { type ChildExit, type ChildProcessHandle, spawnChild } from '@tollgate/process';

/** Options of {@link GroupStdioTransport}. */
export interface GroupStdioOptions {
  /** Executable of the stdio server. */
  command: string;
  args: string[];
  /** The whole environment of the server (not merged with anything). */
  env: Record<string, string>;
  cwd?: string;
  /** Where the server's stderr goes; `pipe` is read by no one, so it is discarded like `ignore`. */
  stderr: 'inherit' | 'ignore' | 'pipe';
  /**
   * Milliseconds to wait for the server to exit after its stdin closes, and again between SIGTERM
   * and SIGKILL of its process group (default 1,000).
   */
  graceMs?: number;
}

/** What the server did on its stdout besides JSON-RPC, and how it ended (for error messages). */
export interface StdioDiagnostics {
  /** Non-empty stdout lines that were not JSON-RPC messages (the SDK drops them silently). */
  nonJsonLines: number;
  /** The first such line, as printed (at most 200 characters kept). */
  firstNonJson?: string;
  /** How the server process exited, when it has. */
  exit?: ChildExit;
}

/**
 * MCP client transport over a server's stdin/stdout (newline-delimited JSON-RPC, as the SDK's
 * `StdioClientTransport`), with the server in its own process group so that closing it ends
 * every process it started. POSIX only.
 */
export class GroupStdioTransport implements Transport {
  /** Set by the SDK `Client`. */
  onclose?: () => void;
  /** Set by the SDK `Client`. */
  onerror?: (error: Error) => void;
  /** Set by the SDK `Client`. */
  onmessage?: (message: JSONRPCMessage) => void;
  /**
   * Called with a stdout line that answers a request (a JSON object with an `id` and a `result`
   * or `error`) but is not a valid JSON-RPC response, and why (one line). The SDK drops such a
   * line, so the request it answers would wait for its timeout: the scan fails at once instead.
   */
  onmalformedreply?: (line: string, reason: string) => void;
  /**
   * Called once per stdout line longer than the SDK's limit (`STDIO_DEFAULT_MAX_BUFFER_SIZE`,
   * 10 MiB), with the limit in bytes. The line is dropped up to its newline; if it was an answer,
   * its request would wait for its timeout: the scan fails at once instead.
   */
  onoversizeline?: (limitBytes: number) => void;

  private handle: ChildProcessHandle | undefined;
  private closed = false;
  private stopping: Promise<void> | undefined;
  private forced = false;
  /** Cuts the polite wait of a close() short when terminate() comes during it. */
  private forceNow: (() => void) | undefined;
  /** Bytes of stdout after the last newline. */
  private pending: Buffer | undefined;
  /** In a line over the size limit: its bytes are dropped up to the next newline. */
  private skipping = false;
  private readonly diag: StdioDiagnostics = { nonJsonLines: 0 };
  private readonly graceMs: number;

  /** @param options what to start; nothing runs until {@link GroupStdioTransport.start}. */
  constructor(private readonly options: GroupStdioOptions) {
    this.graceMs = options.graceMs ?? 1000;
  }

  /** Starts the server. Rejects when it cannot be spawned (ENOENT, EACCES). */
  async start(): Promise<void> {
    if (this.handle) throw new Error('GroupStdioTransport already started');
    const o = this.options;
    const handle = await spawnChild({
      command: o.command,
      args: o.args,
      env: o.env,
      ...(o.cwd ? { cwd: o.cwd } : {}),
      stderr: o.stderr === 'inherit' ? 'inherit' : 'ignore',
    });
    this.handle = handle;
    const { stdout } = handle.child;
    stdout.on('error', (error) => this.onerror?.(error));
    stdout.once('close', () => this.finish());
    stdout.on('data', (chunk: Buffer) => this.read(chunk));
    void handle.exited.then((exit) => {
      this.diag.exit = exit;
    });
  }

  /**
   * Splits stdout into lines (newline-delimited JSON-RPC, as the SDK's `ReadBuffer`, same size
   * limit) and counts the lines that are not JSON-RPC, which the SDK would only hand to `onerror`.
   */
  private read(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.skipping) {
      const end = buf.indexOf(10);
      if (end === -1) return;
      this.skipping = false;
      buf = buf.subarray(end + 1);
    }
    for (;;) {
      const index = buf.indexOf(10);
      if (index === -1) break;
      const line = buf.toString('utf8', 0, index).replace(/\r$/, '');
      buf = buf.subarray(index + 1);
      if (line.trim() === '') continue;
      let message: JSONRPCMessage;
      try {
        message = deserializeMessage(line);
      } catch (error) {
        const reason = malformedReply(line);
        if (reason !== undefined) this.onmalformedreply?.(line.slice(0, 200), reason);
        this.diag.nonJsonLines++;
        this.diag.firstNonJson ??= line.slice(0, 200);
        this.onerror?.(error as Error);
        continue;
      }
      this.onmessage?.(message);
    }
    this.pending = buf.length > 0 ? buf : undefined;
    if (buf.length > STDIO_DEFAULT_MAX_BUFFER_SIZE) {
      this.pending = undefined;
      this.skipping = true;
      this.diag.nonJsonLines++;
      this.diag.firstNonJson ??= buf.toString('utf8', 0, 200);
      this.onerror?.(new Error(`a stdout line exceeded ${STDIO_DEFAULT_MAX_BUFFER_SIZE} bytes`));
      this.onoversizeline?.(STDIO_DEFAULT_MAX_BUFFER_SIZE);
    }
  }

  /** Non-JSON-RPC stdout lines seen so far and, once it has exited, how the server ended. */
  diagnostics(): StdioDiagnostics {
    const out = { ...this.diag };
    // A last line the server never ended with a newline cannot be a message either.
    const rest = this.pending?.toString('utf8').trim();
    if (rest) {
      out.nonJsonLines++;
      out.firstNonJson ??= rest.slice(0, 200);
    }
    return out;
  }

  /**
   * Resolves with how the server exited, or undefined if it is still running after `ms`
   * (or was never started).
   */
  async exitWithin(ms: number): Promise<ChildExit | undefined> {
    const handle = this.handle;
    if (!handle) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      handle.exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
    clearTimeout(timer);
    return result;
  }

  /** Writes one message to the server's stdin. */
  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.handle?.child.stdin;
      if (!stdin || this.stopping) {
        reject(new Error('Not connected'));
        return;
      }
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  /**
   * Polite shutdown, for a scan that is done: close the server's stdin and give it `graceMs` to
   * exit, then end whatever is left of its process group (see {@link GroupStdioTransport.terminate}).
   */
  close(): Promise<void> {
    return this.stop(false);
  }

  /**
   * Ends the server's whole process group at once, for a scan that timed out or failed: SIGTERM,
   * then SIGKILL after `graceMs` if any process of the group is still there.
   */
  terminate(): Promise<void> {
    return this.stop(true);
  }

  private stop(force: boolean): Promise<void> {
    // A terminate() during a polite close() (the SDK closes on a failed request) cuts it short.
    if (force) {
      this.forced = true;
      this.forceNow?.();
    }
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const handle = this.handle;
    if (handle) {
      if (!this.forced && !handle.hasExited) {
        handle.child.stdin.end();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          handle.exited,
          new Promise<void>((resolve) => {
            this.forceNow = resolve;
            timer = setTimeout(resolve, this.graceMs);
          }),
        ]);
        clearTimeout(timer);
      }
      // Also when the leader exited by itself: children it left in the group (e.g. under `npx`).
      await handle.endGroup(this.graceMs);
    }
    this.pending = undefined;
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}

/**
 * Why a stdout line the SDK refused as a JSON-RPC message is a broken answer to a request, or
 * undefined when it is not shaped as an answer at all (a log line, a notification gone wrong).
 * JSON-RPC 2.0, section 5: a response has `jsonrpc: "2.0"`, the request's `id`, and exactly one
 * of `result` and `error` (`{ code: integer, message: string }`); MCP results are objects.
 */
export function malformedReply(line: string): string | undefined {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return undefined;
  const o = m as Record<string, unknown>;
  if (!('id' in o) || !('result' in o || 'error' in o)) return undefined;
  if ('result' in o && 'error' in o) return 'it has both result and error';
  if (o.jsonrpc !== '2.0') return `its jsonrpc is ${JSON.stringify(o.jsonrpc) ?? 'missing'}, not "2.0"`;
  if (typeof o.id !== 'string' && typeof o.id !== 'number') return 'its id is neither a string nor a number';
  if ('error' in o) return 'its error is not { code: integer, message: string }';
  return `its result is ${o.result === null ? 'null' : Array.isArray(o.result) ? 'a list' : `a ${typeof o.result}`}, not an object`;
}
