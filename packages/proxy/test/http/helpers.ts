/**
 * Shared by the HTTP end-to-end tests, the conformance launcher and the benchmark: the real
 * `@modelcontextprotocol/server-everything` over Streamable HTTP or stdio, and a recording gate.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { PassThrough } from 'node:stream';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import getPort from 'get-port';
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

/** A free loopback TCP port (the `get-port` library: bound, read, released). */
export function freePort(): Promise<number> {
  return getPort({ host: '127.0.0.1' });
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

/** A TCP relay in front of a port whose live connections can be cut, to break SSE streams mid-flight. */
export interface CuttableRelay {
  readonly port: number;
  /** Destroys every open connection (both sides); new connections still work. */
  cut(): number;
  close(): Promise<void>;
}

/** Starts a {@link CuttableRelay} on a free loopback port towards `127.0.0.1:targetPort`. */
export function startRelay(targetPort: number): Promise<CuttableRelay> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        port,
        cut() {
          const n = open.size;
          for (const s of open) s.destroy();
          return n;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of open) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** One HTTP request the {@link SdkHttpServer} received. */
export interface SdkHttpRequest {
  /** `POST`, `GET`, `DELETE`. */
  readonly http: string;
  /** Its `Mcp-Session-Id`, if any. */
  readonly session?: string;
  /** The JSON-RPC method of a POSTed message (`response` for a response). */
  readonly rpc?: string;
  /** The HTTP status it was answered with by the test server itself (404, 400), if it was. */
  readonly refused?: number;
  /** The `Last-Event-ID` of a GET that resumes a stream. */
  readonly lastEventId?: string;
}

/** A running {@link startSdkHttpServer}. */
export interface SdkHttpServer {
  readonly port: number;
  readonly url: string;
  /** Every request received, in order of arrival. */
  readonly requests: SdkHttpRequest[];
  /** The `message` of every `echo` call the tool ran, in order. */
  readonly echoed: string[];
  /** Sessions opened so far (one per `initialize` answered). */
  readonly sessions: () => string[];
  /** Sessions open now: opened, and neither DELETEd by the client nor forgotten. */
  readonly live: () => string[];
  /**
   * Drops every session: requests naming one get 404 from then on. By default its transport is
   * closed too, ending its streams, as a restart would; `{ close: false }` keeps the transports
   * running, so calls in flight go on answering on their open streams (a session store lost
   * behind a load balancer, or a server that expires the id while a call runs).
   */
  forget(opts?: { close?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * An MCP server built with the SDK's own `Server` and `StreamableHTTPServerTransport`, with a
 * correct event store ({@link BoundedEventStore}) so streams can be resumed. server-everything's
 * event store replays every stream's events and returns an event id where the SDK expects a
 * stream id, so a resumed POST stream there never receives its answer; this server is the
 * reference for resumption (`resumable: false` drops the event store). Tool `slow`: `steps`
 * progress notifications `stepMs` apart, then `done after N steps`; tool `hang-up`: closes the
 * call's SSE stream and never answers; tool `echo`: `echo: <message>`; tool `sleep`: answers
 * `slept <ms>` after `ms` milliseconds; tool `ask`: an elicitation with message `q`, then
 * `answer to [<q>]: <the client's answer as JSON>` (with `timeoutMs`, the server gives up waiting
 * then, and cancels its request); tool `sample`: a sampling request with text
 * `q`, then `sample for [<q>]: <the text sampled>`; tool `poll`: closes the call's SSE stream
 * `closes` times `gapMs` apart (SSE polling, spec 2025-11-25: the client resumes it with
 * `Last-Event-ID`, after `retryMs` when given, the `retry` field of every priming event), then
 * answers `polled <closes> times`.
 *
 * Like the SDK's Express examples, a request naming an unknown session gets 404 (the `n`th such
 * answer waits `notFoundDelayMs * (n - 1)` ms, so concurrent requests see it one by one) and a
 * request without a session id other than `initialize` gets 400 "No valid session ID provided".
 * `json: true` answers requests with plain JSON bodies instead of SSE streams. `resume` answers the
 * GETs that resume a stream (`Last-Event-ID`) itself: `405` as a server without a GET stream
 * does, `500`, or `empty`: an SSE stream that repeats the event id it was given (in an event
 * without data, as a priming event) and ends, without the events after it. `reinit` shapes the answers to every `initialize` but the first (the
 * re-initialisations): sent after `delayMs`, and with `status` an HTTP error whose body echoes the
 * request's `Authorization` header as sent and upper-cased, as careless servers do (only the first `failures` of them
 * when it is given; the later ones open sessions). `initDelayMs` delays every `initialize`, the
 * first included.
 */
export async function startSdkHttpServer(
  opts: {
    resumable?: boolean;
    json?: boolean;
    notFoundDelayMs?: number;
    resume?: 405 | 500 | 'empty';
    reinit?: { delayMs?: number; status?: number; failures?: number };
    initDelayMs?: number;
    retryMs?: number;
  } = {},
): Promise<SdkHttpServer> {
  const { Server } = await import('@modelcontextprotocol/sdk/server/index.js');
  const { CallToolRequestSchema, ListToolsRequestSchema } = await import(
    '@modelcontextprotocol/sdk/types.js'
  );
  const { StreamableHTTPServerTransport } = await import(
    '@modelcontextprotocol/sdk/server/streamableHttp.js'
  );
  const { BoundedEventStore } = await import('../../src/http/event-store.js');
  const { createServer: createHttpServer } = await import('node:http');
  const { randomUUID } = await import('node:crypto');
  const sessions = new Map<string, InstanceType<typeof StreamableHTTPServerTransport>>();
  const opened: string[] = [];
  const requests: SdkHttpRequest[] = [];
  const echoed: string[] = [];
  let notFound = 0;
  let initializes = 0;
  const http = createHttpServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    let body: unknown;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    }
    const rpc =
      typeof body === 'object' && body !== null
        ? String((body as { method?: unknown }).method ?? 'response')
        : undefined;
    const lastEventId = req.headers['last-event-id'];
    const seen = {
      http: req.method ?? '',
      ...(typeof sid === 'string' ? { session: sid } : {}),
      ...(rpc ? { rpc } : {}),
      ...(typeof lastEventId === 'string' ? { lastEventId } : {}),
    };
    if (req.method === 'GET' && typeof lastEventId === 'string' && opts.resume !== undefined) {
      requests.push(seen);
      if (opts.resume === 405) res.writeHead(405, { allow: 'POST, DELETE' }).end();
      else if (opts.resume === 500) res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
      // A priming event (an id, no data) repeating the id it was given, then the end.
      else res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`id: ${lastEventId}\ndata: \n\n`);
      return;
    }
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!transport) {
      if (typeof sid === 'string') {
        requests.push({ ...seen, refused: 404 });
        const delay = (opts.notFoundDelayMs ?? 0) * notFound++;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        res.writeHead(404, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            error: { code: -32001, message: 'Session not found' },
            id: null,
          }),
        );
        return;
      }
      if (rpc === 'initialize' && opts.initDelayMs) await new Promise((r) => setTimeout(r, opts.initDelayMs));
      if (rpc === 'initialize' && ++initializes > 1 && opts.reinit) {
        if (opts.reinit.delayMs) await new Promise((r) => setTimeout(r, opts.reinit?.delayMs));
        if (opts.reinit.status && initializes - 1 <= (opts.reinit.failures ?? Number.POSITIVE_INFINITY)) {
          requests.push({ ...seen, refused: opts.reinit.status });
          res
            .writeHead(opts.reinit.status, { 'content-type': 'text/plain' })
            .end(
              req.headers.authorization
                ? `init failed; request had authorization=${req.headers.authorization} (${req.headers.authorization.toUpperCase()})`
                : 'init failed; request had authorization=(none)',
            );
          return;
        }
      }
      if (rpc !== 'initialize') {
        requests.push({ ...seen, refused: 400 });
        res.writeHead(400, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            error: { code: -32000, message: 'Bad Request: No valid session ID provided' },
            id: null,
          }),
        );
        return;
      }
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        ...(opts.resumable === false ? {} : { eventStore: new BoundedEventStore() }),
        ...(opts.json ? { enableJsonResponse: true } : {}),
        ...(opts.retryMs !== undefined ? { retryInterval: opts.retryMs } : {}),
        onsessioninitialized: (id) => {
          sessions.set(id, t);
          opened.push(id);
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
        },
      });
      const server = new Server({ name: 'sdk-reference', version: '1.0.0' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, async () => ({
        tools: [
          { name: 'hang-up', inputSchema: { type: 'object' } },
          {
            name: 'poll',
            inputSchema: {
              type: 'object',
              properties: { closes: { type: 'number' }, gapMs: { type: 'number' } },
            },
          },
          {
            name: 'slow',
            inputSchema: {
              type: 'object',
              properties: { steps: { type: 'number' }, stepMs: { type: 'number' } },
            },
          },
          { name: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } },
          { name: 'sleep', inputSchema: { type: 'object', properties: { ms: { type: 'number' } } } },
          { name: 'ask', inputSchema: { type: 'object', properties: { q: { type: 'string' } } } },
          { name: 'sample', inputSchema: { type: 'object', properties: { q: { type: 'string' } } } },
        ],
      }));
      server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
        if (request.params.name === 'hang-up') {
          // Ends the call's SSE stream without an answer (the SDK's polling hook), then never answers.
          t.closeSSEStream(extra.requestId);
          return new Promise<never>(() => {});
        }
        if (request.params.name === 'poll') {
          const { closes, gapMs } = request.params.arguments as { closes: number; gapMs: number };
          for (let i = 0; i < closes; i++) {
            t.closeSSEStream(extra.requestId);
            await new Promise((r) => setTimeout(r, gapMs));
          }
          return { content: [{ type: 'text', text: `polled ${closes} times` }] };
        }
        if (request.params.name === 'echo') {
          const { message } = request.params.arguments as { message: string };
          echoed.push(message);
          return { content: [{ type: 'text', text: `echo: ${message}` }] };
        }
        if (request.params.name === 'ask') {
          const { q, timeoutMs } = request.params.arguments as { q: string; timeoutMs?: number };
          const answer = await server.elicitInput(
            {
              message: q,
              requestedSchema: { type: 'object', properties: { confirm: { type: 'boolean' } } },
            },
            timeoutMs ? { timeout: timeoutMs } : undefined,
          );
          return { content: [{ type: 'text', text: `answer to [${q}]: ${JSON.stringify(answer)}` }] };
        }
        if (request.params.name === 'sample') {
          const { q } = request.params.arguments as { q: string };
          const sampled = await server.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: q } }],
            maxTokens: 5,
          });
          const got = sampled.content as { text?: string };
          return { content: [{ type: 'text', text: `sample for [${q}]: ${got.text ?? ''}` }] };
        }
        if (request.params.name === 'sleep') {
          const { ms } = request.params.arguments as { ms: number };
          await new Promise((r) => setTimeout(r, ms));
          return { content: [{ type: 'text', text: `slept ${ms}` }] };
        }
        const { steps, stepMs } = request.params.arguments as { steps: number; stepMs: number };
        const token = request.params._meta?.progressToken;
        for (let i = 1; i <= steps; i++) {
          await new Promise((r) => setTimeout(r, stepMs));
          if (token !== undefined) {
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken: token, progress: i, total: steps },
            });
          }
        }
        return { content: [{ type: 'text', text: `done after ${steps} steps` }] };
      });
      await server.connect(t);
      transport = t;
    }
    requests.push(seen);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const { port } = http.address() as { port: number };
  /** Transports dropped by `forget({ close: false })`, closed with the server. */
  const kept: Array<InstanceType<typeof StreamableHTTPServerTransport>> = [];
  const forget = async ({ close = true }: { close?: boolean } = {}) => {
    const all = [...sessions.values()];
    sessions.clear();
    notFound = 0;
    if (close) await Promise.allSettled(all.map((t) => t.close()));
    else kept.push(...all);
  };
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    echoed,
    sessions: () => [...opened],
    live: () => [...sessions.keys()],
    forget,
    close: async () => {
      await forget();
      await Promise.allSettled(kept.splice(0).map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
