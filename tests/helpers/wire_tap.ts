/**
 * Records what a session writes to its transport, one entry per transport
 * write (a batch), decoded into frames: for tests that assert on the wire.
 *
 * @module
 */

import type { Conn, ConnSink } from "../../shared/transport/conn.ts";
import type { Frame } from "../../shared/frame/header.ts";
import { FrameDecoder } from "../../shared/frame/decoder.ts";

/** A transport whose writes are recorded. */
export interface WireTap {
  /** The transport to give the session: each write is recorded, then passed on unchanged. */
  conn: Conn;
  /** Every transport write so far, as its frames (whole, payloads copied). */
  readonly batches: readonly Frame[][];
  /** The frames of stream `streamId` written so far, in order. */
  frames(streamId: number): Frame[];
  /**
   * Resolves with the first batch, written already or later, holding a frame
   * that matches `pred`.
   */
  batchWith(pred: (frame: Frame) => boolean): Promise<Frame[]>;
  /**
   * Like `batchWith`, but resolves once the transport took that batch (its
   * write resolved). A session whose writer has nothing else to send is idle
   * by then, so frames queued next start a batch of their own.
   */
  written(pred: (frame: Frame) => boolean): Promise<Frame[]>;
}

/**
 * Wraps `conn` so that every batch written to it is recorded. Keeps the
 * transport's `sink` and `reuseWriteBuffers`: the session writes as it
 * would to `conn` itself.
 *
 * @example
 * ```ts
 * const [a, b] = memoryPair();
 * const tap = tapWrites(a);
 * const client = new Session(tap.conn, { client: true });
 * const stream = await client.open();
 * const batch = await tap.batchWith((f) => f.streamId === stream.id);
 * ```
 */
export function tapWrites(conn: Conn): WireTap {
  const inner: ConnSink = conn.sink ?? conn.writable.getWriter();
  // Batches hold whole frames, so each write decodes to whole frames.
  const decoder = new FrameDecoder(2 ** 32 - 1);
  const batches: Frame[][] = [];
  /** Settles when the transport took the batch of the same index. */
  const taken: Promise<void>[] = [];
  const waiters: { pred: (f: Frame) => boolean; resolve: (b: Frame[]) => void }[] = [];
  const record = (chunk: Uint8Array) => {
    // Copied now: a transport that reuses write buffers fills this one again later.
    const batch = [...decoder.decode(chunk)].map((f) => ({ ...f, payload: f.payload.slice() }));
    batches.push(batch);
    for (const w of [...waiters]) {
      if (!batch.some(w.pred)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(batch);
    }
  };
  const sink: ConnSink = {
    write(chunk) {
      record(chunk);
      const done = inner.write(chunk);
      // Registered before the session awaits `done`: this settles first.
      taken.push(done.then(() => {}, () => {}));
      return done;
    },
    close: () => inner.close(),
    abort: (reason) => inner.abort(reason),
  };
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => sink.write(chunk),
    close: () => sink.close(),
    abort: (reason) => sink.abort(reason),
  });
  return {
    conn: {
      readable: conn.readable,
      writable,
      sink,
      reuseWriteBuffers: conn.reuseWriteBuffers === true,
    },
    batches,
    frames: (streamId) => batches.flat().filter((f) => f.streamId === streamId),
    batchWith(pred) {
      const batch = batches.find((b) => b.some(pred));
      if (batch !== undefined) return Promise.resolve(batch);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    async written(pred) {
      const batch = await this.batchWith(pred);
      await taken[batches.indexOf(batch)];
      return batch;
    },
  };
}
