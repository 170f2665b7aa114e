/**
 * Numbers with more digits than a double holds, through the built proxy in front of the scripted
 * peer: the proxy forwards a call's bytes unchanged, so the server receives every digit, and the
 * policy must judge those digits, not the number JSON.parse rounds them to.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_SERVER, RawSession, type Scratch, scratch } from './helpers.js';

const POLICY = `version: "1"
tools:
  echo:
    rules:
      - name: team channel only
        conditions: [{ path: args.channel_id, op: eq, value: "1098765432109876543" }]
      - name: not the archive
        conditions: [{ path: args.thread, op: neq, value: 5 }]
`;

let s: Scratch;
let events: string;
beforeEach(() => {
  s = scratch();
  events = join(s.dir, 'server-events.jsonl');
});
afterEach(() => s.cleanup());

function linesReceived(): string[] {
  try {
    return readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.event === 'line')
      .map((e) => e.line as string);
  } catch {
    return [];
  }
}

const call = (id: number, args: string) =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":${args}}}`;

describe('numbers beyond a double', () => {
  it('a neighbouring ID, as a number or a string, is denied; the ID itself as text passes with every digit', async () => {
    const raw = new RawSession(
      s,
      ['-c', s.write('policy.yaml', POLICY), '--', process.execPath, FAKE_SERVER, 'record-lines'],
      {
        FAKE_EVENTS_FILE: events,
      },
    );
    await raw.handshake();
    raw.send(call(1, '{"channel_id":1098765432109876511,"thread":1}'));
    raw.send(call(2, '{"channel_id":"1098765432109876511","thread":1}'));
    raw.send(call(3, '{"channel_id":1098765432109876543,"thread":1}'));
    raw.send(call(4, '{"channel_id":"1098765432109876543","thread":5.0000000000000001}'));
    raw.send(call(5, '{"channel_id":"1098765432109876543","thread":12345678901234567890}'));
    const fine = call(6, '{"channel_id":"1098765432109876543","thread":6}');
    raw.send(fine);
    const text = async (id: number) =>
      (await raw.waitFor((m) => m.id === id)).result.content[0].text as string;
    expect(await text(1)).toBe(
      '[TOLLGATE POLICY DENIED] Rule "team channel only" denied the call: args.channel_id (1098765432109876511, which a double does not hold exactly) cannot be shown to equal or differ from "1098765432109876543": a server may read it either way, so eq does not hold',
    );
    expect(await text(2)).toBe(
      '[TOLLGATE POLICY DENIED] Rule "team channel only" denied the call: args.channel_id ("1098765432109876511") is not eq "1098765432109876543"',
    );
    // The same digits as a number: a double-reading server would round them, so no comparison vouches.
    expect(await text(3)).toMatch(/^\[TOLLGATE POLICY DENIED\] Rule "team channel only" denied the call/);
    expect(await text(4)).toBe(
      '[TOLLGATE POLICY DENIED] Rule "not the archive" denied the call: args.thread (5.0000000000000001, which a double does not hold exactly) cannot be shown to equal or differ from 5: a server may read it either way, so neq does not hold',
    );
    expect(await text(5)).toMatch(/^\[TOLLGATE POLICY DENIED\] Rule "not the archive"/);
    expect((await raw.waitFor((m) => m.id === 6)).result.isError).toBeFalsy();
    // Only the admitted call reached the server, byte for byte.
    expect(linesReceived().filter((l) => l.includes('tools/call'))).toEqual([fine]);
    raw.proc.stdin.end();
    await raw.exited;
  }, 60_000);

  it('a batch element reaches the server as the bytes sent, every digit kept', async () => {
    const policy = s.write(
      'open.yaml',
      'version: "1"\ntools:\n  echo:\n    rules:\n      - { name: ids, conditions: [{ path: args.id, op: regex, value: "^[0-9]+$" }] }\n',
    );
    const raw = new RawSession(s, ['-c', policy, '--', process.execPath, FAKE_SERVER, 'record-lines'], {
      FAKE_EVENTS_FILE: events,
    });
    await raw.handshake();
    const a = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"id":12345678901234567891, "text":"caf\\u00e9"}}}`;
    const b = `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"id":"x"}}}`;
    raw.send(`[${a} , ${b}]`);
    const batch = await raw.waitFor((m) => Array.isArray(m));
    expect(batch.map((r: { id: number }) => r.id)).toEqual([7, 8]);
    expect(batch[0].result.isError).toBeFalsy();
    expect(batch[1].result.isError).toBe(true);
    expect(linesReceived().filter((l) => l.includes('tools/call'))).toEqual([a]);
    raw.proc.stdin.end();
    await raw.exited;
  }, 60_000);
});
