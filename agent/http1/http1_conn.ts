/**
 * One keep-alive TCP connection to a backend: its reusable read buffer, its
 * write scratch buffer, and the state of the exchange it carries.
 *
 * @module
 */

import { Http1Error } from "./errors.ts";
import type { AbortHook } from "./types.ts";

/** Size of a connection's read buffer, which is also the largest response head. */
export const READ_BUFFER = 64 * 1024;
/** Initial size of a connection's write scratch buffer (head plus small body). */
const WRITE_BUFFER = 16 * 1024;

/** Who a connection reports to when its exchange is over. */
export interface ConnOwner {
  /** The exchange is over: keep `conn` for another request when `reusable`, else close it. */
  release(conn: Http1Conn, reusable: boolean): void;
  /** The read of a watched idle connection ended (see {@linkcode Http1Conn.watchIdle}). */
  idleEnded(conn: Http1Conn): void;
}

/**
 * A connection and its exchange state. Unread bytes are `buf[start, end)`.
 * It is an abort listener itself (`handleEvent`), so a request's signal
 * costs no closure.
 */
export class Http1Conn {
  /** The socket. */
  readonly tcp: Deno.TcpConn;
  /** `http://host:port`, for messages. */
  readonly origin: string;
  /** The read buffer; chunks handed out are views into it. */
  readonly buf: Uint8Array = new Uint8Array(READ_BUFFER);
  /** Start of the unread bytes in `buf`. */
  start = 0;
  /** End of the unread bytes in `buf`. */
  end = 0;
  /** Exchanges completed on this connection before the current one. */
  served = 0;
  /** Bytes received during the current exchange. */
  received = 0;
  /** The request body is still being written. */
  writing = false;
  /** The socket is closed. */
  closed = false;
  /** Why the connection was closed under the exchange: thrown by reads and writes. */
  failure: unknown = undefined;
  /** When the connection last became idle (`Date.now()`). */
  idleSince = 0;
  readonly #owner: ConnOwner;
  #busy = false;
  /**
   * A read started when the connection went idle: it notices a backend that
   * closes the connection, or writes (a 408, say), while nobody uses it; the
   * next exchange takes it over as its first read.
   */
  #pending: Promise<number | null> | null = null;
  /** Settles once no read is pending (for closing without a dangling read). */
  #pendingDone: Promise<void> = Promise.resolve();
  /** The idle read is watched: its end is reported to the owner. */
  #watching = false;
  /** Reports the end of the idle read: made once, not per idle period. */
  readonly #idleReadEnded = (): void => {
    if (!this.#watching) return;
    this.#watching = false;
    this.#owner.idleEnded(this);
  };
  #signal: AbortSignal | AbortHook | null = null;
  #scratch: Uint8Array | null = null;

  /** Wraps a connected socket (Nagle off). */
  constructor(tcp: Deno.TcpConn, origin: string, owner: ConnOwner) {
    this.tcp = tcp;
    this.origin = origin;
    this.#owner = owner;
    tcp.setNoDelay(true);
  }

  /**
   * Watches an idle connection: reads in the background, and tells the
   * owner (`idleEnded`) if the read ends (EOF, stray bytes, an error) before
   * an exchange begins. A connection the backend closed is then dropped from
   * the pool rather than handed to a request, and stray bytes are never taken
   * for a response.
   */
  watchIdle(): void {
    if (this.closed || this.#pending !== null) return;
    this.#watching = true;
    this.start = this.end = 0;
    const read = this.tcp.read(this.buf);
    this.#pending = read;
    this.#pendingDone = read.then(this.#idleReadEnded, this.#idleReadEnded);
  }

  /** Resolves once no background read is pending (after `close()`, promptly). */
  settled(): Promise<void> {
    return this.#pendingDone;
  }

  /** Starts an exchange, listening to `signal`. */
  begin(signal: AbortSignal | AbortHook | undefined): void {
    this.#busy = true;
    this.#watching = false;
    this.received = 0;
    this.writing = false;
    if (signal !== undefined) {
      this.#signal = signal;
      listen(signal, this);
      if (signal.aborted) this.abort(signal.reason);
    }
  }

  /**
   * Ends the exchange (once; later calls do nothing). The connection is kept
   * only when `keepAlive` and nothing went wrong: request fully written, no
   * failure, no stray bytes.
   */
  finish(keepAlive: boolean): void {
    if (!this.#busy) return;
    this.#busy = false;
    if (this.#signal !== null) {
      unlisten(this.#signal, this);
      this.#signal = null;
    }
    const reusable = keepAlive && !this.writing && !this.closed && this.failure === undefined &&
      this.start === this.end;
    if (reusable) this.served++;
    this.#owner.release(this, reusable);
  }

  /** The abort listener: closes the connection with the signal's reason. */
  handleEvent(): void {
    if (this.#signal !== null) this.abort(this.#signal.reason);
  }

  /** Closes the connection; pending and later reads and writes throw `reason`. */
  abort(reason: unknown): void {
    if (this.failure === undefined) this.failure = reason;
    this.close();
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.tcp.close();
    } catch {
      // Already closed by Deno.
    }
  }

  /**
   * Reads more bytes after `end` (moving unread bytes to the front when the
   * buffer is full) and returns how many, 0 at EOF. Throws the failure, or a
   * `closed` error when the socket fails.
   */
  async fill(): Promise<number> {
    if (this.start === this.end) this.start = this.end = 0;
    else if (this.end === this.buf.length) {
      if (this.start === 0) throw new RangeError("Read buffer is full");
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    let n: number | null;
    try {
      // The idle read, if any, was started into `buf` at 0 with nothing unread.
      const pending = this.#pending;
      this.#pending = null;
      n = await (pending ?? this.tcp.read(this.end === 0 ? this.buf : this.buf.subarray(this.end)));
    } catch (e) {
      throw this.failure ?? this.#broken(e);
    }
    if (this.failure !== undefined) throw this.failure;
    if (n === null) return 0;
    this.end += n;
    this.received += n;
    return n;
  }

  /** Writes all of `bytes`. Throws the failure, or a `closed` error when the socket fails. */
  async write(bytes: Uint8Array): Promise<void> {
    try {
      let n = await this.tcp.write(bytes);
      while (n < bytes.length) n += await this.tcp.write(bytes.subarray(n));
    } catch (e) {
      throw this.failure ?? this.#broken(e);
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** The connection's write scratch buffer, at least `size` bytes. */
  scratch(size: number): Uint8Array {
    let s = this.#scratch;
    if (s === null || s.length < size) {
      s = new Uint8Array(Math.max(WRITE_BUFFER, 2 ** Math.ceil(Math.log2(size))));
      this.#scratch = s;
    }
    return s;
  }

  #broken(e: unknown): Http1Error {
    const why = e instanceof Error ? e.message : String(e);
    return new Http1Error(`Connection to ${this.origin} failed: ${why}`, "closed", { cause: e });
  }
}

/** Adds `listener` to an `AbortSignal`, or sets it on an `AbortHook`. */
export function listen(
  signal: AbortSignal | AbortHook | undefined,
  listener: { handleEvent(): void },
): void {
  if (signal instanceof AbortSignal) signal.addEventListener("abort", listener);
  else if (signal !== undefined) signal.listener = listener;
}

/** Undoes {@linkcode listen}. */
export function unlisten(
  signal: AbortSignal | AbortHook | undefined,
  listener: { handleEvent(): void },
): void {
  if (signal instanceof AbortSignal) signal.removeEventListener("abort", listener);
  else if (signal !== undefined && signal.listener === listener) signal.listener = null;
}
