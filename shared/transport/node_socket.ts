/**
 * A {@linkcode ByteSocket} over a Node socket (`node:tls` or `node:net`),
 * the one `dial.ts` uses for `insecure` dials: Deno's own TLS cannot skip
 * certificate checks, `node:tls` can.
 *
 * @module
 */

import type { Socket } from "node:net";
import type { ByteSocket } from "./byte_socket.ts";

/** Bytes received and not yet read at which the socket stops reading. */
const PAUSE_AT = 256 * 1024;

/**
 * Wraps a Node socket, connected or still connecting (writes queue until
 * it is), as a {@linkcode ByteSocket}. Received data is queued up to 256 KiB,
 * then the socket pauses until all of it is read. Reads hand out the
 * socket's own buffers, without a copy.
 *
 * @example
 * ```ts
 * import { connect } from "node:tls";
 * const socket = new NodeSocket(connect({ host: "localhost", port: 8443, rejectUnauthorized: false }));
 * await socket.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
 * ```
 */
export class NodeSocket implements ByteSocket {
  readonly #socket: Socket;
  readonly #closed = Promise.withResolvers<void>();
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #drain: PromiseWithResolvers<void> | null = null;

  /** Takes ownership of `socket`: `close()` destroys it. */
  constructor(socket: Socket) {
    this.#socket = socket;
    // Listen before anything else: a socket error with no listener would be thrown.
    socket.on("data", (b: Uint8Array) => this.#onData(b));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (e: Error) => this.#error ??= e);
    socket.on("drain", () => this.#onDrain());
    socket.on("close", () => {
      this.#onEnd();
      this.#onDrain();
      this.#closed.resolve();
    });
  }

  /** Up to `buffer.length` queued bytes (not copied); null at end of stream or after `close()`. */
  async read(buffer: Uint8Array): Promise<Uint8Array | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0]!;
    const n = Math.min(chunk.length, buffer.length);
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    this.#queued -= n;
    // Resuming only once all is read: pausing and resuming cost a system call each.
    if (this.#paused && this.#queued === 0) {
      this.#paused = false;
      this.#socket.resume();
    }
    return chunk.subarray(0, n);
  }

  /** Hands the socket a copy of `bytes`; resolves at once unless its buffer is full. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#socket.destroyed) throw this.#error ?? new Error("Socket is closed");
    // A Node socket holds on to a written buffer until it is flushed: give it its own.
    if (this.#socket.write(bytes.slice())) return;
    if (!this.#drain) this.#drain = Promise.withResolvers();
    await this.#drain.promise;
    if (this.#socket.destroyed) throw this.#error ?? new Error("Socket is closed");
  }

  /** Ends the sending side after what was written. */
  closeWrite(): Promise<void> {
    if (this.#socket.destroyed) return Promise.resolve();
    const ended = new Promise<void>((resolve) => this.#socket.end(() => resolve()));
    return Promise.race([ended, this.#closed.promise]);
  }

  /** Destroys the socket; data not read yet is dropped. */
  close(): void {
    this.#chunks = [];
    this.#queued = 0;
    this.#socket.destroy();
  }

  #onData(b: Uint8Array): void {
    // A plain Uint8Array view of each Buffer.
    this.#chunks.push(new Uint8Array(b.buffer, b.byteOffset, b.length));
    this.#queued += b.length;
    if (!this.#paused && this.#queued >= PAUSE_AT) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.#notify();
  }

  #onEnd(): void {
    this.#ended = true;
    this.#notify();
  }

  #onDrain(): void {
    const drain = this.#drain;
    this.#drain = null;
    drain?.resolve();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
