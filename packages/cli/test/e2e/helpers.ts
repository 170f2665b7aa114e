/**
 * End-to-end helpers: the SDK's real `Client` over stdio launches the BUILT `tollgate`
 * (packages/cli/dist/bin.js), which launches a real MCP server from npm. Every session gets its
 * own TOLLGATE_HOME so nothing touches ~/.tollgate.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, beforeEach } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
/** The built CLI. The turbo `test` task depends on `build`; locally: `pnpm --filter tollgate... build`. */
export const CLI = join(here, '../../dist/bin.js');
export const FAKE_SERVER = join(here, 'fixtures/fake-server.mjs');

if (!existsSync(CLI)) {
  throw new Error(`${CLI} is missing: build the CLI first (pnpm --filter "tollgate..." build)`);
}

export { serverBin } from '../servers.js';

/** A scratch directory with a TOLLGATE_HOME and room for policies; removed by `cleanup`. */
export interface Scratch {
  dir: string;
  home: string;
  write(name: string, text: string): string;
  cleanup(): void;
}

export function scratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  return {
    dir,
    home: join(dir, 'home'),
    write(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Environment of the tollgate process: ours plus an isolated TOLLGATE_HOME. */
export function envFor(s: Scratch, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.TOLLGATE_STATE_DIR;
  delete env.TOLLGATE_STATE_DSN;
  return { ...env, TOLLGATE_HOME: s.home, NO_COLOR: '1', ...extra };
}

export interface Session {
  client: Client;
  transport: StdioClientTransport;
  /** Everything tollgate (and the server) wrote to stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

/**
 * Connects the SDK Client to `tollgate -c policy [flags] -- server...`.
 *
 * @param capabilities client capabilities to declare (e.g. sampling, elicitation, roots).
 */
export async function connect(
  s: Scratch,
  policyFile: string,
  server: string[],
  opts: {
    flags?: string[];
    capabilities?: Record<string, unknown>;
    env?: Record<string, string>;
    setup?: (c: Client) => void;
  } = {},
): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '-c', policyFile, '--log-level', 'debug', ...(opts.flags ?? []), '--', ...server],
    env: envFor(s, opts.env),
    stderr: 'pipe',
    maxBufferSize: 64 * 1024 * 1024,
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const client = new Client(
    { name: 'e2e-client', version: '1.0.0' },
    { capabilities: opts.capabilities ?? {} },
  );
  opts.setup?.(client);
  await client.connect(transport);
  return {
    client,
    transport,
    stderr: () => err,
    close: () => client.close(),
  };
}

/** A tollgate process spoken to with raw newline-delimited JSON (for batches and raw bytes). */
/** A stdout line as a message; a line that is not JSON becomes `{ unparsable: <the line> }`. */
function parseLine(line: string): any {
  try {
    return JSON.parse(line);
  } catch {
    return { unparsable: line };
  }
}

export class RawSession {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  /** `lines`, each parsed once. */
  readonly messages: any[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private chunks: Buffer[] = [];
  private waiters: Array<() => void> = [];

  constructor(s: Scratch, args: string[], env: Record<string, string> = {}) {
    this.proc = spawn(process.execPath, [CLI, ...args], { env: envFor(s, env), stdio: 'pipe' });
    // Chunks in a list, joined once per line: 20 MiB lines cost O(n).
    this.proc.stdout.on('data', (d: Buffer) => {
      let start = 0;
      let nl = d.indexOf(10);
      while (nl !== -1) {
        this.chunks.push(d.subarray(start, nl));
        const line = Buffer.concat(this.chunks).toString('utf8');
        this.chunks = [];
        this.lines.push(line);
        this.messages.push(parseLine(line));
        start = nl + 1;
        nl = d.indexOf(10, start);
      }
      if (start < d.length) this.chunks.push(d.subarray(start));
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  send(msg: unknown): void {
    this.proc.stdin.write(`${typeof msg === 'string' ? msg : JSON.stringify(msg)}\n`);
  }

  /** Waits for the first message (from index `from` on) that satisfies `pred`. */
  async waitFor(pred: (msg: any) => boolean, timeoutMs = 15_000, from = 0): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.messages.length; i++) {
        if (pred(this.messages[i])) return this.messages[i];
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out; stdout: ${this.lines.join('\n').slice(0, 2000)}\nstderr: ${this.stderr.slice(-2000)}`,
        );
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Tollgate's JSON log lines on stderr so far whose message is `msg`. */
  logged(msg: string): Array<Record<string, any>> {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>)
      .filter((l) => l.msg === msg);
  }

  /** initialize + notifications/initialized. */
  async handshake(): Promise<any> {
    this.send({
      jsonrpc: '2.0',
      id: 'init',
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    const r = await this.waitFor((m) => m.id === 'init');
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return r;
  }
}

/** A `tools/call` of the fixtures' `echo` tool with request id `id`. */
export function echoCall(id: number) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } };
}

/**
 * SIGKILLs the sessions in `sessions` that are still running (a test that failed left them
 * waiting; their watchdogs end the servers) and empties the list. For `afterEach`.
 */
export function killLeftovers(sessions: RawSession[]): void {
  for (const raw of sessions.splice(0))
    if (raw.proc.exitCode === null && raw.proc.signalCode === null) raw.proc.kill('SIGKILL');
}

/**
 * Per-test set-up of a file whose tests drive Tollgate as {@link RawSession}s: before each test a
 * fresh scratch directory (`s`) holding `policyText` as `policy.yaml` (`policy`, its path); after
 * each, the sessions pushed on `started` that still run are SIGKILLed (a test that failed left
 * them waiting; their watchdogs end the servers) and the scratch is removed. Read the fields
 * inside tests, not at load time.
 */
export function rawSessionScratch(policyText: string): { s: Scratch; policy: string; started: RawSession[] } {
  const fx = { s: undefined as unknown as Scratch, policy: '', started: [] as RawSession[] };
  beforeEach(() => {
    fx.s = scratch();
    fx.policy = fx.s.write('policy.yaml', policyText);
  });
  afterEach(() => {
    killLeftovers(fx.started);
    fx.s.cleanup();
  });
  return fx;
}

/** Alive and not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of the direct children of `pid` (from /proc). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** The text of the first content item of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content[0]?.text ?? '';
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
