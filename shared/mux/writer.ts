/**
 * The session's single writer: serialises every frame into batches, one
 * transport write per batch.
 *
 * @module
 */

import { encodeHeader, Flag, FrameType, HEADER_SIZE } from "../frame/header.ts";
import type { ConnSink } from "../transport/conn.ts";
import type { StreamTx } from "./stream_tx.ts";
import { HeldControl, type HeldOutlet } from "./held.ts";

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
  tx: StreamTx;
  payload: Uint8Array;
  done: PromiseWithResolvers<void>;
}

/** Options of a {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /** Reuse a batch buffer once its write resolved (transports that copy or send before resolving). */
  reuseBuffers?: boolean;
  /** Let flags ride on frames that go out anyway (see the class comment). */
  fold?: boolean;
  /**
   * Most control frames held outside the batch (the batch is full while the
   * transport is busy). Default: no bound. Past it, further control frames
   * are dropped (GoAway excepted) and `onFlood` is called, once.
   */
  maxHeld?: number;
  /** Called once (in a microtask) when a control frame found `maxHeld` frames held already. */
  onFlood?: () => void;
}

/**
 * Packs frames into batch buffers and writes each batch with one transport
 * write. A Data payload is copied once, into the batch; its sender may reuse
 * the payload's buffer as soon as `data()` says it was taken. While the
 * transport is busy, frames gather in the next batch, up to `maxBatchSize`;
 * beyond that senders wait (backpressure reaches the stream writers).
 *
 * Control frames (WindowUpdates, pongs, RSTs, GoAway) cannot wait for room
 * the way Data frames do: the read loop produces them. Once the batch is
 * full they are held outside it ({@linkcode HeldControl}), bounded: a stream
 * holds at most one WindowUpdate (later ones merge into it: flags ORed,
 * deltas summed), and past `maxHeld` held frames the peer is not reading
 * what it asks for: the writer drops further ones and calls `onFlood`.
 *
 * Order: frames leave in the order they were given, except that a control
 * frame never waits behind Data frames that did not fit, that a stream's
 * held WindowUpdate takes in later updates of its stream, and that, with
 * `fold`, flags travel on frames that go out anyway (hashicorp/yamux's
 * `sendFlags`):
 * - a stream's owed SYN or ACK (`owe()`) rides on its first frame put into
 *   a batch, or on a WindowUpdate added when the batch is taken (after
 *   frames of other streams given later): never later than the batch it was
 *   owed in, never after a frame of its own stream;
 * - a FIN (`fin()`) is ORed into the stream's last frame while that frame is
 *   still in the batch being filled and no frame of the stream waits outside
 *   it, so it leaves with that frame, ahead of other streams' frames given
 *   after it, but never ahead of its own stream's.
 */
export class FrameWriter implements HeldOutlet {
  readonly #writer: ConnSink;
  readonly #cap: number;
  readonly #fold: boolean;
  readonly #maxHeld: number;
  #buf: Uint8Array | null = null;
  #len = 0;
  /** Counts batches handed out: a stream's `batch` equal to it means its frame is in `#buf`. */
  #seq = 0;
  #waiting: Waiting[] = [];
  /** Payload bytes of `#waiting`. */
  #waitingBytes = 0;
  readonly #held: HeldControl;
  /** Streams that were owed flags since the last batch was taken. */
  #owing: StreamTx[] = [];
  #wake: (() => void) | null = null;
  #finishing = false;
  /** Batch buffers the transport is done with (only when it says it lets go of written chunks). */
  readonly #free: Uint8Array[] | null;

  /**
   * Writes batches of at most `maxBatchSize` bytes (plus control frames) to
   * `writer`. With `reuseBuffers`, a batch buffer is used again once its
   * write resolved: only for transports that copy or send a chunk before
   * resolving (TCP, TLS, WebSocket), never for ones that hand it on. With
   * `fold`, flags ride on other frames as the class comment says; without
   * (the default), SYN, ACK and FIN each go as a WindowUpdate of their own,
   * queued when they are owed.
   */
  constructor(writer: ConnSink, maxBatchSize: number, options: FrameWriterOptions = {}) {
    this.#writer = writer;
    this.#cap = maxBatchSize;
    this.#free = options.reuseBuffers === true ? [] : null;
    this.#fold = options.fold ?? false;
    this.#maxHeld = options.maxHeld ?? Infinity;
    this.#held = new HeldControl(this.#maxHeld, options.onFlood ?? null);
  }

  /**
   * Bytes of frames given to the writer and not yet handed to the transport:
   * the batch being filled, held control frames (as their wire size) and
   * Data frames waiting for room.
   */
  get queuedBytes(): number {
    return this.#len + this.#held.count * HEADER_SIZE + this.#waitingBytes +
      this.#waiting.length * HEADER_SIZE;
  }

  /** Control frames held outside the batch (at most `maxHeld`). */
  get heldFrames(): number {
    return this.#held.count;
  }

  /**
   * Queues a Data frame of the stream `tx`. Returns `undefined` when the
   * payload was copied into the batch already, else a promise that resolves
   * once it is. Only a frame copied at once carries the stream's owed flags.
   */
  data(tx: StreamTx, payload: Uint8Array): Promise<void> | undefined {
    if (this.#waiting.length === 0 && this.#len + HEADER_SIZE + payload.length <= this.#cap) {
      this.#putStream(tx, FrameType.Data, 0, payload.length, payload);
      this.#kick();
      return undefined;
    }
    const done = Promise.withResolvers<void>();
    tx.queued++;
    this.#waiting.push({ tx, payload, done });
    this.#waitingBytes += payload.length;
    this.#kick();
    return done.promise;
  }

  /**
   * Queues a WindowUpdate of the stream `tx` (window grant, RST); put at
   * once, it carries owed flags. When it cannot be put at once it is held,
   * merged into the stream's held WindowUpdate if there is one.
   */
  update(tx: StreamTx, flags: number, delta: number): void {
    if (!tx.held && this.#held.count === 0 && this.room()) {
      this.#putStream(tx, FrameType.WindowUpdate, flags, delta, null);
    } else if (!this.#held.stream(tx, flags, delta)) return;
    this.#kick();
  }

  /**
   * Sends the FIN of stream `tx`. With `fold`, it is folded into the
   * stream's last frame when that frame is still in the batch being filled
   * and nothing of the stream waits outside it; else it goes as a
   * WindowUpdate of its own (or in the stream's held one).
   */
  fin(tx: StreamTx): void {
    if (tx.batch === this.#seq && tx.queued === 0) {
      // Flags are header bytes 2..3, big-endian; every flag lives in the low byte.
      const buf = this.#buf!;
      buf[tx.at + 3] = buf[tx.at + 3]! | Flag.FIN | tx.owed;
      tx.owed = 0;
      return;
    }
    this.update(tx, Flag.FIN, 0);
  }

  /**
   * Notes that stream `tx` owes the flags in `tx.owed`. Wakes the writer as a
   * queued control frame would: they leave in the next batch at the latest.
   */
  owe(tx: StreamTx): void {
    if (!this.#fold) {
      const flags = tx.owed;
      tx.owed = 0;
      this.update(tx, flags, 0);
      return;
    }
    // Streams opened or accepted while the transport is busy would gather
    // here without end: past the bound, what they owe goes out (or is held) now.
    if (this.#owing.length >= this.#maxHeld) this.#settle();
    this.#owing.push(tx);
    this.#kick();
  }

  /** Queues a payload-less frame that belongs to no stream object (Ping, GoAway, refused SYNs). */
  control(type: FrameType, flags: number, streamId: number, length: number): void {
    if (this.#held.count === 0 && this.room()) this.#put(type, flags, streamId, length, null);
    else if (!this.#held.frame(type, flags, streamId, length)) return;
    this.#kick();
  }

  /** Rejects every Data frame still waiting for room. */
  fail(reason: Error): void {
    for (const w of this.#waiting) {
      w.tx.queued--;
      w.done.reject(reason);
    }
    this.#waiting.length = 0;
    this.#waitingBytes = 0;
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
      if (this.#len === 0 && this.#owing.length === 0) {
        if (this.#held.count > 0 || this.#waiting.length > 0) {
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
      this.#settle();
      if (this.#len === 0) continue;
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

  /** Puts a frame of stream `tx` with its owed flags and remembers where it went. */
  #putStream(
    tx: StreamTx,
    type: FrameType,
    flags: number,
    length: number,
    payload: Uint8Array | null,
  ): void {
    if (this.#fold) {
      tx.batch = this.#seq;
      tx.at = this.#len;
    }
    const owed = tx.owed;
    tx.owed = 0;
    this.#put(type, flags | owed, tx.id, length, payload);
  }

  /** @internal For the held control frames: true when one more header fits the batch. */
  room(): boolean {
    return this.#len + HEADER_SIZE <= this.#cap + CONTROL_SLACK;
  }

  /** @internal For the held control frames: puts a frame of no stream object. */
  put(type: FrameType, flags: number, streamId: number, length: number): void {
    this.#put(type, flags, streamId, length, null);
  }

  /** @internal For the held control frames: puts a WindowUpdate of stream `tx`. */
  putStream(tx: StreamTx, flags: number, delta: number): void {
    this.#putStream(tx, FrameType.WindowUpdate, flags, delta, null);
  }

  /**
   * Before a batch is taken: a WindowUpdate for every stream still owing
   * flags. Without room, the flags go into the stream's held WindowUpdate,
   * which leaves ahead of any later frame of its stream.
   */
  #settle(): void {
    const owing = this.#owing;
    for (let i = 0; i < owing.length; i++) {
      const tx = owing[i]!;
      const owed = tx.owed;
      if (owed === 0) continue;
      if (!tx.held && this.room()) this.#putStream(tx, FrameType.WindowUpdate, 0, 0, null);
      else {
        tx.owed = 0;
        this.#held.stream(tx, owed, 0);
      }
    }
    owing.length = 0;
  }

  /**
   * Hands out the current batch. Without buffer reuse, a small batch is
   * copied out so its (large) buffer can keep filling: allocating and zeroing
   * a fresh buffer costs far more than copying a little. Either way the batch
   * sequence moves on: no FIN is folded into a frame handed out.
   */
  #take(): Uint8Array {
    const buf = this.#buf!;
    const len = this.#len;
    this.#len = 0;
    this.#seq++;
    if (this.#free === null && len <= this.#cap >>> 2) return buf.slice(0, len);
    this.#buf = null;
    return buf.subarray(0, len);
  }

  /** Moves held control frames, then waiting Data frames, into the (empty) batch. */
  #refill(): void {
    if (this.#held.count > 0) this.#held.drain(this);
    const waiting = this.#waiting;
    let j = 0;
    while (j < waiting.length) {
      const w = waiting[j]!;
      if (this.#len + HEADER_SIZE + w.payload.length > this.#cap && this.#len > 0) break;
      w.tx.queued--;
      this.#waitingBytes -= w.payload.length;
      this.#putStream(w.tx, FrameType.Data, 0, w.payload.length, w.payload);
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
