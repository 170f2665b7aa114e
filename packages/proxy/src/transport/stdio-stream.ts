import type { Readable, Writable } from 'node:stream';
import { FRAME_END, FrameWriter, inReadTurn } from '../framing/frame-writer.js';
import { LineSplitter } from '../framing/line-splitter.js';
import type { CloseInfo, MessageTransport, OutgoingMessageStream } from './types.js';

/** Options of {@link StreamTransport}. */
export interface StreamTransportOptions {
  /** Where messages arrive (the client's side of stdio: `process.stdin`). */
  readonly input: Readable;
  /** Where messages go (`process.stdout`). Only MCP messages are ever written here. */
  readonly output: Writable;
  /** Cap on one received message in bytes. */
  readonly maxMessageBytes?: number;
}

/**
 * Newline-delimited JSON over a pair of streams: the proxy's own stdin/stdout, facing the
 * MCP client (MCP spec 2025-11-25, "Transports > stdio").
 */
export class StreamTransport implements MessageTransport {
  onmessage?: (bytes: Buffer) => void;
  onoversize?: MessageTransport['onoversize'];
  onerror?: (error: Error) => void;
  onclose?: (info: CloseInfo) => void;

  /** See {@link MessageTransport.onbacklog}: the client reads our output slower than it comes. */
  set onbacklog(fn: ((full: boolean) => void) | undefined) {
    this.writer.onbacklog = fn;
  }
  get onbacklog(): ((full: boolean) => void) | undefined {
    return this.writer.onbacklog;
  }

  pauseInput(): void {
    this.opts.input.pause();
  }

  resumeInput(): void {
    if (!this.closed) this.opts.input.resume();
  }

  private readonly splitter: LineSplitter;
  private readonly writer: FrameWriter;
  private closed = false;
  private outputBroken = false;
  /** True while a message is being streamed out; `send` queues meanwhile. */
  private streaming = false;
  private queued: Buffer[] = [];

  constructor(private readonly opts: StreamTransportOptions) {
    this.writer = new FrameWriter(opts.output);
    this.splitter = new LineSplitter(
      {
        onLine: (line) => this.onmessage?.(line),
        onOversize: (info) =>
          this.onoversize?.({
            bytes: info.bytes,
            limit: this.splitter.maxMessageBytes,
            head: info.head,
            tail: info.tail,
          }),
      },
      opts.maxMessageBytes,
    );
  }

  async start(): Promise<void> {
    const { input, output } = this.opts;
    input.on('data', (chunk: Buffer) => inReadTurn(() => this.splitter.push(chunk)));
    input.on('end', () => {
      this.splitter.end();
      this.finish({ reason: 'input ended' });
    });
    input.on('error', (err) => {
      this.onerror?.(err);
      this.finish({ reason: `input error: ${err.message}` });
    });
    output.on('error', (err) => {
      // EPIPE: the client went away. Nothing more can be delivered.
      this.outputBroken = true;
      this.onerror?.(err);
      this.finish({ reason: `output error: ${err.message}` });
    });
  }

  send(bytes: Buffer): void {
    if (this.outputBroken) return;
    if (this.streaming) {
      this.queued.push(bytes);
      return;
    }
    this.writer.write(bytes);
  }

  openStream(): OutgoingMessageStream | undefined {
    if (this.outputBroken || this.streaming) return undefined;
    this.streaming = true;
    let open = true;
    return {
      write: (part) => {
        if (open && !this.outputBroken) this.writer.writeRaw(part);
      },
      end: () => {
        if (!open) return;
        open = false;
        if (!this.outputBroken) this.writer.writeRaw(FRAME_END);
        this.streaming = false;
        const queued = this.queued;
        this.queued = [];
        for (const bytes of queued) this.send(bytes);
      },
    };
  }

  /** Resolves when everything written so far has been handed to the OS. */
  flush(): Promise<void> {
    const { output } = this.opts;
    if (!this.outputBroken) this.writer.flush();
    if (this.outputBroken || output.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      output.write('', () => resolve());
    });
  }

  async close(): Promise<void> {
    this.opts.input.pause();
    await this.flush();
    this.finish({ reason: 'closed' });
  }

  private finish(info: CloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.(info);
  }
}
