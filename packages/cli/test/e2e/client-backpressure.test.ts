/**
 * Flow control toward a client that does not read: answers Tollgate writes itself (here -32700
 * for lines that are not JSON, -32602 for malformed calls) must not pile up in its stdout buffer.
 * While more than 8 MiB of its output is unread, Tollgate stops reading the client's input, and
 * once the client reads, every line is answered, in order.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, envFor, FAKE_SERVER, type Scratch, scratch, sleep } from './helpers.js';

const POLICY = 'version: "1"\ndefault: allow\n';
const PAUSED = 'the client is not reading its output; reading neither it nor the server until it does';

/** Lines of the flood: `x` (-32700 each, 76 bytes of answer for 2 bytes), every EVERY-th a malformed call. */
const LINES = 400_000;
const EVERY = 1000;
/** Written in chunks this large, so that our stdin's `writableLength` tells what Tollgate took. */
const CHUNK = 16 * 1024;
/**
 * Most of the flood Tollgate may take while nobody reads its output: its 8 MiB of unread answers
 * come from about 220 KB of `x` lines; the rest is pipes and stream buffers (64 KiB each) and
 * the read during which the bound was crossed (measured: 240 KB). Without flow control it takes
 * all 800 KB.
 */
const MAX_TAKEN = 512 * 1024;

let s: Scratch;
let kill: (() => void) | undefined;
beforeEach(() => {
  s = scratch();
});
afterEach(() => {
  kill?.();
  kill = undefined;
  s.cleanup();
});

const badCall = (k: number) => `{"jsonrpc":"2.0","id":${k},"method":"tools/call","params":1}`;

describe('a client that does not read its answers', () => {
  it('is not read either while 8 MiB of answers are unread; once it reads, everything is answered in order', async () => {
    const policy = s.write('policy.yaml', POLICY);
    const proc = spawn(
      process.execPath,
      [CLI, '-c', policy, '--log-level', 'debug', '--', process.execPath, FAKE_SERVER],
      { env: envFor(s), stdio: 'pipe' },
    );
    kill = () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    };
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise((resolve) => proc.once('exit', resolve));

    // The answers, checked as they stream in (no copy of 45 MB of lines): -32700 for each `x`,
    // -32602 for each malformed call in the order sent, then the answer to the final ping.
    let rest = '';
    let parseErrors = 0;
    let lastCall = 0;
    const problems: string[] = [];
    let initialized = false;
    let pong = false;
    const onLine = (line: string) => {
      const m = JSON.parse(line);
      if (m.id === 'init') initialized = true;
      else if (m.id === 'last') pong = m.result !== undefined;
      else if (m.error?.code === -32700 && m.id === null) parseErrors++;
      else if (m.error?.code === -32602 && m.id === lastCall + 1) {
        lastCall++;
        // Sent after the (lastCall * EVERY - 1)-th line: everything before it is answered.
        if (parseErrors !== lastCall * (EVERY - 1) && problems.length < 5)
          problems.push(`call ${lastCall} after ${parseErrors} parse errors`);
      } else if (problems.length < 5) problems.push(`unexpected: ${line.slice(0, 200)}`);
    };
    proc.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString('utf8')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) onLine(line);
    });

    proc.stdin.write(
      `${JSON.stringify({
        jsonrpc: '2.0',
        id: 'init',
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      })}\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n`,
    );
    for (let i = 0; i < 300 && !initialized; i++) await sleep(50);
    expect(initialized).toBe(true);

    // From now on the client reads nothing.
    proc.stdout.pause();
    const lines: string[] = [];
    for (let i = 1; i <= LINES; i++) lines.push(i % EVERY === 0 ? badCall(i / EVERY) : 'x');
    const flood = Buffer.from(`${lines.join('\n')}\n`);
    for (let at = 0; at < flood.length; at += CHUNK) proc.stdin.write(flood.subarray(at, at + CHUNK));
    const taken = () => flood.length - proc.stdin.writableLength;

    // Tollgate says when it stops reading; without flow control it reads on (and on).
    for (let i = 0; i < 1200 && !stderr.includes(PAUSED) && taken() <= MAX_TAKEN; i++) await sleep(50);
    expect(taken()).toBeLessThanOrEqual(MAX_TAKEN);
    expect(stderr).toContain(PAUSED);
    // Paused: however long the client waits, Tollgate takes no more than the bound.
    await sleep(1000);
    expect(taken()).toBeLessThanOrEqual(MAX_TAKEN);
    expect(parseErrors).toBe(0);

    // The client reads: the rest of the flood is taken and every line answered, in order.
    proc.stdout.resume();
    proc.stdin.write('{"jsonrpc":"2.0","id":"last","method":"ping"}\n');
    for (let i = 0; i < 1800 && !pong; i++) await sleep(50);
    expect(problems).toEqual([]);
    expect(pong).toBe(true);
    expect(lastCall).toBe(LINES / EVERY);
    expect(parseErrors).toBe(LINES - LINES / EVERY);
    expect(stderr).toContain('the client read its output; reading it and the server again');

    proc.stdin.end();
    expect(await exited).toBe(0);
  });
});
