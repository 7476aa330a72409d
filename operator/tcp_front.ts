/**
 * A local TCP listener of an operator command: accepts connections and runs
 * a handler for each, and on `close()` stops listening, aborts what runs
 * and waits for every handler to finish.
 *
 * @module
 */

import type { ListenSpec } from "./spec.ts";

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

  async #accept(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (signal.aborted || e instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: keep the listener, try again shortly.
        await pause(ACCEPT_RETRY_MS, signal);
        continue;
      }
      if (signal.aborted) {
        closeQuietly(conn);
        return;
      }
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
    }
  }
}

/** Milliseconds between accept attempts after one failed for another reason than closing. */
const ACCEPT_RETRY_MS = 100;

/** Waits `ms`, or less when `signal` aborts; leaves no timer behind. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Closes `conn`, ignoring that it may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
