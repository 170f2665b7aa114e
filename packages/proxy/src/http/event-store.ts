/**
 * A bounded in-memory SSE event store, so a client whose stream breaks can resume it with
 * `Last-Event-ID` (MCP spec 2025-11-25, "Transports > Streamable HTTP > Resumability and
 * Redelivery"). It implements the SDK's `EventStore` interface.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * Keeps the last `capacity` events of one session (default 1000); older ones are forgotten, and
 * a resumption from a forgotten id replays nothing. Event ids are `<streamId>_<seq>` so the
 * stream of an id is known without a lookup.
 */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  private seq = 0;
  private readonly prefix = randomUUID().slice(0, 8);

  constructor(private readonly capacity = 1000) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = `${streamId}_${this.prefix}${++this.seq}`;
    this.events.set(eventId, { streamId, message });
    if (this.events.size > this.capacity) {
      const oldest = this.events.keys().next().value;
      if (oldest !== undefined) this.events.delete(oldest);
    }
    return eventId;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const start = this.events.get(lastEventId);
    if (!start) return '';
    let after = false;
    for (const [id, event] of this.events) {
      if (after && event.streamId === start.streamId) await send(id, event.message);
      if (id === lastEventId) after = true;
    }
    return start.streamId;
  }
}
