/**
 * One multiplexed stream: a `readable` fed by the peer's Data frames, a
 * `writable` that sends Data frames within the peer's window.
 *
 * @module
 */

import { Flag, type Frame, FrameType, INITIAL_WINDOW } from "../frame/header.ts";
import { ProtocolError } from "../frame/errors.ts";
import { MuxError } from "./errors.ts";
import type { SessionConfig } from "./config.ts";

/** What a stream needs from its session. Implemented by `Session`. */
export interface StreamHost {
  /** The session's validated options. */
  readonly config: SessionConfig;
  /** Smoothed round-trip time in ms, 0 before the first ping answer. */
  readonly rtt: number;
  /**
   * Queues a Data frame. Returns `undefined` once its payload is copied into a
   * transport write, else a promise that resolves when it is.
   */
  sendData(streamId: number, flags: number, payload: Uint8Array): Promise<void> | undefined;
  /** Queues a payload-less frame ahead of data frames. */
  sendControl(type: FrameType, flags: number, streamId: number, length: number): void;
  /** Asks for `bytes` of session receive budget; false when it is spent. */
  reserveWindow(bytes: number): boolean;
  /** The stream is finished both ways: forget it and return `budget` bytes of receive budget. */
  streamDone(stream: MuxStream, budget: number): void;
}

/** Fewest ms a window epoch may last and still count as "window-limited" for auto-tuning. */
const MIN_TUNE_EPOCH_MS = 10;

/**
 * A stream of a {@linkcode Session}. Read `readable`, write `writable`;
 * closing `writable` sends FIN (half-close), a remote FIN ends `readable`,
 * `reset()` aborts both directions with RST.
 *
 * Flow control: the peer may send at most the window this side granted, and
 * this side grants more only for bytes its reader has taken. A writer waits
 * for the peer's credit: the pending `write()` promise is the backpressure.
 */
export class MuxStream {
  /** Stream id: odd for streams opened by the client side, even for the server side. */
  readonly id: number;
  /** Bytes from the peer. Ends at the peer's FIN, errors on reset or session loss. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. `close()` sends FIN; `abort()` resets the stream. */
  readonly writable: WritableStream<Uint8Array>;
  /**
   * Resolves once the session forgets the stream: FIN sent and received, or a
   * reset by either side, or the session's end. Never rejects. Unread data
   * may still be readable after it resolves.
   */
  readonly closed: Promise<void>;
  readonly #closed = Promise.withResolvers<void>();

  readonly #host: StreamHost;
  // Receive side.
  #queue: Uint8Array[] = [];
  #queueHead = 0;
  #buffered = 0;
  #recvWindow = INITIAL_WINDOW;
  #recvAvail = INITIAL_WINDOW;
  #consumed = 0;
  #epochStart = performance.now();
  #budget = 0;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #wantData = false;
  #remoteClosed = false;
  #readDone = false;
  // Send side.
  #sendWindow = INITIAL_WINDOW;
  #creditWaiter: PromiseWithResolvers<void> | null = null;
  #writeController!: WritableStreamDefaultController;
  #localClosed = false;
  // Both.
  #error: Error | null = null;
  #finished = false;

  /** @internal Created by `Session`; not for direct use. */
  constructor(host: StreamHost, id: number) {
    this.#host = host;
    this.id = id;
    this.closed = this.#closed.promise;
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#readController = c;
      },
      pull: () => this.#pull(),
      cancel: () => this.#cancelRead(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      start: (c) => {
        this.#writeController = c;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#closeWrite(),
      abort: () => this.reset(),
    });
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Current receive window (grows by auto-tuning up to `maxStreamWindow`). */
  get receiveWindow(): number {
    return this.#recvWindow;
  }

  /** Aborts the stream both ways and tells the peer with RST. Idempotent. */
  reset(): void {
    if (this.#finished) return;
    this.#host.sendControl(FrameType.WindowUpdate, Flag.RST, this.id, 0);
    this.#terminate(new MuxError(`Stream ${this.id} was reset locally`, "stream-reset"));
  }

  // ---- Called by the session -------------------------------------------

  /** @internal The peer did not ACK this outbound stream within `openTimeout`: reset it. */
  openTimedOut(): void {
    if (this.#finished) return;
    this.#host.sendControl(FrameType.WindowUpdate, Flag.RST, this.id, 0);
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
      if (this.#wantData) this.#deliver();
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
    this.#queue.push(payload);
    this.#buffered += payload.length;
    if (this.#wantData) this.#deliver();
  }

  #pull(): void {
    if (this.#buffered > 0 || this.#remoteClosed) this.#deliver();
    else this.#wantData = true;
  }

  /** Hands one buffered chunk (or EOF) to a waiting reader and credits the peer. */
  #deliver(): void {
    this.#wantData = false;
    if (this.#queueHead < this.#queue.length) {
      const chunk = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead++] = undefined as unknown as Uint8Array;
      if (this.#queueHead === this.#queue.length) {
        this.#queue.length = 0;
        this.#queueHead = 0;
      }
      this.#buffered -= chunk.length;
      this.#consumed += chunk.length;
      this.#readController.enqueue(chunk);
      this.#maybeGrant();
      return;
    }
    if (this.#remoteClosed && !this.#readDone) {
      this.#readDone = true;
      this.#readController.close();
      this.#maybeDone();
    }
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
    this.#host.sendControl(FrameType.WindowUpdate, 0, this.id, delta);
  }

  #cancelRead(): void {
    this.#readDone = true;
    this.#wantData = false;
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#buffered = 0;
    // A reader that gives up on a stream the peer is still writing aborts the stream.
    if (!this.#remoteClosed) this.reset();
    else this.#maybeDone();
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

  async #write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(`Stream ${this.id} accepts Uint8Array chunks, got ${typeof chunk}`);
    }
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
      const taken = this.#host.sendData(this.id, 0, part);
      if (taken !== undefined) await taken;
    }
  }

  #closeWrite(): void {
    if (this.#error !== null) throw this.#error;
    if (this.#localClosed) return;
    this.#localClosed = true;
    this.#host.sendControl(FrameType.WindowUpdate, Flag.FIN, this.id, 0);
    this.#maybeDone();
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
    if (!this.#readDone) {
      this.#readDone = true;
      this.#queue.length = 0;
      this.#queueHead = 0;
      this.#buffered = 0;
      this.#readController.error(reason);
    }
    if (!this.#localClosed) {
      this.#localClosed = true;
      this.#writeController.error(reason);
    }
    const w = this.#creditWaiter;
    if (w !== null) {
      this.#creditWaiter = null;
      w.reject(reason);
    }
    if (!this.#finished) this.#finish();
  }
}
