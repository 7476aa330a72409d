/**
 * One request and its response over a connection: the head (with a small
 * body) in one write, a larger body written concurrently with reading the
 * response, interim 1xx responses skipped, the body framed per RFC 9112 §6.3.
 *
 * @module
 */

import { ResponseBody } from "./body.ts";
import { type Http1Conn, READ_BUFFER } from "./http1_conn.ts";
import { Http1Error } from "./errors.ts";
import { CHUNKED, encodeHead, type RequestHead, writeHead } from "./request_head.ts";
import { findHeadEnd, parseResponseHead, type ResponseHead } from "./response_head.ts";
import type { ByteSource, Http1Request, Http1Response } from "./types.ts";

/** Bodies and chunks up to this size are copied next to their head or framing: one write. */
const SMALL = 16 * 1024;
/** Most interim (1xx) responses before the final one. */
const MAX_INTERIM = 16;

/**
 * Sends `req` (serialised as `head`) over `conn` and reads the response head.
 * The exchange ends when the response body does, or here when there is none
 * or something fails; `conn` is then released to its owner.
 */
export async function roundTrip(
  conn: Http1Conn,
  req: Http1Request,
  head: RequestHead,
): Promise<Http1Response> {
  conn.begin(req.signal);
  try {
    const body = req.body;
    const small = body instanceof Uint8Array && body.length <= SMALL ? body : null;
    await conn.write(headBytes(conn, req, head, small));
    // The rest goes out while the response is read: a backend may answer
    // early (413) and stop reading, and waiting for the write would deadlock.
    if (small === null && body !== null) {
      conn.writing = true;
      sendBody(conn, body, head.length);
    }
    // Bytes after `start` already searched for the end of the head.
    let searched = 0;
    for (let interim = 0;;) {
      const res = takeHead(conn, searched);
      if (res === null) {
        searched = Math.max(0, conn.end - conn.start - 3);
        if (conn.end - conn.start >= READ_BUFFER) throw bad(conn, "response head over 64 KiB");
        if (await conn.fill() === 0) throw closedInHead(conn);
        continue;
      }
      searched = 0;
      if (res.status >= 200 || res.status === 101) return respond(conn, res, req.method);
      if (interim++ === MAX_INTERIM) throw bad(conn, `more than ${MAX_INTERIM} interim responses`);
    }
  } catch (e) {
    conn.finish(false);
    throw conn.failure ?? e;
  }
}

/** The head with the body when small, in the connection's scratch buffer. */
function headBytes(
  conn: Http1Conn,
  req: Http1Request,
  head: RequestHead,
  small: Uint8Array | null,
): Uint8Array {
  const size = head.size + (small === null ? 0 : small.length);
  const buf = conn.scratch(size);
  const n = writeHead(req, head, buf);
  if (small !== null) buf.set(small, n);
  return buf.subarray(0, size);
}

/**
 * Writes the rest of the body; clears `conn.writing` when all of it went
 * out. Never rejects: a failing source or a wrong length aborts the
 * connection with that error; a failing socket is left to the response side,
 * which sees the end of the connection or an early response.
 */
async function sendBody(conn: Http1Conn, body: Uint8Array | ByteSource, length: number) {
  try {
    if (body instanceof Uint8Array) await conn.write(body);
    else if (!await sendSource(conn, body, length)) return;
    conn.writing = false;
  } catch {
    // The socket failed or was closed: the response side reports it.
  }
}

/** Streams a source, chunked when `length` is CHUNKED; false when it failed. */
async function sendSource(conn: Http1Conn, source: ByteSource, length: number): Promise<boolean> {
  let sent = 0;
  // The CRLF ending a large chunk's data, sent with the next size line.
  let crlf = false;
  for (;;) {
    let chunk: Uint8Array | null;
    try {
      chunk = await source.read();
    } catch (e) {
      conn.abort(e);
      return false;
    }
    if (conn.closed) return false;
    if (chunk === null) break;
    if (chunk.length === 0) continue;
    sent += chunk.length;
    if (length !== CHUNKED) {
      if (sent > length) return wrongLength(conn, `more than ${length}`, length);
      await conn.write(chunk);
    } else if (chunk.length <= SMALL) {
      const buf = conn.scratch(chunk.length + 32);
      const n = encodeHead((crlf ? "\r\n" : "") + chunk.length.toString(16) + "\r\n", buf, 0);
      buf.set(chunk, n);
      buf[n + chunk.length] = 13;
      buf[n + chunk.length + 1] = 10;
      await conn.write(buf.subarray(0, n + chunk.length + 2));
      crlf = false;
    } else {
      await writeText(conn, (crlf ? "\r\n" : "") + chunk.length.toString(16) + "\r\n");
      await conn.write(chunk);
      crlf = true;
    }
  }
  if (length === CHUNKED) await writeText(conn, crlf ? "\r\n0\r\n\r\n" : "0\r\n\r\n");
  else if (sent !== length) return wrongLength(conn, String(sent), length);
  return true;
}

function wrongLength(conn: Http1Conn, sent: string, length: number): false {
  conn.abort(
    new RangeError(`Request body to ${conn.origin} has ${sent} bytes, content-length is ${length}`),
  );
  return false;
}

function writeText(conn: Http1Conn, text: string): Promise<void> {
  const buf = conn.scratch(text.length);
  return conn.write(buf.subarray(0, encodeHead(text, buf, 0)));
}

/**
 * Parses the next response head when it is all buffered, searching from
 * `searched` bytes after `start`; null when more bytes are needed.
 */
function takeHead(conn: Http1Conn, searched: number): ResponseHead | null {
  const end = findHeadEnd(conn.buf, conn.start + searched, conn.end);
  if (end === -1) return null;
  const head = parseResponseHead(conn.buf.subarray(conn.start, end), conn.origin);
  conn.start = end;
  return head;
}

function closedInHead(conn: Http1Conn): Http1Error {
  const when = conn.received === 0 ? "before a response" : "in the response head";
  return new Http1Error(`Connection to ${conn.origin} closed ${when}`, "closed");
}

/** The response for a final head, its body framed per RFC 9112 §6.3. */
function respond(conn: Http1Conn, head: ResponseHead, method: string): Http1Response {
  const status = head.status;
  let keepAlive = head.keepAlive;
  let body: ResponseBody | null = null;
  if (method === "HEAD" || status === 204 || status === 304 || status === 101) {
    // After 101 the connection speaks another protocol, which is not ours.
    if (status === 101) keepAlive = false;
  } else if (head.encoded) {
    // Transfer-Encoding overrides Content-Length; both, or one in HTTP/1.0, smell of smuggling.
    if (head.contentLength !== -1 || head.version === "1.0") keepAlive = false;
    body = new ResponseBody(conn, head.chunked ? "chunked" : "close", { length: 0, keepAlive });
  } else if (head.contentLength > 0) {
    body = new ResponseBody(conn, "length", { length: head.contentLength, keepAlive });
  } else if (head.contentLength === -1) {
    body = new ResponseBody(conn, "close", { length: 0, keepAlive: false });
  }
  if (body === null) conn.finish(keepAlive);
  return {
    status,
    statusText: head.statusText,
    version: head.version,
    headers: head.headers,
    body,
  };
}

function bad(conn: Http1Conn, what: string): Http1Error {
  return new Http1Error(`Bad response from ${conn.origin}: ${what}`, "bad-response");
}
