/**
 * A {@linkcode ByteSocket} over a Deno TCP or TLS connection, the one
 * `dial.ts` uses for every dial it can verify: Deno's own sockets cost far
 * less CPU per byte than `node:net`/`node:tls`.
 *
 * @module
 */

import type { ByteSocket } from "./byte_socket.ts";

/**
 * Wraps a `Deno.Conn` (from `Deno.connect` or `Deno.startTls`) as a
 * {@linkcode ByteSocket}. Writes are queued one after another, each written
 * whole: a `Deno.Conn` write may take part of its buffer only, and two
 * writes running at once could interleave.
 *
 * @example
 * ```ts
 * const tcp = await Deno.connect({ hostname: "tunnel.example.com", port: 443 });
 * tcp.setNoDelay(true);
 * const socket = new DenoSocket(await Deno.startTls(tcp, { hostname: "tunnel.example.com" }));
 * await socket.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
 * ```
 */
export class DenoSocket implements ByteSocket {
  readonly #conn: Deno.Conn;
  /** Settles once every write queued so far is done. */
  #tail: Promise<unknown> = Promise.resolve();
  #writeEnd: Promise<void> | null = null;
  #closed = false;

  /** Takes ownership of `conn`: `close()` closes it. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads into `buffer`; null at end of stream or after `close()`. */
  async read(buffer: Uint8Array): Promise<Uint8Array | null> {
    try {
      let n: number | null = 0;
      while (n === 0 && !this.#closed) n = await this.#conn.read(buffer);
      return this.#closed || n === null ? null : buffer.subarray(0, n);
    } catch (e) {
      // Closing the connection fails a read in progress; that is no error of the socket.
      if (this.#closed) return null;
      throw e;
    }
  }

  /** Writes all of `bytes` once the writes before it are done. */
  write(bytes: Uint8Array): Promise<void> {
    const done = this.#tail.then(() => this.#writeAll(bytes));
    this.#tail = done.catch(() => {});
    return done;
  }

  /** Shuts the sending side down once the writes before it are done. */
  closeWrite(): Promise<void> {
    this.#writeEnd ??= this.#tail.then(() => this.#conn.closeWrite()).catch(() => {});
    this.#tail = this.#writeEnd;
    return this.#writeEnd;
  }

  /** Closes the connection; reads and writes in progress end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) {
      if (this.#closed) throw new Deno.errors.BadResource("Socket is closed");
      off += await this.#conn.write(bytes.subarray(off));
    }
  }
}
