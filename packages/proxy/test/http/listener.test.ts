/**
 * Listener mode end to end: the SDK's real `Client` over `StreamableHTTPClientTransport`,
 * Tollgate's listener, and the real server-everything as a stdio child per session or over HTTP.
 */
import { execSync, spawn } from 'node:child_process';
import { type IncomingMessage, request } from 'node:http';
import { connect as connectTcp } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HttpListener, type HttpSessionInfo, runHttpListener } from '../../src/http/listener.js';
import { silentLogger } from '../../src/logger.js';
import {
  type EverythingHttp,
  everythingStdio,
  freePort,
  RecordingGate,
  startEverythingHttp,
  startSdkHttpServer,
} from './helpers.js';

type TextResult = { content: Array<{ type: string; text?: string }>; isError?: boolean };
const text = (r: unknown) => (r as TextResult).content.map((c) => c.text ?? '').join('');

const listeners: HttpListener[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

async function listen(opts: Partial<Parameters<typeof runHttpListener>[0]> = {}) {
  const gate = new RecordingGate(new Set(['get-sum']));
  const listener = await runHttpListener({
    gate,
    upstream: { kind: 'stdio', ...everythingStdio(), shutdownGraceMs: 500 },
    env: {},
    ...opts,
  });
  listeners.push(listener);
  return { listener, gate };
}

async function connect(url: URL, headers: Record<string, string> = {}, capabilities = {}) {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  const client = new Client({ name: 'listener-e2e', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
function post(url: URL, headers: Record<string, string>, body = initialize) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.text() }));
}

/**
 * Starts a `tools/call` of server-everything's long-running operation (`seconds` long) on its own
 * POST in session `sid`, and cuts that POST 300 ms later: the call runs on upstream, its client
 * stream gone.
 */
async function cutLongCall(url: URL, sid: string, id: string | number, seconds: number): Promise<void> {
  const cut = new AbortController();
  const call = fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sid,
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps: seconds } },
    }),
    signal: cut.signal,
  }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  cut.abort();
  await call;
}

describe('listener mode, stdio child per session', () => {
  it('serves a session and gives the gate the session id and client identity', async () => {
    const { listener, gate } = await listen();
    const { client, transport } = await connect(listener.url);
    const r = await client.callTool({ name: 'echo', arguments: { message: 'via listener' } });
    expect(text(r)).toBe('Echo: via listener');
    expect(listener.sessionIds()).toEqual([transport.sessionId]);
    expect(gate.decisions[0]?.ctx).toEqual({
      sessionId: transport.sessionId,
      clientId: 'anonymous@127.0.0.1 (listener-e2e)',
      clientName: 'listener-e2e',
      transport: 'http',
    });
  });

  it('denies over HTTP with an isError result and forwards nothing', async () => {
    const { listener, gate } = await listen();
    const { client } = await connect(listener.url);
    const r = (await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })) as TextResult;
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('[TOLLGATE POLICY DENIED] get-sum is denied by the test policy');
    expect(gate.commits).toBe(0);
  });

  it('carries an elicitation during a call to the HTTP client', async () => {
    const { listener } = await listen();
    const { client } = await connect(listener.url, {}, { elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { name: 'Grace Hopper', check: true },
    }));
    const r = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(text(r)).toContain('Grace Hopper');
  });

  it('gives every session its own child and ends it on DELETE', async () => {
    const made: HttpSessionInfo[] = [];
    const { listener } = await listen({
      gate: (info) => {
        made.push(info);
        return new RecordingGate();
      },
    });
    const a = await connect(listener.url);
    const b = await connect(listener.url);
    const envA = text(await a.client.callTool({ name: 'get-env', arguments: {} }));
    expect(envA.length).toBeGreaterThan(0);
    expect(listener.sessionCount).toBe(2);
    expect(made.map((m) => m.sessionId).sort()).toEqual(
      [a.transport.sessionId, b.transport.sessionId].sort(),
    );
    await a.transport.terminateSession();
    await new Promise((r) => setTimeout(r, 100));
    expect(listener.sessionIds()).toEqual([b.transport.sessionId]);
    const gone = await post(listener.url, { 'mcp-session-id': a.transport.sessionId ?? 'x' });
    expect(gone.status).toBe(404);
  });

  it('evaluates every element of a JSON-RPC batch: a batch cannot smuggle a call past the policy', async () => {
    const { listener, gate } = await listen();
    const init = await post(listener.url, {});
    const sid = init.headers.get('mcp-session-id')!;
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    expect(
      (await post(listener.url, h, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })))
        .status,
    ).toBe(202);
    const batch = JSON.stringify([
      {
        jsonrpc: '2.0',
        id: 10,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'in batch' } },
      },
      {
        jsonrpc: '2.0',
        id: 11,
        method: 'tools/call',
        params: { name: 'get-sum', arguments: { a: 1, b: 2 } },
      },
    ]);
    const res = await post(listener.url, h, batch);
    expect(res.status).toBe(200);
    const replies = res.body
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l.length > 6)
      .map((l) => JSON.parse(l.slice(6)) as { id: number; result: TextResult });
    const byId = Object.fromEntries(replies.map((r) => [r.id, r.result]));
    expect(text(byId[10])).toBe('Echo: in batch');
    expect(byId[11]?.isError).toBe(true);
    expect(text(byId[11])).toContain('[TOLLGATE POLICY DENIED]');
    expect(gate.decisions.map((d) => [d.call.tool, d.decision.allowed])).toEqual([
      ['echo', true],
      ['get-sum', false],
    ]);
  });

  it("answers pending calls and ends the session when the session's child dies", async () => {
    const gate = new RecordingGate();
    const { listener } = await listen({ gate });
    const { client } = await connect(listener.url);
    const pending = client
      .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 10, steps: 10 } })
      .then(
        () => 'answered',
        (err: Error) => err.message,
      );
    await new Promise((r) => setTimeout(r, 300));
    const pids = execSync(`pgrep -P ${process.pid} -f "^${process.execPath} .*index.js stdio" || true`, {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(pids).toHaveLength(1);
    process.kill(Number(pids[0]), 'SIGKILL');
    expect(await pending).toMatch(/MCP error -32000: MCP server was killed by SIGKILL before answering/);
    expect(gate.rollbacks).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(listener.sessionCount).toBe(0);
    await expect(client.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(
      /404|Session not found/,
    );
  });

  it('runs many concurrent calls in one session', async () => {
    const { listener } = await listen({ gate: new RecordingGate() });
    const { client } = await connect(listener.url);
    const sums = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        client.callTool({ name: 'get-sum', arguments: { a: i, b: 1 } }).then(text),
      ),
    );
    expect(sums).toEqual(Array.from({ length: 50 }, (_, i) => `The sum of ${i} and 1 is ${i + 1}.`));
  });
});

/** The status of an `initialize` POSTed with node:http, which sends what fetch() will not (a forged Host, an absolute target). */
function rawPostStatus(opts: { host: string; port: number; path: string; headers?: Record<string, string> }) {
  return new Promise<number>((resolve, reject) => {
    const req = request({ ...opts, method: 'POST' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(initialize);
  });
}

/** The status of a POST /mcp written by hand with these header lines (node:http sends one Host). */
function rawHeadStatus(port: number, headerLines: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => {
      socket.write(
        `POST /mcp HTTP/1.1\r\n${headerLines}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(initialize)}\r\nConnection: close\r\n\r\n${initialize}`,
      );
    });
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
    });
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

/** A listener with a 1 s idle timeout, recording why sessions ended. */
async function idleListener() {
  const ended: string[] = [];
  const logger = {
    ...silentLogger,
    info: (o: object, msg?: string) => {
      if (msg === 'HTTP session ended') ended.push(String((o as { reason?: unknown }).reason));
    },
  };
  const { listener } = await listen({ sessionIdleMs: 1000, logger });
  return { listener, ended };
}

describe('idle sessions whose client holds its GET stream open', () => {
  const until = async (what: () => boolean, ms: number) => {
    for (const deadline = Date.now() + ms; !what() && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 50));
  };

  it('ends the session of a frozen SDK client (SIGSTOP), whose GET stream stays open', async () => {
    const { listener, ended } = await idleListener();
    // The SDK's real client in a process of its own, frozen once its GET stream is open.
    const script = `
      import { Client } from '@modelcontextprotocol/sdk/client/index.js';
      import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
      const transport = new StreamableHTTPClientTransport(new URL(process.argv[1]));
      await new Client({ name: 'frozen', version: '1' }).connect(transport);
      setTimeout(() => process.stdout.write('ready ' + transport.sessionId + '\\n'), 300);
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, listener.url.href], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const sid = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          const m = /ready (\S+)/.exec(d.toString());
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`client exited ${code}`)));
      });
      expect(listener.sessionIds()).toEqual([sid]);
      child.kill('SIGSTOP');
      const frozenAt = Date.now();
      // Idle after 1 s, pinged at the next check (1 s apart), ended at the one after.
      await until(() => listener.sessionCount === 0, 8000);
      expect(listener.sessionCount).toBe(0);
      expect(Date.now() - frozenAt).toBeLessThan(6000);
      expect(ended).toEqual(['idle timeout (its stream was open, but its client did not answer a ping)']);
      expect((await post(listener.url, { 'mcp-session-id': sid })).status).toBe(404);
    } finally {
      child.kill('SIGKILL');
      child.kill('SIGCONT');
    }
  }, 20_000);

  it('pings a client that holds its GET stream open, and ends the session when no answer comes', async () => {
    const { listener, ended } = await idleListener();
    const init = await post(listener.url, {});
    const sid = init.headers.get('mcp-session-id')!;
    const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    await post(
      listener.url,
      headers,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    );
    // The GET stream, read but never answered.
    const stream = await fetch(listener.url, { headers: { accept: 'text/event-stream', ...headers } });
    expect(stream.status).toBe(200);
    const body = stream.text();
    await until(() => listener.sessionCount === 0, 8000);
    expect(listener.sessionCount).toBe(0);
    expect(ended).toEqual(['idle timeout (its stream was open, but its client did not answer a ping)']);
    // The stream ends with the session, and carried one ping (besides what the server sent).
    const pings = (await body)
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { id?: string; method?: string })
      .filter((m) => m.method === 'ping');
    expect(pings).toHaveLength(1);
    expect(pings[0]?.id).toMatch(/^tollgate-ping-[0-9a-f-]{36}$/);
  }, 20_000);

  it('keeps the session of a live SDK client that answers the pings, GET stream and all', async () => {
    const { listener, ended } = await idleListener();
    const { client, transport } = await connect(listener.url);
    const errors: Error[] = [];
    transport.onerror = (err) => errors.push(err);
    // Several idle timeouts without a request: pinged, answered, kept.
    await new Promise((r) => setTimeout(r, 5000));
    expect(listener.sessionIds()).toEqual([transport.sessionId]);
    expect(ended).toEqual([]);
    expect(errors).toEqual([]);
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'still here' } }))).toBe(
      'Echo: still here',
    );
  }, 20_000);
});

describe('idle sessions whose client lost a POST stream', () => {
  it("pings on the GET stream, not on the lost POST's stream, and keeps a live client's session", async () => {
    const { listener, ended } = await idleListener();
    const { transport } = await connect(listener.url);
    const sid = transport.sessionId!;
    // A long call on a POST the client then loses (the call is still pending upstream).
    await cutLongCall(listener.url, sid, 'lost', 5);
    // Idle (no request) for several checks while the call runs: the ping must reach the client
    // on its GET stream, which the SDK answers.
    await new Promise((r) => setTimeout(r, 3500));
    expect(ended).toEqual([]);
    expect(listener.sessionIds()).toEqual([sid]);
  }, 20_000);
});

describe("a listener session's view of the gate", () => {
  it("keeps the gate's optional parts: policy names (variants refused) and needsToolSchema (no prefetch hold)", async () => {
    const gate = Object.assign(new RecordingGate(), {
      policyToolNames: () => ({ exact: ['get-env'], globs: [] }),
      needsToolSchema: () => false,
    });
    const { listener } = await listen({ gate });
    const { client } = await connect(listener.url);
    const refused = await client.callTool({ name: 'GET-ENV', arguments: {} }).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    expect(refused).toBe(
      'MCP error -32602: Invalid params: tool name "GET-ENV" differs from the tool "get-env" only by case or invisible characters (a server that ignores them would run that tool)',
    );
    expect(gate.decisions).toHaveLength(0);
  });
});

describe('listener front door', () => {
  it('rejects a foreign Origin and a foreign Host with 403, two of either with 400, accepts a loopback Origin', async () => {
    const { listener } = await listen();
    const foreign = await post(listener.url, { origin: 'https://evil.example.com' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error.message).toBe(
      'Forbidden: Origin https://evil.example.com is not allowed',
    );
    // fetch() will not send a forged Host header; node:http will, as a rebinding attack does.
    const host = await rawPostStatus({
      host: '127.0.0.1',
      port: listener.port,
      path: '/mcp',
      headers: { host: 'evil.example.com' },
    });
    expect(host).toBe(403);
    expect(listener.sessionCount).toBe(0);
    // Two Host (or Origin) headers: node keeps the first, a proxy in front may keep the other.
    for (const twice of [
      'Host: 127.0.0.1\r\nHost: evil.example.com',
      `Host: 127.0.0.1\r\nOrigin: http://localhost:${listener.port}\r\nOrigin: https://evil.example.com`,
    ]) {
      expect(await rawHeadStatus(listener.port, twice), twice).toBe(400);
    }
    expect(listener.sessionCount).toBe(0);
    // An absolute-form target names its own host (RFC 9112 3.2.2), past the Host check: refused.
    const absolute = await rawPostStatus({
      host: '127.0.0.1',
      port: listener.port,
      path: 'http://evil.example.com/mcp',
    });
    expect(absolute).toBe(400);
    expect(listener.sessionCount).toBe(0);
    const local = await post(listener.url, { origin: `http://localhost:${listener.port}` });
    expect(local.status).toBe(200);
    expect(local.headers.get('mcp-session-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ends a session whose initialize the upstream could not answer (nothing listens there)', async () => {
    const { listener } = await listen({
      upstream: { kind: 'http', url: `http://127.0.0.1:${await freePort()}/mcp` },
    });
    const r = await post(listener.url, {});
    expect(r.body).toMatch(/"error":\{"code":-32000/);
    const deadline = Date.now() + 5000;
    while (listener.sessionCount > 0 && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 25));
    expect(listener.sessionCount).toBe(0);
    const sid = r.headers.get('mcp-session-id');
    if (sid) {
      const ping = await post(
        listener.url,
        { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
        JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
      );
      expect(ping.status).toBe(404);
    }
  });

  it('accepts its own bind address as Host on any loopback bind (127.0.0.2, ::ffff:127.0.0.1)', async () => {
    for (const host of ['127.0.0.2', '::ffff:127.0.0.1']) {
      const { listener } = await listen({ host });
      // The URL it prints is the one clients use: its Host header must get in.
      const r = await post(listener.url, {});
      expect(r.status, `${host}: ${listener.url.href}`).toBe(200);
    }
  });

  it('requires the bearer token: missing and wrong get 401, right gets through', async () => {
    const { listener, gate } = await listen({ authTokens: ['s3cret-token'] });
    const missing = await post(listener.url, {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="tollgate"');
    const wrong = await post(listener.url, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body).error.message).toBe('Unauthorized: invalid bearer token');
    await expect(connect(listener.url, { authorization: 'Bearer wrong' })).rejects.toThrow(
      /Unauthorized: invalid bearer token/,
    );
    expect(listener.sessionCount).toBe(0);
    const { client } = await connect(listener.url, { authorization: 'Bearer s3cret-token' });
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'authed' } }))).toBe(
      'Echo: authed',
    );
    expect(gate.decisions[0]?.ctx?.clientId).toMatch(/^token:[0-9a-f]{8}@127\.0\.0\.1 \(listener-e2e\)$/);
  });

  it('binds a session to the token that opened it: another token cannot use it', async () => {
    const { listener } = await listen({ authTokens: ['token-alice', 'token-bob'] });
    const alice = await connect(listener.url, { authorization: 'Bearer token-alice' });
    const sid = alice.transport.sessionId!;
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' });
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    expect((await post(listener.url, { ...h, authorization: 'Bearer token-bob' }, ping)).status).toBe(404);
    expect((await post(listener.url, { ...h, authorization: 'Bearer token-alice' }, ping)).status).toBe(200);
    await alice.client.ping();
  });

  it('reads the token from TOLLGATE_AUTH_TOKEN', async () => {
    const { listener } = await listen({ env: { TOLLGATE_AUTH_TOKEN: 'from-env' } });
    expect((await post(listener.url, {})).status).toBe(401);
    expect((await post(listener.url, { authorization: 'Bearer from-env' })).status).toBe(200);
  });

  it('refuses a non-loopback bind without a token', async () => {
    await expect(
      runHttpListener({
        gate: new RecordingGate(),
        upstream: { kind: 'stdio', command: 'true' },
        host: '0.0.0.0',
        env: {},
      }),
    ).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without authentication/);
  });

  it('caps the request body with 413 and answers bad JSON with -32700', async () => {
    const { listener } = await listen({ maxBodyBytes: 1024 });
    const big = await post(
      listener.url,
      {},
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(4096) } }),
    );
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error.message).toMatch(/over the 1024-byte cap/);
    const bad = await post(listener.url, {}, '{"jsonrpc":');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe(-32700);
  });

  it('refuses a body that stops coming (408) and bodies in progress past their budget (503)', async () => {
    const { listener } = await listen({ bodyIdleMs: 300, bodyBudgetBytes: 3000 });
    /** Starts a POST declaring `declared` bytes, sends `sent` of them, and collects what comes back. */
    const partial = (declared: number, sent: number) =>
      new Promise<{ text: string; closed: boolean }>((resolve) => {
        const socket = connectTcp(Number(listener.url.port), '127.0.0.1');
        let text = '';
        socket.on('data', (d) => {
          text += d.toString();
        });
        socket.on('close', () => resolve({ text, closed: true }));
        socket.write(
          `POST ${listener.url.pathname} HTTP/1.1\r\nHost: 127.0.0.1:${listener.url.port}\r\n` +
            'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
            `Content-Length: ${declared}\r\n\r\n${'x'.repeat(sent)}`,
        );
      });
    const stalled = await partial(2000, 100);
    expect(stalled.closed).toBe(true);
    expect(stalled.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(stalled.text).toContain('Request timeout: no body bytes for 0.3 s');
    // Two bodies of 2,000 bytes in progress together pass the 3,000-byte budget: the second is refused.
    const first = partial(2000, 1900);
    await new Promise((r) => setTimeout(r, 100));
    const second = await partial(2000, 1900);
    expect(second.text).toMatch(/^HTTP\/1\.1 503 /);
    expect(second.text).toContain('too many request bodies in progress');
    expect(second.text.toLowerCase()).toContain('retry-after: 5');
    expect((await first).text).toMatch(/^HTTP\/1\.1 408 /);
    // The budget is given back: a whole body goes through.
    const ok = await post(listener.url, {});
    expect(ok.status).toBe(200);
  });

  it('holds a POST while the session server leaves 8 MiB of its input unread, then 503', async () => {
    // A server that stops reading its stdin once initialized (busy in a long synchronous tool).
    const stuck = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      rl.on('line', (l) => {
        const m = JSON.parse(l);
        if (m.method === 'initialize')
          process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: {}, serverInfo: { name: 'stuck', version: '1' } } }) + '\\n');
        if (m.method === 'notifications/initialized') { rl.close(); process.stdin.pause(); }
      });
      setInterval(() => {}, 1000);`;
    const { listener } = await listen({
      upstream: { kind: 'stdio', command: process.execPath, args: ['-e', stuck], shutdownGraceMs: 200 },
      maxBodyBytes: 5 * 1024 * 1024,
      inputWaitMs: 300,
    });
    const opened = await post(listener.url, {});
    const sid = opened.headers.get('mcp-session-id')!;
    const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    expect(
      (await post(listener.url, headers, '{"jsonrpc":"2.0","method":"notifications/initialized"}')).status,
    ).toBe(202);
    const big = JSON.stringify({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', data: 'x'.repeat(3.5 * 1024 * 1024) },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(listener.url, headers, big)).status);
    // 3.5 + 3.5 MiB are taken; past 8 MiB unread the next POST waits, and gets 503 when nothing drains.
    expect(statuses).toEqual([202, 202, 202, 503]);
  });

  it('closes the streams of a client that does not read them once their unread bytes pass the budget', async () => {
    // A server whose tool answers 16 MiB at once: more than the loopback socket buffers take, so
    // the rest waits in the listener's response buffer while the client does not read.
    const big = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
      rl.on('line', (l) => {
        const m = JSON.parse(l);
        if (m.method === 'initialize')
          out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'big', version: '1' } } });
        else if (m.method === 'tools/list') out({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'blob', inputSchema: { type: 'object' } }] } });
        else if (m.method === 'tools/call') out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: 'x'.repeat(16 * 1024 * 1024) }] } });
      });`;
    const warnings: unknown[] = [];
    const { listener } = await listen({
      upstream: { kind: 'stdio', command: process.execPath, args: ['-e', big], shutdownGraceMs: 200 },
      unreadBudgetBytes: 16 * 1024 * 1024,
      logger: { ...silentLogger, warn: (o: unknown) => warnings.push(o) },
    });
    const opened = await post(listener.url, {});
    const sid = opened.headers.get('mcp-session-id')!;
    const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    await post(listener.url, headers, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    /**
     * A `blob` call on its own POST; `read` decides how the client reads its answer stream: it
     * starts paused when `read` is 'later', else it takes a chunk every 5 ms.
     */
    const call = (id: number, read: 'later' | 'steadily') => {
      const got = {
        bytes: 0,
        cut: false,
        done: Promise.resolve(),
        res: undefined as IncomingMessage | undefined,
      };
      got.done = new Promise<void>((resolve) => {
        const req = request(
          listener.url,
          {
            method: 'POST',
            headers: {
              ...headers,
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
            },
          },
          (res) => {
            got.res = res;
            if (read === 'later') res.pause();
            res.on('data', (d: Buffer) => {
              got.bytes += d.length;
              if (read === 'later') return;
              res.pause();
              setTimeout(() => res.resume(), 5);
            });
            res.on('aborted', () => {
              got.cut = true;
            });
            res.on('error', () => {
              got.cut = true;
            });
            res.once('close', () => resolve());
          },
        );
        req.on('error', () => {
          got.cut = true;
          resolve();
        });
        req.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name: 'blob', arguments: {} },
          }),
        );
      });
      return got;
    };
    // Four calls whose answer streams the client does not read for now.
    const answers = Array.from({ length: 4 }, (_, i) => call(100 + i, 'later'));
    // A fifth client reads its answer steadily: it holds much unread for a while too, but takes
    // bytes all the time, and must never be the one closed.
    const steady = call(150, 'steadily');
    // 80 MiB answered and mostly unread: past its 16 MiB budget the listener closes the streams
    // that hold the most and took nothing for a second, instead of keeping every answer in memory.
    const deadline = Date.now() + 15_000;
    while (warnings.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toMatchObject({ session: sid });
    // Streams fall a second behind at slightly different times: within a few seconds the total
    // is back under the budget.
    const under = Date.now() + 5000;
    while (listener.unreadBytes > 16 * 1024 * 1024 && Date.now() < under)
      await new Promise((r) => setTimeout(r, 100));
    expect(listener.unreadBytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    // Reading now, the client finds the closed streams cut short.
    for (const a of answers) a.res?.resume();
    await Promise.all(answers.map((a) => a.done));
    const cut = answers.filter((a) => a.cut);
    expect(cut.length).toBeGreaterThan(0);
    for (const a of cut) expect(a.bytes).toBeLessThan(16 * 1024 * 1024);
    await steady.done;
    expect(steady.cut).toBe(false);
    expect(steady.bytes).toBeGreaterThan(16 * 1024 * 1024);
    // The session still serves a client that reads.
    const after = await post(
      listener.url,
      headers,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 200,
        method: 'tools/call',
        params: { name: 'blob', arguments: {} },
      }),
    );
    expect(after.status).toBe(200);
    expect(after.body.length).toBeGreaterThan(16 * 1024 * 1024);
  });

  it("passes on the client's answer to a server request whose id looks like Tollgate's own ping", async () => {
    // The server asks the client for its roots with the id `tollgate-ping-7` while a call runs,
    // and answers the call with what it got: only answers to pings Tollgate sent are its own.
    const asker = `
      const rl = require('node:readline').createInterface({ input: process.stdin });
      const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
      let call;
      rl.on('line', (l) => {
        const m = JSON.parse(l);
        if (m.method === 'initialize')
          out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'asker', version: '1' } } });
        else if (m.method === 'tools/list') out({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'roots', inputSchema: { type: 'object' } }] } });
        else if (m.method === 'tools/call') { call = m.id; out({ jsonrpc: '2.0', id: 'tollgate-ping-7', method: 'roots/list' }); }
        else if (m.id === 'tollgate-ping-7' && m.result)
          out({ jsonrpc: '2.0', id: call, result: { content: [{ type: 'text', text: m.result.roots.map((r) => r.uri).join(',') }] } });
      });`;
    const { listener } = await listen({
      upstream: { kind: 'stdio', command: process.execPath, args: ['-e', asker], shutdownGraceMs: 200 },
    });
    const { client } = await connect(listener.url, {}, { roots: {} });
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///work' }] }));
    const r = (await client.callTool({ name: 'roots', arguments: {} }, undefined, { timeout: 5000 })) as {
      content: Array<{ text: string }>;
    };
    expect(r.content[0]!.text).toBe('file:///work');
  });

  it('caps sessions with 503 and ends idle sessions', async () => {
    const { listener } = await listen({ maxSessions: 1, sessionIdleMs: 1000 });
    const first = await post(listener.url, {});
    expect(first.status).toBe(200);
    const second = await post(listener.url, {});
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('5');
    expect(listener.sessionCount).toBe(1);
    while (listener.sessionCount > 0) await new Promise((r) => setTimeout(r, 100));
    const sid = first.headers.get('mcp-session-id')!;
    expect((await post(listener.url, { 'mcp-session-id': sid })).status).toBe(404);
    expect((await post(listener.url, {})).status).toBe(200);
  });

  it("ends a session soon after its SDK client's close() (no DELETE), not at the idle timeout", async () => {
    const { listener } = await listen({ streamGoneMs: 1500 });
    const { client: leaving } = await connect(listener.url);
    const { client: staying } = await connect(listener.url);
    expect((await leaving.callTool({ name: 'echo', arguments: { message: 'a' } })).isError).toBeFalsy();
    expect(listener.sessionCount).toBe(2);
    await leaving.close();
    // Still there within the grace (a client whose stream dropped has it to reconnect) ...
    await new Promise((r) => setTimeout(r, 700));
    expect(listener.sessionCount).toBe(2);
    // ... ended after it; the client that keeps its stream open keeps its session and calls on.
    for (let waited = 0; waited < 5000 && listener.sessionCount > 1; waited += 100)
      await new Promise((r) => setTimeout(r, 100));
    expect(listener.sessionCount).toBe(1);
    await new Promise((r) => setTimeout(r, 2000));
    expect(listener.sessionCount).toBe(1);
    expect((await staying.callTool({ name: 'echo', arguments: { message: 'b' } })).isError).toBeFalsy();
  }, 20_000);

  it('keeps the session of a client that lost its stream but calls on', async () => {
    const { listener } = await listen({ streamGoneMs: 1000 });
    const sid = (await post(listener.url, {})).headers.get('mcp-session-id')!;
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    await post(listener.url, h, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const stream = new AbortController();
    const get = await fetch(listener.url, {
      headers: { ...h, accept: 'text/event-stream' },
      signal: stream.signal,
    });
    expect(get.status).toBe(200);
    stream.abort();
    // Calls every 400 ms for 3 s, three times the grace: the session stays.
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 400));
      const ping = await post(
        listener.url,
        h,
        JSON.stringify({ jsonrpc: '2.0', id: 10 + i, method: 'ping' }),
      );
      expect(ping.status, `ping ${i}`).toBe(200);
    }
    // And when it then pauses for longer than the grace: only the idle timeout ends it now.
    await new Promise((r) => setTimeout(r, 2500));
    expect(listener.sessionCount).toBe(1);
    expect(
      (await post(listener.url, h, JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }))).status,
    ).toBe(200);
  }, 20_000);

  it('does not end a session as idle while a call of it is pending upstream (its client POST was cut)', async () => {
    const { listener } = await listen({ sessionIdleMs: 1000 });
    const init = await post(listener.url, {});
    const sid = init.headers.get('mcp-session-id')!;
    await post(
      listener.url,
      { 'mcp-session-id': sid },
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    );
    await cutLongCall(listener.url, sid, 2, 4);
    // Past the idle timeout (and its check interval) with the call still running upstream.
    await new Promise((r) => setTimeout(r, 2500));
    expect(listener.sessionCount).toBe(1);
    // Answered, then idle: ended.
    for (let waited = 0; waited < 8000 && listener.sessionCount > 0; waited += 100)
      await new Promise((r) => setTimeout(r, 100));
    expect(listener.sessionCount).toBe(0);
  }, 20_000);

  it('says why it cannot listen on a port in use', async () => {
    const { listener } = await listen();
    await expect(listen({ port: Number(listener.url.port) })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${listener.url.port}: EADDRINUSE: the port is in use (another process, or another Tollgate, listens there); choose another --port, or --port 0 for a free one`,
    );
  });

  it('answers 404 for an unknown session and 400 without one', async () => {
    const { listener } = await listen();
    expect((await post(listener.url, { 'mcp-session-id': 'no-such-session' })).status).toBe(404);
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect((await post(listener.url, {}, ping)).status).toBe(400);
  });
});

/** A stdio child that answers each tools/call with the line it received. */
const RAW_ECHO_CHILD = `process.stdin.setEncoding('utf8'); let rest = '';
process.stdin.on('data', (c) => { const lines = (rest + c).split('\\n'); rest = lines.pop();
  for (const line of lines) { if (!line.trim()) continue; const m = JSON.parse(line); if (m.id === undefined) continue;
    const result = m.method === 'initialize' ? { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'raw', version: '1' } }
      : m.method === 'tools/list' ? { tools: [{ name: 'work', inputSchema: { type: 'object' } }] }
      : { content: [{ type: 'text', text: line }] };
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n'); } });`;

describe('listener sessions and request ids', () => {
  const rawInit = (id: unknown) =>
    JSON.stringify({
      jsonrpc: '2.0',
      ...(id === undefined ? {} : { id }),
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });

  it('refuses an initialize that cannot open a usable session before spawning anything', async () => {
    const { listener } = await listen({ maxSessions: 2 });
    // As a notification it would get 202 with no session id: a session nobody can use or end.
    for (let i = 0; i < 3; i++) {
      const r = await post(listener.url, {}, rawInit(undefined));
      expect(r.status).toBe(400);
      expect(r.body).toContain('a notification cannot open a session');
    }
    expect((await post(listener.url, {}, rawInit(null))).status).toBe(400);
    expect((await post(listener.url, {}, `[${rawInit(1)}]`)).body).toContain('not in a batch');
    expect((await post(listener.url, {}, rawInit('\ud800'))).body).toContain('lone surrogate');
    // Any refusal of the body comes before the session: not JSON-RPC 2.0, a case-variant member.
    expect((await post(listener.url, {}, rawInit(1).replace('"2.0"', '"1.0"'))).status).toBe(400);
    expect((await post(listener.url, {}, rawInit(1).replace('"params"', '"Params"'))).status).toBe(400);
    // JSON, but a member JSON-RPC does not define: -32600 with its id, not the SDK's -32700.
    const extra = await post(listener.url, {}, rawInit(4).replace('{', '{"extra":1,'));
    expect(extra.status).toBe(400);
    expect(JSON.parse(extra.body)).toMatchObject({ id: 4, error: { code: -32600 } });
    // Params the MCP schema refuses: -32602 naming the fields, with the request's id, not the
    // SDK's "Server not initialized" after a server was started for it.
    for (let i = 0; i < 3; i++) {
      const r = await post(
        listener.url,
        {},
        JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'initialize', params: { capabilities: {} } }),
      );
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({
        jsonrpc: '2.0',
        id: 7,
        error: {
          code: -32602,
          message:
            'Invalid params: initialize params.protocolVersion: Invalid input: expected string, received undefined; params.clientInfo: Invalid input: expected object, received undefined',
        },
      });
    }
    expect(listener.sessionCount).toBe(0);
    // The cap was not used up: real clients still get sessions.
    expect((await post(listener.url, {})).status).toBe(200);
  });

  it('ends a session whose client went away before its initialize was answered', async () => {
    const { listener } = await listen();
    const aborted = new AbortController();
    const started = fetch(listener.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: initialize,
      signal: aborted.signal,
    }).catch(() => undefined);
    // Abort while the child is still starting (server-everything takes longer than this).
    while (listener.sessionCount === 0) await new Promise((r) => setTimeout(r, 5));
    aborted.abort();
    await started;
    const deadline = Date.now() + 5000;
    while (listener.sessionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(listener.sessionCount).toBe(0);
  });

  it('refuses a request reusing a pending id without losing the first request its answer', async () => {
    const { listener, gate } = await listen();
    const init = await post(listener.url, {});
    const h = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    await post(listener.url, h, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const call = (id: number, name: string, args: object) =>
      JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
    const first = post(listener.url, h, call(8, 'trigger-long-running-operation', { duration: 1, steps: 1 }));
    await new Promise((r) => setTimeout(r, 300));
    const second = await post(listener.url, h, JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping' }));
    expect(second.status).toBe(400);
    expect(JSON.parse(second.body)).toMatchObject({
      id: 8,
      error: {
        code: -32600,
        message: expect.stringContaining('already used by a request awaiting its answer'),
      },
    });
    const answered = await first;
    expect(answered.body).toMatch(/"id":8,"result"|"result".*"id":8/);
    // Two requests under one id in one batch: refused whole, nothing decided or forwarded.
    const decided = gate.decisions.length;
    const dup = await post(
      listener.url,
      h,
      `[${call(9, 'echo', { message: 'a' })},${call(9, 'echo', { message: 'b' })}]`,
    );
    expect(dup.status).toBe(400);
    expect(JSON.parse(dup.body).id).toBe(9);
    expect(gate.decisions).toHaveLength(decided);
  });

  it('answers a request whose id cannot be echoed on its own POST, and the session keeps working', async () => {
    const { listener } = await listen();
    const { client, transport } = await connect(listener.url);
    const r = await post(
      listener.url,
      { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
      // JSON.stringify writes the lone surrogate as the escape \ud800 (well-formed JSON).
      JSON.stringify({ jsonrpc: '2.0', id: '\ud800', method: 'ping' }),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ id: null, error: { code: -32600 } });
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'still here' } }))).toBe(
      'Echo: still here',
    );
  });

  it('answers an empty batch and valid JSON that is no JSON-RPC message with -32600, as over stdio', async () => {
    const { listener } = await listen();
    const init = await post(listener.url, {});
    const h = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    const cases: Array<[string, unknown, string]> = [
      ['[]', null, 'empty batch'],
      ['{"foo":1}', null, 'jsonrpc must be "2.0"'],
      ['[1]', null, 'not a JSON-RPC message object'],
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', null, 'id must be a string or a number'],
      ['{"jsonrpc":"2.0","id":4}', 4, 'neither a request, a notification nor a response'],
      ['{"jsonrpc":"2.0","id":null,"method":"ping"}', null, 'a request id must not be null'],
      ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}', 1.5, 'a request id must be a string or an integer'],
      [
        '{"jsonrpc":"2.0","ID":5,"method":"ping"}',
        null,
        'member name "ID" differs from "id" only by case (decoders that ignore case would read it as that member)',
      ],
    ];
    for (const [body, id, problem] of cases) {
      const r = await post(listener.url, h, body);
      expect(r.status, body).toBe(400);
      expect(JSON.parse(r.body), body).toEqual({
        jsonrpc: '2.0',
        id,
        error: { code: -32600, message: `Invalid Request: ${problem}` },
      });
    }
  });

  it('forwards the text the client sent, as over stdio: digits a double rounds, names written twice', async () => {
    const gate = new RecordingGate();
    const { listener } = await listen({
      gate,
      upstream: { kind: 'stdio', command: process.execPath, args: ['-e', RAW_ECHO_CHILD] },
    });
    const init = await post(listener.url, {});
    const h = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    await post(listener.url, h, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const sse = (body: string) =>
      body
        .split('\n')
        .filter((l) => l.startsWith('data: ') && l.length > 6)
        .map(
          (l) =>
            JSON.parse(l.slice(6)) as {
              id: unknown;
              result?: TextResult;
              error?: { code: number; message: string };
            },
        );
    // Pretty-printed, with a number past 2^53: the child gets it on one line, digits intact.
    const sent =
      '{"jsonrpc":"2.0",\n "id":2,\r\n "method":"tools/call",\n "params":{"name":"work","arguments":{"to":9007199254740993,"x":1e400,"z":-0}}}';
    const r = sse((await post(listener.url, h, sent)).body);
    expect(r.map((m) => m.id)).toEqual([2]);
    expect(text(r[0]!.result)).toBe(sent.replace(/[\r\n]/g, ' '));
    // A name written twice in the call's params: refused with -32602 as over stdio, never forwarded.
    const dup = sse(
      (
        await post(
          listener.url,
          h,
          '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"forbidden","name":"work"}}',
        )
      ).body,
    );
    expect(dup).toEqual([
      {
        jsonrpc: '2.0',
        id: 3,
        error: { code: -32602, message: expect.stringContaining('appears twice') },
      },
    ]);
    // A JSON-RPC member written twice: refused before the SDK, which would answer the last id only.
    const twice = await post(listener.url, h, '{"jsonrpc":"2.0","id":4,"method":"ping","id":5}');
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message: 'Invalid Request: member "id" appears twice (decoders differ on which one counts)',
      },
    });
    expect(gate.decisions.map((d) => d.call.tool)).toEqual(['work']);
  });

  it('applies --max-message-bytes to both directions: a request over it gets 400, a result over it -32603', async () => {
    const gate = new RecordingGate();
    const { listener } = await listen({
      gate,
      maxMessageBytes: 1000,
      upstream: { kind: 'stdio', command: process.execPath, args: ['-e', RAW_ECHO_CHILD] },
    });
    const init = await post(listener.url, {});
    const h = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    await post(listener.url, h, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const call = (id: number, pad: number) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'work', arguments: { pad: 'x'.repeat(pad) } },
      });
    const over = await post(listener.url, h, call(2, 1000));
    expect(over.status).toBe(400);
    expect(JSON.parse(over.body)).toMatchObject({
      id: 2,
      error: {
        code: -32600,
        message: expect.stringMatching(
          /^Invalid Request: message of 10\d\d bytes is over the cap of 1000 bytes/,
        ),
      },
    });
    expect(gate.decisions).toHaveLength(0);
    // Under the cap going in; its echo (the line, quoted) is over it coming back.
    const request = call(3, 880);
    expect(request.length).toBeLessThan(1000);
    const back = await post(listener.url, h, request);
    expect(back.body).toMatch(/"code":-32603/);
    expect(gate.decisions).toHaveLength(1);
    expect(gate.commits).toBe(1);
  });

  it('counts a call whose session the client deletes before the answer: hanging up is no way around a limit', async () => {
    const gate = new RecordingGate();
    const { listener } = await listen({ gate });
    const { client, transport } = await connect(listener.url);
    const pending = client
      .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 10, steps: 10 } })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    await transport.terminateSession();
    await pending;
    const deadline = Date.now() + 5000;
    while (listener.sessionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(listener.sessionCount).toBe(0);
    expect(gate.commits).toBe(1);
    expect(gate.rollbacks).toBe(0);
  });
});

describe('listener methods', () => {
  it('answers PUT, PATCH, OPTIONS and HEAD with 405 and an Allow header, before any session check', async () => {
    const { listener } = await listen();
    for (const method of ['PUT', 'PATCH', 'OPTIONS', 'HEAD']) {
      const r = await fetch(listener.url, { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.get('allow'), method).toBe('GET, POST, DELETE');
      if (method !== 'HEAD') {
        expect(((await r.json()) as { error: { message: string } }).error.message).toBe(
          `Method not allowed: ${method}; the MCP endpoint accepts GET, POST, DELETE`,
        );
      }
    }
    // With a session id too: the method is wrong whatever the session.
    const opened = await post(listener.url, {});
    const sid = opened.headers.get('mcp-session-id')!;
    const put = await fetch(listener.url, { method: 'PUT', headers: { 'mcp-session-id': sid }, body: '{}' });
    expect(put.status).toBe(405);
    expect((await fetch(listener.url, { method: 'PUT', headers: { 'mcp-session-id': 'nope' } })).status).toBe(
      405,
    );
    expect(listener.sessionCount).toBe(1);
  });

  it('checks the token before the method: an unauthenticated PUT gets 401', async () => {
    const { listener } = await listen({ authTokens: ['s3cret-token'] });
    expect((await fetch(listener.url, { method: 'PUT' })).status).toBe(401);
    const authed = await fetch(listener.url, {
      method: 'PUT',
      headers: { authorization: 'Bearer s3cret-token' },
    });
    expect(authed.status).toBe(405);
  });
});

/** A raw request with node:http (fetch will not send a preflight's headers or a forged Host). */
function raw(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      const done = () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        });
      // The GET stream stays open: its headers are what the test needs.
      if (method === 'GET' && String(res.headers['content-type']).startsWith('text/event-stream')) {
        res.destroy();
        return done();
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('listener CORS for --allowed-origin', () => {
  const APP = 'https://app.example.com';
  const preflight = (extra: Record<string, string> = {}) => ({
    origin: APP,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'content-type,authorization,mcp-protocol-version',
    ...extra,
  });
  const corsOf = (h: Record<string, string | string[] | undefined>) =>
    Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('access-control-') || k === 'vary'));
  const actual = {
    'access-control-allow-origin': APP,
    vary: 'Origin',
    'access-control-expose-headers': 'Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate',
  };

  it('answers the preflight of an allowed origin with 204 and the CORS headers, without the token', async () => {
    const { listener } = await listen({ allowedOrigins: [APP], authTokens: ['s3cret-token'] });
    for (const method of ['POST', 'GET', 'DELETE']) {
      const r = await raw(listener.url, 'OPTIONS', preflight({ 'access-control-request-method': method }));
      expect(r.status, method).toBe(204);
      expect(r.body).toBe('');
      expect(corsOf(r.headers), method).toEqual({
        'access-control-allow-origin': APP,
        vary: 'Origin',
        'access-control-allow-methods': 'GET, POST, DELETE',
        'access-control-allow-headers':
          'Content-Type, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept',
        'access-control-max-age': '600',
      });
      expect(r.headers['access-control-allow-credentials']).toBeUndefined();
    }
    expect(listener.sessionCount).toBe(0);
  });

  it('refuses the preflight of an origin that is not listed with 403 and no CORS headers', async () => {
    const { listener } = await listen({ allowedOrigins: [APP] });
    const foreign = await raw(listener.url, 'OPTIONS', preflight({ origin: 'https://evil.example.com' }));
    expect(foreign.status).toBe(403);
    expect(corsOf(foreign.headers)).toEqual({});
    expect(JSON.parse(foreign.body).error.message).toBe(
      'Forbidden: Origin https://evil.example.com is not allowed',
    );
    // A loopback origin passes the Origin check of a loopback bind, but it is not listed: no CORS.
    const local = await raw(listener.url, 'OPTIONS', preflight({ origin: 'http://localhost:3000' }));
    expect(local.status).toBe(403);
    expect(corsOf(local.headers)).toEqual({});
    expect(JSON.parse(local.body).error.message).toBe(
      'Forbidden: cross-origin requests from http://localhost:3000 are not allowed (list the origin with --allowed-origin)',
    );
    // The Host check still comes first, whatever the Origin.
    const rebound = await raw(listener.url, 'OPTIONS', preflight({ host: 'evil.example.com' }));
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.message).toBe('Forbidden: Host evil.example.com is not allowed');
  });

  it('answers the preflight of a method the endpoint does not have with 405', async () => {
    const { listener } = await listen({ allowedOrigins: [APP] });
    const r = await raw(listener.url, 'OPTIONS', preflight({ 'access-control-request-method': 'PUT' }));
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, POST, DELETE');
    expect(r.headers['access-control-allow-methods']).toBeUndefined();
  });

  it('puts the CORS headers on every answer to an allowed origin: success, errors and SSE streams', async () => {
    const { listener } = await listen({ allowedOrigins: [APP], authTokens: ['s3cret-token'] });
    const auth = { authorization: 'Bearer s3cret-token' };
    const noToken = await post(listener.url, { origin: APP });
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('access-control-allow-origin')).toBe(APP);
    expect(noToken.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    expect(noToken.headers.get('www-authenticate')).toBe('Bearer realm="tollgate"');

    const init = await raw(
      listener.url,
      'POST',
      {
        origin: APP,
        ...auth,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      initialize,
    );
    expect(init.status).toBe(200);
    expect(corsOf(init.headers)).toEqual(actual);
    const sid = init.headers['mcp-session-id'] as string;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    const h = { origin: APP, ...auth, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };

    const initialized = await raw(
      listener.url,
      'POST',
      { ...h, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    );
    expect(initialized.status).toBe(202);
    expect(corsOf(initialized.headers)).toEqual(actual);

    const stream = await raw(listener.url, 'GET', { ...h, accept: 'text/event-stream' });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream');
    expect(corsOf(stream.headers)).toEqual(actual);

    const unknown = await raw(listener.url, 'DELETE', { ...h, 'mcp-session-id': 'no-such-session' });
    expect(unknown.status).toBe(404);
    expect(corsOf(unknown.headers)).toEqual(actual);

    const bad = await raw(listener.url, 'POST', { ...h, 'content-type': 'application/json' }, '{"jsonrpc":');
    expect(bad.status).toBe(400);
    expect(corsOf(bad.headers)).toEqual(actual);

    const deleted = await raw(listener.url, 'DELETE', h);
    expect(deleted.status).toBe(200);
    expect(corsOf(deleted.headers)).toEqual(actual);
  });

  it('adds no CORS headers for a request without Origin or from an origin that is not listed', async () => {
    const { listener } = await listen({ allowedOrigins: [APP] });
    const plain = await raw(
      listener.url,
      'POST',
      { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      initialize,
    );
    expect(plain.status).toBe(200);
    expect(corsOf(plain.headers)).toEqual({});
    const local = await post(listener.url, { origin: `http://localhost:${listener.port}` });
    expect(local.status).toBe(200);
    expect(local.headers.get('access-control-allow-origin')).toBeNull();
    const foreign = await post(listener.url, { origin: 'https://evil.example.com' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    // OPTIONS that is no preflight (no Access-Control-Request-Method) is still a wrong method.
    const options = await raw(listener.url, 'OPTIONS', { origin: APP });
    expect(options.status).toBe(405);
  });
});

describe('listener tokens', () => {
  it('treats an empty or blank TOLLGATE_AUTH_TOKEN as unset, and says so', async () => {
    for (const value of ['', '  ']) {
      const warnings: string[] = [];
      const logger = { ...silentLogger, warn: (_o: object, msg?: string) => void warnings.push(String(msg)) };
      const { listener } = await listen({ env: { TOLLGATE_AUTH_TOKEN: value }, logger });
      expect((await post(listener.url, {})).status, JSON.stringify(value)).toBe(200);
      expect(warnings, JSON.stringify(value)).toContain(
        'TOLLGATE_AUTH_TOKEN is set but empty: ignored, the listener runs without authentication',
      );
    }
    // Off loopback an empty variable is no token: the listener refuses to start.
    await expect(
      runHttpListener({
        gate: new RecordingGate(),
        upstream: { kind: 'stdio', command: 'true' },
        host: '0.0.0.0',
        env: { TOLLGATE_AUTH_TOKEN: ' ' },
      }),
    ).rejects.toThrow(
      'refusing to listen on 0.0.0.0 without authentication (TOLLGATE_AUTH_TOKEN is set but empty)',
    );
  });

  it('refuses an empty or blank token in authTokens instead of accepting no request', async () => {
    for (const bad of ['', ' \t']) {
      await expect(
        runHttpListener({
          gate: new RecordingGate(),
          upstream: { kind: 'stdio', command: 'true' },
          authTokens: ['fine', bad],
          env: {},
        }),
      ).rejects.toThrow('an auth token is empty');
    }
  });

  it('refuses a token no client can send as a bearer token (a trailing newline), from either source', async () => {
    const start = (opts: { authTokens?: string[]; env: Record<string, string> }) =>
      runHttpListener({ gate: new RecordingGate(), upstream: { kind: 'stdio', command: 'true' }, ...opts });
    await expect(start({ env: { TOLLGATE_AUTH_TOKEN: 'sekrit\n' } })).rejects.toThrow(
      'TOLLGATE_AUTH_TOKEN has spaces, line breaks (a trailing newline?) or non-ASCII characters, which clients cannot send alike',
    );
    await expect(start({ authTokens: ['two words'], env: {} })).rejects.toThrow(
      'an auth token has spaces, line breaks (a trailing newline?) or non-ASCII characters, which clients cannot send alike',
    );
  });
});

describe('listener mode, HTTP upstream', () => {
  let everything: EverythingHttp;
  beforeAll(async () => {
    everything = await startEverythingHttp();
  }, 30_000);
  afterAll(async () => {
    await everything?.stop();
  });

  it('opens one upstream session per client session', async () => {
    const { listener } = await listen({ upstream: { kind: 'http', url: everything.url } });
    const a = await connect(listener.url);
    const b = await connect(listener.url);
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: 'echo', arguments: { message: 'a' } }),
      b.client.callTool({ name: 'echo', arguments: { message: 'b' } }),
    ]);
    expect([text(ra), text(rb)]).toEqual(['Echo: a', 'Echo: b']);
    expect(listener.sessionCount).toBe(2);
  });

  it('keeps the client session across an upstream server restart', async () => {
    const { listener } = await listen({ upstream: { kind: 'http', url: everything.url } });
    const { client, transport } = await connect(listener.url);
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'one' } }))).toBe('Echo: one');
    await everything.restart();
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'two' } }))).toBe('Echo: two');
    expect(listener.sessionIds()).toEqual([transport.sessionId]);
  });

  it('retries every call the forgotten upstream session refused, after one re-initialisation', async () => {
    const server = await startSdkHttpServer({ notFoundDelayMs: 150 });
    try {
      const { listener, gate } = await listen({ upstream: { kind: 'http', url: server.url } });
      const { client } = await connect(listener.url);
      expect(text(await client.callTool({ name: 'echo', arguments: { message: 'first' } }))).toBe(
        'echo: first',
      );
      await server.forget();
      const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
      const answers = await Promise.all(
        names.map((message) =>
          client.callTool({ name: 'echo', arguments: { message } }).then(text, (err: Error) => err.message),
        ),
      );
      expect(answers).toEqual(names.map((n) => `echo: ${n}`));
      expect(server.sessions()).toHaveLength(2);
      expect(gate.commits).toBe(server.echoed.length);
    } finally {
      await server.close();
    }
  });

  it('passes a denial through the HTTP-to-HTTP path too', async () => {
    const { listener } = await listen({ upstream: { kind: 'http', url: everything.url } });
    const { client } = await connect(listener.url);
    const r = (await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })) as TextResult;
    expect(r.isError).toBe(true);
    expect((r as { _meta?: Record<string, unknown> })._meta).toBeDefined();
  });
});
