/**
 * One multiplexed stream: bytes from the peer's Data frames, read with
 * `read()` or through `readable`; bytes to the peer with `write()` or through
 * `writable`, within the peer's window.
 *
 * @module
 */

import { Flag, type Frame, FrameType, INITIAL_WINDOW } from "../frame/header.ts";
import { ProtocolError } from "../frame/errors.ts";
import { MuxError } from "./errors.ts";
import type { SessionConfig } from "./config.ts";
import { type StreamTx, streamTx } from "./stream_tx.ts";

/** What a stream needs from its session. Implemented by `Session`. */
export interface StreamHost {
  /** The session's validated options. */
  readonly config: SessionConfig;
  /** Smoothed round-trip time in ms, 0 before the first ping answer. */
  readonly rtt: number;
  /**
   * Queues a Data frame of the stream `tx`. Returns `undefined` once its
   * payload is copied into a transport write, else a promise that resolves
   * when it is.
   */
  sendData(tx: StreamTx, payload: Uint8Array): Promise<void> | undefined;
  /** Queues a WindowUpdate of the stream `tx` (window grant or RST) ahead of waiting Data frames. */
  sendUpdate(tx: StreamTx, flags: number, delta: number): void;
  /** Sends the FIN of the stream `tx`; with `foldFlags`, in its last frame while that is still unsent. */
  sendFin(tx: StreamTx): void;
  /** The stream `tx` owes the peer the flags in `tx.owed`: sent in the current batch at the latest. */
  owe(tx: StreamTx): void;
  /** Asks for `bytes` of session receive budget; false when it is spent. */
  reserveWindow(bytes: number): boolean;
  /** The stream is finished both ways: forget it and return `budget` bytes of receive budget. */
  streamDone(stream: MuxStream, budget: number): void;
}

/** Payloads shorter than this are copied into a shared buffer when queued (see `#queueData`). */
const COALESCE_BELOW = 1024;
/** Size of that buffer. */
const COALESCE_SIZE = 4096;

/** Fewest ms a window epoch may last and still count as "window-limited" for auto-tuning. */
const MIN_TUNE_EPOCH_MS = 10;

/** What `read()` and `write()` return when nothing is left to wait for. */
const DONE: Promise<void> = Promise.resolve();
const EOF: Promise<null> = Promise.resolve(null);

/**
 * A stream of a {@linkcode Session}.
 *
 * Two ways to use each direction; pick one per direction and stay with it:
 * - `read()` / `unread()` / `cancelRead()` and `write()` / `closeWrite()`:
 *   direct calls, no Web Streams machinery (the proxy's per-request path);
 * - `readable` / `writable`: Web Streams over the same calls, made on first use.
 *
 * Closing the write side sends FIN (half-close), a remote FIN ends reading,
 * `reset()` aborts both directions with RST.
 *
 * Flow control: the peer may send at most the window this side granted, and
 * this side grants more only for bytes its reader has taken. A writer waits
 * for the peer's credit: the pending `write()` promise is the backpressure.
 */
export class MuxStream {
  /** Stream id: odd for streams opened by the client side, even for the server side. */
  readonly id: number;
  /**
   * Resolves once the session forgets the stream: FIN sent and received, or a
   * reset by either side, or the session's end. Never rejects. Unread data
   * may still be readable after it resolves.
   */
  readonly closed: Promise<void>;
  readonly #closed = Promise.withResolvers<void>();

  readonly #host: StreamHost;
  /** The writer's record of this stream: owed flags, last frame. */
  readonly #tx: StreamTx;
  // Receive side.
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #buffered = 0;
  /** The buffer small payloads are copied into; the queue's last chunk is a view of its start when in use. */
  #pad: Uint8Array | null = null;
  /** Bytes handed back by `unread()`: returned first, outside window accounting. */
  #front: Uint8Array | null = null;
  #recvWindow = INITIAL_WINDOW;
  #recvAvail = INITIAL_WINDOW;
  #consumed = 0;
  #epochStart = performance.now();
  #budget = 0;
  #waiter: PromiseWithResolvers<Uint8Array | null> | null = null;
  #remoteClosed = false;
  #readDone = false;
  /** Why reading failed (reset, session gone); reads reject with it. */
  #readError: Error | null = null;
  #readable: ReadableStream<Uint8Array> | null = null;
  #readController: ReadableStreamDefaultController<Uint8Array> | null = null;
  // Send side.
  #sendWindow = INITIAL_WINDOW;
  #creditWaiter: PromiseWithResolvers<void> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #writeController: WritableStreamDefaultController | null = null;
  #localClosed = false;
  /** The write not yet copied into a transport write, if any: a FIN must wait for it. */
  #writing: Promise<void> | null = null;
  /** closeWrite() was called while a write was pending: FIN goes once it is copied. */
  #finAfterWrite = false;
  // Both.
  #error: Error | null = null;
  #finished = false;

  /** @internal Created by `Session`; not for direct use. */
  constructor(host: StreamHost, id: number) {
    this.#host = host;
    this.id = id;
    this.#tx = streamTx(id);
    this.closed = this.#closed.promise;
  }

  /**
   * Bytes from the peer as a Web Stream (made on first access). Ends at the
   * peer's FIN, errors on reset or session loss; cancelling it resets the
   * stream unless the peer already sent FIN.
   */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#readController = c;
      },
      pull: async (c) => {
        const chunk = await this.read();
        if (chunk === null) c.close();
        else c.enqueue(chunk);
      },
      cancel: () => this.cancelRead(),
    }, { highWaterMark: 0 });
  }

  /** Bytes to the peer as a Web Stream (made on first access). `close()` sends FIN; `abort()` resets. */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream<Uint8Array>({
      start: (c) => {
        this.#writeController = c;
      },
      write: (chunk) => this.write(chunk),
      close: () => {
        if (this.#error !== null) throw this.#error;
        this.closeWrite();
      },
      abort: () => this.reset(),
    });
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#buffered + (this.#front?.length ?? 0);
  }

  /** Current receive window (grows by auto-tuning up to `maxStreamWindow`). */
  get receiveWindow(): number {
    return this.#recvWindow;
  }

  /**
   * The next chunk from the peer, or null once the peer's FIN was read (and
   * after `cancelRead()`). One read at a time.
   *
   * @throws {MuxError} "stream-reset" or "session-closed" when the stream died.
   */
  read(): Promise<Uint8Array | null> {
    const front = this.#front;
    if (front !== null) {
      this.#front = null;
      return Promise.resolve(front);
    }
    if (this.#readError !== null) return Promise.reject(this.#readError);
    if (this.#queueHead < this.#queue.length) return Promise.resolve(this.#take());
    if (this.#readDone) return EOF;
    if (this.#remoteClosed) {
      this.#endOfData();
      return EOF;
    }
    if (this.#waiter !== null) {
      return Promise.reject(new TypeError(`Stream ${this.id} is already being read`));
    }
    this.#waiter = Promise.withResolvers();
    return this.#waiter.promise;
  }

  /**
   * Puts bytes that were read back in front of the stream (what followed a
   * message the reader parsed): the next `read()` returns them. At most one
   * chunk may be put back at a time.
   */
  unread(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.#readDone) return;
    if (this.#front !== null) throw new TypeError(`Stream ${this.id} already has unread bytes`);
    this.#front = chunk;
  }

  /**
   * Stops reading: buffered bytes are dropped, reads return null. Resets the
   * stream unless the peer already sent FIN (it would go on sending into a
   * window nobody opens).
   */
  cancelRead(): void {
    if (this.#readDone) return;
    this.#stopReading()?.resolve(null);
    if (!this.#remoteClosed) this.reset();
    else this.#maybeDone();
  }

  /**
   * Sends `chunk` (any size: cut into frames within the peer's window).
   * Resolves once it is copied into a transport write; the caller may then
   * reuse the buffer. One write at a time.
   *
   * @throws {MuxError} when the stream was reset or its session is gone.
   * @throws {TypeError} after `closeWrite()`.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(`Stream ${this.id} accepts Uint8Array chunks, got ${typeof chunk}`),
      );
    }
    if (this.#localClosed || this.#finAfterWrite) {
      return Promise.reject(new TypeError(`Stream ${this.id} was closed for writing`));
    }
    const n = chunk.length;
    if (n === 0) return DONE;
    if (n <= this.#sendWindow && n <= this.#host.config.maxFrameSize) {
      this.#sendWindow -= n;
      const taken = this.#host.sendData(this.#tx, chunk);
      return taken === undefined ? DONE : this.#pending(taken);
    }
    return this.#pending(this.#writeFrames(chunk));
  }

  /** Notes `write` as the write in flight until it settles; returns it. */
  #pending(write: Promise<void>): Promise<void> {
    this.#writing = write;
    const settle = () => {
      if (this.#writing === write) this.#writing = null;
    };
    write.then(settle, settle);
    return write;
  }

  /**
   * Sends FIN: nothing more will be written. Idempotent; no effect on a dead
   * stream. With `foldFlags`, while the stream's last frame has not been
   * handed to the transport, the FIN rides on it instead of costing a frame
   * of its own. Called while a `write()` is still pending (waiting for window
   * or for the writer), the FIN follows that write's data instead of
   * overtaking it; further writes are refused at once.
   */
  closeWrite(): void {
    if (this.#localClosed || this.#finAfterWrite || this.#error !== null) return;
    const writing = this.#writing;
    if (writing !== null) {
      this.#finAfterWrite = true;
      writing.then(() => this.#sendFin(), () => {});
      return;
    }
    this.#sendFin();
  }

  #sendFin(): void {
    if (this.#localClosed || this.#error !== null) return;
    this.#localClosed = true;
    this.#host.sendFin(this.#tx);
    this.#maybeDone();
  }

  /** Aborts the stream both ways and tells the peer with RST. Idempotent. */
  reset(): void {
    if (this.#finished) return;
    this.#host.sendUpdate(this.#tx, Flag.RST, 0);
    this.#terminate(new MuxError(`Stream ${this.id} was reset locally`, "stream-reset"));
  }

  // ---- Called by the session -------------------------------------------

  /**
   * @internal The stream owes the peer `flags`: SYN once opened, ACK once
   * accepted. With `foldFlags` its next frame carries them, or without one
   * before the current batch is written, a WindowUpdate; else a WindowUpdate
   * is queued at once.
   */
  owe(flags: number): void {
    this.#tx.owed |= flags;
    this.#host.owe(this.#tx);
  }

  /** @internal The peer did not ACK this outbound stream within `openTimeout`: reset it. */
  openTimedOut(): void {
    if (this.#finished) return;
    this.#host.sendUpdate(this.#tx, Flag.RST, 0);
    this.#terminate(
      new MuxError(
        `Stream ${this.id} was not acknowledged within ${this.#host.config.openTimeout} ms`,
        "timeout",
      ),
    );
  }

  /**
   * @internal Handles a Data or WindowUpdate frame, or one piece of a Data
   * frame: flags and window accounting at the first piece, FIN at the last.
   */
  receive(frame: Frame): void {
    const flags = frame.flags;
    if (frame.first) {
      if (flags & Flag.RST) {
        this.#terminate(new MuxError(`Stream ${this.id} was reset by the peer`, "stream-reset"));
        return;
      }
      if (frame.type === FrameType.Data) this.#admit(frame.length);
      else if (frame.length > 0) this.#credit(frame.length);
    }
    if (frame.payload.length > 0) this.#queueData(frame.payload);
    if (frame.last && flags & Flag.FIN && !this.#remoteClosed && !this.#finished) {
      this.#remoteClosed = true;
      if (this.#waiter !== null && this.#queueHead === this.#queue.length) {
        const w = this.#waiter;
        this.#waiter = null;
        this.#endOfData();
        w.resolve(null);
      }
      this.#maybeDone();
    }
  }

  /** @internal Ends the stream because the session is gone. */
  sessionClosed(reason: Error): void {
    this.#terminate(reason);
  }

  // ---- Receive side ----------------------------------------------------

  /** Charges a whole Data frame against the receive window, at its first piece. */
  #admit(length: number): void {
    if (this.#finished || length === 0) return;
    if (length > this.#recvAvail) {
      throw new ProtocolError(
        `Stream ${this.id} received ${length} bytes with only ${this.#recvAvail} of window left`,
        "window-exceeded",
      );
    }
    this.#recvAvail -= length;
    // Data after the peer's own FIN: the peer is confused; drop the stream.
    if (this.#remoteClosed) this.reset();
  }

  #queueData(payload: Uint8Array): void {
    if (this.#finished || this.#readDone) return;
    const w = this.#waiter;
    if (w !== null && this.#queueHead === this.#queue.length) {
      // A reader is waiting and nothing is queued: hand the payload straight over.
      this.#waiter = null;
      this.#consumed += payload.length;
      w.resolve(payload);
      this.#maybeGrant();
      return;
    }
    this.#buffered += payload.length;
    // A payload is a view of the transport's chunk; queued, it keeps the whole chunk alive,
    // and each queued chunk costs ~130 bytes of objects. Small payloads are copied into one
    // buffer at the queue's tail, others that are a small piece of their chunk are copied:
    // what the peer makes us hold stays within a few times the window it was granted.
    if (payload.length < COALESCE_BELOW) {
      const last = this.#queue.length > this.#queueHead
        ? this.#queue[this.#queue.length - 1]!
        : null;
      const pad = this.#pad;
      if (last !== null && pad !== null && last.buffer === pad.buffer) {
        if (last.length + payload.length <= pad.length) {
          pad.set(payload, last.length);
          this.#queue[this.#queue.length - 1] = pad.subarray(0, last.length + payload.length);
          return;
        }
      }
      this.#pad = new Uint8Array(COALESCE_SIZE);
      this.#pad.set(payload);
      this.#queue.push(this.#pad.subarray(0, payload.length));
      return;
    }
    if (payload.buffer.byteLength > 4 * payload.length) payload = payload.slice();
    this.#queue.push(payload);
  }

  /** Takes the oldest queued chunk and credits the peer for it. */
  #take(): Uint8Array {
    const chunk = this.#queue[this.#queueHead]!;
    this.#queue[this.#queueHead++] = undefined as unknown as Uint8Array;
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
      this.#pad = null;
    }
    this.#buffered -= chunk.length;
    this.#consumed += chunk.length;
    this.#maybeGrant();
    return chunk;
  }

  /** Ends reading: drops what is buffered; returns the pending read, if any, to settle. */
  #stopReading(): PromiseWithResolvers<Uint8Array | null> | null {
    this.#readDone = true;
    this.#front = null;
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#pad = null;
    this.#buffered = 0;
    const w = this.#waiter;
    this.#waiter = null;
    return w;
  }

  /** The reader reached the peer's FIN. */
  #endOfData(): void {
    this.#readDone = true;
    this.#maybeDone();
  }

  /** Sends a window update once half the window was consumed; grows the window for fast readers. */
  #maybeGrant(): void {
    if (this.#consumed < this.#recvWindow >>> 1 || this.#finished || this.#remoteClosed) return;
    const now = performance.now();
    let delta = this.#consumed;
    const max = this.#host.config.maxStreamWindow;
    if (this.#buffered === 0 && this.#recvWindow < max) {
      const epoch = now - this.#epochStart;
      if (epoch < Math.max(4 * this.#host.rtt, MIN_TUNE_EPOCH_MS)) {
        const grow = Math.min(this.#recvWindow, max - this.#recvWindow);
        if (this.#host.reserveWindow(grow)) {
          this.#budget += grow;
          this.#recvWindow += grow;
          delta += grow;
        }
      }
    }
    this.#epochStart = now;
    this.#consumed = 0;
    this.#recvAvail += delta;
    this.#host.sendUpdate(this.#tx, 0, delta);
  }

  // ---- Send side -------------------------------------------------------

  #credit(delta: number): void {
    this.#sendWindow += delta;
    const w = this.#creditWaiter;
    if (w !== null) {
      this.#creditWaiter = null;
      w.resolve();
    }
  }

  /** `write()` for a chunk beyond the window or the frame size: frame by frame, waiting for credit. */
  async #writeFrames(chunk: Uint8Array): Promise<void> {
    const max = this.#host.config.maxFrameSize;
    let off = 0;
    while (off < chunk.length) {
      if (this.#error !== null) throw this.#error;
      if (this.#sendWindow === 0) {
        this.#creditWaiter = Promise.withResolvers<void>();
        await this.#creditWaiter.promise;
        continue;
      }
      const n = Math.min(chunk.length - off, this.#sendWindow, max);
      this.#sendWindow -= n;
      const part = n === chunk.length ? chunk : chunk.subarray(off, off + n);
      off += n;
      const taken = this.#host.sendData(this.#tx, part);
      if (taken !== undefined) await taken;
    }
  }

  // ---- Both ------------------------------------------------------------

  #maybeDone(): void {
    if (this.#finished || !this.#localClosed || !this.#remoteClosed) return;
    // Both FINs exchanged: the session forgets the stream; unread data stays readable.
    this.#finish();
  }

  #finish(): void {
    this.#finished = true;
    this.#closed.resolve();
    this.#host.streamDone(this, this.#budget);
    this.#budget = 0;
  }

  #terminate(reason: Error): void {
    if (this.#finished && this.#error !== null) return;
    this.#error = reason;
    // A SYN or ACK still owed would only announce a dead stream.
    this.#tx.owed = 0;
    if (!this.#readDone) {
      this.#readError = reason;
      this.#stopReading()?.reject(reason);
      this.#readController?.error(reason);
    }
    if (!this.#localClosed) {
      this.#localClosed = true;
      this.#writeController?.error(reason);
    }
    const w = this.#creditWaiter;
    if (w !== null) {
      this.#creditWaiter = null;
      w.reject(reason);
    }
    if (!this.#finished) this.#finish();
  }
}
