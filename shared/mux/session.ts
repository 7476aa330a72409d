/**
 * A yamux session over any `{ readable, writable }` byte transport,
 * wire-compatible with hashicorp/yamux. See `docs/protocol.md`.
 *
 * @module
 */

import { Flag, type Frame, FrameType, GoAwayCode } from "../frame/header.ts";
import { FrameDecoder } from "../frame/decoder.ts";
import { ProtocolError } from "../frame/errors.ts";
import { type SessionConfig, type SessionOptions, verifyConfig } from "./config.ts";
import { MuxError } from "./errors.ts";
import { MuxStream, type StreamHost } from "./stream.ts";
import type { StreamTx } from "./stream_tx.ts";
import { FrameWriter } from "./writer.ts";
import type { Conn, ConnSink } from "../transport/conn.ts";

type Handler = (frame: Frame) => void;

/**
 * A multiplexed session: many streams over one connection.
 *
 * @example
 * ```ts
 * const session = new Session(await fromWebSocket(ws), { client: true });
 * const stream = await session.open();
 * await stream.readable.pipeTo(Deno.stdout.writable);
 * ```
 */
export class Session implements StreamHost {
  /** Validated options. */
  readonly config: SessionConfig;
  /**
   * Resolves once the session is closed and its transport released, or
   * dropped: `closeTimeout` after the close began at the latest, even when a
   * transport write never settles. Never rejects.
   */
  readonly closed: Promise<void>;
  readonly #closed = Promise.withResolvers<void>();

  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: ConnSink;
  readonly #streams = new Map<number, MuxStream>();
  readonly #handlers: Handler[];
  #nextId: number;
  #rtt = 0;
  #budgetUsed = 0;
  // Accepting.
  #backlog: MuxStream[] = [];
  #acceptWaiters: PromiseWithResolvers<MuxStream | null>[] = [];
  #unacked = 0;
  #openWaiters: PromiseWithResolvers<void>[] = [];
  readonly #out: FrameWriter;
  // Pings.
  #nextPing = 1;
  #pings = new Map<
    number,
    { start: number; done: PromiseWithResolvers<number>; timer: ReturnType<typeof setTimeout> }
  >();
  #keepAliveTimer: ReturnType<typeof setTimeout> | undefined;
  // Lifecycle.
  #localGoAway = false;
  #remoteGoAway = false;
  #closing = false;
  #reason: Error | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  /** Starts a session over `conn`; `options.client` picks odd (true) or even stream ids. */
  constructor(conn: Conn, options: SessionOptions) {
    this.config = verifyConfig(options);
    this.#nextId = this.config.client ? 1 : 2;
    this.#reader = conn.readable.getReader();
    this.#writer = conn.sink ?? conn.writable.getWriter();
    this.#out = new FrameWriter(this.#writer, this.config.maxBatchSize, {
      reuseBuffers: conn.reuseWriteBuffers === true,
      fold: this.config.foldFlags,
      maxHeld: this.config.maxQueuedControl,
      onFlood: () => this.#flooded(),
    });
    this.#handlers = [];
    this.#handlers[FrameType.Data] = (f) => this.#onStreamFrame(f);
    this.#handlers[FrameType.WindowUpdate] = (f) => this.#onStreamFrame(f);
    this.#handlers[FrameType.Ping] = (f) => this.#onPing(f);
    this.#handlers[FrameType.GoAway] = (f) => this.#onGoAway(f);
    this.closed = this.#closed.promise;
    Promise.all([this.#readLoop(), this.#writeLoop()]).then(() => this.#closed.resolve());
    if (this.config.enableKeepAlive) {
      // A first ping measures the RTT that window auto-tuning uses; keepalive takes over from there.
      this.ping().catch(() => {});
      this.#scheduleKeepAlive();
    }
  }

  /** Why the session closed: null while open or after a clean local close. */
  get closeReason(): Error | null {
    return this.#reason;
  }

  /** True once the session is closing or closed. */
  get isClosed(): boolean {
    return this.#closing;
  }

  /** Streams currently open (not yet finished both ways). */
  get numStreams(): number {
    return this.#streams.size;
  }

  /**
   * Bytes of frames queued in the session and not yet handed to the
   * transport: the batch being filled, control frames held beyond it, Data
   * frames waiting for room. Bounded by `maxBatchSize` + 4 KiB + 12 ×
   * `maxQueuedControl` + a GoAway + what stream writers wait to send (one
   * write each).
   */
  get queuedBytes(): number {
    return this.#out.queuedBytes;
  }

  /** Smoothed round-trip time in ms from ping answers; 0 before the first one. */
  get rtt(): number {
    return this.#rtt;
  }

  /**
   * Opens a new stream and sends its SYN; data may follow before the peer's
   * ACK. With `foldFlags`, the SYN rides on the stream's first frame if one
   * is written before the current batch goes out (`write()` and
   * `closeWrite()` in the same tick: one Data frame with SYN and FIN), else
   * on a WindowUpdate in that batch. A stream not acknowledged within
   * `openTimeout` is reset.
   *
   * @throws {MuxError} when the session is closed, after the peer's GoAway,
   * or when `maxStreams` are open.
   */
  async open(): Promise<MuxStream> {
    while (this.#unacked >= this.config.acceptBacklog && !this.#closing) {
      const w = Promise.withResolvers<void>();
      this.#openWaiters.push(w);
      await w.promise;
    }
    if (this.#closing) throw this.#closedError();
    if (this.#remoteGoAway) {
      throw new MuxError("Cannot open stream: the peer sent GoAway", "go-away");
    }
    if (this.#streams.size >= this.config.maxStreams) {
      throw new MuxError(
        `Cannot open stream: ${this.config.maxStreams} streams are open`,
        "too-many-streams",
      );
    }
    const id = this.#nextId;
    if (id > 0xffffffff) throw new MuxError("Cannot open stream: ids exhausted", "ids-exhausted");
    this.#nextId += 2;
    const stream = new MuxStream(this, id);
    this.#streams.set(id, stream);
    this.#unacked++;
    this.#pendingAck.set(id, { stream, deadline: performance.now() + this.config.openTimeout });
    this.#ackTimer ??= setInterval(
      () => this.#sweepUnacked(),
      Math.max(10, Math.min(1000, this.config.openTimeout / 4)),
    );
    stream.owe(Flag.SYN);
    return stream;
  }

  /** Outbound streams waiting for their ACK, oldest first (deadlines grow with insertion). */
  #pendingAck = new Map<number, { stream: MuxStream; deadline: number }>();
  /**
   * One timer for every open deadline. It runs while streams await their ACK
   * and stops at the first sweep that finds none: streams opened one after
   * another do not start and stop a timer each.
   */
  #ackTimer: ReturnType<typeof setInterval> | undefined;

  #sweepUnacked(): void {
    if (this.#pendingAck.size === 0) {
      clearInterval(this.#ackTimer);
      this.#ackTimer = undefined;
      return;
    }
    const now = performance.now();
    for (const [, p] of this.#pendingAck) {
      if (p.deadline > now) break;
      p.stream.openTimedOut(); // resets the stream; streamDone() forgets it
    }
  }

  /**
   * Waits for the next stream the peer opens and acknowledges it. With
   * `foldFlags`, the ACK rides on the stream's first frame if one is written
   * before the current batch goes out, else on a WindowUpdate in that batch.
   * Resolves `null` once the session is closed.
   */
  accept(): Promise<MuxStream | null> {
    const stream = this.#backlog.shift();
    if (stream !== undefined) return Promise.resolve(this.#ack(stream));
    if (this.#closing) return Promise.resolve(null);
    const w = Promise.withResolvers<MuxStream | null>();
    this.#acceptWaiters.push(w);
    return w.promise;
  }

  /**
   * Sends a ping and resolves with the round-trip time in ms.
   *
   * @throws {MuxError} "timeout" when unanswered within `pingTimeout`, or "session-closed".
   */
  ping(): Promise<number> {
    if (this.#closing) return Promise.reject(this.#closedError());
    const id = this.#nextPing;
    this.#nextPing = (this.#nextPing + 1) >>> 0 || 1;
    const done = Promise.withResolvers<number>();
    const timer = setTimeout(() => {
      this.#pings.delete(id);
      done.reject(
        new MuxError(`Ping was not answered within ${this.config.pingTimeout} ms`, "timeout"),
      );
    }, this.config.pingTimeout);
    this.#pings.set(id, { start: performance.now(), done, timer });
    this.#control(FrameType.Ping, Flag.SYN, 0, id);
    return done.promise;
  }

  /** Tells the peer not to open new streams; existing streams go on. Inbound SYNs are reset from now on. */
  goAway(): void {
    if (this.#closing || this.#localGoAway) return;
    this.#localGoAway = true;
    this.#control(FrameType.GoAway, 0, 0, GoAwayCode.Normal);
  }

  /**
   * Closes the session: sends GoAway, ends every stream with a "session-closed"
   * error, flushes what is queued (up to `closeTimeout`) and releases the transport.
   */
  close(): Promise<void> {
    this.#shutdown(null, GoAwayCode.Normal);
    return this.closed;
  }

  // ---- StreamHost ------------------------------------------------------

  /** @internal */
  sendData(tx: StreamTx, payload: Uint8Array): Promise<void> | undefined {
    if (this.#closing) return Promise.reject(this.#closedError());
    return this.#out.data(tx, payload);
  }

  /** @internal */
  sendUpdate(tx: StreamTx, flags: number, delta: number): void {
    if (!this.#closing) this.#out.update(tx, flags, delta);
  }

  /** @internal */
  sendFin(tx: StreamTx): void {
    if (!this.#closing) this.#out.fin(tx);
  }

  /** @internal */
  owe(tx: StreamTx): void {
    if (!this.#closing) this.#out.owe(tx);
  }

  /** @internal */
  reserveWindow(bytes: number): boolean {
    if (this.#budgetUsed + bytes > this.config.maxSessionWindow) return false;
    this.#budgetUsed += bytes;
    return true;
  }

  /** @internal */
  streamDone(stream: MuxStream, budget: number): void {
    this.#budgetUsed -= budget;
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
    this.#acked(stream.id);
    const i = this.#backlog.indexOf(stream);
    if (i >= 0) this.#backlog.splice(i, 1);
  }

  // ---- Receiving -------------------------------------------------------

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder(this.config.maxStreamWindow);
    const handlers = this.#handlers;
    let reason: Error | null = null;
    let code: GoAwayCode = GoAwayCode.Normal;
    try {
      while (!this.#closing) {
        const { value, done } = await this.#reader.read();
        if (done) {
          // EOF after the peer's GoAway(normal) is a clean close.
          if (!this.#remoteGoAway) {
            reason = new MuxError("The peer closed the connection", "session-closed");
          }
          break;
        }
        for (const frame of decoder.decode(value)) handlers[frame.type]!(frame);
      }
    } catch (e) {
      if (!this.#closing) {
        reason = e instanceof Error ? e : new Error(String(e));
        if (e instanceof ProtocolError) code = GoAwayCode.ProtocolError;
        else if (!(e instanceof MuxError)) code = GoAwayCode.InternalError;
      }
    }
    if (!this.#closing) this.#shutdown(reason, code);
    this.#reader.cancel().catch(() => {});
  }

  #onStreamFrame(frame: Frame): void {
    const id = frame.streamId;
    if (frame.flags & Flag.SYN && frame.first) {
      this.#incoming(frame);
      return;
    }
    if (id === 0) {
      throw new ProtocolError(`Stream frame (type ${frame.type}) on stream id 0`, "bad-stream-id");
    }
    const stream = this.#streams.get(id);
    // Frames for a stream this side already forgot (reset, or finished) are dropped, like hashicorp does.
    if (stream === undefined) return;
    if (frame.flags & (Flag.ACK | Flag.RST) && frame.first) this.#acked(id);
    stream.receive(frame);
  }

  #incoming(frame: Frame): void {
    const id = frame.streamId;
    if (id === 0 || (id % 2 === 1) === this.config.client) {
      throw new ProtocolError(`SYN with stream id ${id} of the wrong parity`, "bad-stream-id");
    }
    if (this.#streams.has(id)) {
      throw new ProtocolError(`Duplicate SYN for stream ${id}`, "duplicate-syn");
    }
    // Opened and reset at once (SYN|RST in one frame): nothing to accept or answer.
    if (frame.flags & Flag.RST) return;
    if (
      this.#localGoAway || this.#backlog.length >= this.config.acceptBacklog ||
      this.#streams.size >= this.config.maxStreams
    ) {
      this.#control(FrameType.WindowUpdate, Flag.RST, id, 0);
      return;
    }
    const stream = new MuxStream(this, id);
    this.#streams.set(id, stream);
    stream.receive(frame);
    const w = this.#acceptWaiters.shift();
    if (w !== undefined) w.resolve(this.#ack(stream));
    else this.#backlog.push(stream);
  }

  #ack(stream: MuxStream): MuxStream {
    stream.owe(Flag.ACK);
    return stream;
  }

  #acked(id: number): void {
    if (!this.#pendingAck.delete(id)) return;
    this.#unacked--;
    this.#openWaiters.shift()?.resolve();
  }

  #onPing(frame: Frame): void {
    if (frame.flags & Flag.SYN) {
      this.#control(FrameType.Ping, Flag.ACK, 0, frame.length);
      return;
    }
    const p = this.#pings.get(frame.length);
    if (p === undefined) return;
    this.#pings.delete(frame.length);
    clearTimeout(p.timer);
    const rtt = performance.now() - p.start;
    this.#rtt = this.#rtt === 0 ? rtt : this.#rtt * 0.875 + rtt * 0.125;
    p.done.resolve(rtt);
  }

  #onGoAway(frame: Frame): void {
    this.#remoteGoAway = true;
    if (frame.length === GoAwayCode.Normal) return;
    const what = frame.length === GoAwayCode.ProtocolError ? "protocol error" : "internal error";
    throw new MuxError(`The peer sent GoAway (${what})`, "remote-error");
  }

  // ---- Sending ---------------------------------------------------------

  /** Queues a frame of no stream object: Ping, GoAway, RST for a refused SYN. Only GoAway once closing. */
  #control(type: FrameType, flags: number, streamId: number, length: number): void {
    if (this.#closing && type !== FrameType.GoAway) return;
    this.#out.control(type, flags, streamId, length);
  }

  async #writeLoop(): Promise<void> {
    try {
      await this.#out.run();
    } catch (e) {
      if (!this.#closing) {
        this.#shutdown(e instanceof Error ? e : new Error(String(e)), GoAwayCode.InternalError);
      }
      await this.#writer.abort(e).catch(() => {});
    } finally {
      clearTimeout(this.#closeTimer);
      this.#out.fail(this.#closedError());
      // Unblocks a read loop still waiting on a silent peer.
      this.#reader.cancel().catch(() => {});
    }
  }

  // ---- Keepalive and shutdown ------------------------------------------

  /** More control frames were held than `maxQueuedControl`: the peer asks and does not read. */
  #flooded(): void {
    if (this.#closing) return;
    this.#shutdown(
      new MuxError(
        `The peer does not read: more than ${this.config.maxQueuedControl} control frames ` +
          "(pongs, window updates, RSTs) were queued for it",
        "peer-not-draining",
      ),
      GoAwayCode.ProtocolError,
    );
  }

  #scheduleKeepAlive(): void {
    this.#keepAliveTimer = setTimeout(() => {
      this.#keepAliveTimer = undefined;
      this.ping().then(() => {
        if (!this.#closing) this.#scheduleKeepAlive();
      }, (e: Error) => {
        if (!this.#closing) {
          this.#shutdown(
            new MuxError(`Keepalive failed: ${e.message}`, "timeout"),
            GoAwayCode.Normal,
          );
        }
      });
    }, this.config.keepAliveInterval);
  }

  #closedError(): MuxError {
    return new MuxError(
      this.#reason === null ? "Session closed" : `Session closed: ${this.#reason.message}`,
      "session-closed",
      { cause: this.#reason ?? undefined },
    );
  }

  #shutdown(reason: Error | null, code: GoAwayCode): void {
    if (this.#closing) return;
    this.#reason = reason;
    this.#control(FrameType.GoAway, 0, 0, code);
    this.#closing = true;
    clearTimeout(this.#keepAliveTimer);
    clearInterval(this.#ackTimer);
    this.#ackTimer = undefined;
    const err = this.#closedError();
    for (const p of this.#pings.values()) {
      clearTimeout(p.timer);
      p.done.reject(err);
    }
    this.#pings.clear();
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const s of streams) s.sessionClosed(err);
    this.#backlog.length = 0;
    for (const w of this.#acceptWaiters) w.resolve(null);
    this.#acceptWaiters.length = 0;
    for (const w of this.#openWaiters) w.resolve();
    this.#openWaiters.length = 0;
    this.#out.fail(err);
    this.#out.finish();
    // Bound the final flush; the write loop then releases the reader too.
    this.#closeTimer = setTimeout(() => {
      this.#writer.abort(err).catch(() => {});
      this.#reader.cancel().catch(() => {});
      // A write that never settles (a pipe nobody reads) must not hold the session open.
      this.#closed.resolve();
    }, this.config.closeTimeout);
  }
}
