/**
 * A server that closes its stdout and keeps running (fixtures/stdout-closer.mjs runs
 * `fs.closeSync(1)` on its first `tools/call`): EOF on its stdout ends its side of the stdio
 * transport. The pending call and any later request get -32000 at once, while the client keeps its
 * stdin open; the server is stopped with the shutdown ladder and tollgate exits with its code.
 * And the mirror case: a server that exits while a grandchild holds its stdout open.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alive, childrenOf, echoCall, FAKE_SERVER, RawSession, rawSessionScratch, sleep } from './helpers.js';

const STDOUT_CLOSER = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures/stdout-closer.mjs');

// One call a minute: a call that was rolled back can be made again by the next session.
const POLICY = `version: "1"
tools:
  echo:
    rules:
      - { name: one echo a minute, rate_limit: 1/minute }
`;

const PENDING_ERROR = {
  code: -32000,
  message:
    "MCP server closed the session (it closed its stdout) before answering; the server is still running and may run the call, so it counts against the policy's limits",
};
const LATER_ERROR = { code: -32000, message: 'MCP server closed the session (it closed its stdout)' };
const WARNING = 'the server closed its stdout but is still running; ending the session and stopping it';
// Not a speed target: the answers come about 200 ms after the EOF; the bound tells "at once"
// from "when the client closes its input" (never, here) with room for a loaded machine.
const PROMPT_MS = 3000;

const fx = rawSessionScratch(POLICY);

const call = echoCall;

/** Tollgate in front of stdout-closer.mjs with `modes`; its children once the handshake is done. */
async function start(grace: number, ...modes: string[]) {
  const raw = new RawSession(fx.s, [
    '-c',
    fx.policy,
    '--shutdown-grace',
    String(grace),
    '--',
    process.execPath,
    STDOUT_CLOSER,
    ...modes,
  ]);
  fx.started.push(raw);
  await raw.handshake();
  const kids = childrenOf(raw.proc.pid!);
  // The server and the watchdog.
  expect(kids).toHaveLength(2);
  return { raw, kids };
}

async function noneLeft(kids: number[]): Promise<void> {
  // The watchdog leaves once it reads "done"; give it a moment.
  for (let i = 0; i < 40 && kids.some(alive); i++) await sleep(50);
  for (const pid of kids) expect(alive(pid)).toBe(false);
}

describe('a server that closes its stdout and keeps running', () => {
  it('answers the pending call at once and counts it, logs a warning, stops the server and exits with its code', async () => {
    const { raw, kids } = await start(2000, 'exit-on-eof=4');
    const t0 = Date.now();
    raw.send(call(1));
    const e1 = await raw.waitFor((m) => m.id === 1, 10_000);
    expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
    expect(e1).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { ...PENDING_ERROR, data: { exitCode: null, signal: null } },
    });
    // The first step of the ladder (stdin EOF) ends this server, with its code; the client's
    // stdin is still open.
    expect((await raw.exited).code).toBe(4);
    expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
    expect(raw.stderr).toContain('stdout-closer: stdin EOF');
    const [warning] = raw.logged(WARNING);
    expect(warning).toMatchObject({ level: 40, pending: 1 });
    expect(kids).toContain(warning?.childPid);
    expect(raw.logged('tollgate stopping')[0]).toMatchObject({ exitCode: 4, reason: 'server_eof' });
    await noneLeft(kids);
    // The call counts (the server still had it in its stdin and may have run it): the next
    // session is at its limit of one a minute.
    const again = new RawSession(fx.s, ['-c', fx.policy, '--', process.execPath, FAKE_SERVER]);
    await again.handshake();
    again.send(call(1));
    const next = await again.waitFor((m) => m.id === 1);
    expect(next.result.isError).toBe(true);
    expect(next.result._meta['tollgate/denial'].reason).toBe('rate_limited');
    again.proc.stdin.end();
    await again.exited;
  });

  it('answers a later request at once too, and SIGTERMs a server that ignores stdin EOF', async () => {
    const { raw, kids } = await start(1000);
    raw.send(call(1));
    expect((await raw.waitFor((m) => m.id === 1, 10_000)).error).toMatchObject(PENDING_ERROR);
    // The server is still running (stdin EOF ignored, SIGTERM a grace period away).
    const t1 = Date.now();
    raw.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    const e2 = await raw.waitFor((m) => m.id === 2, 10_000);
    expect(Date.now() - t1).toBeLessThan(PROMPT_MS);
    expect(e2).toEqual({ jsonrpc: '2.0', id: 2, error: LATER_ERROR });
    // Stdin EOF (ignored), SIGTERM after the grace period: 128 + 15.
    expect((await raw.exited).code).toBe(143);
    expect(raw.stderr).toContain('stdout-closer: stdin EOF');
    expect(raw.logged(WARNING)).toHaveLength(1);
    // The ping never reached the server.
    expect(raw.stderr).not.toContain('stdout-closer: got ping');
    await noneLeft(kids);
  });

  it('a server that also ignores SIGTERM: answers at once, SIGKILL after the ladder, nothing left behind', async () => {
    const { raw, kids } = await start(300, 'ignore-sigterm');
    const t0 = Date.now();
    raw.send(call(1));
    expect((await raw.waitFor((m) => m.id === 1, 10_000)).error).toMatchObject(PENDING_ERROR);
    expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
    raw.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect((await raw.waitFor((m) => m.id === 2, 10_000)).error).toEqual(LATER_ERROR);
    // Stdin EOF (ignored), SIGTERM (ignored), SIGKILL: 128 + 9, two grace periods of 300 ms.
    expect((await raw.exited).code).toBe(137);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(raw.stderr).toContain('stdout-closer: SIGTERM ignored');
    expect(raw.logged(WARNING)).toHaveLength(1);
    await noneLeft(kids);
  });
});

describe('the mirror case: a server that exits while a grandchild holds its stdout', () => {
  it('is reported as the exit, with its code, without waiting for the stdout EOF', async () => {
    const { raw, kids } = await start(2000, 'exit-keeping-stdout=5');
    let holder: number | undefined;
    try {
      const t0 = Date.now();
      raw.send(call(1));
      const e1 = await raw.waitFor((m) => m.id === 1, 10_000);
      expect(e1.error).toMatchObject({
        code: -32000,
        message: 'MCP server exited with code 5 before answering',
      });
      expect((await raw.exited).code).toBe(5);
      expect(Date.now() - t0).toBeLessThan(PROMPT_MS);
      holder = Number(/grandchild (\d+) holds stdout/.exec(raw.stderr)?.[1]);
      // It held the pipe all along: no EOF came before tollgate exited.
      expect(alive(holder)).toBe(true);
      expect(raw.logged(WARNING)).toHaveLength(0);
      await noneLeft(kids);
    } finally {
      if (holder) process.kill(holder, 'SIGKILL');
    }
  });
});
