/**
 * Reading what the proxy needs of a client request's head cheaply: its host,
 * and its headers in wire order without building Deno's `Headers` list.
 *
 * @module
 */

import { endToEndPairs, PairList } from "../shared/http/headers.ts";
import { servedHeaderList } from "../shared/platform/raw_headers.ts";

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
    return { headers, bytes: size.bytes, upgrade: req.headers.get("upgrade") };
  }
  let bytes = start;
  let upgrade: string | null = null;
  for (let i = 0; i < list.length; i++) {
    const pair = list[i]!;
    const name = pair[0];
    if (name.length === 7 && name.toLowerCase() === "upgrade") {
      upgrade = upgrade === null ? pair[1] : `${upgrade}, ${pair[1]}`;
    }
    bytes += name.length + pair[1].length + 4;
  }
  return { headers: new PairList(endToEndPairs(list, REUSE)), bytes, upgrade };
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
