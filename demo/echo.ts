/**
 * The demo's echo services on loopback: a TCP echo (every byte sent back,
 * half-close passed on) and a UDP echo (every datagram sent back to its
 * source), the targets of the `burrow forward` lines `burrow demo` prints.
 *
 * @module
 */

import { createSocket } from "node:dgram";

/** A running echo service. */
export interface EchoService {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Stops it and closes its connections. */
  close(): Promise<void>;
}

/** Most TCP connections the demo echo holds at once; more are closed. */
const MAX_CONNECTIONS = 64;

/**
 * Starts a TCP echo on 127.0.0.1 (`port` 0: any free port).
 *
 * @example
 * ```ts
 * const echo = startTcpEcho();
 * await echo.close();
 * ```
 */
export function startTcpEcho(port = 0): EchoService {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      if (conns.size >= MAX_CONNECTIONS) {
        conn.close();
        continue;
      }
      conns.add(conn);
      const task = echo(conn).finally(() => {
        conns.delete(conn);
        tasks.delete(task);
      });
      tasks.add(task);
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting;
      for (const c of conns) c.close();
      await Promise.all(tasks);
    },
  };
}

async function echo(conn: Deno.Conn): Promise<void> {
  try {
    await conn.readable.pipeTo(
      new WritableStream({ write: (chunk) => writeAll(conn, chunk) }),
      { preventClose: true },
    );
    await conn.closeWrite();
  } catch {
    // The client went away.
  }
  try {
    conn.close();
  } catch {
    // Closed by close().
  }
}

async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length;) off += await conn.write(chunk.subarray(off));
}

/**
 * Starts a UDP echo on 127.0.0.1 (`port` 0: any free port).
 *
 * @example
 * ```ts
 * const echo = await startUdpEcho();
 * await echo.close();
 * ```
 */
export async function startUdpEcho(port = 0): Promise<EchoService> {
  const socket = createSocket("udp4");
  socket.on("message", (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, "127.0.0.1", () => resolve());
  });
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
