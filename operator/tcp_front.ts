/**
 * A local TCP listener of an operator command: accepts connections and runs
 * a handler for each, and on `close()` stops listening, aborts what runs
 * and waits for every handler to finish.
 *
 * @module
 */

import type { ListenSpec } from "./spec.ts";
import { acceptLoop, closeQuietly } from "../shared/net/accept_loop.ts";

/** Handles one accepted connection; `signal` aborts when the front closes. Owns `conn`. */
export type ConnHandler = (conn: Deno.TcpConn, signal: AbortSignal) => Promise<void>;

/**
 * A listener and its connections.
 *
 * @example
 * ```ts
 * const front = TcpFront.listen({ bind: "127.0.0.1", port: 0 }, async (conn) => conn.close());
 * console.log(front.addr.port);
 * await front.close();
 * ```
 */
export class TcpFront {
  /** The address bound (the port the system picked when asked for 0). */
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.TcpListener;
  readonly #handler: ConnHandler;
  readonly #abort = new AbortController();
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #loop: Promise<void>;

  private constructor(listener: Deno.TcpListener, handler: ConnHandler) {
    this.#listener = listener;
    this.addr = listener.addr;
    this.#handler = handler;
    this.#loop = this.#accept();
  }

  /**
   * Binds `spec` and starts accepting.
   *
   * @throws {Deno.errors.AddrInUse} and the like when the address cannot be bound.
   */
  static listen(spec: ListenSpec, handler: ConnHandler): TcpFront {
    return new TcpFront(Deno.listen({ hostname: spec.bind, port: spec.port }), handler);
  }

  /** Connections being handled. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Stops listening, aborts every connection, and waits for their handlers. */
  async close(): Promise<void> {
    if (!this.#abort.signal.aborted) {
      this.#abort.abort();
      try {
        this.#listener.close();
      } catch {
        // Closed already.
      }
      // A handler still reading (a SOCKS handshake) or writing sees its socket closed.
      for (const conn of this.#conns) closeQuietly(conn);
    }
    await this.#loop;
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #accept(): Promise<void> {
    const signal = this.#abort.signal;
    return acceptLoop(this.#listener, {
      signal,
      onConn: (conn) => {
        conn.setNoDelay(true);
        this.#conns.add(conn);
        const task = this.#handler(conn, signal)
          .catch(() => {})
          .finally(() => {
            this.#conns.delete(conn);
            closeQuietly(conn);
            this.#tasks.delete(task);
          });
        this.#tasks.add(task);
      },
    });
  }
}
