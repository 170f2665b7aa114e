/**
 * Writing newline-delimited messages (MCP spec 2025-11-25, "Transports > stdio") to a stream,
 * with the messages of one event-loop turn leaving in one system call.
 *
 * Why: with many calls in flight, one read from a peer often carries several messages, and the
 * proxy would otherwise answer with one `write` per message. Each `write` on a pipe or socket
 * wakes the reader; on virtual machines that wakeup is the largest cost of a small message
 * (measured: the proxy made 2.0 writes per call against the null relay's 0.67 at 16 calls in
 * flight). The writer corks the stream at the first message and uncorks it from
 * `process.nextTick`. Node runs that tick once the current I/O callback and every microtask it
 * queued have run (the policy decisions of the messages of one read resolve there), so those
 * messages leave in one `writev`; a message written by the I/O callback itself leaves before the
 * microtasks that callback queued run (so committing a call's counters happens after its answer
 * is on its way). Nothing waits on a timer: a lone message leaves in the same turn.
 */
import type { Writable } from 'node:stream';

const NEWLINE = Buffer.from('\n');

/** Messages up to this size are joined with their newline into one buffer (bytes). */
const JOIN_MAX_BYTES = 64 * 1024;

/** Writes framed messages to one stream; see the module comment. */
export class FrameWriter {
  private corked = false;

  /** @param stream where messages go (the proxy's stdout, or the server's stdin). */
  constructor(private readonly stream: Writable) {}

  /** Writes one message (without framing) followed by its newline. */
  write(bytes: Buffer): void {
    this.corkForThisTurn();
    if (bytes.length <= JOIN_MAX_BYTES) {
      this.stream.write(Buffer.concat([bytes, NEWLINE], bytes.length + 1));
    } else {
      // A large message is not copied once more just to append one byte.
      this.stream.write(bytes);
      this.stream.write(NEWLINE);
    }
  }

  /** Writes raw bytes (a part of a message being streamed through), in order with the rest. */
  writeRaw(bytes: Buffer): void {
    this.corkForThisTurn();
    this.stream.write(bytes);
  }

  private corkForThisTurn(): void {
    if (this.corked) return;
    this.corked = true;
    this.stream.cork();
    process.nextTick(this.uncork);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
  };
}

/** The line end of a frame, for code that ends a message written in parts. */
export const FRAME_END = NEWLINE;
