/**
 * The request and response shapes of the HTTP/1.1 client: plain objects and
 * header pairs, no `Request`, `Headers` or `Response`.
 *
 * @module
 */

/** Something bytes are read from; a chunk is only valid until the next `read()` call. */
export interface ByteSource {
  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
}

/** A request for {@linkcode Http1Pool.request}, to a plain `http://` origin. */
export interface Http1Request {
  /** Host name or IP address to connect to (IPv6 without brackets). */
  hostname: string;
  /** TCP port to connect to. */
  port: number;
  /** Request method as received, e.g. `GET`. */
  method: string;
  /** Origin-form path and query, e.g. `/a?b=1`. */
  target: string;
  /**
   * Header pairs in wire order, names lower-case, `host` included, hop-by-hop
   * ones already removed. A `transfer-encoding` pair is ignored: the client
   * frames the body itself.
   */
  headers: [string, string][];
  /**
   * The body. A `ByteSource` is streamed: chunked, unless the headers carry a
   * `content-length`, in which case exactly that many bytes must come. A
   * `Uint8Array` gets a `content-length` (one already present must match).
   */
  body: null | Uint8Array | ByteSource;
  /**
   * Aborting closes the connection; pending promises reject with `signal.reason`.
   * An {@linkcode AbortHook} does the same without an event per request.
   */
  signal?: AbortSignal | AbortHook;
}

/**
 * A cheaper stand-in for an `AbortSignal` (no `EventTarget`, no listener
 * records): the pool sets `listener` while it waits on the request and clears
 * it when done; whoever aborts sets `aborted` and `reason`, then calls
 * `listener?.handleEvent()`.
 *
 * @example
 * ```ts
 * const hook: AbortHook = { aborted: false, reason: undefined, listener: null };
 * const pending = pool.request({ ...req, signal: hook });
 * hook.aborted = true;
 * hook.reason = new Error("Gone");
 * hook.listener?.handleEvent();
 * ```
 */
export interface AbortHook {
  /** True once aborted. */
  readonly aborted: boolean;
  /** Why it was aborted. */
  readonly reason: unknown;
  /** Called once aborted; set and cleared by the pool. */
  listener: { handleEvent(): void } | null;
}

/** A response body: chunks are views into the connection's buffer, valid until the next `read()`. */
export interface Http1Body extends ByteSource {
  /** Gives up on the rest: the connection is closed, not reused. */
  cancel(): void;
}

/** A final (non-1xx, except 101) response. */
export interface Http1Response {
  /** Status code. */
  status: number;
  /** Reason phrase, possibly empty. */
  statusText: string;
  /** HTTP version of the response. */
  version: "1.0" | "1.1";
  /** Header pairs in wire order: names lower-case, values trimmed, repeated names kept. */
  headers: [string, string][];
  /** The body; null for HEAD, 101, 204, 304 and `content-length: 0`. */
  body: Http1Body | null;
}
