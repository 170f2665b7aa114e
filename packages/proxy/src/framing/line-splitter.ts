/**
 * Newline-delimited JSON framing, as used by the MCP stdio transport
 * (MCP spec 2025-11-25, "Transports > stdio": messages are delimited by newlines and
 * MUST NOT contain embedded newlines).
 *
 * Only the byte `0x0A` ends a message. U+2028/U+2029 are legal inside JSON strings and are
 * never treated as line ends (a UTF-8 multi-byte sequence never contains `0x0A`, so splitting
 * bytes is safe). A trailing `\r` is dropped so `\r\n` peers work. Blank lines are skipped.
 *
 * Chunks are kept in a list and joined once per message, so a 20 MiB message arriving in
 * 4 KiB chunks costs O(n), not O(n^2).
 *
 * Cut-through: a receiver may ask to see a long message's bytes as they arrive
 * ({@link LineSplitterHandlers.onLongLine}), so a proxy can forward a 20 MiB result while it is
 * still streaming in instead of holding it whole first (the transfer then overlaps on both hops,
 * as it does through a plain byte relay).
 */

/** The default cap on one message, in bytes (64 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Bytes kept from each end of a message that is over the cap, so its `id` can still be found. */
const KEPT_EDGE_BYTES = 4096;

/** A message that went over the cap and was discarded. */
export interface OversizeMessage {
  /** Total size of the discarded message in bytes (without the newline). */
  readonly bytes: number;
  /** Up to the first 4 KiB of the message. */
  readonly head: Buffer;
  /** Up to the last 4 KiB of the message. */
  readonly tail: Buffer;
}

/** Callbacks of a {@link LineSplitter}. */
export interface LineSplitterHandlers {
  /** One complete message, without its line end. The buffer is owned by the receiver. */
  onLine(line: Buffer): void;
  /** A message over `maxMessageBytes` was discarded (reported once, when its newline arrives). */
  onOversize?(info: OversizeMessage): void;
  /**
   * Cut-through. Called at most once per message, when more than `streamAfterBytes` of it have
   * arrived without its line end. `head` is its first bytes (up to 4 KiB). Return a sink to
   * receive the message as it streams (the bytes already buffered first, then every later part;
   * a trailing `\r` included, the line end not); return undefined to have it delivered whole
   * through `onLine` as usual. A streamed message is not kept (memory stays flat however long it
   * is) and not delivered through `onLine`: its sink's `end` is called when it ends, with the
   * oversize report when it went over `maxMessageBytes` (no part beyond the cap was given to
   * `write` then).
   */
  onLongLine?(head: Buffer): LineSink | undefined;
}

/** Receives one long message as it streams in (see {@link LineSplitterHandlers.onLongLine}). */
export interface LineSink {
  /** The next bytes of the message, in order. */
  write(part: Buffer): void;
  /**
   * The message ended (its newline arrived, or the stream ended). `oversize` is set when it went
   * over the cap: then `write` stopped at the cap and the rest was discarded.
   */
  end(oversize?: OversizeMessage): void;
}

/** Options of a {@link LineSplitter} beyond the cap. */
export interface LineSplitterOptions {
  /**
   * Offer a message to `onLongLine` once this many of its bytes have arrived (default: never).
   */
  readonly streamAfterBytes?: number;
}

/**
 * Splits a byte stream into newline-delimited messages.
 *
 * @param handlers receives each message and each oversize report.
 * @param maxMessageBytes cap on one message in bytes; longer messages are discarded while
 *   streaming (memory stays bounded by the cap) and reported through `onOversize`.
 */
export class LineSplitter {
  private chunks: Buffer[] = [];
  private pendingBytes = 0;
  /** Set while discarding a message that went over the cap. */
  private oversize: { bytes: number; head: Buffer; tail: Buffer } | undefined;
  /** Set while the current message is streamed to a sink. */
  private sink: LineSink | undefined;
  /** First bytes of the message being streamed, for an oversize report. */
  private streamHead: Buffer | undefined;
  /** The current message was offered to `onLongLine` already. */
  private offered = false;
  private readonly streamAfterBytes: number;

  /**
   * @param handlers receives each message and each oversize report.
   * @param maxMessageBytes cap on one message in bytes.
   * @param options cut-through threshold.
   * @throws RangeError when `maxMessageBytes` or `streamAfterBytes` is not a positive integer.
   */
  constructor(
    private readonly handlers: LineSplitterHandlers,
    readonly maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
    options: LineSplitterOptions = {},
  ) {
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes <= 0) {
      throw new RangeError(`maxMessageBytes must be a positive integer, got ${maxMessageBytes}`);
    }
    const after = options.streamAfterBytes ?? Number.POSITIVE_INFINITY;
    if (after !== Number.POSITIVE_INFINITY && (!Number.isInteger(after) || after <= 0)) {
      throw new RangeError(`streamAfterBytes must be a positive integer, got ${after}`);
    }
    this.streamAfterBytes = after;
  }

  /** Feed the next chunk of the stream. */
  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        this.append(chunk, start, chunk.length);
        return;
      }
      this.append(chunk, start, nl);
      this.finishLine();
      start = nl + 1;
    }
  }

  /**
   * The stream ended. A final message without a newline is delivered (peers that end the
   * stream right after their last message lose nothing).
   */
  end(): void {
    if (this.pendingBytes > 0 || this.oversize) this.finishLine();
  }

  /** Bytes currently buffered for an incomplete message. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private append(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    const part = from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
    if (this.oversize) {
      this.oversize.bytes += part.length;
      this.oversize.tail = keepTail(this.oversize.tail, part);
      return;
    }
    if (this.sink) {
      // Streamed: counted, handed over, not kept.
      this.pendingBytes += part.length;
      if (this.pendingBytes > this.maxMessageBytes) {
        // The part that fits under the cap still goes out; nothing beyond it does.
        const fits = part.length - (this.pendingBytes - this.maxMessageBytes);
        if (fits > 0) this.sink.write(part.subarray(0, fits));
        this.oversize = {
          bytes: this.pendingBytes,
          head: this.streamHead ?? Buffer.alloc(0),
          tail: keepTail(Buffer.alloc(0), part),
        };
        this.pendingBytes = 0;
        return;
      }
      this.sink.write(part);
      return;
    }
    this.chunks.push(part);
    this.pendingBytes += part.length;
    if (this.pendingBytes > this.maxMessageBytes) {
      const all = Buffer.concat(this.chunks, this.pendingBytes);
      this.oversize = {
        bytes: all.length,
        head: Buffer.from(all.subarray(0, KEPT_EDGE_BYTES)),
        tail: Buffer.from(all.subarray(Math.max(0, all.length - KEPT_EDGE_BYTES))),
      };
      this.chunks = [];
      this.pendingBytes = 0;
      return;
    }
    if (!this.offered && this.pendingBytes > this.streamAfterBytes && this.handlers.onLongLine) {
      this.offered = true;
      const first = this.chunks[0] as Buffer;
      const head =
        first.length >= KEPT_EDGE_BYTES
          ? first.subarray(0, KEPT_EDGE_BYTES)
          : Buffer.concat(this.chunks).subarray(0, KEPT_EDGE_BYTES);
      const sink = this.handlers.onLongLine(head);
      if (sink) {
        this.sink = sink;
        this.streamHead = Buffer.from(head);
        for (const c of this.chunks) sink.write(c);
        this.chunks = [];
      }
    }
  }

  private finishLine(): void {
    const sink = this.sink;
    this.sink = undefined;
    this.streamHead = undefined;
    this.offered = false;
    if (this.oversize) {
      const info = this.oversize;
      this.oversize = undefined;
      if (sink) sink.end(info);
      else this.handlers.onOversize?.(info);
      return;
    }
    if (sink) {
      this.pendingBytes = 0;
      sink.end();
      return;
    }
    if (this.pendingBytes === 0) return;
    let line =
      this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.pendingBytes);
    this.chunks = [];
    this.pendingBytes = 0;
    if (line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (isBlank(line)) return;
    this.handlers.onLine(line);
  }
}

function keepTail(prev: Buffer, part: Buffer): Buffer {
  if (part.length >= KEPT_EDGE_BYTES) return Buffer.from(part.subarray(part.length - KEPT_EDGE_BYTES));
  const joined = Buffer.concat([prev, part]);
  return joined.length > KEPT_EDGE_BYTES ? joined.subarray(joined.length - KEPT_EDGE_BYTES) : joined;
}

function isBlank(line: Buffer): boolean {
  for (const b of line) {
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  }
  return true;
}
