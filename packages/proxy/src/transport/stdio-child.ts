import { type ChildProcessHandle, type SpawnChildOptions, spawnChild } from '@tollgate/process';
import { FrameWriter, inReadTurn } from '../framing/frame-writer.js';
import { LineSplitter, type OversizeMessage } from '../framing/line-splitter.js';
import type { CloseInfo, MessageTransport, OversizeReport } from './types.js';

/** Options of {@link ChildStdioTransport}. */
export interface ChildStdioTransportOptions extends SpawnChildOptions {
  /** Cap on one message from the child, in bytes. */
  readonly maxMessageBytes?: number;
  /** Wait between the steps of the shutdown ladder, in milliseconds (default 2000). */
  readonly shutdownGraceMs?: number;
  /**
   * Offer a message from the child to `onlongmessage` once this many of its bytes arrived
   * without its newline, in bytes (default {@link DEFAULT_STREAM_AFTER_BYTES}).
   */
  readonly streamAfterBytes?: number;
}

/**
 * Default cut-through threshold: 256 KiB. Small enough that a multi-MiB result overlaps its two
 * hops almost entirely; large enough that ordinary messages are always handled whole.
 */
export const DEFAULT_STREAM_AFTER_BYTES = 256 * 1024;

/**
 * How long one end of the child (its stdout EOF, its exit) waits for the other before it is
 * reported alone, in milliseconds. An exiting child closes its stdout and exits at about the same
 * time, in either order.
 */
const EXIT_AFTER_EOF_MS = 200;

/** The `reason` of {@link CloseInfo} when the child closed its stdout and kept running. */
const OUTPUT_CLOSED_REASON = 'it closed its stdout';

/** The `reason` given to `oninputclosed` when the child closed its stdin and kept running. */
const INPUT_CLOSED_REASON = 'it closed its stdin';

/**
 * The upstream side of the stdio proxy: an MCP server launched as a child process, speaking
 * newline-delimited JSON on its stdin/stdout (MCP spec 2025-11-25, "Transports > stdio").
 * `onclose` reports the child's exit code and signal; or, when the child closes its stdout and is
 * still running 200 ms later, it is called at that point without them (reason
 * "it closed its stdout"): the server can never answer again, and the caller stops it
 * ({@link close}) and learns how it ended from `process.exited`. It is called once either way.
 */
export class ChildStdioTransport implements MessageTransport {
  onmessage?: (bytes: Buffer) => void;
  onoversize?: MessageTransport['onoversize'];
  onerror?: (error: Error) => void;
  onclose?: (info: CloseInfo) => void;
  onlongmessage?: MessageTransport['onlongmessage'];
  oninputclosed?: MessageTransport['oninputclosed'];

  private handle: ChildProcessHandle | undefined;
  private writer: FrameWriter | undefined;
  private backlogHandler: ((full: boolean) => void) | undefined;
  private closing: Promise<void> | undefined;
  /**
   * The `undelivered` callbacks of frames whose write to the child's stdin failed (EPIPE: the
   * child closed it, or died), held until it is known which (see {@link inputFailed}).
   */
  private inputBroken: Array<() => void> = [];
  /** A write to the child's stdin failed: waiting to see whether the child exits. */
  private inputFailing = false;
  /** The child closed its stdin and kept running: `oninputclosed` was called. */
  private inputClosed = false;
  /** We ended the child's stdin ourselves (shutdown): a failure there is no news. */
  private inputEnded = false;

  /** See {@link MessageTransport.onbacklog}: the server reads its stdin slower than we write. */
  set onbacklog(fn: ((full: boolean) => void) | undefined) {
    this.backlogHandler = fn;
    if (this.writer) this.writer.onbacklog = fn;
  }
  get onbacklog(): ((full: boolean) => void) | undefined {
    return this.backlogHandler;
  }

  pauseInput(): void {
    this.handle?.child.stdout.pause();
  }

  resumeInput(): void {
    this.handle?.child.stdout.resume();
  }
  private splitter: LineSplitter;

  constructor(private readonly opts: ChildStdioTransportOptions) {
    this.splitter = new LineSplitter(
      {
        onLine: (line) => this.onmessage?.(line),
        onOversize: (info) => this.onoversize?.(this.report(info)),
        onLongLine: (head) => {
          const stream = this.onlongmessage?.(head);
          if (!stream) return undefined;
          return {
            write: (part) => stream.write(part),
            end: (oversize) => stream.end(oversize && this.report(oversize)),
          };
        },
      },
      opts.maxMessageBytes,
      { streamAfterBytes: opts.streamAfterBytes ?? DEFAULT_STREAM_AFTER_BYTES },
    );
  }

  /** A message over the cap, as the router sees it (with the cap it went over). */
  private report(info: OversizeMessage): OversizeReport {
    return { bytes: info.bytes, limit: this.splitter.maxMessageBytes, head: info.head, tail: info.tail };
  }

  /** The child process, once started. */
  get process(): ChildProcessHandle | undefined {
    return this.handle;
  }

  /** @throws Error when the command cannot be spawned. */
  async start(): Promise<void> {
    const handle = await spawnChild(this.opts);
    this.handle = handle;
    this.writer = new FrameWriter(handle.child.stdin);
    this.writer.onbacklog = this.backlogHandler;
    const { stdout } = handle.child;
    handle.child.stdin.on('error', (err) => this.inputFailed(handle, err));
    stdout.on('data', (chunk: Buffer) => inReadTurn(() => this.splitter.push(chunk)));
    let closed = false;
    const close = (info: CloseInfo) => {
      if (closed) return;
      closed = true;
      this.onclose?.(info);
    };
    let stdoutEnded = false;
    const stdoutDone = new Promise<void>((resolve) => {
      stdout.once('end', () => {
        stdoutEnded = true;
        this.splitter.end();
        resolve();
        // EOF on the child's stdout ends the server's side of the stdio transport: it can never
        // answer again, even if it keeps running. A child that exits closes its stdout too, often
        // a moment before its exit is seen: wait as long for the exit, so that it is reported as
        // one, with its code.
        if (handle.hasExited) return;
        const timer = setTimeout(() => {
          if (!handle.hasExited) close({ reason: OUTPUT_CLOSED_REASON, mayStillRun: true });
        }, EXIT_AFTER_EOF_MS);
        void handle.exited.then(() => clearTimeout(timer));
      });
      stdout.once('close', () => resolve());
    });
    void handle.exited.then(async (exit) => {
      // Deliver everything the child wrote before it died, then report the close. A grandchild
      // may hold the stdout pipe open past the child's exit: the exit is reported anyway.
      if (!stdoutEnded)
        await Promise.race([stdoutDone, new Promise((r) => setTimeout(r, EXIT_AFTER_EOF_MS))]);
      close({ exitCode: exit.code, signal: exit.signal, reason: 'server process exited' });
    });
  }

  /**
   * `undelivered` is called (once, never synchronously) when the message cannot have reached a
   * child that closed its stdin and is still running (see `oninputclosed`): its write failed, or
   * it was sent after. A child that exited is reported by `onclose` instead, and `undelivered` is
   * not called.
   */
  send(bytes: Buffer, undelivered?: () => void): void {
    const h = this.handle;
    if (!h || h.hasExited) return;
    if (h.child.stdin.destroyed) {
      if (!undelivered) return;
      if (this.inputClosed) queueMicrotask(undelivered);
      else if (this.inputFailing) this.inputBroken.push(undelivered);
      return;
    }
    this.writer?.write(bytes, undelivered && (() => this.undelivered(undelivered)));
  }

  /** A frame's write failed: held until it is known whether the child is still running. */
  private undelivered(callback: () => void): void {
    if (this.inputClosed) callback();
    else this.inputBroken.push(callback);
  }

  /**
   * The child's stdin failed (EPIPE, once we write to it). A child that exits closes its stdin
   * too, often a moment before its exit is seen: wait as long for the exit as for stdout's EOF
   * ({@link EXIT_AFTER_EOF_MS}), so that a dying child is reported by `onclose` alone. A child
   * still running then closed its stdin: it can never read another message. `oninputclosed` is
   * called once, then the frames whose writes failed are reported undelivered.
   */
  private inputFailed(handle: ChildProcessHandle, err: Error): void {
    if (this.inputFailing || this.inputEnded) return;
    this.inputFailing = true;
    const timer = setTimeout(() => {
      if (handle.hasExited) return;
      this.inputClosed = true;
      const failed = this.inputBroken;
      this.inputBroken = [];
      this.oninputclosed?.({ reason: INPUT_CLOSED_REASON, error: err });
      for (const callback of failed) callback();
    }, EXIT_AFTER_EOF_MS);
    void handle.exited.then(() => clearTimeout(timer));
  }

  /** Closes the child's stdin (EOF) without waiting: the first, polite step of the shutdown ladder. */
  endInput(): void {
    const h = this.handle;
    if (!h || h.hasExited || h.child.stdin.destroyed) return;
    // Messages sent in this turn go before the EOF.
    this.writer?.flush();
    this.inputEnded = true;
    h.child.stdin.end();
  }

  /**
   * Runs the shutdown ladder (stdin EOF, SIGTERM, SIGKILL) and resolves when the child is gone.
   * A second call while the ladder runs joins it rather than starting another.
   */
  close(): Promise<void> {
    const h = this.handle;
    if (!h) return Promise.resolve();
    this.closing ??= (async () => {
      if (!h.hasExited && !h.child.stdin.destroyed) this.writer?.flush();
      this.inputEnded = true;
      await h.shutdown(this.opts.shutdownGraceMs);
    })();
    return this.closing;
  }
}
