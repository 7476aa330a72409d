/**
 * Test fixtures for forward streams: an "agent" session serving forward
 * handlers and an "opener" session (the server's side) over one transport
 * pair, and loopback TCP/UDP targets.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { createSocket, type Socket } from "node:dgram";
import type { Conn } from "../../shared/transport/conn.ts";
import { type MuxStream, Session, type SessionOptions } from "../../shared/mux/mod.ts";
import { serveStream, type StreamHandler, StreamKind } from "../../shared/open/mod.ts";
import { Allowlist } from "../../agent/forward/allowlist.ts";
import type { Lookup } from "../../agent/forward/dial.ts";
import { createTcpForwardHandler } from "../../agent/forward/tcp.ts";
import { createUdpForwardHandler } from "../../agent/forward/udp.ts";

/** Options of {@linkcode withForwardSessions}. */
export interface ForwardFixtureOptions {
  /** Allowlist entries; default the agent's default (loopback). */
  allow?: string[];
  /** UDP idle timeout, ms. Default 60,000. */
  idleTimeout?: number;
  /** UDP queue towards the stream, bytes. Default the handler's. */
  udpMaxQueued?: number;
  /** The agent's connect (and name lookup) timeout, ms. Default 2,000. */
  connectTimeout?: number;
  /** Name resolver of the agent. */
  lookup?: Lookup;
  /** Session options of the agent's side. */
  agentSession?: Partial<SessionOptions>;
}

/** What a test body gets. */
export interface ForwardFixture {
  /** The server's side: opens forward streams. */
  opener: Session;
  /** Every stream the agent side accepted, in order (to look at its window and buffer). */
  agentStreams: MuxStream[];
}

/**
 * Runs `body` with an agent session (client side of `a`, serving TcpForward
 * and UdpForward) and an opener session on `b`; closes both and waits for
 * every handler afterwards.
 */
export async function withForwardSessions(
  a: Conn,
  b: Conn,
  options: ForwardFixtureOptions,
  body: (fixture: ForwardFixture) => Promise<void>,
): Promise<void> {
  const shutdown = new AbortController();
  const common = {
    allowlist: new Allowlist(options.allow),
    connectTimeout: options.connectTimeout ?? 2000,
    log: getLogger(["test", "forward"]),
    signal: shutdown.signal,
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  };
  const tcp = createTcpForwardHandler(common);
  const udp = createUdpForwardHandler({
    ...common,
    idleTimeout: options.idleTimeout ?? 60_000,
    ...(options.udpMaxQueued === undefined ? {} : { maxQueued: options.udpMaxQueued }),
  });
  const agentStreams: MuxStream[] = [];
  const handlers = new Map<number, StreamHandler>([
    [StreamKind.TcpForward, tcp],
    [StreamKind.UdpForward, udp],
  ]);
  const agent = new Session(a, { client: true, ...options.agentSession });
  const opener = new Session(b, { client: false });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for (let s = await agent.accept(); s !== null; s = await agent.accept()) {
      agentStreams.push(s);
      served.push(serveStream(s, handlers));
    }
  })();
  try {
    await body({ opener, agentStreams });
  } finally {
    shutdown.abort();
    await opener.close();
    await agent.close();
    await accepting;
    await Promise.all(served);
  }
}

/** A loopback TCP server whose connections are handled by `onConn`; closes them all on dispose. */
export function tcpTarget(onConn: (conn: Deno.TcpConn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        tasks.push(
          onConn(conn).catch(() => {}).finally(() => {
            conns.delete(conn);
            closeQuietly(conn);
          }),
        );
      }
    } catch {
      // Listener closed.
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) closeQuietly(c);
      await loop;
      await Promise.all(tasks);
    },
  };
}

/** Echoes every byte back, and half-closes after the client's FIN. */
export async function echo(conn: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    let at = 0;
    while (at < n) at += await conn.write(buf.subarray(at, n));
  }
  await conn.closeWrite();
}

/** Closes `conn`, ignoring that it may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/** A loopback UDP echo server (IPv4). */
export async function udpEcho(): Promise<{ port: number; socket: Socket } & AsyncDisposable> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  socket.on("message", (m, from) => socket.send(m, from.port, from.address));
  return {
    port: socket.address().port,
    socket,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
