/**
 * The agent's Http stream handler: one stream from the server is one client
 * request, proxied to a local backend with `fetch` (or a WebSocket), the
 * response streamed back. Wire format in `docs/protocol.md`, "Http streams".
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AgentConfig, AgentDomain } from "./config_types.ts";
import { RouteError, type Router } from "./router.ts";
import { proxyWebSocket } from "./http_ws.ts";
import type { IncomingStream, StreamHandler } from "../shared/open/mod.ts";
import {
  decodeRequestHead,
  encodeResponseHead,
  type HttpRequestHead,
} from "../shared/http/exchange.ts";
import { backendRequest, responseHeaders } from "./backend.ts";
import type { HeaderPairs } from "../shared/http/exchange.ts";
import { endToEndPairs } from "../shared/http/headers.ts";
import type { Http1Pool } from "./http1/pool.ts";
import { type GoneWatch, watchGone } from "./stream_watch.ts";
import { Watchdog, type Watched } from "../shared/time/watchdog.ts";
import {
  type BodySource,
  fetchBody,
  pipeResponse,
  ReadBuffers,
  requestBody,
  requestSource,
} from "./http_body.ts";

/** A domain the agent serves, with its routing state and in-flight count. */
export interface ServedDomain {
  /** The domain file (replaced on reload). */
  domain: AgentDomain;
  /** Its router, balancing state included (replaced when the targets change). */
  router: Router;
  /** Requests in flight, counted against `domain.concurrency`. */
  active: number;
}

/** What the Http handler needs from the agent. */
export interface HttpHandlerOptions {
  /** The served domain of that name, if the agent serves it. */
  lookup(name: string): ServedDomain | undefined;
  /** The agent's HTTP client for `https:` backends (`allowHost: true`), shared for keep-alive. */
  client: Deno.HttpClient;
  /** The agent's HTTP/1.1 connection pool for `http:` backends. */
  pool: Http1Pool;
  /** Backend timeouts, in ms. */
  timeouts: Pick<AgentConfig, "connectTimeout" | "readTimeout" | "idleTimeout">;
  /** System log. */
  log: Logger;
  /** Aborts every exchange when the agent shuts down. */
  signal: AbortSignal;
}

/**
 * The largest Http request head the agent reads: the server allows its
 * `headerSize` (at most 1 MiB) plus 4 KiB.
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
    exchanges: new Set(),
    buffers: new ReadBuffers(),
  };
  // One listener for the agent's shutdown, rather than a dependent signal per request.
  options.signal.addEventListener("abort", () => {
    for (const exchange of context.exchanges) exchange.abort(options.signal.reason);
    context.watchdog.close();
  }, { once: true });
  return async (incoming) => {
    let head: HttpRequestHead;
    try {
      head = decodeRequestHead(incoming.text);
    } catch (e) {
      await incoming.refuse("bad-request", (e as Error).message);
      return;
    }
    const served = options.lookup(head.domain);
    if (served === undefined) {
      await incoming.refuse("unknown-domain", `This agent does not serve ${head.domain}`);
      return;
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
      await incoming.refuse("busy", `${head.domain} has ${limit} requests in flight`);
      return;
    }
    served.active++;
    try {
      if (head.ws) await proxyWebSocket(incoming, head, served, options);
      else await proxyHttp(incoming, head, served, context);
    } finally {
      served.active--;
    }
  };
}

/** Why an exchange was cut short. */
type Cut = "timeout" | "gone" | null;

/** The handler's options and the state its exchanges share. */
interface HttpContext extends HttpHandlerOptions {
  /** Watches the deadlines of every exchange. */
  watchdog: Watchdog;
  /** The exchanges in flight, aborted when the agent shuts down. */
  exchanges: Set<AbortController>;
  /** Buffers response bodies are read into. */
  buffers: ReadBuffers;
}

/** One exchange's state: what aborts it, why, and what watches it. */
interface Exchange {
  /** Aborts the backend request and its bodies. */
  controller: AbortController;
  /** Why it was cut short, once it was. */
  cut: Cut;
  /** Notices the server resetting the stream; released before FIN. */
  gone: GoneWatch;
}

async function proxyHttp(
  incoming: IncomingStream,
  head: HttpRequestHead,
  served: ServedDomain,
  context: HttpContext,
): Promise<void> {
  const { timeouts, watchdog } = context;
  const x: Exchange = {
    controller: new AbortController(),
    cut: null,
    // Called back asynchronously at the earliest, once `stop` exists.
    gone: watchGone(
      incoming.stream,
      () => stop("gone", new DOMException("The server reset the stream", "AbortError")),
    ),
  };
  const stop = (why: Cut, reason: unknown) => {
    x.cut ??= why;
    if (!x.controller.signal.aborted) x.controller.abort(reason);
  };
  // fetch() does not say when it has connected, so the head gets both budgets at once.
  const headTimeout = timeouts.connectTimeout + timeouts.readTimeout;
  const deadline = watchdog.watch(
    headTimeout,
    () => stop("timeout", new DOMException(`No response within ${headTimeout} ms`, "TimeoutError")),
  );
  // The request body's silence counts only while the backend waits for its bytes.
  const bodyIdle = head.body
    ? watchdog.watch(
      timeouts.idleTimeout,
      () => stop("timeout", new DOMException("Request body stalled", "TimeoutError")),
    )
    : null;
  bodyIdle?.pause();
  context.exchanges.add(x.controller);
  if (context.signal.aborted) x.controller.abort(context.signal.reason);
  try {
    const response = await forward(incoming, head, served, { context, exchange: x, bodyIdle });
    if (response === null) return;
    deadline.done();
    // Like the request body's, it runs only while waiting for the backend's bytes.
    const idle = watchdog.watch(
      timeouts.idleTimeout,
      () => stop("timeout", new DOMException("Response body stalled", "TimeoutError")),
    );
    idle.pause();
    await respond(incoming, response, { gone: x.gone, idle });
  } finally {
    context.exchanges.delete(x.controller);
    x.gone.release();
    deadline.done();
    bodyIdle?.done();
  }
}

/** A backend's answer, whichever client got it: end-to-end headers, body chunks to copy. */
interface BackendResponse {
  status: number;
  headers: HeaderPairs;
  body: BodySource | null;
}

/**
 * Sends the request to a backend of the routed target and returns its
 * response, or refuses the stream and returns null when none came. `http:`
 * URLs go through the agent's HTTP/1.1 pool; `https:` ones through `fetch`
 * (whose TLS honours the system's trust store).
 */
async function forward(
  incoming: IncomingStream,
  head: HttpRequestHead,
  served: ServedDomain,
  options: { context: HttpContext; exchange: Exchange; bodyIdle: Watched | null },
): Promise<BackendResponse | null> {
  const { context, exchange, bodyIdle } = options;
  const signal = exchange.controller.signal;
  let sent: string | undefined;
  let response: BackendResponse;
  try {
    // Retry on another URL only when the request has no body: the body is the
    // stream itself, readable once, and a refused attempt may already have
    // taken it; the server sends it only once and cannot replay it.
    response = await served.router.forward(
      head.method,
      head.target,
      { retry: bodyIdle === null },
      (url, target) => {
        const base = url.url;
        if (base.protocol === "http:") {
          const body = bodyIdle === null ? null : requestSource(incoming.stream, bodyIdle);
          const req = backendRequest(head, base, target, body, false);
          sent = req.url;
          return context.pool.request({
            hostname: base.hostname.startsWith("[") ? base.hostname.slice(1, -1) : base.hostname,
            port: base.port === "" ? 80 : Number(base.port),
            method: head.method,
            target: req.target,
            headers: req.headers,
            body: req.body,
            signal,
          }).then((r) => ({ status: r.status, headers: endToEndPairs(r.headers), body: r.body }));
        }
        const body = bodyIdle === null ? null : requestBody(incoming.stream, bodyIdle);
        const req = backendRequest(head, base, target, body);
        sent = req.url;
        const init: RequestInit & { client: Deno.HttpClient; duplex?: "half" } = {
          method: head.method,
          headers: req.headers,
          body: req.body,
          redirect: "manual",
          client: context.client,
          signal,
        };
        if (req.body !== null) init.duplex = "half";
        return fetch(req.url, init).then((r) => ({
          status: r.status,
          headers: responseHeaders(r.headers, req.acceptEncoding),
          body: r.body === null ? null : fetchBody(r.body, context.buffers),
        }));
      },
    );
  } catch (e) {
    exchange.gone.release();
    const cut = context.signal.aborted ? "shutdown" : exchange.cut;
    await refuseFor(incoming, head, e, cut, context.log);
    return null;
  }
  context.log.debug("{domain}: {method} {target} -> {url}: {status}", {
    domain: head.domain,
    method: head.method,
    target: head.target,
    url: sent,
    status: response.status,
    tid: head.tid,
  });
  return response;
}

async function refuseFor(
  incoming: IncomingStream,
  head: HttpRequestHead,
  error: unknown,
  cut: Cut | "shutdown",
  log: Logger,
): Promise<void> {
  const where = { domain: head.domain, method: head.method, target: head.target, tid: head.tid };
  if (cut === "gone") {
    log.debug("{domain}: {method} {target}: the server reset the stream, backend aborted", where);
    return;
  }
  let code = "bad-gateway";
  let message = (error as Error)?.message ?? String(error);
  if (cut === "shutdown") message = "Agent is shutting down";
  else if (cut === "timeout") {
    code = "timeout";
    message = "The backend did not answer in time";
  } else if (error instanceof RouteError) code = error.code;
  else if (error instanceof TypeError && error.cause instanceof Error) {
    message = error.cause.message;
  }
  log.warn("{domain}: {method} {target}: {code}: {message}", { ...where, code, message });
  await incoming.refuse(code, message);
}

/**
 * Answers OK with the response head, then streams the body; `idle` (done
 * when this returns) runs while waiting for the backend's bytes.
 */
async function respond(
  incoming: IncomingStream,
  response: BackendResponse,
  options: { gone: GoneWatch; idle: Watched },
): Promise<void> {
  try {
    try {
      await incoming.accept(
        encodeResponseHead({ status: response.status, headers: response.headers }),
      );
    } catch {
      response.body?.cancel();
      return;
    }
    await pipeResponse(response.body, incoming, options);
  } finally {
    options.idle.done();
  }
}
