/**
 * What a byte transport offers the layers above it (the multiplexer first):
 * a readable and a writable of bytes, and optionally the same writes as
 * plain calls. Adapters in this folder make one from a WebSocket or a Deno
 * connection; the multiplexer takes any.
 *
 * @module
 */

/**
 * A byte transport: what a mux session runs over.
 *
 * @example
 * ```ts
 * const tcp = await Deno.connect({ port: 4000 });
 * const conn: Conn = { readable: tcp.readable, writable: tcp.writable, reuseWriteBuffers: true };
 * ```
 */
export interface Conn {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
  /**
   * True when the transport no longer needs a chunk once its `write()`
   * resolved (it copied or sent it), so the session may reuse the buffer.
   * Leave unset for transports that hand chunks on, like an in-memory pipe.
   */
  reuseWriteBuffers?: boolean;
  /**
   * The same writes as `writable`, as plain calls: the session uses them
   * instead of a Web Streams writer when the transport offers them.
   */
  sink?: ConnSink;
}

/** Plain-call writing of a transport: what a `WritableStreamDefaultWriter` offers too. */
export interface ConnSink {
  /** Writes one chunk; resolves once the transport took it. */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the transport after what was written. */
  close(): Promise<void>;
  /**
   * Drops the transport. A write still pending (a peer that does not read)
   * should settle soon after, so that whoever waits on it can finish.
   */
  abort(reason?: unknown): Promise<void>;
}
