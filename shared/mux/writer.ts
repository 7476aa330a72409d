/**
 * The session's single writer: serialises every frame into batches, one
 * transport write per batch.
 *
 * @module
 */

import { encodeHeader, FrameType, HEADER_SIZE } from "../frame/header.ts";
import type { ConnSink } from "./session.ts";

/** Room kept in every batch buffer for control frames beyond `maxBatchSize`. */
const CONTROL_SLACK = 4096;

/**
 * Runs `fn` after pending I/O callbacks and microtasks (a few µs; a zero
 * `setTimeout` costs about 2 ms in Deno).
 */
const nextTick: (fn: () => void) => void =
  (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate ??
    ((fn) => setTimeout(fn, 0));

interface Waiting {
  streamId: number;
  flags: number;
  payload: Uint8Array;
  done: PromiseWithResolvers<void>;
}

interface Control {
  type: FrameType;
  flags: number;
  streamId: number;
  length: number;
}

/**
 * Packs frames into batch buffers and writes each batch with one transport
 * write. A Data payload is copied once, into the batch; its sender may reuse
 * the payload's buffer as soon as `data()` says it was taken. While the
 * transport is busy, frames gather in the next batch, up to `maxBatchSize`;
 * beyond that senders wait (backpressure reaches the stream writers).
 * Frames leave in the order they were given, except that a control frame
 * never waits behind Data frames that did not fit.
 */
export class FrameWriter {
  readonly #writer: ConnSink;
  readonly #cap: number;
  #buf: Uint8Array | null = null;
  #len = 0;
  #waiting: Waiting[] = [];
  #overflow: Control[] = [];
  #wake: (() => void) | null = null;
  #finishing = false;
  /** Batch buffers the transport is done with (only when it says it lets go of written chunks). */
  readonly #free: Uint8Array[] | null;

  /**
   * Writes batches of at most `maxBatchSize` bytes (plus control frames) to
   * `writer`. With `reuseBuffers`, a batch buffer is used again once its
   * write resolved: only for transports that copy or send a chunk before
   * resolving (TCP, TLS, WebSocket), never for ones that hand it on.
   */
  constructor(
    writer: ConnSink,
    maxBatchSize: number,
    reuseBuffers = false,
  ) {
    this.#writer = writer;
    this.#cap = maxBatchSize;
    this.#free = reuseBuffers ? [] : null;
  }

  /**
   * Queues a Data frame. Returns `undefined` when the payload was copied into
   * the batch already, else a promise that resolves once it is.
   */
  data(streamId: number, flags: number, payload: Uint8Array): Promise<void> | undefined {
    if (this.#waiting.length === 0 && this.#len + HEADER_SIZE + payload.length <= this.#cap) {
      this.#put(FrameType.Data, flags, streamId, payload.length, payload);
      this.#kick();
      return undefined;
    }
    const done = Promise.withResolvers<void>();
    this.#waiting.push({ streamId, flags, payload, done });
    this.#kick();
    return done.promise;
  }

  /** Queues a payload-less frame. */
  control(type: FrameType, flags: number, streamId: number, length: number): void {
    if (this.#overflow.length === 0 && this.#len + HEADER_SIZE <= this.#cap + CONTROL_SLACK) {
      this.#put(type, flags, streamId, length, null);
    } else {
      this.#overflow.push({ type, flags, streamId, length });
    }
    this.#kick();
  }

  /** Rejects every Data frame still waiting for room. */
  fail(reason: Error): void {
    for (const w of this.#waiting) w.done.reject(reason);
    this.#waiting.length = 0;
  }

  /** Asks `run()` to write what is queued, close the transport and return. */
  finish(): void {
    this.#finishing = true;
    this.#kick();
  }

  /**
   * Writes batches until `finish()`; rejects when the transport fails.
   * Frames queued after `finish()` are still written if they arrive before
   * the queue runs dry.
   */
  async run(): Promise<void> {
    while (true) {
      if (this.#len === 0) {
        if (this.#overflow.length > 0 || this.#waiting.length > 0) {
          this.#refill();
          continue;
        }
        if (this.#finishing) break;
        await new Promise<void>((resolve) => this.#wake = resolve);
        // Coming out of idle, let the frames produced by the same burst of work
        // (a request and its FIN, a reply and its body) join one batch: one
        // transport write instead of several small ones, which Nagle's
        // algorithm on sockets we cannot configure would hold back 40 ms.
        await new Promise<void>((resolve) => nextTick(resolve));
        continue;
      }
      const full = this.#buf!;
      const out = this.#take();
      this.#refill();
      await this.#writer.write(out);
      // Two spare buffers cover the batch being written and the one filling.
      if (this.#free !== null && out.buffer === full.buffer && this.#free.length < 2) {
        this.#free.push(full);
      }
    }
    await this.#writer.close();
  }

  #put(type: FrameType, flags: number, id: number, length: number, payload: Uint8Array | null) {
    const buf = this.#buf ??= this.#free?.pop() ?? new Uint8Array(this.#cap + CONTROL_SLACK);
    encodeHeader(buf, this.#len, { type, flags, streamId: id, length });
    this.#len += HEADER_SIZE;
    if (payload !== null) {
      buf.set(payload, this.#len);
      this.#len += payload.length;
    }
  }

  /**
   * Hands out the current batch. Without buffer reuse, a small batch is
   * copied out so its (large) buffer can keep filling: allocating and zeroing
   * a fresh buffer costs far more than copying a little.
   */
  #take(): Uint8Array {
    const buf = this.#buf!;
    const len = this.#len;
    this.#len = 0;
    if (this.#free === null && len <= this.#cap >>> 2) return buf.slice(0, len);
    this.#buf = null;
    return buf.subarray(0, len);
  }

  /** Moves overflowed control frames, then waiting Data frames, into the (empty) batch. */
  #refill(): void {
    const overflow = this.#overflow;
    let i = 0;
    while (i < overflow.length && this.#len + HEADER_SIZE <= this.#cap + CONTROL_SLACK) {
      const c = overflow[i++]!;
      this.#put(c.type, c.flags, c.streamId, c.length, null);
    }
    overflow.splice(0, i);
    const waiting = this.#waiting;
    let j = 0;
    while (j < waiting.length) {
      const w = waiting[j]!;
      if (this.#len + HEADER_SIZE + w.payload.length > this.#cap && this.#len > 0) break;
      this.#put(FrameType.Data, w.flags, w.streamId, w.payload.length, w.payload);
      w.done.resolve();
      j++;
    }
    waiting.splice(0, j);
  }

  #kick(): void {
    const wake = this.#wake;
    if (wake !== null) {
      this.#wake = null;
      wake();
    }
  }
}
