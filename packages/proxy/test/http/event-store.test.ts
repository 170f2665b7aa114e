import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { BoundedEventStore } from '../../src/http/event-store.js';

const result = (id: number, text: string): JSONRPCMessage => ({
  jsonrpc: '2.0',
  id,
  result: { content: [{ type: 'text', text }] },
});
const textBytes = (id: number, text: string) => JSON.stringify(result(id, text)).length;

async function replay(store: BoundedEventStore, after: string): Promise<{ stream: string; ids: number[] }> {
  const ids: number[] = [];
  const stream = await store.replayEventsAfter(after, {
    send: async (_eventId, message) => {
      ids.push((message as { id: number }).id);
    },
  });
  return { stream, ids };
}

describe('BoundedEventStore', () => {
  it('replays the events of the same stream after an id, as the messages stored', async () => {
    const store = new BoundedEventStore();
    const a1 = await store.storeEvent('a', result(1, 'x'));
    await store.storeEvent('b', result(2, 'y'));
    await store.storeEvent('a', result(3, 'z'));
    expect(await store.getStreamIdForEventId(a1)).toBe('a');
    expect(await replay(store, a1)).toEqual({ stream: 'a', ids: [3] });
    const sent: JSONRPCMessage[] = [];
    await store.replayEventsAfter(a1, { send: async (_id, m) => void sent.push(m) });
    expect(sent).toEqual([result(3, 'z')]);
  });

  it('forgets the oldest events past the size bound, counting JSON text', async () => {
    const one = textBytes(1, 'x'.repeat(1000));
    const store = new BoundedEventStore({ maxBytes: 3 * one });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await store.storeEvent('s', result(i, 'x'.repeat(1000))));
    expect(store.size).toBe(3);
    expect(store.storedBytes).toBe(3 * one);
    expect(await replay(store, ids[1]!)).toEqual({ stream: '', ids: [] });
    expect(await replay(store, ids[2]!)).toEqual({ stream: 's', ids: [4, 5] });
  });

  it('keeps no message larger than the bound, and forgets what came before it (no gap on replay)', async () => {
    const store = new BoundedEventStore({ maxBytes: 10_000 });
    const first = await store.storeEvent('s', result(1, 'small'));
    const big = await store.storeEvent('s', result(2, 'x'.repeat(20_000)));
    const after = await store.storeEvent('s', result(3, 'small'));
    expect(store.size).toBe(1);
    expect(await replay(store, first)).toEqual({ stream: '', ids: [] });
    expect(await replay(store, big)).toEqual({ stream: '', ids: [] });
    expect(await store.getStreamIdForEventId(after)).toBe('s');
  });

  it('forgets the oldest past the event count', async () => {
    const store = new BoundedEventStore({ maxEvents: 2 });
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) ids.push(await store.storeEvent('s', result(i, '')));
    expect(store.size).toBe(2);
    expect(await replay(store, ids[0]!)).toEqual({ stream: '', ids: [] });
    expect(await replay(store, ids[2]!)).toEqual({ stream: 's', ids: [4] });
  });
});
