/**
 * Typed errors of the HTTP/1.1 client.
 *
 * @module
 */

/** Why a request through the HTTP/1.1 pool failed. */
export type Http1ErrorCode =
  /** The backend refused the connection (ECONNREFUSED): another backend may answer. */
  | "connect-refused"
  /** The connection was not established within the connect timeout. */
  | "connect-timeout"
  /** The connection could not be established for another reason (DNS, unreachable…). */
  | "connect-failed"
  /** The response was malformed: status line, headers, head size or chunk framing. */
  | "bad-response"
  /** The backend closed or reset the connection before the response was complete. */
  | "closed"
  /** The pool was closed, or the body was cancelled, while the request was in flight. */
  | "aborted";

/**
 * A request through {@linkcode Http1Pool} failed for a reason a caller may handle.
 * The message names the origin.
 *
 * @example
 * ```ts
 * try {
 *   await pool.request(req);
 * } catch (e) {
 *   if (e instanceof Http1Error && e.code === "connect-refused") tryNextBackend();
 * }
 * ```
 */
export class Http1Error extends Error {
  /** Error class name, for logs and `instanceof`-free checks. */
  override name = "Http1Error";
  /** Machine-readable reason. */
  readonly code: Http1ErrorCode;

  /** Creates an error with a message, a code and an optional cause. */
  constructor(message: string, code: Http1ErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** `http://host:port` for messages, with brackets around IPv6 addresses. */
export function originOf(hostname: string, port: number): string {
  return hostname.includes(":") ? `http://[${hostname}]:${port}` : `http://${hostname}:${port}`;
}
