/**
 * The raw header list of a request `Deno.serve` made: the pairs in wire
 * order, names as the client wrote them, read from the request's inner
 * object (`ext/http/00_serve.ts`) without building a `Headers` object (which
 * lower-cases, joins repeats and sorts). Callers fall back to `req.headers`
 * when it is missing. Also the body of a GET or HEAD request, which
 * `Deno.serve` hides ({@linkcode servedBody}).
 *
 * @module
 */

import { platform } from "./check.ts";

/** What Deno's `Deno.serve` request keeps its head in (`ext/http/00_serve.ts`). */
interface InnerRequest {
  /** A fresh `[name, value]` array per call, names as the client wrote them. */
  readonly headerList: [string, string][];
}

/**
 * The symbol a `Request` keeps its inner request under; null when this Deno
 * has none. Looked up once, on the first request.
 */
let innerKey: symbol | null | undefined;
/** The prototype of the inner requests of `Deno.serve`, once one was seen. */
let servedProto: object | null = null;

/**
 * The header list of a request `Deno.serve` made, as fresh pairs the caller
 * owns (names as sent); null for any other request (one built with `new
 * Request`, whose list is shared with its `Headers`) or on a Deno without it.
 */
export function servedHeaderList(req: Request): [string, string][] | null {
  if (!platform().rawHeaders) return null;
  const inner = innerOf(req) as InnerRequest | undefined;
  if (inner === undefined || inner === null) return null;
  const proto = Object.getPrototypeOf(inner);
  if (proto !== servedProto) {
    // `Deno.serve`'s inner request reads its list from Rust through a getter
    // on its class; a `new Request`'s keeps a plain list of its own.
    const getter = proto === null
      ? undefined
      : Object.getOwnPropertyDescriptor(proto, "headerList")?.get;
    if (getter === undefined) return null;
    servedProto = proto;
  }
  const list = inner.headerList;
  return Array.isArray(list) ? list : null;
}

/** The inner request `Deno.serve` keeps behind a `Request`; undefined when this Deno has none. */
function innerOf(req: Request): unknown {
  innerKey ??= Object.getOwnPropertySymbols(req).find((s) => s.description === "request") ??
    null;
  if (innerKey === null) return undefined;
  return (req as unknown as Record<symbol, unknown>)[innerKey];
}

/**
 * The body of a request, as the client sent it. `Deno.serve` gives GET and
 * HEAD requests no body even when one came (`InnerRequest.body` returns null
 * for those methods, `ext/http/00_serve.ts`); that getter decides by
 * `this.method`, so it is read once with an own `method` property shadowing
 * the prototype's, then the shadow removed. Null when there is no body or
 * when this Deno keeps it out of reach.
 */
export function servedBody(req: Request): ReadableStream<Uint8Array> | null {
  // Not `req.body` first: a Request keeps the null it was given once.
  if (req.method !== "GET" && req.method !== "HEAD") return req.body;
  const inner = innerOf(req);
  if (typeof inner !== "object" || inner === null) return null;
  try {
    Object.defineProperty(inner, "method", { value: "POST", configurable: true });
    (inner as { body?: unknown }).body;
  } catch {
    return null;
  } finally {
    delete (inner as { method?: string }).method;
  }
  return req.body;
}
