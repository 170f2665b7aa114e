/**
 * Client EOF in front of a stdio server that never answers a call: after the drain wait the call
 * gets an error, and it counts (it was forwarded; the server may have run it).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runStdioProxy } from '../src/proxy.js';
import { RecordingGate } from './http/helpers.js';

// Answers tools/list (the proxy's schema prefetch), never a tools/call, and ignores stdin EOF.
const SILENT_SERVER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const m = JSON.parse(l);
  if (m.method === 'tools/list') process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: [] } }) + '\\n');
});
setInterval(() => {}, 1000);
`;

/**
 * Runs the proxy in front of `server` (a script for `node -e`), sends one call, then `after`:
 * once the call has been forwarded, or at once with `atOnce`.
 */
async function oneCall(server: string, after: (input: PassThrough) => void, opts: { atOnce?: boolean } = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  let got = '';
  output.on('data', (d: Buffer) => {
    got += d.toString();
  });
  const gate = new RecordingGate();
  const done = runStdioProxy({
    command: process.execPath,
    args: ['-e', server],
    gate,
    input,
    output,
    drainTimeoutMs: 300,
    shutdownGraceMs: 200,
  });
  input.write(
    `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'send_email', arguments: {} } })}\n`,
  );
  if (!opts.atOnce) {
    // Until the call has been decided and forwarded.
    while (gate.decisions.length === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
  }
  after(input);
  const exit = await done;
  const reply = JSON.parse(got.trim()) as { id: number; error: { code: number; message: string } };
  return { exit, reply, gate };
}

describe('stdio proxy: a session the client or the operator ends counts its forwarded calls', () => {
  it('a server that exits on EOF with the call in flight: the call counts', async () => {
    const { reply, gate } = await oneCall(
      `${SILENT_SERVER}\nrl.on('close', () => process.exit(0));`,
      (input) => input.end(),
    );
    expect(reply.error.message).toMatch(/^Tollgate closed the session \(the client closed its input\)/);
    expect(gate.commits).toBe(1);
    expect(gate.rollbacks).toBe(0);
  });

  it('SIGTERM to Tollgate, forwarded to the server mid-call: the call counts', async () => {
    const { exit, reply, gate } = await oneCall(SILENT_SERVER, () => {
      process.emit('SIGTERM');
    });
    expect(exit.reason).toBe('signal:SIGTERM');
    expect(reply.error.message).toMatch(/^Tollgate closed the session \(Tollgate received SIGTERM\)/);
    expect(gate.commits).toBe(1);
    expect(gate.rollbacks).toBe(0);
  });
});

describe('stdio proxy: a signal while the server is being started', () => {
  it('is forwarded once it runs, so a server that ignores EOF is not left behind', async () => {
    // The handlers are in place before the spawn: a SIGTERM then no longer takes Node's default
    // action (Tollgate gone, the server it just spawned left running).
    const input = new PassThrough();
    const output = new PassThrough();
    let pid: number | undefined;
    const done = runStdioProxy({
      command: process.execPath,
      args: ['-e', SILENT_SERVER],
      gate: new RecordingGate(),
      input,
      output,
      drainTimeoutMs: 300,
      shutdownGraceMs: 200,
      onStarted: (started) => {
        pid = started.pid;
      },
    });
    expect(process.emit('SIGTERM')).toBe(true);
    const exit = await done;
    expect(exit.reason).toBe('signal:SIGTERM');
    expect(exit.child).toEqual({ code: null, signal: 'SIGTERM' });
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid!, 0)).toThrow();
    input.end();
  });
});

describe('stdio proxy, client EOF with a call the server never answers', () => {
  it('answers it with -32000 after the drain wait and commits its reservation', async () => {
    // EOF right behind the call, before it is even decided: it must still be forwarded first.
    const { exit, reply, gate } = await oneCall(SILENT_SERVER, (input) => input.end(), { atOnce: true });
    expect(exit.reason).toBe('client_eof');
    expect(reply.id).toBe(1);
    expect(reply.error.code).toBe(-32000);
    expect(reply.error.message).toMatch(
      /^Tollgate closed the session \(the client closed its input\) before the MCP server answered/,
    );
    expect(gate.commits).toBe(1);
    expect(gate.rollbacks).toBe(0);
  });
});
