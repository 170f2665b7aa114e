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

  it('forgets the oldest events past the size bound, counting JSON text; resumes a stream whose losses came before', async () => {
    const one = textBytes(1, 'x'.repeat(1000));
    const store = new BoundedEventStore({ maxBytes: 3 * one });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await store.storeEvent('s', result(i, 'x'.repeat(1000))));
    expect(store.size).toBe(3);
    expect(store.storedBytes).toBe(3 * one);
    // From a forgotten event whose successor was forgotten too: refused, not a silent gap.
    expect(await store.getStreamIdForEventId(ids[0]!)).toBeUndefined();
    expect(await replay(store, ids[0]!)).toEqual({ stream: '', ids: [] });
    // From the last forgotten event: everything after it is kept.
    expect(await store.getStreamIdForEventId(ids[1]!)).toBe('s');
    expect(await replay(store, ids[1]!)).toEqual({ stream: 's', ids: [3, 4, 5] });
    expect(await replay(store, ids[2]!)).toEqual({ stream: 's', ids: [4, 5] });
  });

  it('a stream that lost only older events resumes (a GET stream after much traffic elsewhere)', async () => {
    const big = 'x'.repeat(3000);
    const store = new BoundedEventStore({ maxBytes: 2 * textBytes(9, big) });
    const get = await store.storeEvent('_GET_stream', result(1, 'note'));
    for (let i = 2; i <= 4; i++) await store.storeEvent(`post-${i}`, result(i, big));
    expect(await store.getStreamIdForEventId(get)).toBe('_GET_stream');
    expect(await replay(store, get)).toEqual({ stream: '_GET_stream', ids: [] });
    await store.storeEvent('_GET_stream', result(5, 'later'));
    expect(await replay(store, get)).toEqual({ stream: '_GET_stream', ids: [5] });
  });

  it('a message over the bound is not kept and costs other streams nothing; its own stream cannot resume past it', async () => {
    const store = new BoundedEventStore({ maxBytes: 10_000 });
    const a1 = await store.storeEvent('a', result(1, 'small'));
    const b1 = await store.storeEvent('b', result(2, 'small'));
    await store.storeEvent('b', result(3, 'x'.repeat(20_000)));
    const a2 = await store.storeEvent('a', result(4, 'small'));
    expect(store.size).toBe(3);
    expect(await replay(store, a1)).toEqual({ stream: 'a', ids: [4] });
    expect(await store.getStreamIdForEventId(b1)).toBeUndefined();
    expect(await store.getStreamIdForEventId(a2)).toBe('a');
  });

  it('refuses ids it never issued', async () => {
    const store = new BoundedEventStore();
    const id = await store.storeEvent('s', result(1, ''));
    const other = new BoundedEventStore();
    for (const foreign of ['', 'nonsense', 's_', await other.storeEvent('s', result(1, '')), `${id}0`]) {
      expect(await store.getStreamIdForEventId(foreign), foreign).toBeUndefined();
    }
  });

  it('forgets the oldest past the event count', async () => {
    const store = new BoundedEventStore({ maxEvents: 2 });
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) ids.push(await store.storeEvent('s', result(i, '')));
    expect(store.size).toBe(2);
    expect(await replay(store, ids[0]!)).toEqual({ stream: '', ids: [] });
    expect(await replay(store, ids[1]!)).toEqual({ stream: 's', ids: [3, 4] });
    expect(await replay(store, ids[2]!)).toEqual({ stream: 's', ids: [4] });
  });
});
