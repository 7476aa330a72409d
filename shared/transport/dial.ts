/**
 * Dialling the server: a WebSocket over TLS (or plain `ws://` for local
 * testing) offering Burrow's subprotocol, as a mux transport.
 *
 * Two ways in. Normally Deno's own `WebSocket`, trusting the system roots
 * plus `caCerts`. With `insecure`, a small WebSocket client of our own
 * (`ws_client.ts`) over `node:tls` with certificate checks off, because
 * Deno's `WebSocket` and `Deno.createHttpClient` cannot skip them.
 *
 * @module
 */

import { connect as tlsConnect } from "node:tls";
import { connect as netConnect, isIP, type Socket } from "node:net";
import type { Conn } from "../mux/session.ts";
import { fromWebSocket } from "./websocket.ts";
import { checkHandshakeOptions, connectWebSocket, DialError } from "./ws_client.ts";

export { DialError, type DialErrorCode } from "./ws_client.ts";

/** Options of {@linkcode dialWebSocket}. */
export interface DialOptions {
  /** Subprotocols to offer, most preferred first; the server must choose one of them. */
  protocols: string[];
  /** Extra request headers (authorization, say); not the ones the handshake sets itself. */
  headers?: HeadersInit;
  /** PEM certificates to trust besides the system roots. */
  caCerts?: string[];
  /** Skip verification of the server's certificate (`wss://` only). Default false. */
  insecure?: boolean;
  /** Milliseconds the whole dial (TCP, TLS, upgrade) may take. Default 10,000. */
  timeout?: number;
  /** Aborts the dial; no effect once it resolved. */
  signal?: AbortSignal;
  /** Milliseconds `close()` waits for the server's answer before giving up on it. Default 2,000. */
  closeTimeout?: number;
  /** Largest message accepted in insecure mode, in bytes. Default 64 MiB (as Deno's `WebSocket`). */
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
   * Resolves once the connection is closed, by either side, or at the latest
   * `closeTimeout` after `close()` (in normal mode a server that never
   * answers the close leaves Deno's socket open until TCP gives up). Never rejects.
   */
  closed: Promise<void>;
}

/** Default of {@linkcode DialOptions.timeout}. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** Default of {@linkcode DialOptions.closeTimeout}. */
const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/** TLS error codes (node:tls) that mean the server's certificate was not accepted. */
const CERTIFICATE_ERROR = /CERT|SIGNATURE|ISSUER|SELF_SIGNED/;

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
    const dialed = options.insecure && target.protocol === "wss:"
      ? await dialInsecure(target, options, abort.signal)
      : await dialNative(target, options, abort.signal);
    if (options.protocols.length > 0 && !options.protocols.includes(dialed.protocol)) {
      dialed.close();
      await dialed.closed; // at most closeTimeout
      const chose = dialed.protocol ? `speaks "${dialed.protocol}"` : "chose no subprotocol";
      throw new DialError(
        `Cannot dial ${where}: server ${chose}, this client speaks ${options.protocols.join(", ")}`,
        "subprotocol",
      );
    }
    return dialed;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Deno's WebSocket, trusting `caCerts` through its own HttpClient. */
async function dialNative(
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
): Promise<DialedWebSocket> {
  const client = Deno.createHttpClient(options.caCerts ? { caCerts: options.caCerts } : {});
  let ws: WebSocket;
  try {
    ws = new WebSocket(url.href, {
      protocols: options.protocols,
      client,
      ...(options.headers ? { headers: options.headers } : {}),
    });
    await opened(ws, signal);
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw await explainNativeFailure(url, options, signal, e);
  } finally {
    // The socket no longer needs the client once the handshake is over.
    client.close();
  }
  const closed = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (ws.readyState === WebSocket.CLOSED) closed.resolve();
  ws.addEventListener("close", () => {
    clearTimeout(timer);
    closed.resolve();
  }, { once: true });
  const close = () => {
    ws.close(1000);
    // Deno's WebSocket waits for the server's close frame as long as TCP lives, and
    // cannot be dropped: stop waiting for it after closeTimeout.
    if (timer === undefined && ws.readyState !== WebSocket.CLOSED) {
      timer = setTimeout(closed.resolve, options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS);
    }
  };
  const conn = await fromWebSocket(ws);
  return { conn, protocol: ws.protocol, close, closed: closed.promise };
}

/**
 * Resolves when `ws` opens; rejects with the text of its error event when it
 * closes first. Aborting closes it, and rejects once it is closed.
 */
function opened(ws: WebSocket, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let message = "";
    const onAbort = () => ws.close();
    const onError = (e: Event) => {
      message = e instanceof ErrorEvent ? e.message : "";
    };
    const onOpen = () => {
      cleanup();
      resolve();
    };
    const onClose = (e: CloseEvent) => {
      cleanup();
      reject(new Error(message || `WebSocket closed before it opened (code ${e.code})`));
    };
    const cleanup = () => {
      signal.removeEventListener("abort", onAbort);
      ws.removeEventListener("error", onError);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("close", onClose);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    ws.addEventListener("error", onError);
    ws.addEventListener("open", onOpen);
    ws.addEventListener("close", onClose);
  });
}

/**
 * Turns a failure of Deno's WebSocket into a DialError. Deno reports a
 * refused `wss://` upgrade without its status (it retries over HTTP/2 and
 * reports that attempt's error), so when the cause is not plain, the
 * handshake is replayed once with our own client, certificates checked, to
 * learn the status.
 */
async function explainNativeFailure(
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
  error: unknown,
): Promise<DialError> {
  const detail = error instanceof Error ? error.message : String(error);
  const cause = { cause: error };
  if (/certificate/i.test(detail)) {
    return new DialError(
      `Cannot dial ${url.href}: the server's certificate is not trusted (${detail}); ` +
        "pass its CA certificate, or dial insecure",
      "certificate",
      cause,
    );
  }
  if (/tcp connect error|dns error|failed to lookup|connection refused/i.test(detail)) {
    return new DialError(`Cannot dial ${url.href}: ${detail}`, "connect", cause);
  }
  const replayed = await replayHandshake(url, options, signal);
  if (replayed) return replayed;
  const status = /Invalid status code:? (\d{3})/.exec(detail)?.[1];
  if (status) {
    return new DialError(
      `Cannot dial ${url.href}: server refused the WebSocket upgrade: HTTP ${status}`,
      "refused",
      { ...cause, status: Number(status) },
    );
  }
  return new DialError(`Cannot dial ${url.href}: ${detail}`, "handshake", cause);
}

/** The refusal our own client sees for the same request, or null if it sees none. */
async function replayHandshake(
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
): Promise<DialError | null> {
  const socket = openSocket(url, { verify: true, caCerts: options.caCerts });
  try {
    const client = await connectWith(socket, url, options, signal);
    client.close();
    await client.closed;
    return null;
  } catch (e) {
    return e instanceof DialError && e.code === "refused" ? e : null;
  }
}

/** Our own client over node:tls, the server's certificate unchecked. */
async function dialInsecure(
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
): Promise<DialedWebSocket> {
  const socket = openSocket(url, { verify: false });
  const client = await connectWith(socket, url, options, signal);
  return {
    conn: client.conn,
    protocol: client.protocol,
    close: () => client.close(),
    closed: client.closed,
  };
}

/** A TCP (ws:) or TLS (wss:) socket to the URL's host, connecting. */
function openSocket(url: URL, tls: { verify: boolean; caCerts?: string[] | undefined }): Socket {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  // noDelay: the mux batches frames itself; Nagle plus delayed ACKs would add 40 ms
  // to every request/response exchange made of two small writes.
  if (url.protocol === "ws:") return netConnect({ host, port: Number(url.port || 80), noDelay: true });
  return tlsConnect({
    noDelay: true,
    host,
    port: Number(url.port || 443),
    // SNI carries names only (RFC 6066).
    ...(isIP(host) ? {} : { servername: host }),
    rejectUnauthorized: tls.verify,
    ...(tls.caCerts ? { ca: tls.caCerts } : {}),
  });
}

/** Runs our client's handshake on `socket`; aborting destroys the socket. */
async function connectWith(
  socket: Socket,
  url: URL,
  options: DialOptions,
  signal: AbortSignal,
) {
  const onAbort = () => socket.destroy();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await connectWebSocket(socket, url, {
      protocols: options.protocols,
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.maxMessageSize ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(options.closeTimeout ? { closeTimeout: options.closeTimeout } : {}),
    });
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw explainSocketFailure(url, e);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

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
  if (typeof code === "string" && CERTIFICATE_ERROR.test(code)) {
    return new DialError(
      `Cannot dial ${url.href}: the server's certificate is not trusted (${detail}); ` +
        "pass its CA certificate, or dial insecure",
      "certificate",
      { cause: error },
    );
  }
  return new DialError(message, "connect", { cause: error });
}
