/**
 * @modelcontextprotocol/server-memory behind tollgate: a spend-style counter fed by
 * `increment_from`, persisted in SQLite across a restart of tollgate; the client's environment
 * reaches the server (MEMORY_FILE_PATH).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { argsHmac, readDecisionLog } from '@tollgate/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Scratch, scratch, serverBin, textOf } from './helpers.js';

const POLICY = `version: "1"
tools:
  create_entities:
    rules:
      - name: daily entity budget
        conditions: [{ path: state.create_entities.spend, op: lte, value: 100 }]
        state: { counter: spend, window: day, increment_from: args.cost }
        on_deny: The daily entity budget of 100 is spent
  delete_entities:
    rules:
      - { name: never delete, action: deny, on_deny: Entities are never deleted }
`;

let s: Scratch;
let policy: string;
let memoryFile: string;

const entity = (name: string, cost: unknown) => ({
  name: 'create_entities',
  arguments: { entities: [{ name, entityType: 'thing', observations: [] }], cost },
});

async function session() {
  return connect(s, policy, [process.execPath, serverBin('server-memory')], {
    env: { MEMORY_FILE_PATH: memoryFile },
  });
}

beforeAll(() => {
  s = scratch();
  policy = s.write('policy.yaml', POLICY);
  memoryFile = join(s.dir, 'memory.jsonl');
});
afterAll(() => s?.cleanup());

describe('server-memory through tollgate', () => {
  it('spends a budget with increment_from and keeps it across a restart (SQLite)', async () => {
    const first = await session();
    expect((await first.client.callTool(entity('a', 40))).isError).toBeFalsy();
    expect((await first.client.callTool(entity('b', 40))).isError).toBeFalsy();
    const over = await first.client.callTool(entity('c', 40));
    expect(over.isError).toBe(true);
    expect(textOf(over)).toBe('[TOLLGATE POLICY DENIED] The daily entity budget of 100 is spent');
    // increment_from must be a non-negative finite number.
    expect((await first.client.callTool(entity('d', -5))).isError).toBe(true);
    expect((await first.client.callTool(entity('e', 'lots'))).isError).toBe(true);
    const del = await first.client.callTool({ name: 'delete_entities', arguments: { entityNames: ['a'] } });
    expect(textOf(del)).toBe('[TOLLGATE POLICY DENIED] Entities are never deleted');
    await first.close();

    // The client's environment reached the server: it wrote where MEMORY_FILE_PATH said.
    expect(existsSync(memoryFile)).toBe(true);
    expect(existsSync(join(s.home, 'state', 'tollgate.sqlite'))).toBe(true);

    const second = await session();
    expect((await second.client.callTool(entity('f', 30))).isError).toBe(true); // 80 + 30 > 100
    expect((await second.client.callTool(entity('g', 20))).isError).toBeFalsy(); // 80 + 20 = 100
    expect((await second.client.callTool(entity('h', 1))).isError).toBe(true);
    const graph = await second.client.callTool({ name: 'read_graph', arguments: {} });
    const names = (graph.structuredContent as { entities: Array<{ name: string }> }).entities.map(
      (e) => e.name,
    );
    expect(names.sort()).toEqual(['a', 'b', 'g']);
    await second.close();
    expect(readFileSync(memoryFile, 'utf8')).toContain('"name":"g"');

    // The decision log saw both sessions: startups, shutdowns and every decision.
    const events = readDecisionLog(join(s.home, 'events'));
    expect(events.filter((e) => e.type === 'startup')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'shutdown')).toHaveLength(2);
    const calls = events.filter((e) => e.type === 'tool_call');
    expect(calls.map((e) => (e.type === 'tool_call' ? e.decision : ''))).toEqual([
      'allow',
      'allow',
      'deny',
      'deny',
      'deny',
      'deny',
      'deny',
      'allow',
      'deny',
      'allow',
    ]);
    // Arguments are kept as an HMAC under the key in TOLLGATE_HOME, which both sessions shared.
    const key = readFileSync(join(s.home, 'args.key'), 'utf8').trim();
    expect(statSync(join(s.home, 'args.key')).mode & 0o777).toBe(0o600);
    const hmacs = calls.map((e) => (e as { args_hmac?: string }).args_hmac);
    expect(hmacs[1]).toBe(argsHmac(entity('b', 40).arguments, Buffer.from(key, 'hex')));
    expect(hmacs[8]).toBe(argsHmac(entity('h', 1).arguments, Buffer.from(key, 'hex')));
    expect(JSON.stringify(calls)).not.toContain('args_sha256');
  });
});
