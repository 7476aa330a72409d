/**
 * Response bodies read straight from a connection's buffer: by length,
 * chunked (RFC 9112 §7.1) or until the backend closes. Chunks are views into
 * the buffer, valid until the next `read()`.
 *
 * @module
 */

import type { Http1Conn } from "./http1_conn.ts";
import { Http1Error } from "./errors.ts";
import type { Http1Body } from "./types.ts";

/** How a body is delimited. */
export type Framing = "length" | "chunked" | "close";

/** Longest chunk-size line (with extensions) or trailer line. */
const MAX_LINE = 8 * 1024;
/** Most bytes of trailers. */
const MAX_TRAILERS = 64 * 1024;

/** The end of a body: one settled promise for every body. */
const END: Promise<null> = Promise.resolve(null);

// Where a chunked body is: at a size line, in data, at the CRLF after data, in trailers.
const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILERS = 3;

/**
 * A response body over `conn`. When it ends, fails or is cancelled it ends
 * the connection's exchange; the connection is reused only after a clean
 * end of a keep-alive response.
 */
export class ResponseBody implements Http1Body {
  readonly #conn: Http1Conn;
  readonly #framing: Framing;
  readonly #keepAlive: boolean;
  /** Bytes left: of the body (length), of the current chunk (chunked). */
  #left: number;
  #state = SIZE;
  #trailers = 0;
  #ended = false;
  #error: unknown = undefined;

  /** A body of `length` bytes (framing "length"), or chunked, or until close. */
  constructor(conn: Http1Conn, framing: Framing, options: { length: number; keepAlive: boolean }) {
    this.#conn = conn;
    this.#framing = framing;
    this.#left = options.length;
    this.#keepAlive = options.keepAlive && framing !== "close";
  }

  /** The next chunk, null at the end; throws when the body is truncated or malformed. */
  read(): Promise<Uint8Array | null> {
    // The rest of a body by length that is already buffered: no async frame.
    if (!this.#ended && this.#framing === "length") {
      const conn = this.#conn;
      if (this.#left === 0) {
        this.#ended = true;
        conn.finish(this.#keepAlive);
        return END;
      }
      if (conn.start < conn.end) return Promise.resolve(this.#take());
    }
    return this.#read();
  }

  async #read(): Promise<Uint8Array | null> {
    if (this.#ended) {
      if (this.#error !== undefined) throw this.#error;
      return null;
    }
    const conn = this.#conn;
    let chunk: Uint8Array | null;
    try {
      if (this.#framing === "length") {
        if (this.#left === 0) chunk = null;
        else if (conn.start < conn.end || await conn.fill() > 0) chunk = this.#take();
        else throw this.#truncated(`${this.#left} bytes short`);
      } else if (this.#framing === "chunked") chunk = await this.#readChunked();
      else chunk = await this.#readUntilClose();
    } catch (e) {
      this.#ended = true;
      this.#error = e;
      conn.finish(false);
      throw e;
    }
    if (chunk === null) {
      this.#ended = true;
      conn.finish(this.#keepAlive);
    }
    return chunk;
  }

  /** Gives up on the rest: closes the connection. Pending and later reads throw. */
  cancel(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = new Http1Error(`Body from ${this.#conn.origin} was cancelled`, "aborted");
    this.#conn.abort(this.#error);
    this.#conn.finish(false);
  }

  async #readUntilClose(): Promise<Uint8Array | null> {
    const conn = this.#conn;
    if (conn.start === conn.end && await conn.fill() === 0) return null;
    const chunk = conn.buf.subarray(conn.start, conn.end);
    conn.start = conn.end;
    return chunk;
  }

  /** Up to `#left` buffered bytes. */
  #take(): Uint8Array {
    const conn = this.#conn;
    const n = Math.min(this.#left, conn.end - conn.start);
    const chunk = conn.buf.subarray(conn.start, conn.start + n);
    conn.start += n;
    this.#left -= n;
    return chunk;
  }

  async #readChunked(): Promise<Uint8Array | null> {
    const conn = this.#conn;
    for (;;) {
      if (this.#state === DATA && conn.start < conn.end) {
        const chunk = this.#take();
        if (this.#left === 0) this.#state = DATA_END;
        return chunk;
      }
      if (this.#state !== DATA) {
        const done = this.#parse();
        if (done) return null;
        if (this.#state === DATA && conn.start < conn.end) continue;
      }
      if (await conn.fill() === 0) throw this.#truncated("in chunked framing");
    }
  }

  /**
   * Consumes the framing lines that are fully buffered; stops in DATA or when
   * more bytes are needed. Returns true after the trailers' empty line.
   */
  #parse(): boolean {
    const conn = this.#conn;
    const buf = conn.buf;
    while (this.#state !== DATA) {
      if (this.#state === DATA_END) {
        const buffered = conn.end - conn.start;
        if (buffered === 0 || (buffered === 1 && buf[conn.start] === 13)) return false;
        if (buf[conn.start] === 10) conn.start += 1;
        else if (buf[conn.start] === 13 && buf[conn.start + 1] === 10) conn.start += 2;
        else throw this.#bad("no CRLF after chunk data");
        this.#state = SIZE;
        continue;
      }
      // A sentinel LF past the data keeps the search out of stale bytes.
      if (conn.end < buf.length) buf[conn.end] = 10;
      const lf = buf.indexOf(10, conn.start);
      if (lf === -1 || lf >= conn.end) {
        if (conn.end - conn.start > MAX_LINE) throw this.#bad("chunk line too long");
        return false;
      }
      const from = conn.start;
      conn.start = lf + 1;
      if (this.#state === SIZE) {
        this.#left = chunkSize(buf, from, lf);
        if (this.#left === -1) throw this.#bad(`bad chunk size line ${quote(buf, from, lf)}`);
        this.#state = this.#left === 0 ? TRAILERS : DATA;
      } else {
        // A trailer line, skipped; the empty one ends the body.
        if (lf === from || (lf === from + 1 && buf[from] === 13)) return true;
        this.#trailers += lf + 1 - from;
        if (this.#trailers > MAX_TRAILERS) throw this.#bad("trailers over 64 KiB");
      }
    }
    return false;
  }

  #truncated(what: string): Http1Error {
    const origin = this.#conn.origin;
    return new Http1Error(`Connection to ${origin} closed mid-body: ${what}`, "closed");
  }

  #bad(what: string): Http1Error {
    return new Http1Error(`Bad response from ${this.#conn.origin}: ${what}`, "bad-response");
  }
}

/**
 * The size on a chunk-size line `buf[from, lf)`: hex digits, then optional
 * whitespace and `;extensions` (ignored), then an optional CR. -1 if malformed.
 */
export function chunkSize(buf: Uint8Array, from: number, lf: number): number {
  let i = from;
  let size = 0;
  for (; i < lf; i++) {
    const c = buf[i]!;
    const d = c >= 48 && c <= 57 ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : -1;
    if (d === -1) break;
    // 13 hex digits stay below 2^53.
    if (i - from === 13) return -1;
    size = size * 16 + d;
  }
  if (i === from) return -1;
  while (i < lf && (buf[i] === 32 || buf[i] === 9)) i++;
  if (i < lf && buf[i] === 59) return size;
  if (i === lf || (i === lf - 1 && buf[i] === 13)) return size;
  return -1;
}

function quote(buf: Uint8Array, from: number, to: number): string {
  return JSON.stringify(String.fromCharCode(...buf.subarray(from, Math.min(to, from + 64))));
}
