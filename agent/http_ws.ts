/**
 * WebSocket upgrades through the agent: an Http stream whose head says
 * `ws: true` becomes a WebSocket to the backend, relayed message by message
 * over the stream once the backend accepted.
 *
 * @module
 */

import type { HttpHandlerOptions, ServedDomain } from "./served_domain.ts";
import { backendWebSocketUrl } from "./backend.ts";
import { watchGone } from "./stream_watch.ts";
import type { IncomingStream } from "../shared/open/mod.ts";
import {
  encodeResponseHead,
  type HeaderPairs,
  type HttpRequestHead,
} from "../shared/http/head_codec.ts";
import { endToEndPairs } from "../shared/http/headers.ts";
import { relayWebSocket } from "../shared/http/ws_relay.ts";

/**
 * Proxies one WebSocket upgrade: opens a WebSocket to the routed backend
 * with the client's subprotocol offers, replies OK `{ status: 101, headers:
 * [], protocol }` once it is open and relays until either side closes.
 * Refuses `no-route` when no target matches and `bad-gateway` when the
 * backend does not accept (a WebSocket error does not say why, so there is
 * no failover to another URL here).
 *
 * @example
 * ```ts
 * if (head.ws) await proxyWebSocket(incoming, head, served, options);
 * ```
 */
export async function proxyWebSocket(
  incoming: IncomingStream,
  head: HttpRequestHead,
  served: ServedDomain,
  options: HttpHandlerOptions,
): Promise<void> {
  const where = { domain: head.domain, target: head.target, tid: head.tid };
  const target = served.router.match(head.method, head.target);
  const url = target === null ? null : served.router.pick(target);
  if (target === null || url === null) {
    await incoming.refuse("no-route", `No target matches ${head.method} ${head.target}`);
    return;
  }
  const wsUrl = backendWebSocketUrl(url.parts, head.target);
  let ws: WebSocket;
  try {
    ws = new WebSocket(wsUrl, {
      protocols: offeredProtocols(head.headers),
      headers: upgradeHeaders(head.headers),
    });
  } catch (e) {
    await incoming.refuse("bad-gateway", `Cannot open ${wsUrl.href}: ${(e as Error).message}`);
    return;
  }
  const timeout = options.timeouts.connectTimeout + options.timeouts.readTimeout;
  const watch = watchGone(incoming.stream, () => ws.close());
  const stop = () => ws.close(1000, "Agent shutting down");
  options.signal.addEventListener("abort", stop, { once: true });
  try {
    const failure = await opened(ws, timeout);
    watch.release();
    if (failure !== null) {
      options.log.warn("{domain}: WebSocket {target}: {url} failed: {error}", {
        ...where,
        url: wsUrl.href,
        error: failure,
      });
      await incoming.refuse("bad-gateway", `WebSocket to the backend failed: ${failure}`);
      return;
    }
    await incoming.accept(encodeResponseHead({ status: 101, headers: [], protocol: ws.protocol }));
    options.log.debug("{domain}: WebSocket {target} -> {url} open", { ...where, url: wsUrl.href });
    await relayWebSocket(ws, { readable: incoming.readable, writable: incoming.writable });
  } catch (e) {
    options.log.debug("{domain}: WebSocket {target} ended: {error}", {
      ...where,
      error: (e as Error).message,
    });
    incoming.stream.reset();
  } finally {
    watch.release();
    options.signal.removeEventListener("abort", stop);
    if (ws.readyState !== WebSocket.CLOSED) {
      ws.close();
      await closed(ws);
    }
  }
}

/** The subprotocols the client offered, in order. */
function offeredProtocols(headers: HeaderPairs): string[] {
  return headers.filter(([name]) => name.toLowerCase() === "sec-websocket-protocol")
    .flatMap(([, value]) => value.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * Headers passed to the backend's handshake: the client's end-to-end headers
 * (cookies, authorization, origin, X-Forwarded-*). The handshake's own
 * headers are the WebSocket client's to set; Deno sets Host from the URL and
 * ignores an override, so a target's `host` does not apply to WebSockets.
 */
function upgradeHeaders(pairs: HeaderPairs): HeaderPairs {
  return endToEndPairs(pairs).filter(([name]) =>
    !name.startsWith("sec-websocket-") && name !== "host"
  );
}

/** Resolves null once `ws` is open, or a reason when it fails or times out first. */
function opened(ws: WebSocket, timeout: number): Promise<string | null> {
  return new Promise((resolve) => {
    let error = "the backend closed the connection";
    const timer = setTimeout(() => {
      error = `no answer within ${timeout} ms`;
      ws.close();
    }, timeout);
    const done = (value: string | null) => {
      clearTimeout(timer);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("error", onError);
      ws.removeEventListener("close", onClose);
      resolve(value);
    };
    const onOpen = () => done(null);
    const onError = (e: Event) => {
      if (e instanceof ErrorEvent && e.message) error = e.message;
    };
    const onClose = () => done(error);
    ws.addEventListener("open", onOpen);
    ws.addEventListener("error", onError);
    ws.addEventListener("close", onClose);
  });
}

/** Resolves once `ws` is CLOSED (at once if it is). */
function closed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
}
