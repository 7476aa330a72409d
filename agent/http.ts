/**
 * The agent's Http stream handler: one stream from the server is one client
 * request: checked here (head, domain, concurrency), then proxied to a local
 * backend by an `ProxiedRequest` (`proxied_request.ts`) or a WebSocket relay
 * (`http_ws.ts`). Wire format in `docs/protocol.md`, "Http streams".
 *
 * @module
 */

import { proxyWebSocket } from "./http_ws.ts";
import type { StreamHandler } from "../shared/open/mod.ts";
import { decodeRequestHead, type HttpRequestHead } from "../shared/http/head_codec.ts";
import { Watchdog } from "../shared/time/watchdog.ts";
import { ReadBuffers } from "./http_body.ts";
import { type HttpContext, ProxiedRequest } from "./proxied_request.ts";
import type { HttpHandlerOptions } from "./served_domain.ts";

export type { HttpHandlerOptions, ServedDomain } from "./served_domain.ts";

/**
 * The largest Http request head the agent reads. The server sends at most
 * its `headerSize` (now at most 64 KiB, in UTF-8 bytes) plus 4 KiB; the 1 MiB
 * that earlier servers allowed is still accepted.
 */
export const MAX_HTTP_HEAD = 1024 * 1024 + 4096;

/**
 * Creates the handler for Http streams (kind `0x01`): validates the head,
 * enforces the domain's concurrency (`busy`), routes (`no-route`,
 * `bad-gateway`), applies the timeouts (`timeout`) and streams both bodies.
 *
 * @example
 * ```ts
 * const handlers = new Map([[StreamKind.Http, createHttpHandler(options)]]);
 * for (let s = await session.accept(); s; s = await session.accept()) {
 *   serveStream(s, handlers, { maxBody: MAX_HTTP_HEAD });
 * }
 * ```
 */
export function createHttpHandler(options: HttpHandlerOptions): StreamHandler {
  const { connectTimeout, readTimeout, idleTimeout } = options.timeouts;
  const context: HttpContext = {
    ...options,
    // One sweeping timer for the deadlines of every exchange, not timers per request and chunk.
    watchdog: new Watchdog(
      Watchdog.intervalFor(Math.min(connectTimeout + readTimeout, idleTimeout)),
      { linger: true },
    ),
    exchanges: [],
    buffers: new ReadBuffers(),
  };
  // One listener for the agent's shutdown, rather than a dependent signal per request.
  options.signal.addEventListener("abort", () => {
    for (const exchange of [...context.exchanges]) exchange.abort(options.signal.reason);
    context.watchdog.close();
  }, { once: true });
  // Not async: the Http path's own frame is the exchange's `run()`.
  return (incoming) => {
    let head: HttpRequestHead;
    try {
      head = decodeRequestHead(incoming.text);
    } catch (e) {
      return incoming.refuse("bad-request", (e as Error).message);
    }
    const served = options.lookup(head.domain);
    if (served === undefined) {
      return incoming.refuse("unknown-domain", `This agent does not serve ${head.domain}`);
    }
    const limit = served.domain.concurrency;
    if (served.active >= limit) {
      options.log.warn("{domain}: busy, {limit} requests in flight; refused {method} {target}", {
        domain: head.domain,
        limit,
        method: head.method,
        target: head.target,
        tid: head.tid,
      });
      return incoming.refuse("busy", `${head.domain} has ${limit} requests in flight`);
    }
    if (head.ws) {
      served.active++;
      return proxyWebSocket(incoming, head, served, options).finally(() => served.active--);
    }
    return new ProxiedRequest(incoming, head, served, context).run();
  };
}
