/**
 * Dialling the server: a WebSocket over TLS (or plain `ws://` for local
 * testing) offering Burrow's subprotocol, as a mux transport.
 *
 * Every dial runs our own client (`ws_client.ts`) over a socket with
 * TCP_NODELAY set. Deno's `WebSocket` cannot set it, and with Nagle's
 * algorithm on, when an agent writes a stream ACK and, a few milliseconds
 * later, the reply, the reply waits for the server's delayed ACK (40 ms on
 * Linux): on every proxied request.
 *
 * The socket is Deno's own (`Deno.connect`, then `Deno.startTls` for
 * `wss://`): TCP_NODELAY set on the TCP connection holds for the TLS
 * connection made over it, and Deno's TLS costs far less CPU per byte than
 * `node:tls`. Deno's TLS checks the chain against the default roots plus
 * `caCerts`, and the host name (or IP address) against the certificate.
 * It cannot skip those checks: an `insecure` dial runs over `node:tls`.
 * Nor can it drop a connection whose TLS handshake is under way (Deno 2.9,
 * rustls-tokio-stream's `close()` awaits the handshake): a dial given up
 * then (timeout, abort) shuts the TCP connection down through libc instead
 * (`shared/platform/shutdown.ts`; Linux with `--allow-ffi`; elsewhere the socket
 * stays open until the server answers or closes it).
 *
 * The server's side is not ours to tune: a `Deno.serve` server keeps Nagle
 * on, so its 101 answer, written just after its TLS 1.3 session ticket, waits
 * for our delayed ACK, and a `wss://` dial to it takes ~40 ms even on loopback.
 *
 * @module
 */

import { shutdownConnection } from "../platform/shutdown.ts";
import type { TLSSocket } from "node:tls";
import type { Conn } from "./conn.ts";
import type { ByteSocket } from "./byte_socket.ts";
import { DenoSocket } from "./deno_socket.ts";
import { DialError, explainDialFailure } from "./dial_error.ts";
import { NodeSocket } from "./node_socket.ts";
import { connectWebSocket, type WebSocketClient } from "../platform/ws_client.ts";
import { checkHandshakeOptions } from "../platform/ws_handshake.ts";

export { DialError, type DialErrorCode } from "./dial_error.ts";

/** Options of {@linkcode dialWebSocket}. */
export interface DialOptions {
  /** Subprotocols to offer, most preferred first; the server must choose one of them. */
  protocols: string[];
  /** Extra request headers (authorization, say); not the ones the handshake sets itself. */
  headers?: HeadersInit;
  /**
   * PEM certificates to trust besides the default roots (Deno's: Mozilla's
   * bundle, or the system store with `DENO_TLS_CA_STORE=system`).
   */
  caCerts?: string[];
  /** Skip verification of the server's certificate and name (`wss://` only). Default false. */
  insecure?: boolean;
  /** Milliseconds the whole dial (TCP, TLS, upgrade) may take. Default 10,000. */
  timeout?: number;
  /** Aborts the dial; no effect once it resolved. */
  signal?: AbortSignal;
  /** Milliseconds `close()` waits for the server's answer before dropping the socket. Default 2,000. */
  closeTimeout?: number;
  /** Largest message accepted, in bytes; a bigger one closes with 1009. Default 64 MiB. */
  maxMessageSize?: number;
}

/** An open connection to the server. */
export interface DialedWebSocket {
  /** Binary WebSocket messages as a mux transport. */
  conn: Conn;
  /** The subprotocol the server chose, one of those offered. */
  protocol: string;
  /** Closes the WebSocket (status 1000); safe to call more than once. */
  close(): void;
  /**
   * Resolves once the socket is closed, by either side, or dropped
   * `closeTimeout` after `close()` when the server does not answer. Never rejects.
   */
  closed: Promise<void>;
}

/** Default of {@linkcode DialOptions.timeout}. */
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Opens a WebSocket to `url` (`wss://` or `ws://`) offering `protocols` and
 * resolves once the server accepted one of them.
 *
 * @throws {TypeError} on a URL that is not ws:// or wss://, an invalid
 * subprotocol name, or a header the handshake sets itself.
 * @throws {DialError} when the dial fails: `code` is "timeout", "aborted",
 * "connect", "certificate", "refused" (with `status`), "handshake" or
 * "subprotocol".
 * @example
 * ```ts
 * const { conn, close } = await dialWebSocket("wss://tunnel.example.com/.well-known/burrow-agent", {
 *   protocols: ["burrow.v1"],
 *   headers: { authorization: `Bearer ${token}` },
 * });
 * const session = new Session(conn, { client: true });
 * ```
 */
export async function dialWebSocket(url: string, options: DialOptions): Promise<DialedWebSocket> {
  const target = new URL(url);
  if (target.protocol !== "wss:" && target.protocol !== "ws:") {
    throw new TypeError(`Cannot dial "${url}": expected a ws:// or wss:// URL`);
  }
  checkHandshakeOptions(options.protocols, options.headers);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const where = target.href;
  const abort = new AbortController();
  const onAbort = () =>
    abort.abort(
      new DialError(`Cannot dial ${where}: aborted`, "aborted", { cause: options.signal?.reason }),
    );
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    abort.abort(new DialError(`Cannot dial ${where}: no answer within ${timeout} ms`, "timeout"));
  }, timeout);
  try {
    abort.signal.throwIfAborted();
    const client = await connectWith(target, options, abort.signal);
    // The client refuses a subprotocol that was not offered; "none" is left to us.
    if (options.protocols.length > 0 && !options.protocols.includes(client.protocol)) {
      client.close();
      await client.closed; // at most closeTimeout
      const chose = client.protocol ? `speaks "${client.protocol}"` : "chose no subprotocol";
      throw new DialError(
        `Cannot dial ${where}: server ${chose}, this client speaks ${options.protocols.join(", ")}`,
        "subprotocol",
      );
    }
    return {
      conn: client.conn,
      protocol: client.protocol,
      close: () => client.close(),
      closed: client.closed,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Opens the socket and runs our client's handshake on it; aborting closes
 * the socket. Failures are explained as {@linkcode DialError}s.
 */
async function connectWith(
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
): Promise<WebSocketClient> {
  let socket: ByteSocket | null = null;
  const onAbort = () => socket?.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    socket = await openSocket(url, options, signal);
    signal.throwIfAborted();
    return await connectWebSocket(socket, url, {
      protocols: options.protocols,
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout } : {}),
    });
  } catch (e) {
    socket?.close();
    if (signal.aborted) throw signal.reason;
    throw explainDialFailure(url, e);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * A TCP (ws:) or TLS (wss:) socket to the URL's host with TCP_NODELAY: the
 * mux batches its frames itself, and Nagle's algorithm plus the peer's
 * delayed ACK would add 40 ms to every exchange made of two small writes.
 * Resolves once connected (and the TLS handshake done), except an
 * `insecure` one, which connects while the WebSocket handshake is queued.
 */
async function openSocket(
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
): Promise<ByteSocket> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const tls = url.protocol === "wss:";
  const port = Number(url.port || (tls ? 443 : 80));
  if (tls && options.insecure) return new NodeSocket(await insecureTls(hostname, port));
  const tcp = await Deno.connect({ hostname, port, signal });
  tcp.setNoDelay(true);
  if (!tls) return new DenoSocket(tcp);
  // Sends `hostname` as SNI (not for an IP address) and checks the certificate against it.
  const local = tcp.localAddr;
  const remote = tcp.remoteAddr;
  const conn = await Deno.startTls(tcp, {
    hostname,
    ...(options.caCerts ? { caCerts: options.caCerts } : {}),
  });
  const socket = new DenoSocket(conn);
  const onAbort = () => {
    socket.close();
    // Deno's TLS keeps a socket whose handshake is under way open until the
    // server answers; shutting the connection down ends that handshake now.
    shutdownConnection(local, remote);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    signal.throwIfAborted();
    await conn.handshake();
    return socket;
  } catch (e) {
    socket.close();
    throw e;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * A `node:tls` socket that checks neither the certificate's chain nor its
 * names, with TCP_NODELAY, still connecting. `node:tls` is loaded here, on
 * the first insecure dial: it brings Deno's Node stream and socket layer,
 * about 3 MB RSS that an agent dialling with Deno's TLS never needs.
 */
async function insecureTls(host: string, port: number): Promise<TLSSocket> {
  const { connect: tlsConnect } = await import("node:tls");
  const socket = tlsConnect({ host, port, rejectUnauthorized: false });
  // tls.connect() honours `noDelay` at run time but its types lack it; this
  // typed call sets TCP_NODELAY as soon as the socket is connected.
  return socket.setNoDelay(true);
}
