/**
 * The opener's side of the forward kinds: open a TcpForward or UdpForward
 * stream to an agent over a mux session and wait for its verdict. Used by
 * whatever faces the operator (the server's splice, `burrow forward`).
 *
 * @module
 */

import { MuxError, type MuxStream, type Session } from "../mux/mod.ts";
import { encodeOpen, OpenError, readReply, StreamKind } from "../open/mod.ts";
import { DatagramDecoder, encodeDatagram } from "./datagram.ts";
import { ForwardError, type ForwardReplyData } from "./target.ts";

/** Options of {@linkcode openTcpForward} and {@linkcode openUdpForward}. */
export interface OpenForwardOptions {
  /**
   * Milliseconds to wait for the agent's reply, which comes after its dial:
   * keep it above the agent's `connectTimeout`. Default 30,000.
   */
  timeout?: number;
  /**
   * Open parameters besides `host` and `port`, sent as they are: an
   * operator names the agent (`{ agent: "db1" }`) and, for SOCKS, the kind
   * (`{ kind: "socks" }`). `host` and `port` are always the arguments'.
   */
  params?: Record<string, unknown>;
  /**
   * Called once the open request is queued, before the agent's answer: the
   * caller may start writing its first bytes now, so they follow the request
   * at once instead of a round trip later (the agent reads them after its
   * dial; when it refuses, it drops them). Nothing may be read from the
   * stream before the answer was read: wait for the returned promise.
   */
  onOpen?: (stream: MuxStream) => void;
}

/** A TCP forward the agent accepted: raw bytes both ways. */
export interface TcpForward {
  /** The mux stream: `closeWrite()` half-closes, `reset()` aborts. */
  stream: MuxStream;
  /** Bytes from the target (made on first use). */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the target; `close()` half-closes (the target reads EOF). Made on first use. */
  readonly writable: WritableStream<Uint8Array>;
  /** Where the agent connected. */
  target: ForwardReplyData;
}

/**
 * Asks the agent behind `session` to connect to `host:port` over TCP.
 *
 * @throws {ForwardError} with the agent's code and message when it refuses
 * (`policy`, `connection-refused`, …), or `open-failed` when no usable reply came.
 * @example
 * ```ts
 * const { readable, writable } = await openTcpForward(session, "127.0.0.1", 5432);
 * await conn.readable.pipeTo(writable);
 * ```
 */
export async function openTcpForward(
  session: Session,
  host: string,
  port: number,
  options: OpenForwardOptions = {},
): Promise<TcpForward> {
  const { stream, target } = await openForward(session, StreamKind.TcpForward, host, port, options);
  // Getters: a stream's Web Streams are made on first use, and the splices
  // (server, `burrow forward`) use the stream's direct calls and never ask.
  return {
    stream,
    target,
    get readable() {
      return stream.readable;
    },
    get writable() {
      return stream.writable;
    },
  };
}

/**
 * Asks the agent behind `session` to send datagrams to `host:port` over UDP
 * (one flow: one local source). The flow ends when either side closes it;
 * the agent closes a flow idle for its `udpIdleTimeout`.
 *
 * @throws {ForwardError} as {@linkcode openTcpForward}.
 * @example
 * ```ts
 * const flow = await openUdpForward(session, "127.0.0.1", 53);
 * await flow.send(query);
 * const answer = await flow.receive(); // null once the flow ended
 * flow.close();
 * ```
 */
export async function openUdpForward(
  session: Session,
  host: string,
  port: number,
  options: OpenForwardOptions = {},
): Promise<UdpFlow> {
  const { stream, target } = await openForward(session, StreamKind.UdpForward, host, port, options);
  return new UdpFlow(stream, target);
}

/**
 * One UDP flow over a UdpForward stream: datagrams in, datagrams out, with
 * their boundaries kept. `send()` waits for the stream's window (backpressure);
 * `receive()` returns one datagram at a time.
 */
export class UdpFlow {
  /** The mux stream carrying the framed datagrams. */
  readonly stream: MuxStream;
  /** Where the agent sends the datagrams. */
  readonly target: ForwardReplyData;
  readonly #decoder = new DatagramDecoder();
  #ready: Uint8Array[] = [];

  /** Wraps an accepted UdpForward stream. */
  constructor(stream: MuxStream, target: ForwardReplyData) {
    this.stream = stream;
    this.target = target;
  }

  /**
   * Sends one datagram (0–65,535 bytes); resolves once it is handed to the session.
   *
   * @throws {DatagramError} when it is too long to frame; {@linkcode MuxError} when the flow is gone.
   */
  send(datagram: Uint8Array): Promise<void> {
    return this.stream.write(encodeDatagram(datagram));
  }

  /**
   * The next datagram from the target, or null once the agent ended the flow.
   *
   * @throws {ForwardError} `open-failed` when the flow ends inside a datagram.
   * @throws {MuxError} when the stream was reset.
   */
  async receive(): Promise<Uint8Array | null> {
    while (this.#ready.length === 0) {
      const chunk = await this.stream.read();
      if (chunk === null) {
        if (this.#decoder.pending === 0) return null;
        throw new ForwardError(
          `UdpForward stream ${this.stream.id} ended inside a datagram`,
          "open-failed",
        );
      }
      for (const datagram of this.#decoder.push(chunk)) this.#ready.push(datagram);
    }
    return this.#ready.shift()!;
  }

  /** Ends the flow from this side (FIN); the agent closes its socket and ends its side. */
  close(): void {
    this.stream.closeWrite();
  }

  /** Aborts the flow both ways (RST). */
  reset(): void {
    this.stream.reset();
  }
}

/** Opens a forward stream of `kind` and reads the agent's reply. */
async function openForward(
  session: Session,
  kind: number,
  host: string,
  port: number,
  options: OpenForwardOptions,
): Promise<{ stream: MuxStream; target: ForwardReplyData }> {
  let stream: MuxStream;
  try {
    stream = await session.open();
  } catch (e) {
    throw new ForwardError(`Cannot open a forward stream: ${(e as Error).message}`, "open-failed", {
      cause: e,
    });
  }
  try {
    await stream.write(encodeOpen({ kind, params: { ...options.params, host, port } }));
    options.onOpen?.(stream);
    const reply = await readReply(stream, { timeout: options.timeout ?? 30_000 });
    if (!reply.ok) throw new ForwardError(reply.message, reply.code);
    const { address, port: replyPort } = reply.data;
    return {
      stream,
      target: {
        address: typeof address === "string" ? address : host,
        port: typeof replyPort === "number" ? replyPort : port,
      },
    };
  } catch (e) {
    stream.reset();
    if (e instanceof ForwardError) throw e;
    if (e instanceof OpenError || e instanceof MuxError) {
      throw new ForwardError(`Forward to ${host}:${port} failed: ${e.message}`, "open-failed", {
        cause: e,
      });
    }
    throw e;
  }
}
