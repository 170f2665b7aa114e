/**
 * Protocol faults, one test each, against the built tollgate. Faults the real servers cannot
 * produce use the scripted peer in fixtures/fake-server.mjs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  alive,
  childrenOf,
  connect,
  FAKE_SERVER,
  RawSession,
  type Scratch,
  scratch,
  serverBin,
  sleep,
  textOf,
} from './helpers.js';

const POLICY = `version: "1"
tools:
  echo:
    rules:
      - name: no shouting
        conditions: [{ path: args.text, op: regex, value: "^[^A-Z]*$" }]
        on_deny: Lower case only
  slow:
    rules:
      - name: one slow call a minute
        rate_limit: 1/minute
  fail:
    rules:
      - name: one failing call a minute
        rate_limit: 1/minute
  big:
    rules:
      - name: two big calls a minute
        rate_limit: 2/minute
`;

let s: Scratch;
let policy: string;
let events: string;

function serverEvents(): Array<{ t: number; event: string; method?: string; id?: unknown; params?: any }> {
  try {
    return readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

beforeEach(() => {
  s = scratch();
  policy = s.write('policy.yaml', POLICY);
  events = join(s.dir, 'server-events.jsonl');
});
afterEach(() => s.cleanup());

const fake = (...modes: string[]) => [process.execPath, FAKE_SERVER, ...modes];
const call = (id: unknown, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe('protocol faults', () => {
  it('a batch carrying a denied call: every element evaluated, one array back, nothing smuggled', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake()], { FAKE_EVENTS_FILE: events });
    await raw.handshake();
    raw.send([
      call(10, 'echo', { text: 'quiet' }),
      call(11, 'echo', { text: 'LOUD' }),
      { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'echo', arguments: 'not an object' } },
      { jsonrpc: '2.0', id: 13, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
    ]);
    const batch = await raw.waitFor((m) => Array.isArray(m));
    expect(batch.map((r: { id: unknown }) => r.id)).toEqual([10, 11, 12, 13]);
    expect(batch[0].result.content[0].text).toBe('quiet');
    expect(batch[1].result.isError).toBe(true);
    expect(batch[1].result.content[0].text).toBe('[TOLLGATE POLICY DENIED] Lower case only');
    expect(batch[2].error.code).toBe(-32602);
    expect(batch[3].result).toEqual({});
    raw.proc.stdin.end();
    await raw.exited;
    const calls = serverEvents().filter((e) => e.method === 'tools/call');
    expect(calls.map((e) => e.id)).toEqual([10]);
  });

  it('evaluates a call whose member names are escaped: the server decodes "\\u0069d" as "id"', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake()], { FAKE_EVENTS_FILE: events });
    await raw.handshake();
    raw.send(
      '{"jsonrpc":"2.0","\\u0069d":20,"method":"tools/call","params":{"name":"echo","arguments":{"text":"LOUD"}}}',
    );
    raw.send(
      '{"jsonrpc":"2.0","id":21,"\\u006dethod":"tools/call","params":{"name":"echo","arguments":{"text":"LOUD"}}}',
    );
    raw.send(
      '{"jsonrpc":"2.0","\\u0069d":22,"method":"tools/call","params":{"name":"echo","arguments":{"text":"quiet"}}}',
    );
    const denied = await raw.waitFor((m) => m.id === 20);
    expect(denied.result.content[0].text).toBe('[TOLLGATE POLICY DENIED] Lower case only');
    expect((await raw.waitFor((m) => m.id === 21)).result.isError).toBe(true);
    expect((await raw.waitFor((m) => m.id === 22)).result.content[0].text).toBe('quiet');
    raw.proc.stdin.end();
    await raw.exited;
    const calls = serverEvents().filter((e) => e.method === 'tools/call');
    expect(calls.map((e) => e.id)).toEqual([22]);
  });

  it('refuses a line with a carriage return inside it (a tools/call hidden between CRs), and accepts CRLF line ends', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake()], { FAKE_EVENTS_FILE: events });
    await raw.handshake();
    const hidden = JSON.stringify(call(30, 'echo', { text: 'LOUD' }));
    // To the proxy one notification; to a server reading universal newlines (Python's default),
    // a tools/call on a line of its own.
    raw.proc.stdin.write(`{"jsonrpc":"2.0","method":"notifications/note","params":{"x":[\r${hidden}\r]}}\n`);
    raw.proc.stdin.write(`${JSON.stringify(call(31, 'echo', { text: 'crlf' }))}\r\n`);
    const refused = await raw.waitFor((m) => m.id === null && m.error?.code === -32600);
    expect(refused.error.message).toContain('carriage return');
    expect((await raw.waitFor((m) => m.id === 31)).result.content[0].text).toBe('crlf');
    raw.proc.stdin.end();
    await raw.exited;
    const seen = serverEvents().filter((e) => e.method === 'tools/call' || e.method === 'notifications/note');
    expect(seen.map((e) => e.id)).toEqual([31]);
  });

  it.each([5, 20])(
    'passes a %i MiB message each way when written in 4 KiB chunks',
    async (mib) => {
      const open = s.write('open.yaml', 'version: "1"\n');
      const raw = new RawSession(s, ['-c', open, '--', ...fake()]);
      await raw.handshake();
      const text = 'a\u2028b'.repeat(Math.ceil((mib * 1024 * 1024) / 5));
      const bytes = Buffer.from(`${JSON.stringify(call(1, 'echo', { text }))}\n`);
      for (let i = 0; i < bytes.length; i += 4096) {
        if (!raw.proc.stdin.write(bytes.subarray(i, i + 4096))) {
          await new Promise((r) => raw.proc.stdin.once('drain', r));
        }
      }
      const reply = await raw.waitFor((m) => m.id === 1, 150_000);
      expect(reply.result.content[0].text.length).toBe(text.length);
      expect(reply.result.content[0].text === text).toBe(true);
      raw.send(call(2, 'big', { bytes: mib * 1024 * 1024 }));
      const big = await raw.waitFor((m) => m.id === 2, 150_000);
      expect(big.result.content[0].text.length).toBe(mib * 1024 * 1024);
      raw.proc.stdin.end();
      expect((await raw.exited).code).toBe(0);
    },
    180_000,
  );

  it('answers a message over --max-message-bytes with -32600 naming its id, and carries on', async () => {
    const raw = new RawSession(s, ['-c', policy, '--max-message-bytes', '100000', '--', ...fake()]);
    await raw.handshake();
    raw.send(call(7, 'echo', { text: 'x'.repeat(200_000) }));
    const err = await raw.waitFor((m) => m.id === 7);
    expect(err.error.code).toBe(-32600);
    expect(err.error.message).toMatch(/exceeds the limit of 100000 bytes/);
    raw.send(call(8, 'echo', { text: 'still here' }));
    expect((await raw.waitFor((m) => m.id === 8)).result.content[0].text).toBe('still here');
    raw.proc.stdin.end();
    await raw.exited;
  });

  it('a server answer passed through by cut-through that goes over --max-message-bytes: the line is cut, the call gets an error, and the session carries on', async () => {
    const raw = new RawSession(s, ['-c', policy, '--max-message-bytes', '1000000', '--', ...fake()]);
    await raw.handshake();
    raw.send(call(7, 'big', { bytes: 3_000_000 }));
    const err = await raw.waitFor((m) => m.id === 7 && m.error);
    expect(err.error.message).toMatch(/response of \d+ bytes exceeds the proxy's limit of 1000000 bytes/);
    // What the client got before the error: the first 1,000,000 bytes of the answer, ended.
    const cut = raw.messages.find((m) => m.unparsable);
    expect(cut.unparsable.length).toBe(1_000_000);
    raw.send(call(8, 'echo', { text: 'still here' }));
    expect((await raw.waitFor((m) => m.id === 8)).result.content[0].text).toBe('still here');
    // The tool ran, so the answer too big to pass still counts: the third call hits the limit.
    raw.send(call(9, 'big', { bytes: 3_000_000 }));
    expect((await raw.waitFor((m) => m.id === 9 && m.error)).error.code).toBe(-32603);
    raw.send(call(10, 'big', { bytes: 3_000_000 }));
    const third = await raw.waitFor((m) => m.id === 10);
    expect(third.result.isError).toBe(true);
    expect(third.result._meta['tollgate/denial'].reason).toBe('rate_limited');
    raw.proc.stdin.end();
    expect((await raw.exited).code).toBe(0);
  });

  it('sends noise on the server stdout to stderr, never to the client', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake('noisy')]);
    await raw.handshake();
    raw.send(call(1, 'echo', { text: 'hi' }));
    await raw.waitFor((m) => m.id === 1);
    raw.proc.stdin.end();
    await raw.exited;
    for (const line of raw.lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(raw.lines.join('\n')).not.toContain('fake-server:');
    expect(raw.stderr).toContain('fake-server: starting up (this line is not JSON)');
    expect(raw.stderr).toContain('fake-server: got tools/call');
  });

  it('forwards a cancellation at once while a slow call runs', async () => {
    const sdk = await connect(s, policy, fake(), { env: { FAKE_EVENTS_FILE: events } });
    const abort = new AbortController();
    const pending = sdk.client.callTool({ name: 'slow', arguments: { ms: 20_000 } }, undefined, {
      signal: abort.signal,
    });
    for (let i = 0; i < 50 && !serverEvents().some((e) => e.params?.name === 'slow'); i++) await sleep(50);
    const abortedAt = Date.now();
    abort.abort('user gave up');
    await expect(pending).rejects.toThrow();
    let cancelled: { t: number; params?: any } | undefined;
    for (let i = 0; i < 40 && !cancelled; i++) {
      cancelled = serverEvents().find((e) => e.method === 'notifications/cancelled');
      if (!cancelled) await sleep(50);
    }
    expect(cancelled).toBeDefined();
    // Far sooner than the 20 s the call would take (2 s of slack for a loaded CI machine).
    expect(cancelled!.t - abortedAt).toBeLessThan(2000);
    const slowCall = serverEvents().find((e) => e.params?.name === 'slow');
    expect(cancelled!.params.requestId).toBe(slowCall!.id);
    // The session is still healthy.
    expect(textOf(await sdk.client.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
    await sdk.close();
  });

  it('relays a server-to-client request made in the middle of a call', async () => {
    let asked = 0;
    const sdk = await connect(s, policy, fake(), {
      capabilities: { roots: {} },
      setup: (c) =>
        c.setRequestHandler(ListRootsRequestSchema, async () => {
          asked++;
          return { roots: [{ uri: 'file:///e2e', name: 'e2e' }] };
        }),
    });
    const r = await sdk.client.callTool({ name: 'ask', arguments: {} });
    expect(asked).toBe(1);
    expect(textOf(r)).toBe('client answered: {"roots":[{"uri":"file:///e2e","name":"e2e"}]}');
    await sdk.close();
  });

  it('rolls back the reservation of a call the server answers with a JSON-RPC error', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake()]);
    await raw.handshake();
    raw.send(call(1, 'fail'));
    expect((await raw.waitFor((m) => m.id === 1)).error.code).toBe(-32050);
    raw.send(call(2, 'fail'));
    // Admitted again: the first reservation was rolled back (limit 1/minute).
    expect((await raw.waitFor((m) => m.id === 2)).error.code).toBe(-32050);
    raw.send(call(3, 'slow', { ms: 10 }));
    expect((await raw.waitFor((m) => m.id === 3)).result.content[0].text).toBe('slow done');
    raw.send(call(4, 'slow', { ms: 10 }));
    expect((await raw.waitFor((m) => m.id === 4)).result._meta['tollgate/denial'].reason).toBe(
      'rate_limited',
    );
    raw.proc.stdin.end();
    await raw.exited;
  });

  it('answers every pending call when the server crashes, rolls them back, and exits with its code', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake()]);
    await raw.handshake();
    raw.send(call(1, 'slow', { ms: 30_000 }));
    raw.send({ jsonrpc: '2.0', id: 2, method: 'resources/list' });
    raw.send(call(3, 'crash', { code: 3, afterMs: 300 }));
    const e1 = await raw.waitFor((m) => m.id === 1);
    const e3 = await raw.waitFor((m) => m.id === 3);
    expect(e1.error).toMatchObject({
      code: -32000,
      message: 'MCP server exited with code 3 before answering',
    });
    expect(e3.error.code).toBe(-32000);
    expect((await raw.exited).code).toBe(3);
    // The slow call's reservation was rolled back: a new session may make one again.
    const again = new RawSession(s, ['-c', policy, '--', ...fake()]);
    await again.handshake();
    again.send(call(1, 'slow', { ms: 10 }));
    expect((await again.waitFor((m) => m.id === 1)).result.content[0].text).toBe('slow done');
    again.proc.stdin.end();
    await again.exited;
  });

  it('exits with the server exit code after client EOF, and 128+n when a signal ends it', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake()], { FAKE_EXIT_CODE: '7' });
    await raw.handshake();
    raw.proc.stdin.end();
    expect((await raw.exited).code).toBe(7);

    const killed = new RawSession(s, ['-c', policy, '--shutdown-grace', '300', '--', ...fake('ignore-eof')]);
    await killed.handshake();
    killed.proc.stdin.end();
    // stdin EOF is ignored; SIGTERM (default action) ends it: 128 + 15.
    expect((await killed.exited).code).toBe(143);
  });

  it('--shutdown-grace 0 stops the server at once: SIGKILL right after stdin EOF and SIGTERM', async () => {
    const raw = new RawSession(s, [
      '-c',
      policy,
      '--shutdown-grace',
      '0',
      '--',
      ...fake('ignore-eof', 'ignore-sigterm'),
    ]);
    await raw.handshake();
    const t0 = Date.now();
    raw.proc.stdin.end();
    // Neither EOF nor SIGTERM ends this server: only SIGKILL does (128 + 9), with no wait
    // (the default grace would take 2 x 2000 ms).
    expect((await raw.exited).code).toBe(137);
    // Not a speed target: the bound only tells "no grace" from the default grace of 4,000 ms,
    // with room for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('forwards SIGTERM to the server', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake()], { FAKE_EVENTS_FILE: events });
    await raw.handshake();
    raw.proc.kill('SIGTERM');
    expect((await raw.exited).code).toBe(143);
  });

  it('a server that ignores the forwarded SIGTERM is stopped after the grace period, and tollgate exits', async () => {
    const raw = new RawSession(
      s,
      ['-c', policy, '--shutdown-grace', '300', '--', ...fake('ignore-eof', 'ignore-sigterm')],
      {
        FAKE_EVENTS_FILE: events,
      },
    );
    await raw.handshake();
    const t0 = Date.now();
    raw.proc.kill('SIGTERM');
    // Forwarded SIGTERM ignored; then stdin EOF (ignored), SIGTERM (ignored), SIGKILL: 128 + 9.
    expect((await raw.exited).code).toBe(137);
    expect(serverEvents().filter((e) => e.event === 'sigterm-ignored')).toHaveLength(2);
    // Not a speed target: three grace periods of 300 ms, well under the 2 s default grace.
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(raw.stderr).toContain('the server outlived the forwarded signal; stopping it');
  });

  it('a signal after client EOF kills a server that ignores both within half a grace period (the SDK client SIGKILLs 2 s after its SIGTERM)', async () => {
    const raw = new RawSession(s, ['-c', policy, '--', ...fake('ignore-eof', 'ignore-sigterm')], {
      FAKE_EVENTS_FILE: events,
    });
    await raw.handshake();
    // What StdioClientTransport.close() does: end stdin, SIGTERM 2 s later, SIGKILL 2 s after that.
    raw.proc.stdin.end();
    await sleep(2000);
    const t0 = Date.now();
    raw.proc.kill('SIGTERM');
    const killer = setTimeout(() => raw.proc.kill('SIGKILL'), 2000);
    const exit = await raw.exited;
    clearTimeout(killer);
    // Tollgate exits on its own with the server's end (SIGKILL: 128 + 9), its shutdown logged.
    expect(exit).toEqual({ code: 137, signal: null });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(raw.stderr).toContain('signalled while stopping and the server is still running; killing it');
    expect(raw.stderr).toContain('tollgate stopping');
  });

  it.each([
    ['server-filesystem', () => [process.execPath, serverBin('server-filesystem'), s.dir]],
    ['server-memory', () => [process.execPath, serverBin('server-memory')]],
    ['server-everything', () => [process.execPath, serverBin('server-everything')]],
    ['a server ignoring stdin EOF and SIGTERM', () => fake('ignore-eof', 'ignore-sigterm')],
  ])('leaves no orphan 2 s after tollgate is killed with SIGKILL: %s', async (_label, server) => {
    const raw = new RawSession(s, ['-c', policy, '--', ...server()], {
      MEMORY_FILE_PATH: join(s.dir, 'mem.jsonl'),
    });
    await raw.handshake();
    const kids = childrenOf(raw.proc.pid!);
    expect(kids.length).toBeGreaterThanOrEqual(1);
    for (const pid of kids) expect(alive(pid)).toBe(true);
    raw.proc.kill('SIGKILL');
    await raw.exited;
    await sleep(2000);
    for (const pid of kids) expect(alive(pid)).toBe(false);
  });
});
