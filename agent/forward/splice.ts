/**
 * Splicing a mux stream and a TCP connection: bytes both ways with no buffer
 * of our own beyond one read each way, half-close carried both ways, and a
 * failure on either side ending the other.
 *
 * Backpressure is end to end: the stream → TCP loop reads from the stream
 * only after the previous chunk was written to the socket (a slow target
 * stops our reads, so the stream's receive window is not re-granted and the
 * peer's writes wait); the TCP → stream loop reads the socket only after
 * `stream.write()` resolved, which waits for the peer's window.
 *
 * @module
 */

import type { MuxStream } from "../../shared/mux/mod.ts";

/**
 * Largest read from the TCP socket, and the buffer an idle connection holds
 * while it waits for the target. Measured by hand (200 MiB target → opener
 * over one loopback TCP mux hop, runs alternated, machine shared with other
 * work): 16 KiB reads gave 270–420 MB/s, 64 KiB reads 160–460 MB/s, so the
 * larger buffer buys nothing and costs 48 KiB more per idle connection.
 */
const READ_SIZE = 16 * 1024;

/** Bytes moved by a finished splice. */
export interface SpliceResult {
  /** Bytes from the stream written to the socket. */
  toTarget: number;
  /** Bytes from the socket written to the stream. */
  fromTarget: number;
  /** True when it ended by a failure (reset, socket error, abort), not by FIN both ways. */
  aborted: boolean;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/** Writes all of `chunk` to `conn`. */
async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  let at = 0;
  while (at < chunk.length) at += await conn.write(chunk.subarray(at));
}

/**
 * Runs `stream` ⇄ `conn` until both directions ended (FIN each way) or one
 * failed (a reset stream, a socket error, `signal` aborted): then the other
 * side is torn down too (RST on the stream, close on the socket). Closes
 * `conn` in every case. Never throws.
 *
 * @example
 * ```ts
 * const { toTarget, fromTarget } = await spliceTcp(incoming.stream, conn);
 * ```
 */
export async function spliceTcp(
  stream: MuxStream,
  conn: Deno.Conn,
  signal?: AbortSignal,
): Promise<SpliceResult> {
  const result: SpliceResult = { toTarget: 0, fromTarget: 0, aborted: false };
  const fail = () => {
    if (result.aborted) return;
    result.aborted = true;
    stream.reset();
    closeQuietly(conn);
  };
  if (signal?.aborted) fail();
  signal?.addEventListener("abort", fail);
  const toTarget = async () => {
    try {
      for (let chunk = await stream.read(); chunk !== null; chunk = await stream.read()) {
        await writeAll(conn, chunk);
        result.toTarget += chunk.length;
      }
      if (!result.aborted) await conn.closeWrite();
    } catch {
      fail();
    }
  };
  const fromTarget = async () => {
    // One buffer for the whole connection: `stream.write()` has copied a chunk when it resolves.
    const buf = new Uint8Array(READ_SIZE);
    try {
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        await stream.write(buf.subarray(0, n));
        result.fromTarget += n;
      }
      stream.closeWrite();
    } catch {
      fail();
    }
  };
  await Promise.all([toTarget(), fromTarget()]);
  signal?.removeEventListener("abort", fail);
  closeQuietly(conn);
  return result;
}
