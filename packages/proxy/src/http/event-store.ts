/**
 * A bounded in-memory SSE event store, so a client whose stream breaks can resume it with
 * `Last-Event-ID` (MCP spec 2025-11-25, "Transports > Streamable HTTP > Resumability and
 * Redelivery"). It implements the SDK's `EventStore` interface.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Default {@link BoundedEventStoreOptions.maxEvents}. */
export const DEFAULT_REPLAY_EVENTS = 1000;

/**
 * Default {@link BoundedEventStoreOptions.maxBytes}: 4 Mi UTF-16 code units of JSON text a
 * session (4 MiB of memory for Latin-1 text, up to 8 MiB for other text).
 */
export const DEFAULT_REPLAY_BYTES = 4 * 1024 * 1024;

/** Streams whose lost events are remembered (see {@link BoundedEventStore}); oldest forgotten first. */
const MAX_LOSS_RECORDS = 10_000;

/** Options of {@link BoundedEventStore}. */
export interface BoundedEventStoreOptions {
  /** Most events kept (default {@link DEFAULT_REPLAY_EVENTS}). */
  readonly maxEvents?: number;
  /**
   * Most JSON text kept, in UTF-16 code units (default {@link DEFAULT_REPLAY_BYTES}): what V8
   * holds is that many bytes for Latin-1 text, twice as many for other text.
   */
  readonly maxBytes?: number;
}

/** One stored event: its stream, its place in the session's order, its JSON text. */
interface StoredEvent {
  readonly streamId: string;
  readonly seq: number;
  readonly text: string;
}

/**
 * Keeps the last events of one session, up to a count and a size; older ones are forgotten,
 * oldest first, and a message larger than the whole size bound is not kept. Events are held as
 * their JSON text (a parsed result takes several times its text's memory) and parsed again on
 * replay. Event ids are `<streamId>_<prefix><seq>`, so an id names its stream and its place even
 * once its event is forgotten.
 *
 * A resumption from an event replays the stream's later events. It is refused (the SDK answers
 * 400) only when one of those later events was forgotten or not kept: replaying around the gap
 * would lose a message silently (the result a POST stream was waiting for), where a refusal tells
 * the client. A stream whose forgotten events all came before the resumption point, a GET stream
 * reconnecting after much traffic for instance, resumes with what follows.
 *
 * Why a size bound: results of many MiB (a file read) would otherwise stay in memory for the
 * session's life, up to 1,000 of them per session (measured: one session of 100 results of 5 MB
 * grew the listener by 660 MB).
 */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<string, StoredEvent>();
  /** Per stream, the highest seq of its events forgotten or not kept. */
  private readonly lost = new Map<string, number>();
  private bytes = 0;
  private seq = 0;
  private readonly prefix = randomUUID().slice(0, 8);
  private readonly maxEvents: number;
  private readonly maxBytes: number;

  constructor(opts: BoundedEventStoreOptions = {}) {
    this.maxEvents = opts.maxEvents ?? DEFAULT_REPLAY_EVENTS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_REPLAY_BYTES;
  }

  /** Events kept now. */
  get size(): number {
    return this.events.size;
  }

  /** Size of the events kept now (UTF-16 code units of their JSON text). */
  get storedBytes(): number {
    return this.bytes;
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const seq = ++this.seq;
    const eventId = `${streamId}_${this.prefix}${seq}`;
    const text = JSON.stringify(message);
    if (text.length > this.maxBytes) {
      this.noteLost(streamId, seq);
      return eventId;
    }
    this.events.set(eventId, { streamId, seq, text });
    this.bytes += text.length;
    while (this.events.size > this.maxEvents || this.bytes > this.maxBytes) {
      const [oldest, event] = this.events.entries().next().value as [string, StoredEvent];
      this.events.delete(oldest);
      this.bytes -= event.text.length;
      this.noteLost(event.streamId, event.seq);
    }
    return eventId;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    const at = this.parse(eventId);
    if (at === undefined) return undefined;
    return (this.lost.get(at.streamId) ?? 0) > at.seq ? undefined : at.streamId;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const at = this.parse(lastEventId);
    if (at === undefined || (this.lost.get(at.streamId) ?? 0) > at.seq) return '';
    for (const [id, event] of [...this.events]) {
      if (event.streamId === at.streamId && event.seq > at.seq) {
        await send(id, JSON.parse(event.text) as JSONRPCMessage);
      }
    }
    return at.streamId;
  }

  /** The stream and seq an id of this store names, or undefined for an id it never issued. */
  private parse(eventId: string): { streamId: string; seq: number } | undefined {
    const cut = eventId.lastIndexOf('_');
    if (cut <= 0 || !eventId.startsWith(this.prefix, cut + 1)) return undefined;
    const digits = eventId.slice(cut + 1 + this.prefix.length);
    const seq = /^[1-9]\d*$/.test(digits) ? Number(digits) : Number.NaN;
    if (!Number.isSafeInteger(seq) || seq > this.seq) return undefined;
    return { streamId: eventId.slice(0, cut), seq };
  }

  private noteLost(streamId: string, seq: number): void {
    this.lost.delete(streamId); // re-inserted last: the map's order is the records' age
    this.lost.set(streamId, seq);
    if (this.lost.size > MAX_LOSS_RECORDS) {
      const oldest = this.lost.keys().next().value as string;
      this.lost.delete(oldest);
    }
  }
}
