/**
 * Reading what the proxy needs of a client request's head cheaply: its host,
 * and its headers in wire order without building Deno's `Headers` list.
 *
 * @module
 */

import { endToEndPairs, PairList } from "../shared/http/headers.ts";
import { servedBody, servedHeaderList } from "../shared/platform/raw_headers.ts";

/** A client request's head as the proxy reads it. */
export interface ClientHead {
  /** End-to-end headers (see {@link endToEndPairs}), in the order the client sent them. */
  headers: PairList;
  /**
   * Bytes the head took: start line (`GET /path HTTP/1.1\r\n`), every
   * header (hop-by-hop included, `name: value\r\n` each) and the blank line.
   */
  bytes: number;
  /** The `Upgrade` header (hop-by-hop, so not in `headers`), or null. */
  upgrade: string | null;
  /** True when the client sent `Transfer-Encoding` (hop-by-hop, so not in `headers`): a body follows. */
  framed: boolean;
}

/** The options given to {@link endToEndPairs} for a list of our own. */
const REUSE = { reuse: true } as const;

/**
 * Reads the head of `req`, for `target` (its path and query): end-to-end
 * headers in the client's order, repeated names separate. For a request of
 * `Deno.serve`, read from its header list, the pairs reused, without
 * building a `Headers` object or iterating one (which lower-cases into new
 * pairs, joins repeats and sorts).
 *
 * @example
 * ```ts
 * const head = readHead(req, "/a?b=c");
 * head.headers.get("host");
 * ```
 */
export function readHead(req: Request, target: string): ClientHead {
  const start = req.method.length + target.length + 14;
  const list = servedHeaderList(req);
  if (list === null) {
    const size = { bytes: start };
    const headers = new PairList(endToEndPairs(req.headers, { size }));
    const upgrade = req.headers.get("upgrade");
    return { headers, bytes: size.bytes, upgrade, framed: req.headers.has("transfer-encoding") };
  }
  let bytes = start;
  let upgrade: string | null = null;
  let framed = false;
  for (let i = 0; i < list.length; i++) {
    const pair = list[i]!;
    const name = pair[0];
    if (name.length === 7 && name.toLowerCase() === "upgrade") {
      upgrade = upgrade === null ? pair[1] : `${upgrade}, ${pair[1]}`;
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") framed = true;
    bytes += name.length + pair[1].length + 4;
  }
  return { headers: new PairList(endToEndPairs(list, REUSE)), bytes, upgrade, framed };
}

/**
 * Bytes `pairs` take on the tunnel beyond one per character: header values
 * are byte strings (a client's byte 0xFF is the character U+00FF), and the
 * Http open message carries them as UTF-8, two bytes for each character
 * from U+0080 on.
 *
 * @example
 * ```ts
 * wideBytes([["x-name", "caf\u00e9"]]); // 1
 * ```
 */
export function wideBytes(pairs: readonly (readonly [string, string])[]): number {
  let extra = 0;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    for (const text of pair) {
      for (let j = 0; j < text.length; j++) if (text.charCodeAt(j) > 0x7f) extra++;
    }
  }
  return extra;
}

/**
 * True when `head` is over `limit` bytes as the tunnel carries it (UTF-8):
 * a character is one or two bytes there, so most heads need no count.
 */
export function headTooLarge(head: ClientHead, limit: number): boolean {
  return head.bytes > limit ||
    (head.bytes * 2 > limit && head.bytes + wideBytes(head.headers.pairs) > limit);
}

/** The body the proxy forwards, and whether it must look before it knows there is one. */
export interface ClientBody {
  /** The body, or null when the request has none. */
  body: ReadableStream<Uint8Array> | null;
  /** True when the head frames no body but one may come (read its first piece to know). */
  peek: boolean;
}

/**
 * The body of `req` as its head frames it (RFC 9112 §6.3): chunked, or a
 * Content-Length above 0, whatever the method. Without either HTTP/1.1 has
 * none, though Deno offers an empty stream for every method but GET and
 * HEAD; HTTP/2 (h2c) may send one unannounced, so such a body is to be
 * peeked at. Null when the head frames a body Deno keeps out of reach.
 */
export function clientBody(req: Request, head: ClientHead): ClientBody | null {
  const length = head.headers.get("content-length");
  if (head.framed || (length !== null && Number(length) > 0)) {
    const body = servedBody(req);
    return body === null ? null : { body, peek: false };
  }
  if (length !== null) return { body: null, peek: false };
  return { body: req.body, peek: req.body !== null };
}

/**
 * Path and query of `req.url` (`/a/b?c=d`) exactly as `new URL()` gives them
 * (`pathname + search`), without parsing when the URL is already in the form
 * the parser would give: every character allowed as is, no dot segment, no
 * empty query.
 *
 * @example
 * ```ts
 * targetOf("https://app.example.com/a/b?c=d"); // "/a/b?c=d"
 * ```
 */
export function targetOf(url: string): string {
  if (NORMAL_TARGET.test(url)) return url.slice(url.indexOf("/", url.indexOf("//") + 2));
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

/**
 * A URL whose path and query `new URL()` keeps as they are: an http(s)
 * origin (no `/`, `\`, `?` or `#` in its authority), then only characters
 * no parser step changes (none it percent-encodes, no `\`, no `#`), no
 * segment starting with `.` or `%2e` (dot segments are resolved), and a
 * query, if any, not empty (`/a?` becomes `/a`).
 */
const NORMAL_TARGET =
  /^https?:\/\/[^/\\?#]*(?:\/(?!\.|%2e)[-\w.~!$&'()*+,;=:@%]*)+(?:\?[-\w.~!$&()*+,;=:@%/?]+)?$/i;

/**
 * The host name in a `Host` header value (or a URL's host): lower case,
 * without port or trailing dot.
 *
 * @example
 * ```ts
 * hostOf("App.Example.com.:8443"); // "app.example.com"
 * ```
 */
export function hostOf(host: string): string {
  const end = host.startsWith("[") ? host.indexOf("]") + 1 : host.indexOf(":");
  const name = (end < 0 ? host : host.slice(0, end)).toLowerCase();
  return name.endsWith(".") ? name.slice(0, -1) : name;
}
