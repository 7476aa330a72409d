/**
 * A mux transport over a {@linkcode ByteSocket} (a Node socket, say: the
 * server's `node:tls` listener for agent certificates carries the mux
 * directly over TLS, `docs/protocol.md`, "Raw byte streams").
 *
 * @module
 */

import type { ByteSocket } from "./byte_socket.ts";
import type { Conn } from "./conn.ts";

/** Size of each read from the socket. */
const READ_SIZE = 64 * 1024;

/**
 * Wraps `socket` as a mux transport. The session owns the socket from then
 * on: its end (or abort) closes it.
 *
 * @example
 * ```ts
 * import { NodeSocket } from "./node_socket.ts";
 * const session = new Session(fromByteSocket(new NodeSocket(tlsSocket)), { client: false });
 * ```
 */
export function fromByteSocket(socket: ByteSocket): Conn {
  const buffer = new Uint8Array(READ_SIZE);
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let bytes: Uint8Array | null;
      try {
        bytes = await socket.read(buffer);
      } catch (e) {
        socket.close();
        controller.error(e);
        return;
      }
      if (bytes === null) {
        controller.close();
        return;
      }
      // The bytes may be the socket's own buffer or ours: hand the reader its own copy of ours.
      controller.enqueue(bytes.buffer === buffer.buffer ? bytes.slice() : bytes);
    },
    cancel() {
      socket.close();
    },
  });
  const sink = {
    write: (chunk: Uint8Array) => socket.write(chunk),
    close: async () => {
      await socket.closeWrite();
      socket.close();
    },
    abort: () => {
      socket.close();
      return Promise.resolve();
    },
  };
  const writable = new WritableStream<Uint8Array>(sink);
  // ByteSocket writes copy (Node) or finish (Deno) before they resolve.
  return { readable, writable, sink, reuseWriteBuffers: true };
}
