/**
 * Dialling the server: a WebSocket over TLS (or plain `ws://` for local
 * testing) offering Burrow's subprotocol, as a mux transport.
 *
 * Every dial runs our own client (`ws_client.ts`) over a `node:tls` or
 * `node:net` socket with TCP_NODELAY set. Deno's `WebSocket` cannot set it,
 * and with Nagle's algorithm on, when an agent writes a stream ACK and, a few
 * milliseconds later, the reply, the reply waits for the server's delayed
 * ACK (40 ms on Linux): on every proxied request. `node:tls` also
 * lets `insecure` skip the certificate checks, which Deno's `WebSocket` and
 * `Deno.createHttpClient` cannot. Otherwise `node:tls` checks the chain
 * against the default roots plus `caCerts`, and the host name (or IP
 * address) against the certificate.
 *
 * The server's side is not ours to tune: a `Deno.serve` server keeps Nagle
 * on, so its 101 answer, written just after its TLS 1.3 session ticket, waits
 * for our delayed ACK, and a `wss://` dial to it takes ~40 ms even on loopback.
 *
 * @module
 */

import { connect as tlsConnect, getCACertificates } from "node:tls";
import { connect as netConnect, isIP, type Socket } from "node:net";
import type { Conn } from "../mux/session.ts";
import {
  checkHandshakeOptions,
  connectWebSocket,
  DialError,
  type WebSocketClient,
} from "./ws_client.ts";

export { DialError, type DialErrorCode } from "./ws_client.ts";

/** Options of {@linkcode dialWebSocket}. */
export interface DialOptions {
  /** Subprotocols to offer, most preferred first; the server must choose one of them. */
  protocols: string[];
  /** Extra request headers (authorization, say); not the ones the handshake sets itself. */
  headers?: HeadersInit;
  /**
   * PEM certificates to trust besides the default roots (`node:tls`'s:
   * Mozilla's bundle, plus the system store and `NODE_EXTRA_CA_CERTS` when
   * Deno is told to use them).
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

/** TLS error codes (node:tls) that mean the server's certificate was not accepted. */
const CERTIFICATE_ERROR = /CERT|SIGNATURE|ISSUER|SELF_SIGNED/;

/** The node:tls error code of a certificate that does not name the host dialled. */
const NAME_MISMATCH = "ERR_TLS_CERT_ALTNAME_INVALID";

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
    const client = await connectWith(openSocket(target, options), target, options, abort.signal);
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
 * A TCP (ws:) or TLS (wss:) socket to the URL's host, connecting, with
 * TCP_NODELAY: the mux batches its frames itself, and Nagle's algorithm
 * plus the peer's delayed ACK would add 40 ms to every exchange made of two
 * small writes.
 */
function openSocket(url: URL, options: DialOptions): Socket {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (url.protocol === "ws:") {
    return netConnect({ host, port: Number(url.port || 80), noDelay: true });
  }
  const verify = !options.insecure;
  const socket = tlsConnect({
    host,
    port: Number(url.port || 443),
    // SNI carries names only (RFC 6066); node:tls checks an IP host against IP SANs.
    ...(isIP(host) ? {} : { servername: host }),
    rejectUnauthorized: verify,
    // `ca` replaces the default roots rather than adding to them. With ~150
    // roots in the list a dial takes ~10 ms more CPU; without caCerts it does not.
    ...(verify && options.caCerts
      ? { ca: [...getCACertificates("default"), ...options.caCerts] }
      : {}),
  });
  // tls.connect() honours `noDelay` at run time but its types lack it; this
  // typed call sets TCP_NODELAY as soon as the socket is connected.
  return socket.setNoDelay(true);
}

/** Runs our client's handshake on `socket`; aborting destroys the socket. */
async function connectWith(
  socket: Socket,
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
): Promise<WebSocketClient> {
  const onAbort = () => socket.destroy();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await connectWebSocket(socket, url, {
      protocols: options.protocols,
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(options.closeTimeout !== undefined ? { closeTimeout: options.closeTimeout } : {}),
    });
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw explainSocketFailure(url, e);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Names the dial in a handshake or socket error, and sorts certificate errors out. */
function explainSocketFailure(url: URL, error: unknown): DialError {
  const detail = error instanceof Error ? error.message : String(error);
  const message = `Cannot dial ${url.href}: ${detail.charAt(0).toLowerCase()}${detail.slice(1)}`;
  if (error instanceof DialError) {
    return new DialError(message, error.code, {
      cause: error,
      ...(error.status ? { status: error.status } : {}),
    });
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string" || !CERTIFICATE_ERROR.test(code)) {
    return new DialError(message, "connect", { cause: error });
  }
  const [problem, remedy] = code === NAME_MISMATCH
    ? [`is not valid for "${url.hostname}"`, "dial a name it lists"]
    : ["is not trusted", "pass its CA certificate"];
  return new DialError(
    `Cannot dial ${url.href}: the server's certificate ${problem} (${code}: ${detail}); ` +
      `${remedy}, or dial insecure`,
    "certificate",
    { cause: error },
  );
}
