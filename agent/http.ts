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
import { type HttpRequestHead, parseRequestHead } from "../shared/http/exchange.ts";
import { headersToPairs } from "../shared/http/headers.ts";
import { type BackendRequest, backendRequest, responseHeaders } from "./backend.ts";
import { watchGone } from "./stream_watch.ts";

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
  /** The agent's HTTP client (`allowHost: true`), shared for keep-alive to backends. */
  client: Deno.HttpClient;
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
  return async (incoming) => {
    let head: HttpRequestHead;
    try {
      head = parseRequestHead(incoming.params);
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
      else await proxyHttp(incoming, head, served, options);
    } finally {
      served.active--;
    }
  };
}

/** Why an exchange was cut short. */
type Cut = "timeout" | "gone" | null;

async function proxyHttp(
  incoming: IncomingStream,
  head: HttpRequestHead,
  served: ServedDomain,
  options: HttpHandlerOptions,
): Promise<void> {
  const { timeouts, log } = options;
  const exchange = new AbortController();
  let cut: Cut = null;
  const stop = (why: Cut, reason: unknown) => {
    cut ??= why;
    if (!exchange.signal.aborted) exchange.abort(reason);
  };
  const signal = AbortSignal.any([exchange.signal, options.signal]);
  // fetch() does not say when it has connected, so the head gets both budgets at once.
  const headTimeout = timeouts.connectTimeout + timeouts.readTimeout;
  const headTimer = setTimeout(
    () => stop("timeout", new DOMException(`No response within ${headTimeout} ms`, "TimeoutError")),
    headTimeout,
  );
  const watch = watchGone(incoming.writable, (e) => stop("gone", e));
  const body = head.body
    ? requestBody(
      incoming.readable,
      timeouts.idleTimeout,
      () => stop("timeout", new DOMException("Request body stalled", "TimeoutError")),
    )
    : incoming.readable;
  let sent: BackendRequest | undefined;
  let response: Response;
  try {
    // Retry on another URL only when the request has no body: the body is the
    // stream itself, readable once, and a refused attempt may already have
    // taken it; the server sends it only once and cannot replay it.
    response = await served.router.forward(
      head.method,
      head.target,
      { retry: !head.body },
      (url, target) => {
        sent = backendRequest(head, url.url, target, body);
        return fetch(sent.url, {
          method: head.method,
          headers: sent.headers,
          body: sent.body,
          redirect: "manual",
          client: options.client,
          signal,
          ...(sent.body === null ? {} : { duplex: "half" }),
        });
      },
    );
  } catch (e) {
    clearTimeout(headTimer);
    watch.release();
    await refuseFor(incoming, head, e, options.signal.aborted ? "shutdown" : cut, log);
    return;
  }
  clearTimeout(headTimer);
  watch.release();
  log.debug("{domain}: {method} {target} -> {url}: {status}", {
    domain: head.domain,
    method: head.method,
    target: head.target,
    url: sent?.url.href,
    status: response.status,
    tid: head.tid,
  });
  const headers = responseHeaders(response.headers, sent?.acceptEncoding ?? "identity");
  try {
    await incoming.accept({ status: response.status, headers: headersToPairs(headers) });
  } catch {
    await response.body?.cancel().catch(() => {});
    return;
  }
  await pipeResponse(response.body, incoming, {
    idle: timeouts.idleTimeout,
    onIdle: () => stop("timeout", new DOMException("Response body stalled", "TimeoutError")),
    onGone: (e) => stop("gone", e),
  });
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
 * The request body for `fetch`: a fresh stream over the mux stream's bytes
 * (`fetch` refuses a stream already read from, as the open message was),
 * pulled only as fast as the backend takes it, calling `onIdle` when the
 * server sends nothing for `idle` ms. Cancelling it (fetch does when the
 * backend fails) leaves the mux stream alone: cancelling that would reset
 * the stream before the ERROR reply is written.
 */
function requestBody(
  readable: ReadableStream<Uint8Array>,
  idle: number,
  onIdle: () => void,
): ReadableStream<Uint8Array> {
  const reader = readable.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const timer = setTimeout(onIdle, idle);
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel() {
      reader.releaseLock();
    },
  }, { highWaterMark: 0 });
}

/** Streams a backend body to the stream and sends FIN, or resets the stream on failure. */
async function pipeResponse(
  body: ReadableStream<Uint8Array> | null,
  incoming: IncomingStream,
  options: { idle: number; onIdle(): void; onGone(e: unknown): void },
): Promise<void> {
  const writer = incoming.writable.getWriter();
  let finished = false;
  writer.closed.catch((e) => {
    if (!finished) options.onGone(e);
  });
  const reader = body?.getReader();
  try {
    if (reader !== undefined) {
      while (true) {
        const timer = setTimeout(options.onIdle, options.idle);
        let chunk;
        try {
          chunk = await reader.read();
        } finally {
          clearTimeout(timer);
        }
        if (chunk.done) break;
        await writer.write(chunk.value);
      }
    }
    await writer.close();
  } catch {
    // The backend failed mid-body, stalled, or the stream went away: a reset
    // tells the server the body is incomplete, where a FIN would not.
    await reader?.cancel().catch(() => {});
    incoming.stream.reset();
  } finally {
    finished = true;
    writer.releaseLock();
  }
}
