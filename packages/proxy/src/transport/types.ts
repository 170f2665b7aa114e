/**
 * The one interface every side of the proxy speaks, shaped like the MCP SDK's `Transport`
 * (start, send, close, onmessage, onerror, onclose) but carrying raw message bytes instead of
 * parsed objects: the proxy forwards what it does not change as the bytes it arrived as.
 *
 * The stdio child (upstream) and the stdio streams of the proxy itself (downstream) implement
 * it today; a Streamable HTTP upstream or listener implements the same four members and the
 * router does not change.
 */

/** Why a transport closed. */
export interface CloseInfo {
  /**
   * For a child process: its exit code, or null when it died from a signal. Absent when the
   * child has not exited (it closed its stdout and kept running).
   */
  readonly exitCode?: number | null;
  /** For a child process: the signal that ended it (absent as `exitCode` is). */
  readonly signal?: NodeJS.Signals | null;
  /** A human-readable reason, e.g. "client closed stdin". */
  readonly reason?: string;
  /**
   * The server process may still run what it was sent: its side of the transport closed (it
   * closed its stdout) while it kept running. Calls it was sent then count, as a cancelled one
   * does: counting a call that maybe ran is the safe side of a limit.
   */
  readonly mayStillRun?: boolean;
}

/** A message that went over the size cap and was dropped before it reached the router. */
export interface OversizeReport {
  /** Size of the dropped message in bytes. */
  readonly bytes: number;
  /** The cap in bytes. */
  readonly limit: number;
  /** The first and last bytes of the message (up to 4 KiB each), to find its `id`. */
  readonly head: Buffer;
  readonly tail: Buffer;
}

/** Receives one long message as it streams in; see {@link MessageTransport.onlongmessage}. */
export interface IncomingMessageStream {
  /** The next bytes of the message, in order. */
  write(part: Buffer): void;
  /**
   * The message ended. `oversize` is set when it went over the transport's cap (then `write`
   * stopped at the cap). The transport keeps no copy: a receiver that needs more than the bytes
   * it was given must read them as they pass.
   */
  end(oversize?: OversizeReport): void;
}

/** Sends one message in parts; see {@link MessageTransport.openStream}. */
export interface OutgoingMessageStream {
  /** The next bytes of the message. */
  write(part: Buffer): void;
  /** The message is complete: frame it (stdio: the newline) and release the transport. */
  end(): void;
}

/** A bidirectional stream of JSON-RPC messages, one frame per message (or batch). */
export interface MessageTransport {
  /** Begin reading; resolves once the transport can send. Rejects if it cannot start (e.g. spawn failed). */
  start(): Promise<void>;
  /**
   * Send one message. `bytes` is its serialised form without any framing. `undelivered`, which a
   * transport may support, is called once, later, when the message cannot have reached the
   * peer although the peer is still there (a child that closed its stdin: see `oninputclosed`).
   */
  send(bytes: Buffer, undelivered?: () => void): void;
  /** Close the transport and release its resources; resolves when closed. */
  close(): Promise<void>;
  /** One received message, exactly the bytes the peer framed. */
  onmessage?: (bytes: Buffer) => void;
  /** A received message over the size cap was dropped. */
  onoversize?: (report: OversizeReport) => void;
  /** A non-fatal error (a fatal one is followed by `onclose`). */
  onerror?: (error: Error) => void;
  /** The peer is gone; no more messages will arrive. Called once. */
  onclose?: (info: CloseInfo) => void;
  /**
   * Optional: the peer can no longer receive, but may still send (a child that closed its stdin
   * and kept running; seen at the first write that fails). Called once, before the `undelivered`
   * callbacks of the messages that failed. Messages sent later never reach the peer.
   */
  oninputclosed?: (info: { reason: string; error?: Error }) => void;
  /**
   * Optional, installed by the receiver: an error response the transport made itself for a
   * request it had already sent on, whose exchange failed afterwards (an HTTP upstream's 504, a
   * connection cut mid-answer). The peer may have run the request, so the receiver must treat
   * it as answered by the peer: a `tools/call` it answers counts against its limits although
   * the answer is a JSON-RPC error. Without this handler the transport uses `onmessage`.
   */
  oncountedfailure?: (bytes: Buffer) => void;
  /**
   * Optional: takes back a request sent to this transport that has not reached the peer yet (an
   * HTTP upstream holds one while its session is re-initialised). The transport never sends it
   * and never answers it. Returns true when it did; false when the request may have reached the
   * peer, or is unknown.
   */
  withdraw?(id: string | number | null): boolean;
  /**
   * Optional cut-through on receive. A transport that supports it calls this once for a message
   * that has grown past its streaming threshold before it ended, with the message's first bytes
   * (up to 4 KiB). Returning a stream makes the transport hand over the message's bytes as they
   * arrive, and the message is NOT delivered through `onmessage`; returning undefined keeps the
   * usual whole-message delivery.
   */
  onlongmessage?: (head: Buffer) => IncomingMessageStream | undefined;
  /**
   * Optional cut-through on send: opens one message to be written in parts. While it is open,
   * `send` calls are queued and go out after its `end`, so frames never interleave. Returns
   * undefined when the transport cannot stream now (output broken, another stream open).
   */
  openStream?(): OutgoingMessageStream | undefined;
  /**
   * Optional flow control: called with true when what this transport writes piles up unread
   * beyond a bound (see `BACKLOG_BYTES`), with false once it drained. The proxy pauses the other
   * side's input meanwhile.
   */
  onbacklog?: (full: boolean) => void;
  /** Optional: stop reading input until {@link resumeInput} (the other side has a backlog). */
  pauseInput?(): void;
  /** Optional: read input again after {@link pauseInput}. */
  resumeInput?(): void;
}
