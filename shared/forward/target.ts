/**
 * The open parameters and reply of the forward kinds, TcpForward (`0x10`)
 * and UdpForward (`0x11`), and the error an opener gets when the agent
 * refuses one. Wire format in `docs/protocol.md`, "Forward streams".
 *
 * @module
 */

import { formatHostPort, isHostname } from "../net/address.ts";
import { isIpAddress } from "../net/cidr.ts";

/** Moved to `shared/net/address.ts`; re-exported for the forward layer's users. */
export { formatHostPort };

/**
 * What a forward stream reaches: `{ "host": "db.internal", "port": 5432 }`.
 * `host` is a DNS name or an IP literal (IPv6 without brackets), which the
 * agent resolves once and checks against its allowlist; `port` is 1–65535.
 */
export interface ForwardTarget {
  /** Name or IP address of the target, as the operator wrote it (IPv6 without brackets). */
  host: string;
  /** TCP or UDP port, 1–65535. */
  port: number;
}

/**
 * The data of a forward stream's OK reply: the address the agent actually
 * dialled (`{ "address": "127.0.0.1", "port": 5432 }`), so the operator sees
 * where a name led.
 */
export interface ForwardReplyData {
  /** IP address the agent connected to (or sends datagrams to). */
  address: string;
  /** Port on that address. */
  port: number;
}

/**
 * Codes of a forward stream's ERROR reply, sent by the agent; the message
 * beside the code is one readable line for the operator.
 */
export type ForwardErrorCode =
  /** The open parameters are not `{ host, port }` with a valid host and port. */
  | "bad-params"
  /** The target (or the address its name resolved to) is outside the agent's allowlist: "refused by agent policy: …". */
  | "policy"
  /** The name could not be resolved on the agent. */
  | "dns"
  /** The target refused the TCP connection: "connection refused by 127.0.0.1:5432". */
  | "connection-refused"
  /** No route to the target, or the network is down. */
  | "unreachable"
  /** The connection (or the name lookup) took longer than the agent's `connectTimeout`. */
  | "timeout"
  /** Any other failure to connect or to open the UDP socket. */
  | "connect-failed"
  /** Opener side only: the reply was malformed or never came, or the session is gone. */
  | "open-failed";

/** Every code an agent may send, for validation and docs. */
export const FORWARD_ERROR_CODES: readonly ForwardErrorCode[] = [
  "bad-params",
  "policy",
  "dns",
  "connection-refused",
  "unreachable",
  "timeout",
  "connect-failed",
  "open-failed",
];

/**
 * A forward stream could not be opened: the agent's ERROR reply (its code and
 * message, verbatim), or `open-failed` when no usable reply came.
 *
 * @example
 * ```ts
 * try {
 *   await openTcpForward(session, "127.0.0.1", 5432);
 * } catch (e) {
 *   if (e instanceof ForwardError) console.error(e.message); // "connection refused by 127.0.0.1:5432"
 * }
 * ```
 */
export class ForwardError extends Error {
  /** Error class name, for logs and `instanceof`-free checks. */
  override name = "ForwardError";
  /** Machine-readable reason; an unknown code from a newer agent is kept as sent. */
  readonly code: ForwardErrorCode | string;

  /** Creates a forward error. */
  constructor(message: string, code: ForwardErrorCode | string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Reads and validates the open parameters of a forward stream.
 *
 * @throws {ForwardError} code `bad-params`, saying what is wrong.
 * @example
 * ```ts
 * parseForwardTarget({ host: "::1", port: 22 }); // { host: "::1", port: 22 }
 * parseForwardTarget({ host: "[::1]", port: 22 }); // { host: "::1", port: 22 } (brackets dropped)
 * ```
 */
export function parseForwardTarget(params: Record<string, unknown>): ForwardTarget {
  const { host, port } = params;
  if (typeof host !== "string") {
    throw new ForwardError('Forward parameters need a "host" string', "bad-params");
  }
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const name = bare.endsWith(".") ? bare.slice(0, -1) : bare;
  if (!isIpAddress(bare) && !isHostname(name)) {
    throw new ForwardError(
      `Forward host ${JSON.stringify(host)} is neither an IP address nor a host name`,
      "bad-params",
    );
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ForwardError(
      `Forward port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`,
      "bad-params",
    );
  }
  return { host: bare, port };
}
