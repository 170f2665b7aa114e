/**
 * Upstream mode end to end: the SDK's real `Client` on the stdio side, Tollgate's router and
 * HTTP upstream transport, and the real server-everything over Streamable HTTP.
 */
import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HttpUpstreamTransport, UPSTREAM_AGENT_OPTIONS } from '../../src/http/upstream.js';
import { type HttpUpstreamProxyExit, runHttpUpstreamProxy } from '../../src/http/upstream-proxy.js';
import {
  type EverythingHttp,
  freePort,
  RecordingGate,
  StreamClientTransport,
  startEverythingHttp,
  startRelay,
  startSdkHttpServer,
} from './helpers.js';

type TextResult = { content: Array<{ type: string; text?: string }>; isError?: boolean };
const text = (r: unknown) => (r as TextResult).content.map((c) => c.text ?? '').join('');

let everything: EverythingHttp;
beforeAll(async () => {
  everything = await startEverythingHttp();
}, 30_000);
afterAll(async () => {
  await everything?.stop();
});

interface Bridge {
  client: Client;
  gate: RecordingGate;
  /** The upstream transport, once the proxy started. */
  upstream: HttpUpstreamTransport | undefined;
  exit: Promise<HttpUpstreamProxyExit>;
  close(): Promise<HttpUpstreamProxyExit>;
}
const open: Bridge[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});

async function bridge(url: string, deny: string[] = [], capabilities = {}): Promise<Bridge> {
  const input = new PassThrough();
  const output = new PassThrough();
  const gate = new RecordingGate(new Set(deny));
  let upstream: HttpUpstreamTransport | undefined;
  const exit = runHttpUpstreamProxy({
    url,
    gate,
    input,
    output,
    upstream: { reconnection: { maxRetries: 1 } },
    onStarted: (i) => {
      upstream = i.upstream;
    },
  });
  const client = new Client({ name: 'upstream-e2e', version: '1.0.0' }, { capabilities });
  await client.connect(new StreamClientTransport(input, output));
  let closed: Promise<HttpUpstreamProxyExit> | undefined;
  const b: Bridge = {
    client,
    gate,
    get upstream() {
      return upstream;
    },
    exit,
    close() {
      closed ??= client.close().then(() => exit);
      return closed;
    },
  };
  open.push(b);
  return b;
}

describe('upstream mode (stdio client -> Streamable HTTP server)', () => {
  it('lists tools and calls one, with the decision made before forwarding', async () => {
    const { client, gate } = await bridge(everything.url);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    const r = await client.callTool({ name: 'echo', arguments: { message: 'over http' } });
    expect(text(r)).toBe('Echo: over http');
    expect(gate.decisions.map((d) => d.call)).toEqual([
      { tool: 'echo', args: { message: 'over http' }, task: false },
    ]);
    expect(gate.commits).toBe(1);
  });

  it('answers a denied call itself and never forwards it', async () => {
    const { client, gate } = await bridge(everything.url, ['get-sum']);
    const r = (await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })) as TextResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('[TOLLGATE POLICY DENIED]');
    expect(text(r)).toContain('get-sum is denied by the test policy');
    expect(gate.commits).toBe(0);
  });

  it('carries an elicitation request from the server during a pending call', async () => {
    const { client } = await bridge(everything.url, [], { elicitation: {} });
    let asked = '';
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked = String(req.params.message);
      return { action: 'accept', content: { name: 'Ada Lovelace', check: true, email: 'ada@example.com' } };
    });
    const r = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(asked).toContain('Please provide inputs');
    expect(text(r)).toContain('Ada Lovelace');
  });

  it('carries a sampling request from the server during a pending call', async () => {
    const { client } = await bridge(everything.url, [], { sampling: {} });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: 'sampled by the test client' },
    }));
    const r = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi' } });
    expect(text(r)).toContain('sampled by the test client');
  });

  it('delivers notifications/initialized before the next request, however slowly the server takes it in', async () => {
    // A bare Streamable HTTP endpoint that records the order messages reach it in, and takes
    // 150 ms over each notification: a request POSTed while one is in flight would overtake it.
    const seen: string[] = [];
    const server = createServer((req, res) => {
      if (req.method !== 'POST') {
        // No GET stream, no session to DELETE.
        res.writeHead(405).end();
        return;
      }
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', async () => {
        const msg = JSON.parse(body) as { id?: number | string; method?: string };
        if (msg.id === undefined) {
          await new Promise((r) => setTimeout(r, 150));
          seen.push(msg.method ?? 'response');
          res.writeHead(202).end();
          return;
        }
        seen.push(msg.method ?? '');
        const result =
          msg.method === 'initialize'
            ? { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'order', version: '1' } }
            : {};
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'order-1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const { client } = await bridge(`http://127.0.0.1:${port}/mcp`);
      await client.ping();
      expect(seen).toEqual(['initialize', 'notifications/initialized', 'ping']);
    } finally {
      await Promise.all(open.splice(0).map((b) => b.close()));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('runs concurrent calls without queueing them behind a pending one', async () => {
    const { client } = await bridge(everything.url, [], { elicitation: {} });
    // The elicitation call stays pending until 40 other calls, started only once it is in
    // flight, have all been answered: a bridge that queued requests would deadlock here.
    let sums: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async () => {
      sums = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          client.callTool({ name: 'get-sum', arguments: { a: i, b: 1000 } }).then(text),
        ),
      );
      return { action: 'accept', content: { name: 'after the others' } };
    });
    const r = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(text(r)).toContain('after the others');
    expect(sums).toEqual(Array.from({ length: 40 }, (_, i) => `The sum of ${i} and 1000 is ${i + 1000}.`));
  });

  it('resumes a lost SSE stream with Last-Event-ID and still delivers the answer', async () => {
    const server = await startSdkHttpServer();
    const relay = await startRelay(server.port);
    try {
      const { client } = await bridge(`http://127.0.0.1:${relay.port}/mcp`);
      const seen: number[] = [];
      const call = client.callTool({ name: 'slow', arguments: { steps: 6, stepMs: 250 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      while (seen.length < 2) await new Promise((r) => setTimeout(r, 20));
      expect(relay.cut()).toBeGreaterThan(0);
      expect(text(await call)).toBe('done after 6 steps');
      // Progress sent while the stream was down arrives on the resumed one. (The last one may
      // lose the race with the result inside the SDK Client, which handles notifications a
      // microtask later than responses when both arrive in one stdio chunk.)
      expect(seen.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await relay.close();
      await server.close();
    }
  });

  it('answers with an error when a stream ends before its answer and cannot be resumed, and counts the call', async () => {
    const server = await startSdkHttpServer({ resumable: false });
    try {
      const { client, gate } = await bridge(server.url);
      await expect(client.callTool({ name: 'hang-up', arguments: {} })).rejects.toThrow(
        /MCP error -32000: MCP server over HTTP: the SSE stream ended before the answer; .*counts against the policy's limits/,
      );
      // The server got the call (it may be running it): no quota is given back.
      expect(gate.commits).toBe(1);
      expect(gate.rollbacks).toBe(0);
      const r = await client.callTool({ name: 'slow', arguments: { steps: 1, stepMs: 1 } });
      expect(text(r)).toBe('done after 1 steps');
    } finally {
      await server.close();
    }
  });

  it('does not pile abort listeners on the session signal, one per request', async () => {
    const b = await bridge(everything.url);
    for (let i = 0; i < 60; i++) await b.client.callTool({ name: 'get-sum', arguments: { a: i, b: 1 } });
    // The SDK passes its session-wide AbortSignal to every fetch; undici leaves a listener on it
    // per SSE response unless each request has its own signal (fetchWatched).
    const signal = (b.upstream as unknown as { sdk: { _abortController: AbortController } }).sdk
      ._abortController.signal;
    expect(getEventListeners(signal, 'abort').length).toBeLessThan(5);
    await b.close();
  });

  it('keeps Mcp-Session-Id and sends DELETE for it on exit', async () => {
    const b = await bridge(everything.url);
    await b.client.ping();
    const sid = b.upstream?.sessionId;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    const probe = () =>
      fetch(everything.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': sid!,
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      }).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      });
    expect(await probe()).toBe(200);
    await b.close();
    // server-everything answers 400 "No valid session ID" for a session it no longer has.
    expect(await probe()).toBe(400);
  });

  it('re-initialises after the server restarts mid-session', async () => {
    const b = await bridge(everything.url);
    expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'before' } }))).toBe(
      'Echo: before',
    );
    // A call in flight when the server dies is answered with an error, never left hanging, and
    // counts: over HTTP a server that died cannot be told from a connection cut after the call
    // was sent.
    const inFlight = b.client
      .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } })
      .then(
        () => 'answered',
        (err: Error) => err.message,
      );
    await new Promise((r) => setTimeout(r, 300));
    await everything.restart();
    expect(await inFlight).toMatch(/MCP error -32000: MCP server over HTTP/);
    expect(b.gate.commits).toBe(2);
    expect(b.gate.rollbacks).toBe(0);
    expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe(
      'Echo: after',
    );
    const exit = await b.close();
    expect(exit.reinitializations).toBe(1);
    expect(exit.exitCode).toBe(0);
  });

  it('retries every call the expired session refused on the new session, after one re-initialisation', async () => {
    // The server forgot the session (a restart) while six calls are on their way: each gets 404,
    // one after another, 150 ms apart. All six must run on one new session, and only what ran counts.
    const server = await startSdkHttpServer({ notFoundDelayMs: 150 });
    try {
      const b = await bridge(server.url);
      expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'first' } }))).toBe(
        'echo: first',
      );
      await server.forget();
      const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
      const answers = await Promise.all(
        names.map((message) =>
          b.client.callTool({ name: 'echo', arguments: { message } }).then(text, (err: Error) => err.message),
        ),
      );
      expect(answers).toEqual(names.map((n) => `echo: ${n}`));
      expect([...server.echoed].sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'first']);
      expect(server.sessions()).toHaveLength(2);
      expect(server.requests.filter((r) => r.rpc === 'initialize')).toHaveLength(2);
      // Every call counted once, because it ran once; none was failed and counted on top.
      expect(b.gate.commits).toBe(7);
      expect(b.gate.rollbacks).toBe(0);
      const exit = await b.close();
      expect(exit.reinitializations).toBe(1);
    } finally {
      await server.close();
    }
  });

  interface Reply {
    id: number;
    result?: { content?: unknown };
    error?: { code: number; message: string };
  }

  /**
   * `printf '...' | tollgate --upstream URL`: initialize, initialized and `more`, then EOF right
   * after the last message. Resolves with the answers by id once Tollgate has finished.
   */
  async function pipedSession(more: object[], drainTimeoutMs?: number) {
    const input = new PassThrough();
    const output = new PassThrough();
    const gate = new RecordingGate();
    const done = runHttpUpstreamProxy({
      url: everything.url,
      gate,
      input,
      output,
      ...(drainTimeoutMs !== undefined ? { drainTimeoutMs } : {}),
    });
    let got = '';
    output.on('data', (d: Buffer) => {
      got += d.toString();
    });
    const lines = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      ...more,
    ];
    input.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const exit = await done;
    const replies = got
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Reply);
    return { exit, gate, byId: new Map(replies.map((r) => [r.id, r])) };
  }

  const longCall = (id: number, seconds: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps: seconds } },
  });

  it('on client EOF forwards what was sent, waits for the answers, and counts the calls', async () => {
    const { exit, gate, byId } = await pipedSession([
      longCall(2, 1),
      { jsonrpc: '2.0', id: 3, method: 'ping' },
    ]);
    expect(exit.exitCode).toBe(0);
    expect(byId.get(1)?.result).toBeDefined();
    expect(byId.get(2)?.error).toBeUndefined();
    expect(text(byId.get(2)?.result)).toContain('Long running operation completed');
    expect(byId.get(3)?.result).toEqual({});
    expect(gate.commits).toBe(1);
    expect(gate.rollbacks).toBe(0);
  });

  it('after the drain wait, a call still unanswered gets an error and still counts', async () => {
    const { gate, byId } = await pipedSession([longCall(2, 10)], 300);
    const reply = byId.get(2);
    expect(reply?.error?.code).toBe(-32000);
    expect(reply?.error?.message).toMatch(
      /^Tollgate closed the session \(the client closed its input\) before the MCP server answered/,
    );
    // Forwarded, so the server may run it: hanging up must not give the quota back.
    expect(gate.commits).toBe(1);
    expect(gate.rollbacks).toBe(0);
  });

  it('holds what follows a piped initialize until its answer: one session, one initialized, DELETEd at exit', async () => {
    // `printf '<initialize>\n<initialized>\n<call>\n' | tollgate --upstream URL`: the notification
    // must not go out before the answer that carries the session id (it would get 400, be taken
    // for an expired session and open a second one).
    const server = await startSdkHttpServer();
    try {
      const input = new PassThrough();
      const output = new PassThrough();
      const logged: string[] = [];
      const at = (level: string) => (obj: object, msg?: string) => {
        logged.push(`${level}: ${msg ?? ''} ${JSON.stringify(obj)}`);
      };
      const done = runHttpUpstreamProxy({
        url: server.url,
        gate: new RecordingGate(),
        input,
        output,
        logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
      });
      let got = '';
      output.on('data', (d: Buffer) => {
        got += d.toString();
      });
      input.end(
        [
          {
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: {
              protocolVersion: '2025-11-25',
              capabilities: {},
              clientInfo: { name: 't', version: '1' },
            },
          },
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          {
            jsonrpc: '2.0',
            id: 2,
            method: 'tools/call',
            params: { name: 'echo', arguments: { message: 'piped' } },
          },
        ]
          .map((l) => `${JSON.stringify(l)}\n`)
          .join(''),
      );
      const exit = await done;
      const replies = got
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Reply);
      expect(text(replies.find((r) => r.id === 2)?.result)).toBe('echo: piped');
      expect(exit.reinitializations).toBe(0);
      const sessions = server.sessions();
      expect(sessions).toHaveLength(1);
      const sid = sessions[0]!;
      expect(server.requests.filter((r) => r.refused !== undefined)).toEqual([]);
      expect(server.requests.filter((r) => r.rpc === 'initialize')).toHaveLength(1);
      expect(server.requests.filter((r) => r.rpc === 'notifications/initialized')).toEqual([
        { http: 'POST', session: sid, rpc: 'notifications/initialized' },
      ]);
      expect(server.requests.filter((r) => r.http === 'GET').length).toBeLessThanOrEqual(1);
      expect(server.requests.filter((r) => r.http === 'DELETE')).toEqual([{ http: 'DELETE', session: sid }]);
      expect(logged.filter((l) => /expired|re-initialis/.test(l))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  for (const json of [true, false]) {
    it(`imposes no time limit of its own on a call answered ${json ? 'with a plain JSON body' : 'on a silent SSE stream'}`, async () => {
      // fetch's default dispatcher gives up after 300 s without response headers (a JSON answer
      // comes whole, after the tool ran) or without body bytes (an SSE stream silent while the
      // tool runs). Shortened here to 300 ms in the global dispatcher, which Node's fetch uses:
      // a call of 1.5 s must still get its answer, so the proxy must not depend on it.
      const server = await startSdkHttpServer({ json, resumable: false });
      const original = getGlobalDispatcher();
      setGlobalDispatcher(new Agent({ headersTimeout: 300, bodyTimeout: 300 }));
      try {
        const { client } = await bridge(server.url);
        const r = await client.callTool({ name: 'sleep', arguments: { ms: 1500 } });
        expect(text(r)).toBe('slept 1500');
        // And the agent the proxy uses instead has no such timeouts at all (0: none).
        expect(UPSTREAM_AGENT_OPTIONS).toEqual({ headersTimeout: 0, bodyTimeout: 0 });
      } finally {
        setGlobalDispatcher(original);
        await Promise.all(open.splice(0).map((b) => b.close()));
        await server.close();
      }
    });
  }

  it('answers with a JSON-RPC error, not a hang, when the server is unreachable', async () => {
    const port = await freePort();
    const input = new PassThrough();
    const output = new PassThrough();
    const done = runHttpUpstreamProxy({
      url: `http://127.0.0.1:${port}/mcp`,
      gate: new RecordingGate(),
      input,
      output,
    });
    const got = new Promise<string>((resolve) => output.once('data', (d: Buffer) => resolve(d.toString())));
    input.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`,
    );
    const reply = JSON.parse(await got) as { id: number; error: { code: number; message: string } };
    expect(reply.id).toBe(7);
    expect(reply.error.code).toBe(-32000);
    expect(reply.error.message).toMatch(
      /could not be reached: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/,
    );
    input.end();
    expect((await done).exitCode).toBe(0);
  });
});
