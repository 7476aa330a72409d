/**
 * A mux transport over a Deno TCP, TLS or Unix connection.
 *
 * @module
 */

import type { Conn } from "./conn.ts";

/**
 * Wraps a `Deno.Conn` (from `Deno.connect`, `Deno.connectTls`, a listener's
 * `accept()`, …) as a mux transport. The session owns the connection from
 * then on: closing the session closes it.
 *
 * @example
 * ```ts
 * const session = new Session(fromDenoConn(await Deno.connect({ port: 4000 })), { client: true });
 * ```
 */
export function fromDenoConn(conn: Deno.Conn): Conn {
  if (conn.remoteAddr.transport === "tcp") {
    // Frames are batched already; Nagle would only add latency.
    (conn as Deno.TcpConn).setNoDelay?.(true);
  }
  // A Deno.Conn write resolves only after every byte reached the socket.
  return { readable: conn.readable, writable: conn.writable, reuseWriteBuffers: true };
}
