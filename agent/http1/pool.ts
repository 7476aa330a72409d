/**
 * A keep-alive HTTP/1.1 client for plain `http://` backends: connections per
 * origin reused last-in first-out, one sweeper closing those idle too long,
 * and a stale connection's request retried once on a fresh one.
 *
 * @module
 */

import { type ConnOwner, Http1Conn, listen, unlisten } from "./http1_conn.ts";
import { Http1Error, originOf } from "./errors.ts";
import { roundTrip } from "./round_trip.ts";
import { requestHead } from "./request_head.ts";
import type { Http1Request, Http1Response } from "./types.ts";

export { Http1Error, type Http1ErrorCode } from "./errors.ts";
export type { AbortHook, ByteSource, Http1Body, Http1Request, Http1Response } from "./types.ts";

/** Options of {@linkcode Http1Pool}. */
export interface Http1PoolOptions {
  /** Idle connections kept per origin (`host:port`); default 64. */
  maxIdlePerOrigin?: number;
  /** Milliseconds after which an idle connection is closed; default 30 000. */
  idleTimeout?: number;
  /** Milliseconds to establish a connection; default 10 000. */
  connectTimeout?: number;
}

/**
 * Sends HTTP/1.1 requests over pooled TCP connections. A connection goes back
 * to the pool when its response body has been read to the end (or there was
 * none), the request was fully written and the response allows keep-alive.
 *
 * @example
 * ```ts
 * const pool = new Http1Pool();
 * const res = await pool.request({
 *   hostname: "127.0.0.1",
 *   port: 8000,
 *   method: "GET",
 *   target: "/",
 *   headers: [["host", "127.0.0.1:8000"]],
 *   body: null,
 * });
 * for (let c = await res.body?.read(); c; c = await res.body!.read()) console.log(c.length);
 * await pool.close();
 * ```
 */
export class Http1Pool {
  readonly #maxIdle: number;
  readonly #idleTimeout: number;
  readonly #connectTimeout: number;
  /** Idle connections per origin, the most recently used last. */
  readonly #idle = new Map<string, Http1Conn[]>();
  #idleCount = 0;
  readonly #active = new Set<Http1Conn>();
  readonly #connecting = new Set<AbortController>();
  #sweeper: ReturnType<typeof setInterval> | undefined = undefined;
  #closed = false;
  /** The last origin, kept while requests go to the same host and port (one string, hashed once). */
  #last = { hostname: "", port: -1, origin: "" };
  readonly #owner: ConnOwner = {
    release: (conn, reusable) => this.#release(conn, reusable),
    idleEnded: (conn) => this.#dropIdle(conn),
  };

  /** Creates an empty pool; throws `RangeError` for a negative or non-finite option. */
  constructor(options: Http1PoolOptions = {}) {
    this.#maxIdle = option(options.maxIdlePerOrigin, 64, "maxIdlePerOrigin");
    this.#idleTimeout = option(options.idleTimeout, 30_000, "idleTimeout");
    this.#connectTimeout = option(options.connectTimeout, 10_000, "connectTimeout");
  }

  /**
   * Sends a request and resolves with the final response head and its body.
   * Rejects with an {@linkcode Http1Error}, the signal's reason, a failing
   * request body's error, or `TypeError` for a request that cannot be sent.
   */
  async request(req: Http1Request): Promise<Http1Response> {
    const origin = this.#originOf(req.hostname, req.port);
    if (this.#closed) throw poolClosed(origin);
    if (req.signal?.aborted) throw req.signal.reason;
    const head = requestHead(req);
    const conn = this.#takeIdle(origin);
    if (conn !== null) {
      try {
        return await roundTrip(conn, req, head);
      } catch (e) {
        if (!this.#stale(conn, req, e)) throw e;
      }
    }
    return await roundTrip(await this.#connect(req, origin), req, head);
  }

  /** `await using pool = new Http1Pool()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Closes idle connections and aborts active ones; later requests reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopSweeper();
    const idle: Http1Conn[] = [];
    for (const stack of this.#idle.values()) {
      for (const conn of stack) {
        conn.close();
        idle.push(conn);
      }
    }
    this.#idle.clear();
    this.#idleCount = 0;
    for (const conn of this.#active) conn.abort(poolClosed(conn.origin));
    this.#active.clear();
    for (const controller of this.#connecting) controller.abort(poolClosed("the backend"));
    // Closing ended the idle connections' background reads; let them settle.
    await Promise.all(idle.map((conn) => conn.settled()));
  }

  #originOf(hostname: string, port: number): string {
    const last = this.#last;
    if (hostname !== last.hostname || port !== last.port) {
      this.#last = { hostname, port, origin: originOf(hostname, port) };
    }
    return this.#last.origin;
  }

  /** A reused connection that the backend had closed: the request may go again. */
  #stale(conn: Http1Conn, req: Http1Request, e: unknown): boolean {
    const replayable = req.body === null || req.body instanceof Uint8Array;
    return replayable && e instanceof Http1Error && e.code === "closed" && conn.received === 0 &&
      conn.failure === undefined && !this.#closed && !req.signal?.aborted;
  }

  #takeIdle(origin: string): Http1Conn | null {
    const conn = this.#idle.get(origin)?.pop();
    if (conn === undefined) return null;
    this.#idleCount--;
    this.#active.add(conn);
    return conn;
  }

  #release(conn: Http1Conn, reusable: boolean): void {
    this.#active.delete(conn);
    if (!reusable || this.#closed || this.#maxIdle === 0) {
      conn.close();
      return;
    }
    let stack = this.#idle.get(conn.origin);
    if (stack === undefined) this.#idle.set(conn.origin, stack = []);
    if (stack.length >= this.#maxIdle) {
      stack.shift()!.close();
      this.#idleCount--;
    }
    conn.idleSince = Date.now();
    stack.push(conn);
    this.#idleCount++;
    conn.watchIdle();
    if (this.#sweeper === undefined) {
      const every = Math.max(10, Math.min(1000, this.#idleTimeout / 4));
      const sweeper = setInterval(() => this.#sweep(), every);
      Deno.unrefTimer(sweeper);
      this.#sweeper = sweeper;
    }
  }

  /** An idle connection the backend closed (or wrote to unasked): out of the pool. */
  #dropIdle(conn: Http1Conn): void {
    conn.close();
    const stack = this.#idle.get(conn.origin);
    const i = stack?.indexOf(conn) ?? -1;
    if (i < 0) return;
    stack!.splice(i, 1);
    this.#idleCount--;
    if (stack!.length === 0) this.#idle.delete(conn.origin);
  }

  /** Closes connections idle for longer than the timeout; stops when none is idle. */
  #sweep(): void {
    const cutoff = Date.now() - this.#idleTimeout;
    for (const [origin, stack] of this.#idle) {
      // The oldest come first.
      let n = 0;
      while (n < stack.length && stack[n]!.idleSince <= cutoff) stack[n++]!.close();
      if (n > 0) stack.splice(0, n);
      this.#idleCount -= n;
      if (stack.length === 0) this.#idle.delete(origin);
    }
    if (this.#idleCount === 0) this.#stopSweeper();
  }

  #stopSweeper(): void {
    if (this.#sweeper === undefined) return;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  async #connect(req: Http1Request, origin: string): Promise<Http1Conn> {
    const controller = new AbortController();
    const ms = this.#connectTimeout;
    const timer = setTimeout(() => {
      const e = new Http1Error(
        `Connecting to ${origin} timed out after ${ms} ms`,
        "connect-timeout",
      );
      controller.abort(e);
    }, ms);
    const signal = req.signal;
    const onAbort = { handleEvent: () => controller.abort(signal!.reason) };
    listen(signal, onAbort);
    this.#connecting.add(controller);
    let tcp: Deno.TcpConn;
    try {
      tcp = await Deno.connect({
        hostname: req.hostname,
        port: req.port,
        signal: controller.signal,
      });
    } catch (e) {
      if (controller.signal.aborted) throw controller.signal.reason;
      throw connectError(origin, e);
    } finally {
      clearTimeout(timer);
      unlisten(signal, onAbort);
      this.#connecting.delete(controller);
    }
    if (controller.signal.aborted) {
      tcp.close();
      throw controller.signal.reason;
    }
    const conn = new Http1Conn(tcp, origin, this.#owner);
    this.#active.add(conn);
    return conn;
  }
}

function connectError(origin: string, e: unknown): Http1Error {
  const why = e instanceof Error ? e.message : String(e);
  const code = e instanceof Deno.errors.ConnectionRefused ? "connect-refused" : "connect-failed";
  return new Http1Error(`Cannot connect to ${origin}: ${why}`, code, { cause: e });
}

function poolClosed(origin: string): Http1Error {
  return new Http1Error(`Request to ${origin} aborted: the pool is closed`, "aborted");
}

function option(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Invalid ${name}: ${value}`);
  return value;
}
