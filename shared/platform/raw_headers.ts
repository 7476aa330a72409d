/**
 * The raw header list of a request `Deno.serve` made: the pairs in wire
 * order, names as the client wrote them, read from the request's inner
 * object (`ext/http/00_serve.ts`) without building a `Headers` object (which
 * lower-cases, joins repeats and sorts). Callers fall back to `req.headers`
 * when it is missing.
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
  innerKey ??= Object.getOwnPropertySymbols(req).find((s) => s.description === "request") ??
    null;
  if (innerKey === null) return null;
  const inner = (req as unknown as Record<symbol, InnerRequest | undefined>)[innerKey];
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
