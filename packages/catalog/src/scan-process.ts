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

import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { type ChildProcessHandle, spawnChild } from '@tollgate/process';

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

  private handle: ChildProcessHandle | undefined;
  private closed = false;
  private stopping: Promise<void> | undefined;
  private forced = false;
  /** Cuts the polite wait of a close() short when terminate() comes during it. */
  private forceNow: (() => void) | undefined;
  private readonly readBuffer = new ReadBuffer();
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
    stdout.on('data', (chunk: Buffer) => {
      this.readBuffer.append(chunk);
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.readBuffer.readMessage();
        } catch (error) {
          this.onerror?.(error as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    });
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
    this.readBuffer.clear();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
