/**
 * Writing newline-delimited messages (MCP spec 2025-11-25, "Transports > stdio") to a stream,
 * with the messages of one event-loop turn leaving in one system call.
 *
 * Why: with many calls in flight, one read from a peer often carries several messages, and the
 * proxy would otherwise answer with one `write` per message. Each `write` on a pipe or socket
 * wakes the reader; on virtual machines that wakeup is the largest cost of a small message
 * (measured: the proxy made 2.0 writes per call against the null relay's 0.67 at 16 calls in
 * flight). The writer collects the frames of a turn and joins them into one buffer from
 * `process.nextTick` (one `write` call into the stream, not one per message: a Writable's
 * per-write bookkeeping costs about as much as copying a small message). Node runs that tick once
 * the current I/O callback and every microtask it queued have run (the policy decisions of the
 * messages of one read resolve there), so those messages leave in one system call; a message
 * written by the I/O callback itself leaves before the
 * microtasks that callback queued run (so committing a call's counters happens after its answer
 * is on its way). Nothing waits on a timer: a lone message leaves in the same turn.
 *
 * A read from a peer is a turn of its own ({@link inReadTurn}): the frames its messages produce
 * without waiting (most `tools/call` decisions, every message passed through) leave when the
 * read's handler returns, still as one write per stream, without the extra `process.nextTick`
 * pass (measured: that pass and its re-entry into JavaScript were a visible part of the
 * proxy's per-message cost against a plain byte relay).
 */
import type { Writable } from 'node:stream';

const NEWLINE = Buffer.from('\n');

/** Messages up to this size are joined with their newline into one buffer (bytes). */
const JOIN_MAX_BYTES = 64 * 1024;

/** Raw parts up to this size wait for the end of the turn; larger ones are written at once (bytes). */
const SMALL_RAW_BYTES = 4096;

/** Writers holding frames of the read being handled (see {@link inReadTurn}), in first-write order. */
const readTurnWriters: FrameWriter[] = [];
let readTurnDepth = 0;

/**
 * Runs `handle` (the handler of one read from a peer: splitting it into messages and routing
 * them) and then hands the frames written meanwhile to their streams, one write per stream,
 * before returning. Frames written later (decisions that waited for I/O) leave at the end of
 * their own turn as usual. Re-entrant: only the outermost call flushes. Rethrows what `handle`
 * throws, after flushing.
 */
export function inReadTurn(handle: () => void): void {
  readTurnDepth++;
  try {
    handle();
  } finally {
    if (--readTurnDepth === 0) {
      // By index: a read handled synchronously while these flush registers behind them.
      for (let i = 0; i < readTurnWriters.length; i++) readTurnWriters[i]!.flush();
      readTurnWriters.length = 0;
    }
  }
}

/**
 * Bytes a writer may leave in its stream's buffer before it reports a backlog (see
 * {@link FrameWriter.onbacklog}): 8 MiB, a few large results' worth of slack, so a fast reader
 * never sees the other side paused.
 */
export const BACKLOG_BYTES = 8 * 1024 * 1024;

/** Writes framed messages to one stream; see the module comment. */
export class FrameWriter {
  /** Small frames (message + newline) waiting for the end of the turn, and their total size. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The `undelivered` callbacks of the frames in `pending` (see {@link write}). */
  private pendingFailures: Array<() => void> | undefined;
  private scheduled = false;
  /** Registered with the read being handled (see {@link inReadTurn}). */
  private inTurn = false;
  /** A backlog was reported and the stream has not drained since. */
  private backlogged = false;

  /**
   * Called with true when the stream holds more than {@link BACKLOG_BYTES} its reader has not
   * taken yet, and with false once it has drained (or failed): the transport pauses the peer
   * feeding it meanwhile, as `pipe()` does, so a slow reader does not make the proxy buffer
   * whatever the other side sends.
   */
  onbacklog?: (full: boolean) => void;

  /** @param stream where messages go (the proxy's stdout, or the server's stdin). */
  constructor(private readonly stream: Writable) {}

  /** Reports a backlog when the stream's buffer is over the bound, once until it drains. */
  private checkBacklog(): void {
    if (this.backlogged || this.onbacklog === undefined || this.stream.writableLength <= BACKLOG_BYTES)
      return;
    this.backlogged = true;
    const done = () => {
      this.stream.off('drain', done);
      this.stream.off('close', done);
      this.backlogged = false;
      this.onbacklog?.(false);
    };
    this.stream.on('drain', done);
    this.stream.on('close', done);
    this.onbacklog(true);
  }

  /**
   * Writes one message (without framing) followed by its newline. `undelivered`, if given, is
   * called once should the stream fail to take the frame (a write to a pipe whose reader closed
   * it: EPIPE; or the stream was destroyed before the frame's turn to be written came).
   */
  write(bytes: Buffer, undelivered?: () => void): void {
    if (bytes.length <= JOIN_MAX_BYTES) {
      this.pending.push(bytes, NEWLINE);
      this.pendingBytes += bytes.length + 1;
      if (undelivered) {
        if (this.pendingFailures) this.pendingFailures.push(undelivered);
        else this.pendingFailures = [undelivered];
      }
      this.schedule();
    } else {
      // A large message goes out now (after what is waiting), not copied once more.
      this.flush();
      this.stream.write(bytes);
      // The newline's write fails whenever the message's did (a failed write destroys the stream).
      this.stream.write(NEWLINE, undelivered && ((err) => err && undelivered()));
      this.checkBacklog();
    }
  }

  /**
   * Writes raw bytes (a part of a message being streamed through), in order with the rest. Parts
   * of a streamed message are as large as the reads they came from: they go out as they are,
   * not copied into a joined buffer; only small ones (the final newline) wait for the turn.
   */
  writeRaw(bytes: Buffer): void {
    if (bytes.length <= SMALL_RAW_BYTES) {
      this.pending.push(bytes);
      this.pendingBytes += bytes.length;
      this.schedule();
    } else {
      this.flush();
      this.stream.write(bytes);
      this.checkBacklog();
    }
  }

  private schedule(): void {
    if (readTurnDepth > 0) {
      if (!this.inTurn) {
        this.inTurn = true;
        readTurnWriters.push(this);
      }
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(this.flushTurn);
  }

  private readonly flushTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /**
   * Hands what is waiting to the stream now, as one buffer (one `write`, one system call). Call
   * it before ending the stream or exiting: frames wait for the end of the turn otherwise.
   */
  flush(): void {
    this.inTurn = false;
    if (this.pending.length === 0) return;
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    const failures = this.pendingFailures;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingFailures = undefined;
    if (failures === undefined) this.stream.write(joined);
    else
      this.stream.write(joined, (err) => {
        if (err) for (const undelivered of failures) undelivered();
      });
    if (this.onbacklog !== undefined && this.stream.writableLength > BACKLOG_BYTES) this.checkBacklog();
  }
}

/** The line end of a frame, for code that ends a message written in parts. */
export const FRAME_END = NEWLINE;
