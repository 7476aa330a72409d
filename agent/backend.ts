/**
 * Building backend requests: the backend URL of a request, the headers sent
 * and the response headers passed back. Pure functions, no I/O.
 *
 * @module
 */

import type { BaseParts, Target } from "./config_types.ts";
import type { HeaderPairs, HttpRequestHead } from "../shared/http/head_codec.ts";
import { endToEndPairs } from "../shared/http/headers.ts";

/**
 * Codings Deno's `fetch` decodes by itself while keeping the
 * `Content-Encoding` header (whenever the request's `Accept-Encoding` is
 * anything but exactly `identity`). A proxy must not let them through.
 */
const FETCH_DECODES = new Set(["gzip", "br"]);

/** A backend request: the URL, its headers, its body, and the Accept-Encoding sent. */
export interface BackendRequest<B = ReadableStream<Uint8Array>> {
  /** Backend URL (see {@linkcode backendUrl}), as a string: `fetch` parses it once, itself. */
  url: string;
  /** The URL's path and query (origin form), for an HTTP/1.1 request line. */
  target: string;
  /** Headers to send, as pairs: `fetch` builds its header list from them directly. */
  headers: HeaderPairs;
  /** Request body, or null when the head announces none. */
  body: B | null;
  /** The Accept-Encoding value sent, for {@linkcode responseHeaders}. */
  acceptEncoding: string;
}

/**
 * The backend request for a request head routed to the URL with `parts` of `target`:
 * hop-by-hop headers removed, Host set to the target's `host` or the URL's
 * host, and the stream's bytes as the body when the head announces one. For
 * `fetch` (`decoding`, the default), Accept-Encoding is limited by
 * {@linkcode backendAcceptEncoding}; a client that passes bytes through as
 * they are keeps the client's Accept-Encoding untouched.
 *
 * @example
 * ```ts
 * const req = backendRequest(head, partsOf(new URL("http://localhost:8000")), target, stream.readable);
 * await fetch(req.url, { method: head.method, headers: req.headers, body: req.body });
 * ```
 */
export function backendRequest<B>(
  head: HttpRequestHead,
  parts: BaseParts,
  target: Target,
  body: B | null,
  decoding = true,
): BackendRequest<B> {
  // endToEndPairs' array is a fresh one: edited in place rather than copied.
  const headers: HeaderPairs = endToEndPairs(head.headers);
  let asked: string | null = null;
  let kept = 0;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i]!;
    const name = pair[0];
    if (name === "accept-encoding" && decoding) {
      asked = asked === null ? pair[1] : `${asked}, ${pair[1]}`;
    } else if (name !== "host") headers[kept++] = pair;
  }
  headers.length = kept;
  headers.unshift(["host", target.host ?? parts.host]);
  const acceptEncoding = decoding ? backendAcceptEncoding(asked) : "identity";
  if (decoding) headers.push(["accept-encoding", acceptEncoding]);
  const path = backendTarget(parts, head.target);
  return {
    url: parts.origin + path,
    target: path,
    headers,
    body: head.body ? body : null,
    acceptEncoding,
  };
}

/**
 * The backend URL for a request: the target URL's origin, its path as a
 * prefix, then the request's path; the target's query string first, then the
 * request's (as Go's `httputil.NewSingleHostReverseProxy` joins them).
 *
 * @example
 * ```ts
 * backendUrl(partsOf(new URL("https://localhost:4443/bucket/statics?user=johndoe")), "/a.css?v=2").href;
 * // "https://localhost:4443/bucket/statics/a.css?user=johndoe&v=2"
 * ```
 */
export function backendUrl(parts: BaseParts, requestTarget: string): URL {
  return new URL(parts.origin + backendTarget(parts, requestTarget));
}

/** The path and query of {@linkcode backendUrl} (its origin form). */
function backendTarget(parts: BaseParts, requestTarget: string): string {
  // `OPTIONS *` asks about the server, not a path: no prefix, no query.
  if (requestTarget === "*") return "*";
  const q = requestTarget.indexOf("?");
  const path = q < 0 ? requestTarget : requestTarget.slice(0, q);
  const query = q < 0 ? "" : requestTarget.slice(q + 1);
  const { prefix, query: baseQuery } = parts;
  const joined = baseQuery !== "" && query !== "" ? `${baseQuery}&${query}` : baseQuery + query;
  // Concatenated, not resolved: a target such as "//other.host/x" must stay a path.
  return `${prefix}${path}${joined === "" ? "" : `?${joined}`}`;
}

/**
 * The Accept-Encoding to send the backend: the client's list without the
 * codings `fetch` would silently decode (gzip, br, and "*" which allows
 * them), or `identity` when nothing is left. Other codings (zstd, deflate)
 * pass through untouched, compressed end to end.
 */
export function backendAcceptEncoding(clientValue: string | null): string {
  const kept = (clientValue ?? "").split(",").map((s) => s.trim()).filter((s) => {
    const coding = s.split(";")[0]!.trim().toLowerCase();
    return coding !== "" && coding !== "*" && !FETCH_DECODES.has(coding);
  });
  return kept.length === 0 ? "identity" : kept.join(", ");
}

/**
 * Response headers for the server, as pairs read in one pass over the
 * response's headers (every Set-Cookie kept): hop-by-hop headers removed and,
 * when `fetch` decoded the body (a gzip or br response to a request that did
 * not say exactly `identity`), `Content-Encoding` and `Content-Length`
 * dropped, since they describe bytes the body no longer has.
 *
 * @example
 * ```ts
 * await incoming.accept({ status: res.status, headers: responseHeaders(res.headers, sent.acceptEncoding) });
 * ```
 */
export function responseHeaders(
  received: Iterable<readonly [string, string]>,
  acceptEncoding: string,
): HeaderPairs {
  const pairs = endToEndPairs(received);
  if (acceptEncoding === "identity") return pairs;
  let coding: string | null = null;
  for (const [name, value] of pairs) {
    if (name === "content-encoding") coding = coding === null ? value : `${coding}, ${value}`;
  }
  if (coding === null || !FETCH_DECODES.has(coding.trim().toLowerCase())) return pairs;
  return pairs.filter(([name]) => name !== "content-encoding" && name !== "content-length");
}

/**
 * The WebSocket URL of a backend: {@linkcode backendUrl} with `ws:` for
 * `http:` and `wss:` for `https:`.
 *
 * @example
 * ```ts
 * backendWebSocketUrl(partsOf(new URL("http://localhost:8000")), "/chat?room=1").href;
 * // "ws://localhost:8000/chat?room=1"
 * ```
 */
export function backendWebSocketUrl(parts: BaseParts, requestTarget: string): URL {
  const url = backendUrl(parts, requestTarget);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}
