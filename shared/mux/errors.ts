/**
 * Typed errors of the multiplexer.
 *
 * @module
 */

export { ProtocolError, type ProtocolErrorCode } from "../frame/errors.ts";

/** Why a session or stream operation failed. */
export type MuxErrorCode =
  /** The session is closed (locally, by the peer, or after an error). */
  | "session-closed"
  /** The stream was reset by either side. */
  | "stream-reset"
  /** A ping or a stream open was not answered in time. */
  | "timeout"
  /** The peer sent GoAway: no new streams may be opened. */
  | "go-away"
  /** Opening would exceed the configured maximum of concurrent streams. */
  | "too-many-streams"
  /** All stream ids of this session have been used. */
  | "ids-exhausted"
  /** The peer closed the session with a GoAway error code. */
  | "remote-error"
  /**
   * The peer kept asking for answers (pings, stream opens and resets, data
   * to grant window for) without reading them: more than `maxQueuedControl`
   * control frames were queued for it. The session closes with GoAway
   * (protocol error).
   */
  | "peer-not-draining";

/**
 * An operation on a session or stream failed for a reason a caller may handle.
 *
 * @example
 * ```ts
 * try {
 *   await session.open();
 * } catch (e) {
 *   if (e instanceof MuxError && e.code === "go-away") reconnect();
 * }
 * ```
 */
export class MuxError extends Error {
  /** Error class name, for logs and `instanceof`-free checks. */
  override name = "MuxError";
  /** Machine-readable reason. */
  readonly code: MuxErrorCode;

  /** Creates a mux error with a message, a code and an optional cause. */
  constructor(message: string, code: MuxErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
