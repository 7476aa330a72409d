/**
 * What the WebSocket client (`ws_client.ts`) needs of a connected byte
 * socket, so that it runs alike over a Deno connection (`deno_socket.ts`)
 * and a Node one (`node_socket.ts`).
 *
 * @module
 */

/**
 * A connected (or still connecting) TCP or TLS socket, read by one reader
 * at a time into the reader's own buffer.
 *
 * @example
 * ```ts
 * async function echo(socket: ByteSocket): Promise<void> {
 *   const buffer = new Uint8Array(65536);
 *   for (let bytes; (bytes = await socket.read(buffer)) !== null;) await socket.write(bytes);
 *   await socket.closeWrite();
 *   socket.close();
 * }
 * ```
 */
export interface ByteSocket {
  /**
   * Reads at most `buffer.length` bytes; resolves with them (at least one),
   * or null at the peer's end of stream or once `close()` was called. The
   * bytes are in `buffer`, or in a buffer of the socket's own when it holds
   * them already (no copy); either way they stay valid until the next read.
   * Rejects on a socket error (a failed TLS handshake, a reset). One read at
   * a time.
   */
  read(buffer: Uint8Array): Promise<Uint8Array | null>;
  /**
   * Writes all of `bytes` after the writes before it; resolves once the
   * socket no longer needs `bytes` (sent or copied), so the caller may reuse
   * the buffer. Rejects when the socket failed or was closed.
   */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Ends the sending side (TCP FIN, after the writes before it); reading
   * goes on. Resolves once done or once that failed; never rejects.
   */
  closeWrite(): Promise<void>;
  /** Drops the connection now; safe to call more than once. */
  close(): void;
}
