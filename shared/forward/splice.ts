/**
 * Splicing two byte channels: a mux stream and a TCP socket (the agent's
 * TcpForward, an operator's local connection), or two mux streams (the
 * server between an operator and an agent). Bytes both ways with no buffer
 * of our own beyond one chunk each way, half-close carried both ways, and a
 * failure on either side ending the other.
 *
 * Backpressure is end to end: each direction reads its source only after
 * the previous chunk was written to its sink. A mux stream's `write()`
 * waits for the peer's window; a socket write waits for the kernel; a mux
 * stream not read grants no new window, so its peer's writes wait in turn.
 *
 * @module
 */

import type { MuxStream } from "../mux/mod.ts";
import { closeQuietly } from "../net/accept_loop.ts";

/** One side of a splice. */
export interface ByteChannel {
  /** The next chunk, or null at the end (FIN/EOF). A chunk may be reused by the next `read()`. */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `chunk`; resolves once its buffer may be reused. */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends this side's writing (FIN / TCP half-close). */
  closeWrite(): Promise<void> | void;
  /** Aborts both ways (RST on a stream, close on a socket). Idempotent; never throws. */
  abort(): void;
  /** Releases what is left once both directions ended. Idempotent; never throws. */
  close(): void;
}

/**
 * A mux stream as a {@linkcode ByteChannel} (its direct calls, no Web Streams).
 *
 * @example
 * ```ts
 * await splice(muxChannel(operatorStream), muxChannel(agentStream));
 * ```
 */
export function muxChannel(stream: MuxStream): ByteChannel {
  return {
    read: () => stream.read(),
    write: (chunk) => stream.write(chunk),
    closeWrite: () => stream.closeWrite(),
    abort: () => stream.reset(),
    close: () => {}, // A stream finished both ways is forgotten by its session.
  };
}

/**
 * `channel`, whose reads wait for `gate`: the side of an early splice that
 * must not be read before the agent's answer (the answer comes first on it).
 * A gate resolving false (the channel was refused) fails the first read,
 * which ends the splice as aborted.
 *
 * @example
 * ```ts
 * const answered = Promise.withResolvers<boolean>();
 * const carrying = splice(connChannel(conn), gatedChannel(muxChannel(stream), answered.promise));
 * answered.resolve(true); // the answer was read: bytes may flow back
 * ```
 */
export function gatedChannel(channel: ByteChannel, gate: Promise<boolean>): ByteChannel {
  let open = false;
  const first = async () => {
    if (!(await gate)) throw new Error("The channel was not opened");
    open = true;
    return channel.read();
  };
  return {
    // Once open, reads go straight through (no promise of its own per chunk).
    read: () => open ? channel.read() : first(),
    write: (chunk) => channel.write(chunk),
    closeWrite: () => channel.closeWrite(),
    abort: () => channel.abort(),
    close: () => channel.close(),
  };
}

/**
 * Default {@linkcode connChannel} read size, and the buffer an idle connection
 * holds while it waits. Measured by hand (200 MiB target → opener over one
 * loopback TCP mux hop, runs alternated, machine shared with other work):
 * 16 KiB reads gave 270–420 MB/s, 64 KiB reads 160–460 MB/s, so the larger
 * buffer buys nothing and costs 48 KiB more per idle connection.
 */
export const CONN_READ_SIZE = 16 * 1024;

/**
 * A socket as a {@linkcode ByteChannel}: reads into one buffer of
 * `readSize` bytes, reused from read to read.
 *
 * @example
 * ```ts
 * await splice(muxChannel(stream), connChannel(await Deno.connect({ hostname, port })));
 * ```
 */
export function connChannel(conn: Deno.Conn, readSize = CONN_READ_SIZE): ByteChannel {
  const buf = new Uint8Array(readSize);
  // Idempotent without a thrown error: the socket's owner may close it again after the splice.
  const close = () => closeQuietly(conn);
  return {
    async read() {
      const n = await conn.read(buf);
      return n === null ? null : buf.subarray(0, n);
    },
    async write(chunk) {
      let at = 0;
      while (at < chunk.length) at += await conn.write(chunk.subarray(at));
    },
    closeWrite: () => conn.closeWrite(),
    abort: close,
    close,
  };
}

/** Bytes moved by a finished splice. */
export interface SpliceResult {
  /** Bytes read from `a` and written to `b`. */
  aToB: number;
  /** Bytes read from `b` and written to `a`. */
  bToA: number;
  /** True when it ended by a failure (reset, socket error, abort), not by an end both ways. */
  aborted: boolean;
}

/**
 * Runs `a` ⇄ `b` until both directions ended (each source's end passed on
 * as its sink's `closeWrite()`) or one failed (a reset stream, a socket
 * error, `signal` aborted): then both sides are aborted. Closes both in
 * every case. Never throws.
 *
 * @example
 * ```ts
 * const { aToB, bToA } = await splice(muxChannel(incoming.stream), connChannel(conn));
 * ```
 */
export async function splice(
  a: ByteChannel,
  b: ByteChannel,
  signal?: AbortSignal,
): Promise<SpliceResult> {
  const result: SpliceResult = { aToB: 0, bToA: 0, aborted: false };
  const fail = () => {
    if (result.aborted) return;
    result.aborted = true;
    a.abort();
    b.abort();
  };
  if (signal?.aborted) fail();
  signal?.addEventListener("abort", fail);
  const pump = async (from: ByteChannel, to: ByteChannel, count: "aToB" | "bToA") => {
    try {
      for (let chunk = await from.read(); chunk !== null; chunk = await from.read()) {
        await to.write(chunk);
        result[count] += chunk.length;
      }
      if (!result.aborted) await to.closeWrite();
    } catch {
      fail();
    }
  };
  await Promise.all([pump(a, b, "aToB"), pump(b, a, "bToA")]);
  signal?.removeEventListener("abort", fail);
  a.close();
  b.close();
  return result;
}

/**
 * A splice that starts as soon as a forward's open request is queued, before
 * the agent's answer, so the local side's first bytes follow the request at
 * once (one round trip less per connection); the stream's side is read only
 * once the answer was ({@link gatedChannel}). Give {@link onOpen} to the
 * opener (`OpenForwardOptions.onOpen`), then {@link settle} with the answer.
 *
 * @example
 * ```ts ignore
 * const early = new EarlySplice((remote) => [connChannel(conn), remote], signal);
 * const ok = await open({ onOpen: early.onOpen }).then(() => true, () => false);
 * const result = await early.settle(ok); // null: the open never reached onOpen
 * ```
 */
export class EarlySplice {
  readonly #answered = Promise.withResolvers<boolean>();
  readonly #build: (remote: ByteChannel) => [ByteChannel, ByteChannel];
  readonly #signal: AbortSignal | undefined;
  #carrying: Promise<SpliceResult> | null = null;
  #decided = false;

  /**
   * `build` gets the stream's side (gated) and returns the splice's two
   * sides, `a` and `b`, in the order {@link splice} takes them.
   */
  constructor(build: (remote: ByteChannel) => [ByteChannel, ByteChannel], signal?: AbortSignal) {
    this.#build = build;
    this.#signal = signal;
  }

  /** Starts the splice on `stream`; a stream that comes after {@link settle} (an open given up) is reset. */
  readonly onOpen = (stream: MuxStream): void => {
    if (this.#decided) {
      stream.reset();
      return;
    }
    const [a, b] = this.#build(gatedChannel(muxChannel(stream), this.#answered.promise));
    this.#carrying = splice(a, b, this.#signal);
  };

  /**
   * The agent's answer. Resolves with the splice's result once it ended (at
   * once, aborted, after a refusal), or null when the open never reached
   * {@link onOpen}.
   */
  settle(ok: boolean): Promise<SpliceResult | null> {
    this.#decided = true;
    this.#answered.resolve(ok);
    return this.#carrying ?? Promise.resolve(null);
  }
}
