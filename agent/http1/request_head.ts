/**
 * The request head: checked and measured first, then written into a buffer
 * without building a string. Names and values are checked so that nothing
 * can smuggle a line.
 *
 * @module
 */

import type { Http1Request } from "./types.ts";

/** A method or header name: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a header value must not hold (lines would break). */
const BAD_VALUE = /[\0\r\n]/;
/** What an origin-form target must not hold. */
const BAD_TARGET = /[\0-\x20\x7f]/;
/** A content-length value. */
const DIGITS = /^[0-9]{1,15}$/;
/** Methods that get `content-length: 0` when sent without a body, as `fetch` does. */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** Body length of a serialised request when the body is streamed chunked. */
export const CHUNKED = -1;

/** A checked request head: its size, and how its body is framed. */
export interface RequestHead {
  /** Bytes of the head, ending with the empty line (one per character). */
  size: number;
  /** Bytes of body to send after it, or {@linkcode CHUNKED}. */
  length: number;
  /** The framing header line added to the request's headers, or "". */
  framing: string;
}

/** The request line's end. */
const VERSION = " HTTP/1.1\r\n";
const EMPTY_BODY = "content-length: 0\r\n";
const CHUNKED_BODY = "transfer-encoding: chunked\r\n";

/**
 * Checks the request line and headers and works out the body's framing
 * header: `content-length` for bytes (and for POST, PUT, PATCH without a
 * body), `transfer-encoding: chunked` for a source without a
 * `content-length`. Nothing is serialised: {@linkcode writeHead} writes the
 * bytes straight into a buffer. Throws `TypeError` for a method, target,
 * name or value that would break the head, or a `content-length` that
 * contradicts the body.
 *
 * @example
 * ```ts
 * requestHead({ hostname: "h", port: 80, method: "GET", target: "/", headers: [["host", "h"]], body: null });
 * // { size: 27, length: 0, framing: "" } for "GET / HTTP/1.1\r\nhost: h\r\n\r\n"
 * ```
 */
export function requestHead(req: Http1Request): RequestHead {
  const { method, target, headers, body } = req;
  if (!TOKEN.test(method)) throw new TypeError(`Invalid method ${JSON.stringify(method)}`);
  if (target === "" || BAD_TARGET.test(target)) {
    throw new TypeError(`Invalid request target ${JSON.stringify(target)}`);
  }
  let size = method.length + 1 + target.length + VERSION.length + 2;
  let declared = -1;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i]!;
    const name = pair[0];
    const value = pair[1];
    if (name === "transfer-encoding") continue;
    if (!TOKEN.test(name)) throw new TypeError(`Invalid header name ${JSON.stringify(name)}`);
    if (BAD_VALUE.test(value)) {
      throw new TypeError(`Invalid value of header "${name}": ${JSON.stringify(value)}`);
    }
    if (name === "content-length") declared = declaredLength(value, declared);
    size += name.length + value.length + 4;
  }
  let length: number;
  let framing = "";
  if (body === null) {
    if (declared > 0) throw new TypeError(`content-length is ${declared} but there is no body`);
    if (declared === -1 && BODY_METHODS.has(method)) framing = EMPTY_BODY;
    length = 0;
  } else if (body instanceof Uint8Array) {
    if (declared === -1) framing = "content-length: " + body.length + "\r\n";
    else if (declared !== body.length) {
      throw new TypeError(`content-length is ${declared} but the body has ${body.length} bytes`);
    }
    length = body.length;
  } else if (declared === -1) {
    framing = CHUNKED_BODY;
    length = CHUNKED;
  } else length = declared;
  return { size: size + framing.length, length, framing };
}

/**
 * Writes the head of `req`, checked as `head` by {@linkcode requestHead},
 * at the start of `buf` (at least `head.size` bytes), one byte per character
 * (header values are byte strings). Returns `head.size`. Throws `TypeError`
 * for a character above U+00FF.
 *
 * @example
 * ```ts
 * const head = requestHead(req);
 * const buf = new Uint8Array(head.size);
 * writeHead(req, head, buf);
 * ```
 */
export function writeHead(req: Http1Request, head: RequestHead, buf: Uint8Array): number {
  let n = put(req.method, buf, 0);
  buf[n++] = 32;
  n = put(req.target, buf, n);
  n = put(VERSION, buf, n);
  const headers = req.headers;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i]!;
    const name = pair[0];
    if (name === "transfer-encoding") continue;
    n = put(name, buf, n);
    buf[n++] = 58;
    buf[n++] = 32;
    n = put(pair[1], buf, n);
    buf[n++] = 13;
    buf[n++] = 10;
  }
  n = put(head.framing, buf, n);
  buf[n++] = 13;
  buf[n++] = 10;
  return n;
}

/** Writes `text` at `at`, one byte per character; returns the end. */
function put(text: string, buf: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new TypeError(`Request head has a character above U+00FF at ${at + i}`);
    buf[at + i] = c;
  }
  return at + text.length;
}

function declaredLength(value: string, before: number): number {
  const v = value.trim();
  if (!DIGITS.test(v)) throw new TypeError(`Invalid content-length ${JSON.stringify(value)}`);
  const n = Number(v);
  if (before !== -1 && before !== n) {
    throw new TypeError(`Conflicting content-length values ${before} and ${n}`);
  }
  return n;
}

const encoder = new TextEncoder();

/**
 * Encodes head text (a chunk's framing, say) into `buf` at `offset`, one
 * byte per character: one `encodeInto` for ASCII, a loop otherwise.
 * Returns the bytes written, or -1 when `buf` is too small. Throws
 * `TypeError` for a character above U+00FF.
 */
export function encodeHead(text: string, buf: Uint8Array, offset: number): number {
  if (buf.length - offset < text.length) return -1;
  const { read, written } = encoder.encodeInto(text, buf.subarray(offset));
  // Every character became one byte: it was all ASCII.
  if (read === text.length && written === read) return written;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new TypeError(`Request head has a character above U+00FF at ${i}`);
    buf[offset + i] = c;
  }
  return text.length;
}
