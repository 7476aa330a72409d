/**
 * Typed errors of the framing layer.
 *
 * @module
 */

/** Why a peer's bytes were rejected. */
export type ProtocolErrorCode =
  | "bad-version"
  | "bad-type"
  | "bad-flags"
  | "frame-too-large"
  | "window-exceeded"
  | "duplicate-syn"
  | "bad-stream-id"
  | "bad-message";

/**
 * A peer broke the protocol. A session that sees one sends
 * GoAway(protocol error) and closes with this error as its reason.
 *
 * @example
 * ```ts
 * throw new ProtocolError("Unknown frame type 9", "bad-type");
 * ```
 */
export class ProtocolError extends Error {
  /** Error class name, for logs and `instanceof`-free checks. */
  override name = "ProtocolError";
  /** Machine-readable reason. */
  readonly code: ProtocolErrorCode;

  /** Creates a protocol error with a message and a code. */
  constructor(message: string, code: ProtocolErrorCode) {
    super(message);
    this.code = code;
  }
}
