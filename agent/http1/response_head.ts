/**
 * The response head, parsed from bytes: where it ends, the status line, the
 * header pairs, and what the framing headers say. Pure, no I/O.
 *
 * @module
 */

import { Http1Error } from "./errors.ts";

/** Most header fields a response head may carry. */
export const MAX_HEADERS = 100;

/** A parsed response head. */
export interface ResponseHead {
  /** HTTP version of the response. */
  version: "1.0" | "1.1";
  /** Status code, 100 to 999. */
  status: number;
  /** Reason phrase, possibly empty. */
  statusText: string;
  /** Header pairs: names lower-case, values trimmed, wire order. */
  headers: [string, string][];
  /** The `content-length`, or -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding is present: the body is chunked or read until close. */
  encoded: boolean;
  /** The last transfer coding is `chunked`. */
  chunked: boolean;
  /** The connection may serve another request after this response (version and `connection`). */
  keepAlive: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIGITS = /^[0-9]{1,15}$/;
/** NUL anywhere, or a CR not ending a line. */
const BAD_BYTES = /\0|\r(?!\n)/;
const NON_ASCII = /[\u0080-\uffff]/;
const decoder = new TextDecoder();

/**
 * Index just past the empty line ending a head in `buf[from, end)` (CRLF CRLF,
 * or bare LFs), or -1 when it has not arrived yet. `from` may point anywhere
 * at or after the head's start; rescanning the last 3 bytes is enough. When
 * `end` is inside `buf`, `buf[end]` is overwritten (a sentinel LF that stops
 * the search there instead of in stale bytes).
 */
export function findHeadEnd(buf: Uint8Array, from: number, end: number): number {
  if (end < buf.length) buf[end] = 10;
  for (let i = buf.indexOf(10, from); i !== -1 && i < end; i = buf.indexOf(10, i + 1)) {
    const next = buf[i + 1];
    if (i + 1 < end && next === 10) return i + 2;
    if (i + 2 < end && next === 13 && buf[i + 2] === 10) return i + 3;
  }
  return -1;
}

/**
 * Parses a response head (status line, headers, empty line) from its bytes,
 * decoded as Latin-1 (each byte one character). Throws a `bad-response`
 * {@linkcode Http1Error} naming `origin` for anything malformed.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n");
 * parseResponseHead(bytes, "http://127.0.0.1:8000").contentLength; // 2
 * ```
 */
export function parseResponseHead(bytes: Uint8Array, origin: string): ResponseHead {
  const s = latin1(bytes);
  if (BAD_BYTES.test(s)) throw bad(origin, "a NUL or a bare CR in the head");
  let eol = s.indexOf("\n");
  const lineEnded = lineEnd(s, 0, eol);
  const status = statusOf(s, lineEnded);
  if (status === -1) {
    throw bad(origin, `malformed status line ${JSON.stringify(s.slice(0, lineEnded))}`);
  }
  const minor1 = s.charCodeAt(7) === 49;
  const head: ResponseHead = {
    version: minor1 ? "1.1" : "1.0",
    status,
    statusText: lineEnded > 12 ? s.slice(13, lineEnded) : "",
    headers: [],
    contentLength: -1,
    encoded: false,
    chunked: false,
    keepAlive: minor1,
  };
  let close = false;
  let keepAlive = false;
  for (let pos = eol + 1; pos < s.length; pos = eol + 1) {
    eol = s.indexOf("\n", pos);
    const end = lineEnd(s, pos, eol);
    if (end === pos) break;
    const c = s.charCodeAt(pos);
    if (c === 32 || c === 9) {
      fold(head.headers, s, pos, end, origin);
      continue;
    }
    if (head.headers.length === MAX_HEADERS) throw bad(origin, `more than ${MAX_HEADERS} headers`);
    const pair = field(s, pos, end, origin);
    head.headers.push(pair);
    const name = pair[0];
    if (name === "content-length") head.contentLength = contentLength(pair[1], head, origin);
    else if (name === "transfer-encoding") {
      head.encoded = true;
      head.chunked = lastToken(pair[1]) === "chunked";
    } else if (name === "connection") {
      const v = pair[1].toLowerCase();
      close ||= hasToken(v, "close");
      keepAlive ||= hasToken(v, "keep-alive");
    }
  }
  head.keepAlive = !close && (head.keepAlive || keepAlive);
  return head;
}

/**
 * The status code of a status line `s[0, end)` shaped as
 * `HTTP/1.[01] [1-9][0-9][0-9]`, then the end or a space or tab and a
 * reason phrase; -1 for any other shape. No regex match array.
 */
function statusOf(s: string, end: number): number {
  if (end < 12 || !s.startsWith("HTTP/1.")) return -1;
  const minor = s.charCodeAt(7);
  if ((minor !== 48 && minor !== 49) || s.charCodeAt(8) !== 32) return -1;
  const a = s.charCodeAt(9) - 48;
  const b = s.charCodeAt(10) - 48;
  const c = s.charCodeAt(11) - 48;
  if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  if (end > 12 && s.charCodeAt(12) !== 32 && s.charCodeAt(12) !== 9) return -1;
  return a * 100 + b * 10 + c;
}

function latin1(bytes: Uint8Array): string {
  const s = decoder.decode(bytes);
  if (!NON_ASCII.test(s)) return s;
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return out;
}

/** End of the line starting at `pos` whose LF is at `eol`, without its CR. */
function lineEnd(s: string, pos: number, eol: number): number {
  const end = eol === -1 ? s.length : eol;
  return end > pos && s.charCodeAt(end - 1) === 13 ? end - 1 : end;
}

/** `s[from, to)` without leading and trailing spaces and tabs. */
function trimmed(s: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return s.slice(a, b);
}

function field(s: string, pos: number, end: number, origin: string): [string, string] {
  const colon = s.indexOf(":", pos);
  const name = colon === -1 || colon > end ? "" : s.slice(pos, colon);
  if (!TOKEN.test(name)) {
    throw bad(origin, `malformed header line ${JSON.stringify(s.slice(pos, end))}`);
  }
  return [name.toLowerCase(), trimmed(s, colon + 1, end)];
}

/** Obsolete line folding: the line continues the previous value, joined by one space. */
function fold(headers: [string, string][], s: string, pos: number, end: number, origin: string) {
  const last = headers[headers.length - 1];
  if (last === undefined) throw bad(origin, "a folded line before any header");
  const more = trimmed(s, pos, end);
  if (more !== "") last[1] = last[1] === "" ? more : last[1] + " " + more;
}

function contentLength(value: string, head: ResponseHead, origin: string): number {
  let n = -1;
  // "5, 5" is allowed (RFC 9110 §8.6), "5, 6" is not. No array for the usual single value.
  for (let from = 0; from <= value.length;) {
    let to = value.indexOf(",", from);
    if (to === -1) to = value.length;
    const v = from === 0 && to === value.length ? value.trim() : value.slice(from, to).trim();
    const m = DIGITS.test(v) ? Number(v) : -2;
    if (
      m === -2 || (n !== -1 && m !== n) || (head.contentLength !== -1 && m !== head.contentLength)
    ) {
      throw bad(origin, `invalid or conflicting content-length ${JSON.stringify(value)}`);
    }
    n = m;
    from = to + 1;
  }
  return n;
}

function lastToken(value: string): string {
  return value.slice(value.lastIndexOf(",") + 1).trim().toLowerCase();
}

function hasToken(lowerValue: string, token: string): boolean {
  if (lowerValue.indexOf(",") === -1) return lowerValue.trim() === token;
  for (const part of lowerValue.split(",")) if (part.trim() === token) return true;
  return false;
}

function bad(origin: string, what: string): Http1Error {
  return new Http1Error(`Bad response from ${origin}: ${what}`, "bad-response");
}
