/**
 * Shared by the HTTP end-to-end tests, the conformance launcher and the benchmark: the real
 * `@modelcontextprotocol/server-everything` over Streamable HTTP or stdio, and a recording gate.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type { PassThrough } from 'node:stream';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Gate, GateCall, GateContext, GateDecision } from '../../src/gate.js';

const require = createRequire(import.meta.url);

/** Absolute path of server-everything's entry script. */
export function everythingEntry(): string {
  const pkg = require.resolve('@modelcontextprotocol/server-everything/package.json');
  return join(dirname(pkg), 'dist', 'index.js');
}

/** The command that runs server-everything over stdio. */
export function everythingStdio(): { command: string; args: string[] } {
  return { command: process.execPath, args: [everythingEntry(), 'stdio'] };
}

/** A free loopback TCP port (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A running server-everything over Streamable HTTP. */
export interface EverythingHttp {
  readonly url: string;
  readonly port: number;
  child: ChildProcess;
  /** Kills it (SIGTERM, then SIGKILL) and waits for the exit. */
  stop(): Promise<void>;
  /** Stops it and starts a fresh one on the same port (all sessions lost). */
  restart(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'GET' });
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`server-everything did not listen on ${port} within ${timeoutMs} ms`);
}

function launch(port: number): ChildProcess {
  const child = spawn(process.execPath, [everythingEntry(), 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.resume();
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts server-everything with its `streamableHttp` transport on a free loopback port. */
export async function startEverythingHttp(): Promise<EverythingHttp> {
  const port = await freePort();
  const self: EverythingHttp = {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    child: launch(port),
    stop: () => kill(self.child),
    async restart() {
      await kill(self.child);
      self.child = launch(port);
      await waitForPort(port, 15_000);
    },
  };
  await waitForPort(port, 15_000);
  return self;
}

/** One decision the recording gate made, with the context it was given. */
export interface Recorded {
  call: GateCall;
  ctx: GateContext | undefined;
  decision: GateDecision;
}

/**
 * A gate for transport tests: denies the tools named in `deny` (reason `denied_by_test`),
 * allows the rest, and records every decision, commit and rollback. It exercises the router's
 * gate contract; the policy engine itself is tested in @tollgate/runtime.
 */
export class RecordingGate implements Gate {
  readonly decisions: Recorded[] = [];
  commits = 0;
  rollbacks = 0;
  constructor(private readonly deny: ReadonlySet<string> = new Set()) {}
  async decide(call: GateCall, ctx?: GateContext): Promise<GateDecision> {
    const denied = this.deny.has(call.tool);
    const decision: GateDecision = denied
      ? {
          allowed: false,
          rule: 'test deny',
          reason: 'denied_by_test',
          message: `${call.tool} is denied by the test policy`,
        }
      : { allowed: true, reason: 'allowed', message: 'allowed' };
    this.decisions.push({ call, ctx, decision });
    return decision;
  }
  async commit(): Promise<void> {
    this.commits++;
  }
  async rollback(): Promise<void> {
    this.rollbacks++;
  }
  isHidden(): boolean {
    return false;
  }
  setToolSchemas(): void {}
}

/**
 * An MCP SDK `Transport` over a pair of in-process streams, so the SDK's real `Client` can be
 * the stdio client of upstream mode without a process in between.
 */
export class StreamClientTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  private readonly buffer = new ReadBuffer();
  constructor(
    private readonly toProxy: PassThrough,
    private readonly fromProxy: PassThrough,
  ) {}
  async start(): Promise<void> {
    this.fromProxy.on('data', (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (let m = this.buffer.readMessage(); m; m = this.buffer.readMessage()) this.onmessage?.(m);
    });
    this.fromProxy.on('end', () => this.onclose?.());
  }
  async send(message: JSONRPCMessage): Promise<void> {
    this.toProxy.write(serializeMessage(message));
  }
  async close(): Promise<void> {
    this.toProxy.end();
  }
}
