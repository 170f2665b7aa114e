/**
 * The HTTP listener of the BUILT CLI (`tollgate --transport http`): what `--auth-token` and
 * `TOLLGATE_AUTH_TOKEN` turn into, and a real browser (Debian chromium driven by playwright-core)
 * calling the listener from a page on an `--allowed-origin`, through the CORS preflight. Without
 * /usr/bin/chromium the browser tests are skipped (and fail when CI=true).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeWithChromium, launchChromium } from '../chromium.js';
import { CLI, envFor, FAKE_SERVER, type Scratch, scratch, sleep } from './helpers.js';

let s: Scratch;
let policy: string;
beforeAll(() => {
  s = scratch();
  policy = s.write('allow.yaml', 'version: "1"\ndefault: allow\n');
});
afterAll(() => s.cleanup());

interface Listener {
  url: URL;
  stderr(): string;
  /** Sends a signal (SIGHUP: reload the policy). */
  signal(sig: NodeJS.Signals): void;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}
const running: Listener[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((l) => l.stop()));
});

/**
 * Runs `tollgate -c allow.yaml (or policyFile) --transport http --port 0 [flags] -- node fake-server.mjs`.
 * Resolves with the listener once it prints its URL, or with the exit code and stderr when it
 * stops before that.
 */
function tollgate(
  flags: string[],
  env: Record<string, string> = {},
  policyFile = policy,
): Promise<Listener | { code: number | null; stderr: string }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      '-c',
      policyFile,
      '--transport',
      'http',
      '--port',
      '0',
      ...flags,
      '--',
      process.execPath,
      FAKE_SERVER,
    ],
    { env: envFor(s, env), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /tollgate: listening on (\S+)/.exec(stderr);
      if (!m) return;
      child.stderr!.removeAllListeners('data');
      child.stderr!.on('data', (more: Buffer) => {
        stderr += more;
      });
      const listener: Listener = {
        url: new URL(m[1]!),
        stderr: () => stderr,
        signal: (sig) => child.kill(sig),
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      };
      running.push(listener);
      resolve(listener);
    });
    void exited.then((code) => resolve({ code, stderr }));
  });
}

function started(r: Awaited<ReturnType<typeof tollgate>>): Listener {
  if (!('url' in r)) throw new Error(`tollgate did not start (exit ${r.code}):\n${r.stderr}`);
  return r;
}

/** Waits (up to 5 s) until the listener's stderr contains `text`; resolves with all of it. */
async function stderrWith(l: Listener, text: string): Promise<string> {
  for (let waited = 0; waited < 5000 && !l.stderr().includes(text); waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return l.stderr();
}

function stopped(r: Awaited<ReturnType<typeof tollgate>>): { code: number | null; stderr: string } {
  if ('url' in r) throw new Error(`tollgate started on ${r.url.href} instead of refusing:\n${r.stderr()}`);
  return r;
}

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } },
});
const post = (url: URL, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: initialize,
  });

describe('--auth-token and TOLLGATE_AUTH_TOKEN', () => {
  for (const empty of ['', '  ']) {
    it(`refuses --auth-token ${JSON.stringify(empty)} with exit 2, saying how to run without auth`, async () => {
      const r = stopped(await tollgate(['--auth-token', empty]));
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `error: option '--auth-token <token>' argument '${empty}' is invalid. the token is empty (an unset variable?); to listen without authentication (loopback only), leave out --auth-token\n(run with --help for usage)\n`,
      );
    });
  }

  it('takes an empty TOLLGATE_AUTH_TOKEN as unset and warns that the listener runs without auth', async () => {
    const l = started(await tollgate([], { TOLLGATE_AUTH_TOKEN: '' }));
    expect(l.stderr()).toContain(
      '"msg":"TOLLGATE_AUTH_TOKEN is set but empty: ignored, the listener runs without authentication"',
    );
    expect(l.stderr()).toContain('"auth":false');
    expect((await post(l.url)).status).toBe(200);
  });

  it('refuses an empty TOLLGATE_AUTH_TOKEN off loopback, naming it', async () => {
    const r = stopped(await tollgate(['--bind', '0.0.0.0'], { TOLLGATE_AUTH_TOKEN: '' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'tollgate: refusing to listen on 0.0.0.0 without authentication (TOLLGATE_AUTH_TOKEN is set but empty)',
    );
  });

  it('still uses a TOLLGATE_AUTH_TOKEN that is set', async () => {
    const l = started(await tollgate([], { TOLLGATE_AUTH_TOKEN: 'from-env' }));
    expect(l.stderr()).toContain('"auth":true');
    expect((await post(l.url)).status).toBe(401);
    expect((await post(l.url, { authorization: 'Bearer from-env' })).status).toBe(200);
  });
});

/** An MCP SDK client over Streamable HTTP, counting the `tools/list_changed` notifications it gets. */
async function httpClient(url: URL): Promise<{ client: Client; listChanged: () => number }> {
  const client = new Client({ name: 'e2e', version: '1' });
  let changed = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changed++;
  });
  await client.connect(new StreamableHTTPClientTransport(url));
  clients.push(client);
  return { client, listChanged: () => changed };
}
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

async function toolNames(c: Client): Promise<string[]> {
  return (await c.listTools()).tools.map((t) => t.name).sort();
}

describe('decision log', () => {
  it("names the listener's URL in its startup event, for tollgate status", async () => {
    const l = started(await tollgate([]));
    expect(await l.stop()).toBe(0);
    const events = readdirSync(join(s.home, 'events'))
      .flatMap((f) =>
        readFileSync(join(s.home, 'events', f), 'utf8')
          .trim()
          .split('\n'),
      )
      .map((line) => JSON.parse(line) as { type: string; listen?: string; pid?: number });
    const startups = events.filter((e) => e.type === 'startup' && e.listen === l.url.href);
    expect(startups).toHaveLength(1);
  });
});

describe('--max-sessions and --session-idle-timeout', () => {
  it('caps the sessions at --max-sessions (503 beyond) and ends one idle past --session-idle-timeout', async () => {
    const l = started(await tollgate(['--max-sessions', '1', '--session-idle-timeout', '1']));
    const first = await post(l.url);
    expect(first.status).toBe(200);
    const id = first.headers.get('mcp-session-id');
    expect(id).toBeTruthy();
    const second = await post(l.url);
    expect(second.status).toBe(503);
    expect(await second.text()).toContain('Too many sessions (cap 1)');
    // Idle for more than a second: ended, its slot free again.
    let again = second;
    for (let waited = 0; waited < 8000; waited += 250) {
      await sleep(250);
      again = await post(l.url);
      if (again.status === 200) break;
    }
    expect(again.status).toBe(200);
    expect(await stderrWith(l, 'idle timeout')).toContain('idle timeout');
  });

  it('refuses a bad value, and the flags without --transport http, with exit 2', async () => {
    for (const [flags, message] of [
      [
        ['--max-sessions', '0'],
        "option '--max-sessions <n>' argument '0' is invalid. must be a positive integer",
      ],
      [
        ['--max-sessions', '1e3'],
        "option '--max-sessions <n>' argument '1e3' is invalid. must be a positive integer",
      ],
      [
        ['--session-idle-timeout', '-1'],
        "option '--session-idle-timeout <seconds>' argument '-1' is invalid. must be a number of seconds from 0 (never) to 604800 (a week)",
      ],
    ] as const) {
      const r = stopped(await tollgate([...flags]));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });
});

describe('--per-session-counters', () => {
  it('gives every session the one policy in force: new sessions do not re-read the file, SIGHUP reloads it for all', async () => {
    const file = s.write('per-session.yaml', 'version: "1"\ndefault: allow\n');
    const l = started(await tollgate(['--per-session-counters', '--no-watch'], {}, file));
    const a = await httpClient(l.url);
    expect(await toolNames(a.client)).toContain('slow');

    writeFileSync(file, 'version: "1"\ndefault: allow\nhide: [slow]\n');
    // --no-watch: the edit waits for SIGHUP, for a session opened after it too.
    const b = await httpClient(l.url);
    expect(await toolNames(b.client)).toContain('slow');

    l.signal('SIGHUP');
    expect(await stderrWith(l, 'policy reloaded on SIGHUP')).toContain('"ok":true');
    for (const c of [a, b]) {
      for (let waited = 0; waited < 5000 && c.listChanged() === 0; waited += 50) await sleep(50);
      expect(c.listChanged()).toBe(1);
      expect(await toolNames(c.client)).not.toContain('slow');
      const denied = await c.client.callTool({ name: 'slow', arguments: {} });
      expect(denied.isError).toBe(true);
      expect(JSON.stringify(denied.content)).toContain('[TOLLGATE POLICY DENIED]');
    }
    // One reload, logged once (not once per session).
    expect(l.stderr().match(/policy reloaded on SIGHUP/g)).toHaveLength(1);
    // A SIGHUP that finds the file broken says so, and keeps the policy in force.
    writeFileSync(file, 'version: "1"\ntools: [oops\n');
    l.signal('SIGHUP');
    expect(await stderrWith(l, 'policy reload on SIGHUP failed; the policy in force is kept')).toContain(
      '"ok":false',
    );
    expect(l.stderr().match(/policy reloaded on SIGHUP/g)).toHaveLength(1);
  });

  it('opens new sessions on the last good policy while the file is broken or gone', async () => {
    const file = s.write('per-session-broken.yaml', 'version: "1"\ndefault: allow\nhide: [slow]\n');
    const l = started(await tollgate(['--per-session-counters'], {}, file));
    writeFileSync(file, 'version: "1"\ntools: [oops\n');
    await stderrWith(l, 'policy reload failed');
    const a = await httpClient(l.url);
    expect(await toolNames(a.client)).toEqual(['ask', 'big', 'crash', 'echo', 'fail']);
    rmSync(file);
    await sleep(1200);
    const b = await httpClient(l.url);
    expect(await toolNames(b.client)).toEqual(['ask', 'big', 'crash', 'echo', 'fail']);
  });
});

/** What the page's script saw, step by step. */
interface PageRun {
  unauthorized?: { status: number; challenge: string | null };
  status?: number;
  sessionId?: string | null;
  reply?: string;
  error?: string;
}

/** Runs in the page: an MCP client doing what a browser app does, with `fetch`. */
async function mcpFromPage({ endpoint, token }: { endpoint: string; token: string }): Promise<PageRun> {
  const out: PageRun = {};
  const rpc = (body: unknown, headers: Record<string, string>) =>
    fetch(endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify(body),
    });
  const init = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'browser', version: '1' },
    },
  };
  try {
    const denied = await rpc(init, {});
    out.unauthorized = { status: denied.status, challenge: denied.headers.get('WWW-Authenticate') };
    const auth = { Authorization: `Bearer ${token}` };
    const r = await rpc(init, auth);
    out.status = r.status;
    out.sessionId = r.headers.get('Mcp-Session-Id');
    await r.text();
    const session = { ...auth, 'Mcp-Session-Id': out.sessionId ?? '', 'MCP-Protocol-Version': '2025-06-18' };
    await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    const call = await rpc(
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'from the page' } },
      },
      session,
    );
    out.reply = await call.text();
    await fetch(endpoint, { method: 'DELETE', headers: session });
  } catch (err) {
    out.error = String(err);
  }
  return out;
}

describeWithChromium('listener from a browser', () => {
  let pages: Server;
  let pagePort: number;
  let browser: Browser;
  const TOKEN = 'browser-test-token';

  beforeAll(async () => {
    // The pages' own server: a second origin, app.test or other.test (both mapped to 127.0.0.1
    // in chromium), while the listener is reached as 127.0.0.1.
    pages = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>MCP client page</title><p>client</p>');
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagePort = (pages.address() as AddressInfo).port;
    browser = await launchChromium([
      '--no-proxy-server',
      '--host-resolver-rules=MAP app.test 127.0.0.1, MAP other.test 127.0.0.1',
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => pages?.close(resolve));
  });

  async function fromPage(origin: string, l: Listener): Promise<PageRun> {
    const page = await browser.newPage();
    try {
      const res = await page.goto(`${origin}/`);
      expect(res?.status()).toBe(200);
      return await page.evaluate(mcpFromPage, { endpoint: l.url.href, token: TOKEN });
    } finally {
      await page.close();
    }
  }

  it('lets a page on an --allowed-origin initialize, read Mcp-Session-Id and call a tool', async () => {
    const app = `http://app.test:${pagePort}`;
    const l = started(await tollgate(['--auth-token', TOKEN, '--allowed-origin', app]));
    const run = await fromPage(app, l);
    expect(run.error).toBeUndefined();
    // The preflight passed without the token; the request itself still needs it.
    expect(run.unauthorized).toEqual({ status: 401, challenge: 'Bearer realm="tollgate"' });
    expect(run.status).toBe(200);
    expect(run.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.reply).toContain('from the page');
    expect(await stderrWith(l, 'HTTP session ended')).toContain('"reason":"client sent DELETE"');
  });

  it('gives a page on another origin nothing: its fetch fails and no session opens', async () => {
    const l = started(
      await tollgate(['--auth-token', TOKEN, '--allowed-origin', `http://app.test:${pagePort}`]),
    );
    const run = await fromPage(`http://other.test:${pagePort}`, l);
    expect(run.error).toBe('TypeError: Failed to fetch');
    expect(run.status).toBeUndefined();
    const refused = `Forbidden: Origin http://other.test:${pagePort} is not allowed`;
    expect(await stderrWith(l, refused)).toContain(refused);
    expect(l.stderr()).not.toContain('HTTP session opened');
  });
});
