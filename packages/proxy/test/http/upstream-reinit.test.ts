/**
 * Re-initialising an expired upstream session (HTTP 404 to a request carrying `Mcp-Session-Id`)
 * while other exchanges are under way on it: answers still streaming, server-to-client requests
 * waiting for the client, calls waiting for their retry, resumptions of cut streams. The SDK's
 * real `Client` on the stdio side, the SDK's real server over HTTP (`startSdkHttpServer`).
 */
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  McpError,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { runHttpListener } from '../../src/http/listener.js';
import type { HttpUpstreamOptions, HttpUpstreamTransport } from '../../src/http/upstream.js';
import { type HttpUpstreamProxyExit, runHttpUpstreamProxy } from '../../src/http/upstream-proxy.js';
import type { ProxyLogger } from '../../src/logger.js';
import { RecordingGate, type SdkHttpServer, StreamClientTransport, startSdkHttpServer } from './helpers.js';

type TextResult = { content: Array<{ type: string; text?: string }>; isError?: boolean };
const text = (r: unknown) => (r as TextResult).content.map((c) => c.text ?? '').join('');

/** Every line logged, as `level: message {fields}`. */
function recordingLogger(lines: string[]): ProxyLogger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push(`${level}: ${msg ?? ''} ${JSON.stringify(obj)}`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Bridge {
  client: Client;
  gate: RecordingGate;
  /** Everything Tollgate logged. */
  log: string[];
  upstream: HttpUpstreamTransport | undefined;
  close(): Promise<HttpUpstreamProxyExit>;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function server(opts: Parameters<typeof startSdkHttpServer>[0] = {}): Promise<SdkHttpServer> {
  const s = await startSdkHttpServer(opts);
  cleanups.push(() => s.close());
  return s;
}

/** Upstream mode towards `url`, the SDK's Client on its stdio side. */
async function bridge(
  url: string,
  opts: {
    capabilities?: object;
    headers?: Record<string, string>;
    upstream?: Partial<HttpUpstreamOptions>;
  } = {},
): Promise<Bridge> {
  const input = new PassThrough();
  const output = new PassThrough();
  const gate = new RecordingGate();
  const log: string[] = [];
  let upstream: HttpUpstreamTransport | undefined;
  const exit = runHttpUpstreamProxy({
    url,
    gate,
    input,
    output,
    logger: recordingLogger(log),
    ...(opts.headers ? { headers: opts.headers } : {}),
    upstream: { reconnection: { maxRetries: 2, initialDelayMs: 100 }, ...(opts.upstream ?? {}) },
    drainTimeoutMs: 2000,
    onStarted: (i) => {
      upstream = i.upstream;
    },
  });
  const client = new Client({ name: 'reinit', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  await client.connect(new StreamClientTransport(input, output));
  let closed: Promise<HttpUpstreamProxyExit> | undefined;
  const b: Bridge = {
    client,
    gate,
    log,
    get upstream() {
      return upstream;
    },
    close() {
      closed ??= client.close().then(() => exit);
      return closed;
    },
  };
  cleanups.push(() => b.close());
  return b;
}

/** The listener in front of `url`, the SDK's Client over HTTP. */
async function listener(url: string, opts: { capabilities?: object } = {}) {
  const gate = new RecordingGate();
  const log: string[] = [];
  const l = await runHttpListener({
    gate,
    upstream: { kind: 'http', url },
    port: 0,
    logger: recordingLogger(log),
  });
  cleanups.push(() => l.close());
  const transport = new StreamableHTTPClientTransport(l.url);
  const client = new Client({ name: 'reinit', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, gate, log, transport, listener: l };
}

/** A call's text, or `THROW <message>` for a JSON-RPC error (or the client's timeout). */
function settled(p: Promise<unknown>): Promise<string> {
  return p.then(text, (err: Error) => `THROW ${err instanceof McpError ? err.message : String(err)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(20);
  }
}

describe('a call still streaming its answer when the upstream session is re-initialised', () => {
  it('gets its answer on the old session, which is closed only once that stream has ended', async () => {
    const up = await server();
    const b = await bridge(up.url);
    expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'warm' } }))).toBe(
      'echo: warm',
    );
    const progress: number[] = [];
    const slow = settled(
      b.client.callTool({ name: 'slow', arguments: { steps: 8, stepMs: 250 } }, undefined, {
        timeout: 15_000,
        onprogress: (p) => progress.push(p.progress),
      }),
    );
    await until(() => progress.length >= 1);
    // The server forgets the session id; the call goes on running and streaming on its POST.
    await up.forget({ close: false });
    expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'E1' } }))).toBe('echo: E1');
    expect(b.upstream?.reinitializations).toBe(1);
    expect(await slow).toBe('done after 8 steps');
    // (The last progress may lose the race with the result inside the SDK Client.)
    expect(progress.slice(0, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(b.gate.commits).toBe(3);
    expect(b.gate.rollbacks).toBe(0);
  });

  it('gets its answer through the listener too', async () => {
    const up = await server();
    const { client, gate } = await listener(up.url);
    await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    const progress: number[] = [];
    const slow = settled(
      client.callTool({ name: 'slow', arguments: { steps: 6, stepMs: 250 } }, undefined, {
        timeout: 15_000,
        onprogress: (p) => progress.push(p.progress),
      }),
    );
    await until(() => progress.length >= 1);
    await up.forget({ close: false });
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'E1' } }))).toBe('echo: E1');
    expect(await slow).toBe('done after 6 steps');
    expect(up.sessions()).toHaveLength(2);
    expect(gate.commits).toBe(3);
  });

  it('is answered with -32000 at once, and counts, when the old stream is cut and cannot be resumed', async () => {
    const up = await server();
    const b = await bridge(up.url);
    await b.client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    const progress: number[] = [];
    const started = Date.now();
    const slow = settled(
      b.client.callTool({ name: 'slow', arguments: { steps: 40, stepMs: 250 } }, undefined, {
        timeout: 15_000,
        onprogress: (p) => progress.push(p.progress),
      }),
    );
    await until(() => progress.length >= 1);
    // A restart: the session and its streams are gone; the resumption GET meets 404.
    await up.forget();
    expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'E1' } }))).toBe('echo: E1');
    const answer = await slow;
    expect(answer).toMatch(
      /^THROW MCP error -32000: MCP server over HTTP: the SSE stream was lost and could not be resumed \(the upstream answered HTTP 404\); the request may have reached the server, so the call counts against the policy's limits$/,
    );
    expect(Date.now() - started).toBeLessThan(8000);
    expect(b.gate.commits).toBe(3);
    expect(b.gate.rollbacks).toBe(0);
  });
});

describe('server-to-client requests across a re-initialisation', () => {
  for (const kind of ['ask', 'sample'] as const) {
    it(`never delivers the answer to the old session's ${kind === 'ask' ? 'elicitation' : 'sampling request'} to the new session`, async () => {
      const up = await server();
      const b = await bridge(up.url, { capabilities: { elicitation: {}, sampling: {} } });
      // Each question is answered once the test says so: A's "accept" / "yes", B's "decline" / "no".
      const seen: Array<{ q: string; id: unknown }> = [];
      const release: Record<string, () => void> = {};
      const released = {
        A: new Promise<void>((r) => {
          release.A = r;
        }),
        B: new Promise<void>((r) => {
          release.B = r;
        }),
      };
      const question = async (q: string, id: unknown) => {
        seen.push({ q, id });
        await (q.startsWith('A') ? released.A : released.B);
        return q.startsWith('A');
      };
      b.client.setRequestHandler(ElicitRequestSchema, async (req, extra) =>
        (await question(req.params.message, extra.requestId))
          ? { action: 'accept', content: { confirm: true } }
          : { action: 'decline' },
      );
      b.client.setRequestHandler(CreateMessageRequestSchema, async (req, extra) => {
        const q = (req.params.messages[0]!.content as { text: string }).text;
        const yes = await question(q, extra.requestId);
        return { model: 'm', role: 'assistant', content: { type: 'text', text: yes ? 'yes' : 'no' } };
      });
      const a = settled(
        b.client.callTool({ name: kind, arguments: { q: 'A: drop the staging database?' } }, undefined, {
          timeout: 4000,
        }),
      );
      await until(() => seen.length === 1);
      // The server forgets the session id while A waits for its answer there.
      await up.forget({ close: false });
      const bCall = settled(
        b.client.callTool({ name: kind, arguments: { q: 'B: email the whole company?' } }, undefined, {
          timeout: 10_000,
        }),
      );
      await until(() => seen.length === 2);
      expect(b.upstream?.reinitializations).toBe(1);
      // Both sessions numbered their first request alike; the client sees two ids.
      expect(seen[1]!.id).not.toEqual(seen[0]!.id);
      // The answer to A's question, given while B's is open, goes nowhere: on the new session,
      // the request of that number is B's question.
      release.A!();
      await until(() => b.log.some((l) => l.includes('previous upstream session')));
      release.B!();
      expect(await bCall).toBe(
        kind === 'ask'
          ? 'answer to [B: email the whole company?]: {"action":"decline"}'
          : 'sample for [B: email the whole company?]: no',
      );
      expect(b.log.filter((l) => l.includes('previous upstream session'))).toEqual([
        expect.stringMatching(
          /^warn: dropped the client's answer to a request of a previous upstream session \(it expired\) /,
        ),
      ]);
      // A's session is gone: its question can never be answered; the call times out at the client.
      expect(await a).toMatch(/^THROW/);
    });
  }
});

describe("a server's cancellation of its request, after a re-initialisation", () => {
  it('names the request by the id the client was given', async () => {
    const up = await server();
    const b = await bridge(up.url, { capabilities: { elicitation: {} } });
    let asked = 0;
    let cancelled = false;
    b.client.setRequestHandler(ElicitRequestSchema, async (_req, extra) => {
      asked++;
      // Answered only when the server cancels its question (the SDK aborts the handler then).
      await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
      cancelled = true;
      return { action: 'cancel' };
    });
    const a = settled(
      b.client.callTool({ name: 'ask', arguments: { q: 'A' } }, undefined, { timeout: 3000 }),
    );
    await until(() => asked === 1);
    await up.forget({ close: false });
    // B's question, on the new session, is given up by the server after 300 ms.
    const bCall = settled(b.client.callTool({ name: 'ask', arguments: { q: 'B', timeoutMs: 300 } }));
    await until(() => asked === 2);
    await until(() => cancelled);
    expect(await bCall).toMatch(/^THROW MCP error -32001: .*Request timed out/);
    await a;
  });
});

describe('a listener session ended while its upstream session is being re-initialised', () => {
  it('abandons the re-initialisation, DELETEs the session it opened, and the waiting call does not count', async () => {
    // The server is slow to answer the re-initialize (1.5 s): the client DELETEs its session
    // while a call waits for it, after meeting the 404.
    const up = await server({ reinit: { delayMs: 1500 } });
    const { client, gate, log, transport } = await listener(up.url);
    await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    await up.forget();
    const call = settled(
      client.callTool({ name: 'echo', arguments: { message: 'during-delete' } }, undefined, {
        timeout: 10_000,
      }),
    );
    await until(() => log.some((l) => l.includes('re-initialising')));
    await sleep(200);
    await transport.terminateSession();
    expect(await call).toBe(
      "THROW MCP error -32000: Tollgate closed the session (client sent DELETE) before the request was sent to the MCP server; the call does not count against the policy's limits",
    );
    // The re-initialize was answered after the DELETE: its session is DELETEd at once, and no
    // stream stays open on it.
    await until(() => up.sessions().length === 2 && up.live().length === 0);
    const [, reopened] = up.sessions();
    expect(up.requests.filter((r) => r.session === reopened)).toEqual([
      { http: 'DELETE', session: reopened },
    ]);
    await sleep(500);
    expect(up.requests.filter((r) => r.session === reopened)).toHaveLength(1);
    // It never ran: one verdict everywhere, it does not count.
    expect(up.echoed).toEqual(['warm']);
    expect(gate.commits).toBe(1);
    expect(gate.rollbacks).toBe(1);
    expect(log.filter((l) => l.includes('counted'))).toEqual([]);
  });
});

describe("a listener session's gate", () => {
  it('keeps needsToolSchema: a call no required_args rule applies to is not held for a tools/list', async () => {
    const up = await server();
    const gate = Object.assign(new RecordingGate(), { needsToolSchema: () => false });
    const l = await runHttpListener({ gate, upstream: { kind: 'http', url: up.url }, port: 0 });
    cleanups.push(() => l.close());
    const client = new Client({ name: 'no-prefetch', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(l.url));
    cleanups.push(() => client.close());
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'm' } }))).toBe('echo: m');
    // Without it the session's router would have listed tools itself before the call.
    expect(up.requests.filter((r) => r.http === 'POST').map((r) => r.rpc)).toEqual([
      'initialize',
      'notifications/initialized',
      'tools/call',
    ]);
  });
});

describe('a listener client that gives up on initialize before the upstream answers it', () => {
  it('leaves no upstream session open: the one its answer opens is DELETEd', async () => {
    const up = await server({ initDelayMs: 600 });
    const gate = new RecordingGate();
    const l = await runHttpListener({ gate, upstream: { kind: 'http', url: up.url }, port: 0 });
    cleanups.push(() => l.close());
    const ac = new AbortController();
    const res = await fetch(l.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'impatient', version: '1' },
        },
      }),
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 150);
    const gaveUp = await res.text().then(
      () => 'answered',
      (err: Error) => err.name,
    );
    expect(gaveUp).toBe('AbortError');
    await until(() => up.sessions().length === 1 && up.live().length === 0, 5000);
    const [opened] = up.sessions();
    expect(up.requests.filter((r) => r.session === opened)).toEqual([{ http: 'DELETE', session: opened }]);
  });
});

describe('a server that polls (closes the SSE stream, the client resumes it)', () => {
  it('is resumed from the same event as long as it accepts, and the call gets its answer', async () => {
    // Spec 2025-11-25: the server closes the call's stream after its priming event (an id and a
    // `retry` field); the resumed stream is closed again twice without a new event.
    const up = await server({ retryMs: 150 });
    const b = await bridge(up.url);
    const answer = await settled(
      b.client.callTool({ name: 'poll', arguments: { closes: 3, gapMs: 600 } }, undefined, {
        timeout: 10_000,
      }),
    );
    expect(answer).toBe('polled 3 times');
    expect(b.gate.commits).toBe(1);
    expect(b.gate.rollbacks).toBe(0);
    // Three resumptions, all from the priming event of the call's stream (the SDK alone would
    // ask the second and third time without Last-Event-ID, and never get the answer).
    const resumptions = up.requests.filter((r) => r.lastEventId !== undefined);
    expect(resumptions).toHaveLength(3);
    expect(new Set(resumptions.map((r) => r.lastEventId)).size).toBe(1);
    expect(b.log.filter((l) => /^(warn|error):/.test(l))).toEqual([]);
  });

  it('gives up, with -32000 saying so, after maxEmptyResumptions resumed streams in a row ended without a new event', async () => {
    const up = await server({ retryMs: 100 });
    const b = await bridge(up.url, {
      upstream: { reconnection: { maxRetries: 2, initialDelayMs: 100, maxEmptyResumptions: 2 } },
    });
    const answer = await settled(
      b.client.callTool({ name: 'poll', arguments: { closes: 5, gapMs: 400 } }, undefined, {
        timeout: 10_000,
      }),
    );
    expect(answer).toBe(
      "THROW MCP error -32000: MCP server over HTTP: the SSE stream was lost and could not be resumed (the resumed stream ended without the answer 2 times in a row); the request may have reached the server, so the call counts against the policy's limits",
    );
    expect(up.requests.filter((r) => r.lastEventId !== undefined)).toHaveLength(2);
    expect(b.gate.commits).toBe(1);
    // The session goes on.
    expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe(
      'echo: after',
    );
  });
});

describe('a lost stream whose resumption fails', () => {
  for (const [resume, why] of [
    [405, 'the upstream answered HTTP 405'],
    ['empty', 'the resumed stream ended without the answer 2 times in a row'],
  ] as const) {
    it(`answers the call with -32000, and counts it, when the resumption ${resume === 405 ? 'is answered 405' : 'ends without the answer, again and again'}`, async () => {
      // `hang-up` ends its SSE stream after the server's priming event (which carries an event
      // id) and never answers: the SDK resumes the stream with Last-Event-ID.
      const up = await server({ resume });
      const b = await bridge(up.url, {
        upstream: { reconnection: { maxRetries: 3, initialDelayMs: 100, maxEmptyResumptions: 2 } },
      });
      const started = Date.now();
      const answer = await settled(
        b.client.callTool({ name: 'hang-up', arguments: {} }, undefined, { timeout: 10_000 }),
      );
      expect(answer).toBe(
        `THROW MCP error -32000: MCP server over HTTP: the SSE stream was lost and could not be resumed (${why}); the request may have reached the server, so the call counts against the policy's limits`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
      expect(b.gate.commits).toBe(1);
      expect(b.gate.rollbacks).toBe(0);
      // The stream given up on is not asked for again and again.
      const resumptions = () => up.requests.filter((r) => r.lastEventId !== undefined).length;
      const tried = resumptions();
      expect(tried).toBeGreaterThanOrEqual(1);
      expect(tried).toBeLessThanOrEqual(3);
      await sleep(1000);
      expect(resumptions()).toBe(tried);
      // The session goes on.
      expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe(
        'echo: after',
      );
    });
  }

  it('answers the call once the resumption has failed as many times as allowed', async () => {
    const up = await server({ resume: 500 });
    const b = await bridge(up.url, { upstream: { reconnection: { maxRetries: 2, initialDelayMs: 100 } } });
    const answer = await settled(
      b.client.callTool({ name: 'hang-up', arguments: {} }, undefined, { timeout: 10_000 }),
    );
    expect(answer).toBe(
      "THROW MCP error -32000: MCP server over HTTP: the SSE stream was lost and could not be resumed (2 attempts, the last: the upstream answered HTTP 500); the request may have reached the server, so the call counts against the policy's limits",
    );
    expect(up.requests.filter((r) => r.lastEventId !== undefined)).toHaveLength(2);
    expect(b.gate.commits).toBe(1);
  });
});

describe('a re-initialisation that fails', () => {
  it('tells the client so, with its status, masks the -H secrets the upstream echoes, and does not count the call', async () => {
    // The server answers the re-initialize with HTTP 500, echoing the request's Authorization.
    const up = await server({ reinit: { status: 500 } });
    const b = await bridge(up.url, { headers: { Authorization: 'Bearer sekrit-token-123' } });
    await b.client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    await up.forget();
    const error = await b.client.callTool({ name: 'echo', arguments: { message: 'x' } }).then(
      () => undefined,
      (err: McpError) => err,
    );
    expect(error?.message).toBe(
      'MCP error -32000: MCP server over HTTP: the upstream session expired (HTTP 404) and could not be re-initialised: the upstream answered HTTP 500: init failed; request had authorization=*** (***)',
    );
    expect(error?.data).toEqual({ url: up.url, status: 500 });
    // It only met the 404: it never ran, and does not count.
    expect(up.echoed).toEqual(['warm']);
    expect(b.gate.commits).toBe(1);
    expect(b.gate.rollbacks).toBe(1);
    expect(b.log.filter((l) => l.startsWith('error:'))).toEqual([
      expect.stringMatching(
        /^error: upstream re-initialisation failed: the upstream answered HTTP 500: init failed; request had authorization=\*\*\* \(\*\*\*\) \{.*"status":500\}$/,
      ),
    ]);
    expect(JSON.stringify(b.log).toLowerCase()).not.toContain('sekrit');
  });
});

describe('after a failed re-initialisation', () => {
  it('a later request tries again, once a second has passed, and works when the upstream is back', async () => {
    const up = await server({ reinit: { status: 503, failures: 1 } });
    const b = await bridge(up.url);
    let relisted = 0;
    b.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      relisted++;
    });
    await b.client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    await up.forget();
    const failed = (message: string) =>
      b.client.callTool({ name: 'echo', arguments: { message } }).then(
        () => 'answered',
        (err: McpError) => err.message,
      );
    expect(await failed('x')).toBe(
      'MCP error -32000: MCP server over HTTP: the upstream session expired (HTTP 404) and could not be re-initialised: the upstream answered HTTP 503: init failed; request had authorization=(none)',
    );
    // At once: the same failure, without another initialize to the upstream.
    const initializes = () => up.requests.filter((r) => r.rpc === 'initialize').length;
    expect(initializes()).toBe(2);
    expect(await failed('y')).toBe(
      'MCP error -32000: MCP server over HTTP: the upstream session expired and could not be re-initialised: the upstream answered HTTP 503: init failed; request had authorization=(none)',
    );
    expect(initializes()).toBe(2);
    expect(relisted).toBe(0);
    await sleep(1100);
    // A second later: one more re-initialisation, which opens a session, and the call runs on it.
    expect(text(await b.client.callTool({ name: 'echo', arguments: { message: 'z' } }))).toBe('echo: z');
    expect(initializes()).toBe(3);
    expect(up.echoed).toEqual(['warm', 'z']);
    // The new session's tools may differ: the client is told to list them again (only then).
    await until(() => relisted === 1);
    expect(relisted).toBe(1);
    // Neither refused call ran, so neither counts.
    expect(b.gate.commits).toBe(2);
    expect(b.gate.rollbacks).toBe(2);
    expect(b.log.filter((l) => l.startsWith('warn:')).map((l) => l.replace(/ \{.*/, ''))).toEqual([
      'warn: upstream session expired; re-initialising',
      'warn: upstream request failed: the upstream session expired (HTTP 404) and could not be re-initialised: the upstream answered HTTP 503: init failed; request had authorization=(none)',
      'warn: upstream request failed: the upstream session expired and could not be re-initialised: the upstream answered HTTP 503: init failed; request had authorization=(none)',
      'warn: trying again to re-initialise the upstream session',
    ]);
  });
});

describe('a call cancelled while it waits for its retry on a re-initialised session', () => {
  for (const mode of ['upstream mode', 'the listener'] as const) {
    it(`is not sent again, and does not count (${mode})`, async () => {
      const up = await server({ reinit: { delayMs: 1000 } });
      const { client, gate, log } = mode === 'upstream mode' ? await bridge(up.url) : await listener(up.url);
      await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
      await up.forget();
      const abort = new AbortController();
      const call = settled(
        client.callTool({ name: 'echo', arguments: { message: 'cancel-me' } }, undefined, {
          signal: abort.signal,
        }),
      );
      await until(() => log.some((l) => l.includes('re-initialising')));
      await sleep(200);
      abort.abort('the user pressed stop');
      expect(await call).toMatch(/^THROW .*the user pressed stop/);
      await until(() => up.live().length === 1);
      expect(text(await client.callTool({ name: 'echo', arguments: { message: 'next' } }))).toBe(
        'echo: next',
      );
      // It never reached a live session: not run, not counted, and its cancellation not sent.
      expect(up.echoed).toEqual(['warm', 'next']);
      expect(gate.commits).toBe(2);
      expect(gate.rollbacks).toBe(1);
      expect(up.requests.filter((r) => r.rpc === 'notifications/cancelled')).toEqual([]);
    });
  }
});

describe("closing an expired session's connection", () => {
  it('is not logged as an upstream transport error', async () => {
    const up = await server();
    const { client, log } = await listener(up.url);
    await client.callTool({ name: 'echo', arguments: { message: 'warm' } });
    // The server forgets the session but keeps its GET stream open: Tollgate closes it.
    await up.forget({ close: false });
    expect(text(await client.callTool({ name: 'echo', arguments: { message: 'E1' } }))).toBe('echo: E1');
    await until(() => log.some((l) => l.includes('SSE stream disconnected')));
    expect(log.filter((l) => l.includes('upstream transport error') && !l.startsWith('debug'))).toEqual([]);
    expect(log.filter((l) => l.includes('SSE stream disconnected'))).toEqual([
      expect.stringMatching(
        /^debug: an expired upstream session was closed \{"err":"SSE stream disconnected: AbortError/,
      ),
    ]);
  });
});
