/**
 * Listeners: HTTPS with a certificate chosen per server name (SNI) on Deno's
 * fast HTTP server, or plain HTTP when explicitly configured.
 *
 * `Deno.serve` cannot pick a certificate per server name, but
 * `Deno.listenTls` can (unstable resolver option), and Deno's own HTTP
 * serving loop runs on any listener. Measured on Deno 2.9.6 (wrk -t2 -c50,
 * "hello"): this route ≈ 103k req/s, `Deno.serve` with one certificate
 * ≈ 101k, the deprecated `Deno.serveHttp` ≈ 59k, `node:https` with
 * `SNICallback` ≈ 26k.
 *
 * Deno leaves Nagle's algorithm on for connections `Deno.listenTls` accepts,
 * so a response written in pieces waits for the client's delayed ACK (~40 ms)
 * and agent tunnels stall; TCP_NODELAY is set on the listening socket, which
 * accepted sockets inherit (see `shared/platform/nodelay.ts`).
 *
 * Deno's server never closes a connection that sends no request head, or
 * half of one, or stays idle after a response; a {@link Janitor} per
 * listening port does (see `server/janitor.ts`), when given `timeouts`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { setListenerNoDelay } from "../shared/platform/nodelay.ts";
import type { CertificateStore } from "./tls.ts";
import { SNI_RESOLVER } from "../shared/platform/sni.ts";
import { type Handler, serveLoop } from "../shared/platform/serve_loop.ts";
import { platform } from "../shared/platform/check.ts";
import { Janitor, type JanitorTimeouts } from "./janitor.ts";

export type { Handler } from "../shared/platform/serve_loop.ts";

/** A running listener. */
export interface Listening {
  /** Bound address (the port is real when 0 was asked). */
  addr: Deno.NetAddr;
  /** Stops accepting and waits for in-flight requests. */
  shutdown(): Promise<void>;
}

/** Where an error escaping the request handler is reported (the system log). */
let reportError: (e: unknown) => void = (e) =>
  console.error("Unhandled error in request handler:", e);

/** Sends errors that escape request handlers to `report` (the server's system log). */
export function setErrorReporter(report: (e: unknown) => void): void {
  reportError = report;
}

function onError(e: unknown): Response {
  reportError(e);
  return new Response("Internal Server Error\n", { status: 500 });
}

/** Where to listen, and the janitor's timeouts (none: no janitor). */
export interface ListenOptions {
  /** Host part of the address. */
  hostname: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Close connections without a request head or idle that long (`server/janitor.ts`). */
  timeouts?: JanitorTimeouts;
}

/**
 * Serves HTTPS on `hostname:port`, picking the certificate from `store` per
 * server name. `reload()` applies reloaded certificates.
 */
export function listenHttps(
  options: ListenOptions,
  store: CertificateStore,
  serve: Handler,
): Listening & { reload(): Promise<void> } {
  const janitor = options.timeouts ? Janitor.create(options.timeouts) : null;
  const handler = janitor?.wrap(serve) ?? serve;
  let current = serveTls(options, store, handler);
  // One janitor for the port: connections of a listener replaced by reload() included.
  janitor?.start(current.addr);
  const draining = new Set<Promise<void>>();
  return {
    addr: current.addr,
    /**
     * Deno caches the certificate its SNI resolver returns for each server
     * name for the listener's lifetime, so new certificates need a new
     * listener: the old one stops accepting (its requests in flight finish),
     * a new one binds the same address. Connections arriving in between
     * (a few ms) are refused and retried by clients. Deno 2.9.6 then leaves one
     * pending resolver op of the old listener behind (see the reload test).
     */
    async reload() {
      const old = current;
      const done = old.shutdown();
      draining.add(done);
      done.finally(() => draining.delete(done));
      const addr = { hostname: options.hostname, port: old.addr.port };
      for (let attempt = 0;; attempt++) {
        try {
          current = serveTls(addr, store, handler);
          return;
        } catch (e) {
          if (!(e instanceof Deno.errors.AddrInUse) || attempt >= 100) throw e;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    },
    async shutdown() {
      try {
        await current.shutdown();
        await Promise.all([...draining]);
      } finally {
        await janitor?.stop();
      }
    },
  };
}

function serveTls(
  options: { hostname: string; port: number },
  store: CertificateStore,
  handler: Handler,
): Listening {
  const { serveLoop: loop, sniResolver } = platform();
  if (!loop || !sniResolver) return serveOneCertificate(options, store, handler);
  const initial = store.initial;
  const listener = Deno.listenTls(
    {
      hostname: options.hostname,
      port: options.port,
      cert: initial.cert,
      key: initial.key,
      [SNI_RESOLVER]: (serverName: string) => store.resolve(serverName) ?? store.initial,
    } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
  );
  const addr = listener.addr;
  noDelay(addr.port);
  const server = serveLoop().serveHttpOnListener(
    listener,
    new AbortController().signal,
    handler,
    onError,
    () => {},
  );
  return { addr, shutdown: () => server.shutdown() };
}

/**
 * The fallback when this Deno lacks the serve loop or the SNI resolver
 * (`shared/platform/check.ts`): `Deno.serve` with the store's initial pair
 * for every server name.
 */
function serveOneCertificate(
  options: { hostname: string; port: number },
  store: CertificateStore,
  handler: Handler,
): Listening {
  const { cert, key } = store.initial;
  const server = Deno.serve(
    { hostname: options.hostname, port: options.port, cert, key, onListen() {}, onError },
    handler,
  );
  noDelay(server.addr.port);
  return { addr: server.addr, shutdown: () => server.shutdown() };
}

/** Whether a failure to set TCP_NODELAY was logged (once per process). */
let noDelayFailureLogged = false;

/** Sets TCP_NODELAY for the listener on `port` before it accepts; logs instead of failing. */
function noDelay(port: number): void {
  if (!platform().libc) return; // said once by the platform check
  const log = getLogger(["burrow", "server", "listen"]);
  try {
    const fds = setListenerNoDelay(port);
    log.debug("TCP_NODELAY set on listening socket(s) {fds} for port {port}", { fds, port });
  } catch (e) {
    if (noDelayFailureLogged) return;
    noDelayFailureLogged = true;
    log.info(
      "HTTPS connections keep Nagle's algorithm, so responses may wait for delayed ACKs: {error}",
      { error: e instanceof Error ? e.message : String(e) },
    );
  }
}

/** Serves plain HTTP (only when configured: for use behind another proxy). */
export function listenHttp(options: ListenOptions, handler: Handler): Listening {
  const janitor = options.timeouts ? Janitor.create(options.timeouts) : null;
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen() {},
    onError,
  }, janitor?.wrap(handler) ?? handler);
  janitor?.start(server.addr);
  return {
    addr: server.addr,
    async shutdown() {
      try {
        await server.shutdown();
      } finally {
        await janitor?.stop();
      }
    },
  };
}
