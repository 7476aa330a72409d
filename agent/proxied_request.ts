/**
 * One proxied HTTP request on the agent: routed to a backend, sent through
 * the HTTP/1.1 pool (or `fetch` for `https:`), the response streamed back on
 * the stream, under the backend deadlines. Made by the Http handler
 * (`http.ts`) for each request stream that passed its checks.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Target, TargetUrl } from "./config_types.ts";
import { type ForwardOptions, RouteError, type Sender } from "./router.ts";
import type { IncomingStream } from "../shared/open/mod.ts";
import { encodeResponseHead, type HttpRequestHead } from "../shared/http/head_codec.ts";
import { backendRequest, responseHeaders } from "./backend.ts";
import type { HeaderPairs } from "../shared/http/head_codec.ts";
import { endToEndPairs } from "../shared/http/headers.ts";
import type { AbortHook, Http1Response } from "./http1/pool.ts";
import type { Watchdog, Watched } from "../shared/time/watchdog.ts";
import {
  type BodySource,
  fetchBody,
  type ReadBuffers,
  requestBody,
  requestSource,
} from "./http_body.ts";
import type { HttpHandlerOptions, ServedDomain } from "./served_domain.ts";

/** Why an exchange was cut short. */
type Cut = "timeout" | "gone" | null;

/** The handler's options and the state its exchanges share. */
export interface HttpContext extends HttpHandlerOptions {
  /** Watches the deadlines of every exchange. */
  watchdog: Watchdog;
  /**
   * The exchanges in flight, aborted when the agent shuts down: an array
   * each knows its place in, since a `Set` reallocates its table as
   * requests come and go.
   */
  exchanges: ProxiedRequest[];
  /** Buffers response bodies are read into. */
  buffers: ReadBuffers;
}

/** A backend's answer, whichever client got it: end-to-end headers, body chunks to copy. */
interface BackendResponse {
  status: number;
  headers: HeaderPairs;
  body: BodySource | null;
}

/** What the router is told: retry only requests without a body (see `send`). */
const RETRY: ForwardOptions = { retry: true };
const NO_RETRY: ForwardOptions = { retry: false };

/**
 * One proxied request: sends it to a backend of the routed target and
 * streams the response back, under its deadlines. One object per request:
 * it is the pool's abort hook (an `AbortController` is made only for
 * `fetch`), the router's sender and the watch for a reset stream.
 */
export class ProxiedRequest implements AbortHook, Sender<Http1Response | Response> {
  /** True once the backend request and its bodies were aborted. */
  aborted = false;
  /** Why they were. */
  reason: unknown = undefined;
  /** The pool's connection listening for the abort. */
  listener: { handleEvent(): void } | null = null;
  readonly #incoming: IncomingStream;
  readonly #head: HttpRequestHead;
  readonly #served: ServedDomain;
  readonly #context: HttpContext;
  /** The signal for `fetch`, made on first use. */
  #controller: AbortController | null = null;
  /** Why it was cut short, once it was. */
  #cut: Cut = null;
  /** Still noticing the server resetting the stream; stopped before FIN. */
  #watching = true;
  /** The response body's idle deadline, once the head came. */
  #idle: Watched | null = null;
  /** The request body's idle deadline, when there is a body. */
  #bodyIdle: Watched | null = null;
  /** The response head's deadline (connect + read timeout), paused while the server's bytes are awaited. */
  #deadline: Watched | null = null;
  /**
   * The backend's response body while it is streamed, cancelled by `abort()`
   * itself: aborting fetch's signal does not always end a pending read of
   * its body (seen under load with Deno 2.9.6), which then never ends.
   */
  #body: BodySource | null = null;
  /** The backend URL last sent to, for the log. */
  #sent: string | undefined = undefined;
  /** The Accept-Encoding sent with `fetch`. */
  #acceptEncoding = "identity";
  /** Index in `context.exchanges`, -1 when not in it. */
  #slot = -1;

  constructor(
    incoming: IncomingStream,
    head: HttpRequestHead,
    served: ServedDomain,
    context: HttpContext,
  ) {
    this.#incoming = incoming;
    this.#head = head;
    this.#served = served;
    this.#context = context;
  }

  /** Proxies the request; answers ERROR when no response came. */
  async run(): Promise<void> {
    const incoming = this.#incoming;
    const context = this.#context;
    const { timeouts, watchdog } = context;
    this.#served.active++;
    // Called back asynchronously at the earliest.
    incoming.stream.closed.then(() => this.#gone());
    // One callback for the head's deadline, then the response body's. fetch() does not
    // say when it has connected, so the head gets both budgets at once. With a request
    // body it is paused while the server's bytes are awaited (see requestSource): the
    // budget counts from the end of the upload, not from the start of the request.
    const timedOut = () => this.#timedOut();
    const deadline = this.#deadline = watchdog.watch(
      timeouts.connectTimeout + timeouts.readTimeout,
      timedOut,
    );
    // The request body's silence counts only while the backend waits for its bytes.
    if (this.#head.body) {
      this.#bodyIdle = watchdog.watch(
        timeouts.idleTimeout,
        () => this.#stop("timeout", new DOMException("Request body stalled", "TimeoutError")),
      );
      this.#bodyIdle.pause();
    }
    this.#slot = context.exchanges.push(this) - 1;
    if (context.signal.aborted) this.abort(context.signal.reason);
    try {
      let response: BackendResponse;
      try {
        response = this.#received(await this.#route());
      } catch (e) {
        await this.#refuse(e);
        return;
      }
      this.#logSent(response);
      this.#body = response.body;
      if (this.aborted) response.body?.cancel();
      deadline.done();
      // Like the request body's, it runs only while waiting for the backend's bytes.
      const idle = this.#idle = watchdog.watch(timeouts.idleTimeout, timedOut);
      idle.pause();
      try {
        await incoming.accept(
          encodeResponseHead({ status: response.status, headers: response.headers }),
        );
      } catch {
        response.body?.cancel();
        return;
      }
      await this.#pipe(response.body, idle);
    } finally {
      this.#body = null;
      this.#served.active--;
      this.#leave(context.exchanges);
      this.#watching = false;
      deadline.done();
      this.#idle?.done();
      this.#bodyIdle?.done();
    }
  }

  /** Aborts the backend request and its bodies (once). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.listener?.handleEvent();
    this.#body?.cancel();
  }

  /**
   * Sends the request to `url`: `http:` URLs go through the agent's HTTP/1.1
   * pool; `https:` ones through `fetch` (whose TLS honours the system's trust
   * store).
   */
  send(url: TargetUrl, target: Target): Promise<Http1Response | Response> {
    const parts = url.parts;
    const head = this.#head;
    const bodyIdle = this.#bodyIdle;
    const stream = this.#incoming.stream;
    if (parts.protocol === "http:") {
      const body = bodyIdle === null ? null : requestSource(stream, bodyIdle, this.#deadline);
      const req = backendRequest(head, parts, target, body, false);
      this.#sent = req.url;
      return this.#context.pool.request({
        hostname: parts.hostname.startsWith("[") ? parts.hostname.slice(1, -1) : parts.hostname,
        port: parts.port === "" ? 80 : Number(parts.port),
        method: head.method,
        target: req.target,
        headers: req.headers,
        body: req.body,
        signal: this,
      });
    }
    if (head.target === "*") {
      return Promise.reject(
        new TypeError("OPTIONS * cannot reach an https: backend: fetch has no asterisk form"),
      );
    }
    const body = bodyIdle === null ? null : requestBody(stream, bodyIdle, this.#deadline);
    const req = backendRequest(head, parts, target, body);
    this.#sent = req.url;
    this.#acceptEncoding = req.acceptEncoding;
    const controller = this.#controller ??= new AbortController();
    if (this.aborted && !controller.signal.aborted) controller.abort(this.reason);
    const init: RequestInit & { client: Deno.HttpClient; duplex?: "half" } = {
      method: head.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
      client: this.#context.client,
      signal: controller.signal,
    };
    if (req.body !== null) init.duplex = "half";
    return fetch(req.url, init);
  }

  /** Routes the request and sends it (see `send`); rejects when no response came. */
  #route(): Promise<Http1Response | Response> {
    const head = this.#head;
    // Retry on another URL only when the request has no body: the body is the
    // stream itself, readable once, and a refused attempt may already have
    // taken it; the server sends it only once and cannot replay it.
    const retry = this.#bodyIdle === null ? RETRY : NO_RETRY;
    return this.#served.router.forward(head.method, head.target, retry, this);
  }

  /** The backend's response, whichever client got it. */
  #received(r: Http1Response | Response): BackendResponse {
    return r instanceof Response
      ? {
        status: r.status,
        headers: responseHeaders(r.headers, this.#acceptEncoding),
        body: r.body === null ? null : fetchBody(r.body, this.#context.buffers),
      }
      : { status: r.status, headers: endToEndPairs(r.headers), body: r.body };
  }

  #logSent(response: BackendResponse): void {
    const head = this.#head;
    this.#context.log.debug("{domain}: {method} {target} -> {url}: {status}", {
      domain: head.domain,
      method: head.method,
      target: head.target,
      url: this.#sent,
      status: response.status,
      tid: head.tid,
    });
  }

  /** No response came: refuses the stream with the reason, unless the server is gone. */
  #refuse(error: unknown): Promise<void> {
    this.#watching = false;
    const context = this.#context;
    const cut = context.signal.aborted ? "shutdown" : this.#cut;
    return refuseFor(this.#incoming, this.#head, error, cut, context.log);
  }

  /**
   * Streams a backend body to the stream and sends FIN, or resets the stream
   * on failure, with `idle` running while waiting for the backend's bytes.
   * The stream is written directly, without a Web Streams writer.
   */
  async #pipe(body: BodySource | null, idle: Watched): Promise<void> {
    const stream = this.#incoming.stream;
    try {
      while (body !== null) {
        idle.touch();
        const chunk = await body.read();
        idle.pause();
        if (chunk === null) {
          // A body cancelled by abort() ends as if complete: it is not.
          if (this.aborted) throw this.reason;
          break;
        }
        await stream.write(chunk);
      }
      // FIN may complete the stream, which is no reason to abort anything.
      this.#watching = false;
      stream.closeWrite();
    } catch {
      // The backend failed mid-body, stalled, or the stream went away: a reset
      // tells the server the body is incomplete, where a FIN would not.
      body?.cancel();
      stream.reset();
    }
  }

  /** Takes this exchange out of `exchanges`: the last one moves into its place. */
  #leave(exchanges: ProxiedRequest[]): void {
    const last = exchanges.pop()!;
    if (last !== this) {
      exchanges[this.#slot] = last;
      last.#slot = this.#slot;
    }
    this.#slot = -1;
  }

  #stop(why: Cut, reason: unknown): void {
    this.#cut ??= why;
    this.abort(reason);
  }

  /** The stream was reset or its session died (or both FINs went, once no longer watched). */
  #gone(): void {
    if (!this.#watching) return;
    this.#watching = false;
    this.#stop("gone", new DOMException("The server reset the stream", "AbortError"));
  }

  /** The head's deadline passed, or the response body stalled. */
  #timedOut(): void {
    if (this.#idle !== null) {
      this.#stop("timeout", new DOMException("Response body stalled", "TimeoutError"));
      return;
    }
    const { connectTimeout, readTimeout } = this.#context.timeouts;
    const ms = connectTimeout + readTimeout;
    this.#stop("timeout", new DOMException(`No response within ${ms} ms`, "TimeoutError"));
  }
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
