/**
 * What counts when the HTTP exchange of a `tools/call` fails, in upstream mode and in the
 * listener in front of an HTTP upstream, on the real policy engine (a 1/hour limit over a memory
 * store): a failure after the request was sent (a gateway's 504, a stream or connection cut)
 * counts, since the server may have run the call; a failure proving the server never ran it
 * (connection refused, HTTP 401) does not. Also: the cause of a network failure is named, and the
 * upstream URL's query values never reach the client or the log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createEnforcer, type Enforcer, openCounterStore } from '@tollgate/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/framing/line-splitter.js';
import { runHttpListener } from '../../src/http/listener.js';
import { redactUrl } from '../../src/http/upstream.js';
import { runHttpUpstreamProxy } from '../../src/http/upstream-proxy.js';
import type { ProxyLogger } from '../../src/logger.js';
import { StreamClientTransport } from './helpers.js';

/** How the fake server answers a `tools/call`. */
type Mode =
  | 'ok'
  | '504'
  | '503'
  | 'cut'
  | 'reset'
  | '401'
  | '429'
  | '307'
  | '202'
  | 'wrong-id'
  | 'big'
  | 'huge'
  | 'cr';

/**
 * A bare Streamable HTTP MCP server with one tool, `work`, answering `tools/call` as `mode`
 * says. `ran` counts the calls that reached the tool (every mode but the refusals).
 */
class FakeServer {
  mode: Mode = 'ok';
  /** Where a `307` points (another origin). */
  redirectTo = 'http://127.0.0.1:9/mcp';
  /** Size of the text of a `big` result, in bytes. */
  bigBytes = 0;
  /** Send a `big` result as an SSE event instead of a JSON body. */
  bigAsSse = false;
  ran = 0;
  /** Every POST body received, as sent. */
  readonly bodies: string[] = [];
  port = 0;
  private http: Server | undefined;

  async start(port = 0): Promise<void> {
    this.http = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.http!.listen(port, '127.0.0.1', r));
    this.port = (this.http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const http = this.http;
    this.http = undefined;
    if (!http) return;
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  }

  url(query = ''): string {
    return `http://127.0.0.1:${this.port}/mcp${query}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (!req.url?.startsWith('/mcp')) {
      // A web framework's own 404 page, styles and all, as a wrong --upstream path meets it.
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!DOCTYPE html>\n<html lang="en">\n<head>\n<title>404 &amp; gone</title>\n<style>${'body { margin: 0; }\n'.repeat(200)}</style>\n</head>\n<body>\n<pre>Cannot ${req.method} ${req.url}</pre>\n</body>\n</html>\n`,
      );
      return;
    }
    if (req.method === 'DELETE') {
      res.writeHead(200).end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end(); // no GET stream
      return;
    }
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      this.bodies.push(body);
      const msg = JSON.parse(body) as { id?: number | string; method?: string };
      if (msg.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const answer = (result: object) => {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'fake-1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      };
      if (msg.method === 'initialize') {
        answer({
          protocolVersion: '2025-06-18',
          capabilities: { tools: {} },
          serverInfo: { name: 'fake', version: '1' },
        });
        return;
      }
      if (msg.method === 'tools/list') {
        answer({ tools: [{ name: 'work', inputSchema: { type: 'object' } }] });
        return;
      }
      if (msg.method !== 'tools/call') {
        answer({});
        return;
      }
      switch (this.mode) {
        case '401':
          // Echoes the credential it was sent, as careless servers do.
          res
            .writeHead(401, { 'www-authenticate': 'Bearer' })
            .end(`unauthorized: ${req.headers.authorization ?? 'no token'}`);
          return;
        case '429':
          res.writeHead(429, { 'retry-after': '1' }).end('slow down');
          return;
        case '307':
          // Elsewhere (another origin): a redirect is no answer, and the request did not run here.
          res.writeHead(307, { location: this.redirectTo }).end('moved');
          return;
      }
      this.ran++;
      switch (this.mode) {
        case 'ok':
          answer({ content: [{ type: 'text', text: 'worked' }] });
          return;
        case '504':
        case '503':
          // A gateway (nginx, an ALB) giving up on a slow upstream after the request went through.
          setTimeout(() => {
            res.writeHead(Number(this.mode), { 'content-type': 'text/html' });
            res.end(`<html>${this.mode} Gateway Time-out</html>`);
          }, 100);
          return;
        case 'cut':
          // The answer's SSE stream starts, then the connection is cut before the result.
          res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'fake-1' });
          res.write(
            `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } })}\n\n`,
          );
          setTimeout(() => res.socket?.destroy(), 50);
          return;
        case 'reset':
          // The connection is reset after the request arrived, before any response header.
          req.socket.resetAndDestroy();
          return;
        case '202':
          // Accepted with no body: allowed for notifications and responses, never for a request.
          res.writeHead(202, { 'mcp-session-id': 'fake-1' }).end();
          return;
        case 'big': {
          const json = JSON.stringify({
            jsonrpc: '2.0',
            id: msg.id,
            result: { content: [{ type: 'text', text: 'x'.repeat(this.bigBytes) }] },
          });
          if (this.bigAsSse) {
            res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'fake-1' });
            res.end(`event: message\ndata: ${json}\n\n`);
          } else {
            res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'fake-1' });
            res.end(json);
          }
          return;
        }
        case 'huge': {
          // A JSON body of `bigBytes` of text, written 1 MiB at a time as the reader takes it, so
          // the test holds none of it; writing stops when the reader cuts the connection.
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'fake-1' });
          const chunk = 'x'.repeat(1024 * 1024);
          let left = this.bigBytes;
          const more = () => {
            while (left > 0 && !res.destroyed) {
              const n = Math.min(left, chunk.length);
              left -= n;
              if (!res.write(n === chunk.length ? chunk : chunk.slice(0, n)))
                return void res.once('drain', more);
            }
            if (!res.destroyed) res.end('"}]}}');
          };
          res.write(
            `{"jsonrpc":"2.0","id":${JSON.stringify(msg.id)},"result":{"content":[{"type":"text","text":"`,
          );
          more();
          return;
        }
        case 'cr': {
          // SSE with lone CR line endings (allowed by the SSE format), the answer last.
          res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'fake-1' });
          const event = (m: object) => `event: message\rdata: ${JSON.stringify(m)}\r\r`;
          for (let i = 0; i < 3; i++)
            res.write(
              event({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: i } }),
            );
          res.end(
            event({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'worked' }] } }),
          );
          return;
        }
        case 'wrong-id':
          // A JSON body answering some other id: the request itself is never answered.
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'fake-1' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: 'zzz', result: { content: [] } }));
          return;
      }
    });
  }
}

const POLICY = `version: "1"
default: allow
tools:
  work:
    rules:
      - name: once an hour
        rate_limit: 1/hour
`;

let dir: string;
let server: FakeServer;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-up-fail-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  server = new FakeServer();
  await server.start();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function enforcer(): Promise<Enforcer> {
  const e = await createEnforcer({
    policyFile: join(dir, 'policy.yaml'),
    watch: false,
    store: await openCounterStore({ stateDsn: 'memory:' }),
  });
  cleanups.push(() => e.close());
  return e;
}

/** Every line logged, as `level: message {fields}`. */
function recordingLogger(lines: string[]): ProxyLogger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push(`${level}: ${msg ?? ''} ${JSON.stringify(obj)}`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Upstream mode with the SDK's real Client on its stdio side. */
async function upstreamMode(
  url: string,
  logLines: string[] = [],
  headers?: Record<string, string>,
  maxMessageBytes?: number,
) {
  const input = new PassThrough();
  const output = new PassThrough();
  const exit = runHttpUpstreamProxy({
    url,
    ...(headers ? { headers } : {}),
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
    gate: await enforcer(),
    input,
    output,
    logger: recordingLogger(logLines),
    drainTimeoutMs: 2000,
  });
  cleanups.push(async () => {
    input.end();
    await exit;
  });
  const client = new Client({ name: 'failures', version: '1.0.0' });
  await client.connect(new StreamClientTransport(input, output));
  return client;
}

/** The listener in front of the HTTP upstream, with the SDK's real Client over HTTP. */
async function listenerMode(url: string) {
  const listener = await runHttpListener({
    gate: await enforcer(),
    upstream: { kind: 'http', url },
    port: 0,
  });
  cleanups.push(() => listener.close());
  const client = new Client({ name: 'failures', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(listener.url));
  cleanups.push(() => client.close());
  return client;
}

interface Outcome {
  kind: 'ran' | 'denied' | 'error';
  message: string;
  data?: Record<string, unknown>;
}

/** Calls `work` and says what happened: it ran, the policy denied it, or a JSON-RPC error. */
async function work(client: Client): Promise<Outcome> {
  try {
    const r = (await client.callTool({ name: 'work', arguments: {} })) as {
      content: Array<{ text?: string }>;
      isError?: boolean;
    };
    const message = r.content.map((c) => c.text ?? '').join('');
    return { kind: r.isError && message.includes('[TOLLGATE POLICY DENIED]') ? 'denied' : 'ran', message };
  } catch (err) {
    if (!(err instanceof McpError)) throw err;
    return { kind: 'error', message: err.message, data: err.data as Record<string, unknown> };
  }
}

const COUNTS = /counts against the policy's limits/;

describe('upstream mode: a tools/call whose HTTP exchange fails', () => {
  it('counts after a gateway answers 504 once the request went through', async () => {
    const client = await upstreamMode(server.url());
    server.mode = '504';
    const first = await work(client);
    expect(first.kind).toBe('error');
    expect(first.message).toMatch(/MCP error -32000: MCP server over HTTP: the upstream answered HTTP 504/);
    expect(first.message).toMatch(COUNTS);
    expect(first.data).toMatchObject({ status: 504 });
    expect(server.ran).toBe(1);
    server.mode = 'ok';
    // The 1/hour limit was used by the call the server ran.
    expect((await work(client)).kind).toBe('denied');
    expect(server.ran).toBe(1);
  });

  for (const mode of ['202', 'wrong-id'] as const) {
    it(`answers a call the upstream's 2xx answer (${mode}) left unanswered, and counts it`, async () => {
      const client = await upstreamMode(server.url());
      server.mode = mode;
      const started = Date.now();
      const first = await work(client);
      expect(first.kind).toBe('error');
      expect(first.message).toContain(
        `the upstream's HTTP ${mode === '202' ? 202 : 200} answer held no response to the request`,
      );
      expect(first.message).toMatch(COUNTS);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(server.ran).toBe(1);
      server.mode = 'ok';
      expect((await work(client)).kind).toBe('denied');
    });
  }

  it('counts a 503 the same way', async () => {
    const client = await upstreamMode(server.url());
    server.mode = '503';
    expect((await work(client)).message).toMatch(/HTTP 503/);
    server.mode = 'ok';
    expect((await work(client)).kind).toBe('denied');
  });

  it('counts when the answer stream is cut mid-response', async () => {
    const client = await upstreamMode(server.url());
    server.mode = 'cut';
    const first = await work(client);
    expect(first.kind).toBe('error');
    expect(first.message).toMatch(/the SSE stream ended before the answer/);
    expect(first.message).toMatch(COUNTS);
    server.mode = 'ok';
    expect((await work(client)).kind).toBe('denied');
    expect(server.ran).toBe(1);
  });

  it('reads an SSE answer whose lines end with a lone CR, the last event too', async () => {
    const client = await upstreamMode(server.url());
    server.mode = 'cr';
    expect(await work(client)).toEqual({ kind: 'ran', message: 'worked' });
  });

  it('counts when the connection is reset after the request was sent, before any header', async () => {
    const client = await upstreamMode(server.url());
    server.mode = 'reset';
    const first = await work(client);
    expect(first.kind).toBe('error');
    expect(first.message).toMatch(/the exchange with the upstream failed: fetch failed \(.*ECONNRESET/);
    expect(first.message).toMatch(COUNTS);
    server.mode = 'ok';
    expect((await work(client)).kind).toBe('denied');
  });

  it('does not count when the connection is refused, and names the cause once', async () => {
    const log: string[] = [];
    const client = await upstreamMode(server.url(), log);
    const port = server.port;
    await server.stop();
    const first = await work(client);
    expect(first.kind).toBe('error');
    expect(first.message).toMatch(
      /the upstream could not be reached: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/,
    );
    expect(first.message).not.toMatch(COUNTS);
    expect(first.data).toMatchObject({ cause: 'ECONNREFUSED' });
    // One line for the failed call (the router's own tools/list before it failed the same way).
    const warned = log.filter(
      (l) => !l.startsWith('debug') && l.includes('ECONNREFUSED') && l.includes('"method":"tools/call"'),
    );
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/^warn: upstream request failed: the upstream could not be reached/);
    // Back on the same port: the call never ran, so the limit still admits one.
    await server.start(port);
    const second = await work(client);
    expect(second).toMatchObject({ kind: 'ran', message: 'worked' });
    expect(server.ran).toBe(1);
  });

  it('does not count when the server refuses the request with 401 or 429, or redirects it elsewhere', async () => {
    const client = await upstreamMode(server.url());
    server.mode = '401';
    const first = await work(client);
    expect(first.message).toMatch(/the upstream answered HTTP 401/);
    expect(first.message).not.toMatch(COUNTS);
    server.mode = '429';
    expect((await work(client)).message).toMatch(/HTTP 429/);
    // The redirect points to a live server of another origin: it must get nothing (a followed
    // redirect would replay the call, and the proxy's -H headers, there).
    const elsewhere: string[] = [];
    const other = createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => other.close(resolve)));
    server.redirectTo = `http://127.0.0.1:${(other.address() as AddressInfo).port}/mcp`;
    server.mode = '307';
    const moved = await work(client);
    expect(moved.message).toMatch(/HTTP 307/);
    expect(moved.message).not.toMatch(COUNTS);
    expect(elsewhere).toEqual([]);
    server.mode = 'ok';
    expect(await work(client)).toMatchObject({ kind: 'ran', message: 'worked' });
    expect(server.ran).toBe(1);
  });
});

describe('upstream mode: what an error page of the upstream shows', () => {
  it("a 404 quotes the page's text, not its HTML, and points to the URL path", async () => {
    const message = await upstreamMode(`http://127.0.0.1:${server.port}/wrong`).then(
      () => 'connected',
      (err: Error) => err.message,
    );
    expect(message).toBe(
      'MCP error -32000: MCP server over HTTP: the upstream answered HTTP 404: 404 & gone Cannot POST /wrong; check the URL path of --upstream',
    );
  });

  it('a long error body is cut to 200 characters, on one line', async () => {
    const client = await upstreamMode(server.url());
    const original = server['handle'].bind(server);
    server['handle'] = (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'POST') return original(req, res);
      req.resume();
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`denied:\n${'why '.repeat(2000)}`);
    };
    const r = await work(client);
    expect(r.message).toBe(
      `MCP error -32000: MCP server over HTTP: the upstream answered HTTP 401: denied: ${'why '.repeat(47)}why...`,
    );
  });

  it('masks an echoed --header value before the cut, which would otherwise leave part of it', async () => {
    const log: string[] = [];
    const client = await upstreamMode(server.url(), log, { Authorization: 'Bearer tok-supersecret' });
    const original = server['handle'].bind(server);
    server['handle'] = (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'POST') return original(req, res);
      req.resume();
      // The token starts at character 190: a cut at 200 would keep "tok-supers".
      res.writeHead(401).end(`${'n'.repeat(189)} ${req.headers.authorization?.split(' ')[1]} is not valid`);
    };
    const r = await work(client);
    expect(r.message).toContain(`${'n'.repeat(189)} *** is not...`);
    expect(JSON.stringify([r, log])).not.toMatch(/tok-s/);
  });
});

describe('listener in front of an HTTP upstream: a tools/call whose HTTP exchange fails', () => {
  it('counts after a 504', async () => {
    const client = await listenerMode(server.url());
    server.mode = '504';
    expect((await work(client)).message).toMatch(COUNTS);
    server.mode = 'ok';
    expect((await work(client)).kind).toBe('denied');
  });

  it('does not count after a 401', async () => {
    const client = await listenerMode(server.url());
    server.mode = '401';
    expect((await work(client)).message).toMatch(/HTTP 401/);
    server.mode = 'ok';
    expect((await work(client)).kind).toBe('ran');
  });
});

describe('the upstream URL as shown', () => {
  it('masks query values and userinfo, keeps the rest', () => {
    expect(redactUrl('http://127.0.0.1:8820/mcp?api_key=topsecret')).toBe(
      'http://127.0.0.1:8820/mcp?api_key=***',
    );
    expect(redactUrl(new URL('https://h.example/a/b?x=1&token=abc&flag#frag'))).toBe(
      'https://h.example/a/b?x=***&token=***&***',
    );
    expect(redactUrl('http://alice:hunter2@host/mcp')).toBe('http://***:***@host/mcp');
    expect(redactUrl('https://ghp_token@host/mcp')).toBe('https://***@host/mcp');
    expect(redactUrl('https://mcp.example.com/mcp')).toBe('https://mcp.example.com/mcp');
    expect(redactUrl('not a url?key=v')).toBe('not a url?***');
  });

  it('never puts a query value in the client error or the log', async () => {
    const log: string[] = [];
    const client = await upstreamMode(server.url('?api_key=topsecret'), log);
    server.mode = '401';
    const first = await work(client);
    expect(first.data?.url).toBe(`http://127.0.0.1:${server.port}/mcp?api_key=***`);
    await server.stop();
    const second = await work(client);
    expect(second.data?.url).toBe(`http://127.0.0.1:${server.port}/mcp?api_key=***`);
    expect(log.length).toBeGreaterThan(0);
    expect(JSON.stringify([first, second, log])).not.toContain('topsecret');
  });

  it('masks a query value the upstream echoes back in its error (its request URL in a 401 body)', async () => {
    const log: string[] = [];
    server.mode = '401';
    const client = await upstreamMode(server.url('?api_key=topsecret%2Bplus&v=1'), log);
    const echoing = (req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(401).end(`unauthorized request to ${req.url} (key topsecret+plus)`);
    };
    const original = server['handle'].bind(server);
    server['handle'] = (req: IncomingMessage, res: ServerResponse) =>
      req.method === 'POST' && server.mode === '401' ? echoing(req, res) : original(req, res);
    const r = await work(client);
    expect(r.kind).toBe('error');
    expect(JSON.stringify([r, log])).not.toMatch(/topsecret/);
    expect(r.message).toContain('api_key=***');
  });

  it('masks a --header value the upstream echoes back in its error', async () => {
    const log: string[] = [];
    const client = await upstreamMode(server.url(), log, { Authorization: 'Bearer tok-supersecret' });
    server.mode = '401';
    const r = await work(client);
    expect(r.kind).toBe('error');
    expect(r.message).toContain('unauthorized: ***');
    expect(JSON.stringify([r, log])).not.toContain('supersecret');
  });

  it('does not echo the password of a URL with credentials, nor a header value, when fetch refuses them', async () => {
    const withCredentials = await upstreamMode(`http://alice:hunter2@127.0.0.1:${server.port}/mcp`).then(
      () => 'connected',
      (err: Error) => err.message,
    );
    expect(withCredentials).toMatch(/URL includes credentials/);
    expect(withCredentials).not.toContain('hunter2');
    const log: string[] = [];
    const badHeader = await upstreamMode(server.url(), log, { 'X-Key': 'sk-supersecret\u00ff\u0100' }).then(
      () => 'connected',
      (err: Error) => err.message,
    );
    expect(badHeader).toMatch(/the request could not be sent: a request header value is invalid/);
    expect(JSON.stringify([badHeader, log])).not.toContain('supersecret');
  });
});

describe('upstream mode: --max-message-bytes bounds what the server sends', () => {
  const CAP = 1024 * 1024;
  for (const [what, bytes, sse] of [
    ['a JSON body just over the cap', CAP + 1000, false],
    ['a JSON body of twice the cap (cut while it arrives)', 2 * CAP, false],
    ['an SSE event of twice the cap (cut while it arrives)', 2 * CAP, true],
  ] as const) {
    it(`answers ${what} with an error, and the call counts`, async () => {
      server.mode = 'big';
      server.bigBytes = bytes;
      server.bigAsSse = sse;
      const lines: string[] = [];
      const client = await upstreamMode(server.url(), lines, undefined, CAP);
      const first = await work(client);
      expect(first.kind).toBe('error');
      expect(first.message).toMatch(/over the cap|exceeds|too large|-32603/i);
      expect(server.ran).toBe(1);
      // It counted (1/hour): the next call is denied before it reaches the server.
      expect((await work(client)).kind).toBe('denied');
      expect(server.ran).toBe(1);
    });
  }
});

describe('upstream mode: the default --max-message-bytes', () => {
  it(`bounds what the server sends without the flag too (${DEFAULT_MAX_MESSAGE_BYTES} bytes), cutting the body while it arrives`, async () => {
    server.mode = 'huge';
    server.bigBytes = DEFAULT_MAX_MESSAGE_BYTES + 4 * 1024 * 1024;
    const input = new PassThrough();
    const output = new PassThrough();
    const exit = runHttpUpstreamProxy({ url: server.url(), gate: await enforcer(), input, output });
    cleanups.push(async () => {
      input.end();
      await exit;
    });
    // The answers as they come out on stdout, a line over 1 MiB only by its length (not held).
    const answers: Array<{ id?: unknown; error?: { message: string } } | { bytes: number }> = [];
    let line: Buffer[] = [];
    let lineBytes = 0;
    output.on('data', (c: Buffer) => {
      for (let at = c.indexOf(10), from = 0; ; from = at + 1, at = c.indexOf(10, from)) {
        const part = c.subarray(from, at === -1 ? c.length : at);
        lineBytes += part.length;
        if (lineBytes <= 1024 * 1024) line.push(part);
        else line = [];
        if (at === -1) break;
        answers.push(
          lineBytes <= 1024 * 1024 ? JSON.parse(Buffer.concat(line).toString()) : { bytes: lineBytes },
        );
        line = [];
        lineBytes = 0;
      }
    });
    input.write(
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n',
    );
    input.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    input.write('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"work","arguments":{}}}\n');
    for (let i = 0; i < 1200 && answers.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(answers).toHaveLength(2);
    // Without a cap the whole body came through as one line of ~68 MiB (`{ bytes: ... }` here).
    expect(answers[1]).toMatchObject({ id: 2, error: { code: -32000 } });
    const reply = answers[1] as { error?: { message: string } };
    expect(reply.error?.message).toContain(
      `a message from the server is over the cap of ${DEFAULT_MAX_MESSAGE_BYTES} bytes (--max-message-bytes); its stream was cut`,
    );
    expect(reply.error?.message).toMatch(COUNTS);
    expect(server.ran).toBe(1);
  }, 60_000);
});

describe('upstream mode: the server gets the bytes the policy judged', () => {
  it('a number a double rounds reaches the server as its digits, not as the neighbour it rounds to', async () => {
    writeFileSync(
      join(dir, 'policy.yaml'),
      `version: "1"
default: allow
tools:
  work:
    rules:
      - name: not account 9007199254740992
        conditions: [{ path: args.to, op: not_regex, value: '^9007199254740992$' }]
`,
    );
    const input = new PassThrough();
    const output = new PassThrough();
    const exit = runHttpUpstreamProxy({ url: server.url(), gate: await enforcer(), input, output });
    cleanups.push(async () => {
      input.end();
      await exit;
    });
    const answers: Array<{ id?: unknown; result?: { isError?: boolean } }> = [];
    let rest = '';
    output.on('data', (c: Buffer) => {
      const lines = (rest + c.toString('utf8')).split('\n');
      rest = lines.pop()!;
      // A batch is answered on one line, as an array.
      for (const l of lines) if (l.trim()) answers.push(...[JSON.parse(l)].flat());
    });
    const answered = async (n: number) => {
      for (let i = 0; i < 200 && answers.length < n; i++) await new Promise((r) => setTimeout(r, 25));
      expect(answers.length).toBe(n);
    };
    input.write(
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n',
    );
    await answered(1);
    input.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    const call = (id: number, to: string) =>
      `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"work","arguments":{"to":${to}}}}`;
    input.write(`${call(2, '9007199254740993')}\n`);
    input.write(`${call(3, '9007199254740992')}\n`);
    input.write(`[${call(4, '1e400')}, ${call(5, '-0')}]\n`);
    await answered(5);
    // The denied call never left; the others arrived as sent, digits and all.
    expect(answers.find((a) => a.id === 3)?.result?.isError).toBe(true);
    const calls = server.bodies.filter((b) => b.includes('tools/call'));
    expect(calls).toEqual([call(2, '9007199254740993'), call(4, '1e400'), call(5, '-0')]);
  });
});
