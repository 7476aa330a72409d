/**
 * The address arguments of the operator commands, in `ssh`'s shapes:
 * `[BIND:]PORT:HOST:PORT` for `burrow forward` (`ssh -L`) and
 * `[BIND:]PORT` for `burrow socks` (`ssh -D`). IPv6 addresses go in
 * brackets (`[::1]:8080:[fd00::5]:22`); BIND defaults to 127.0.0.1.
 *
 * @module
 */

import { formatHostPort } from "../shared/forward/target.ts";
import { isHostname } from "../shared/net/address.ts";
import { isIpAddress } from "../shared/net/cidr.ts";

/** The address local listeners bind to unless told otherwise: this machine only. */
export const DEFAULT_BIND = "127.0.0.1";

/** A local address to listen on. */
export interface ListenSpec {
  /** Address to bind (IPv6 without brackets). */
  bind: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
}

/** One forward: a local listener and the target the agent reaches. */
export interface ForwardSpec extends ListenSpec {
  /** Target host as the agent resolves it (IPv6 without brackets). */
  host: string;
  /** Target port, 1–65535. */
  targetPort: number;
  /** The spec as written, for messages. */
  text: string;
}

/** A spec argument is malformed; the message quotes it and shows the shape. */
export class SpecError extends Error {
  /** Always "SpecError". */
  override name = "SpecError";
  /** Machine-readable reason. */
  readonly code = "bad-spec" as const;
}

/** Splits on colons outside brackets; brackets are dropped from the parts that had them. */
function splitColons(text: string): { parts: string[]; bracketed: boolean[] } | null {
  const parts: string[] = [];
  const bracketed: boolean[] = [];
  let at = 0;
  while (at <= text.length) {
    if (text[at] === "[") {
      const end = text.indexOf("]", at);
      if (end < 0) return null;
      parts.push(text.slice(at + 1, end));
      bracketed.push(true);
      at = end + 1;
      if (at < text.length && text[at] !== ":") return null;
      at++;
      continue;
    }
    const next = text.indexOf(":", at);
    const end = next < 0 ? text.length : next;
    const part = text.slice(at, end);
    if (part.includes("]")) return null;
    parts.push(part);
    bracketed.push(false);
    at = end + 1;
  }
  return { parts, bracketed };
}

function port(text: string, allowZero: boolean): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 && (n > 0 || allowZero) ? n : null;
}

function host(text: string, bracketed: boolean, name: boolean): string | null {
  if (isIpAddress(text)) return text.includes(":") === bracketed ? text : null;
  if (bracketed || !name) return null;
  return isHostname(text.replace(/\.$/, "")) ? text : null;
}

/**
 * Parses `[BIND:]PORT:HOST:PORT`. BIND is an IP address (or `localhost`,
 * `*` for all interfaces); HOST a name or an IP address, resolved by the
 * agent; the local PORT may be 0 (any free port).
 *
 * @throws {SpecError} quoting the spec and saying what is wrong.
 * @example
 * ```ts
 * parseForwardSpec("15432:db.lan:5432");
 * // { bind: "127.0.0.1", port: 15432, host: "db.lan", targetPort: 5432, text: "15432:db.lan:5432" }
 * parseForwardSpec("[::1]:2222:[fd00::5]:22").host; // "fd00::5"
 * ```
 */
export function parseForwardSpec(text: string): ForwardSpec {
  const bad = (why: string) =>
    new SpecError(
      `Forward ${JSON.stringify(text)} ${why}: expected [BIND:]PORT:HOST:PORT, ` +
        `like 15432:127.0.0.1:5432 or [::1]:2222:[fd00::5]:22`,
    );
  const split = splitColons(text);
  if (split === null || (split.parts.length !== 3 && split.parts.length !== 4)) {
    throw bad("is not in the right shape");
  }
  const { parts, bracketed } = split;
  const off = parts.length - 3;
  const listen = parseListen(parts, bracketed, off, bad);
  const target = host(parts[off + 1]!, bracketed[off + 1]!, true);
  if (target === null) throw bad(`has an invalid target host "${parts[off + 1]}"`);
  const targetPort = port(parts[off + 2]!, false);
  if (targetPort === null) throw bad(`has an invalid target port "${parts[off + 2]}"`);
  return { ...listen, host: target, targetPort, text };
}

/**
 * Parses `[BIND:]PORT` (the SOCKS listener, or a UDP forward's local side).
 *
 * @throws {SpecError} quoting the spec.
 * @example
 * ```ts
 * parseListenSpec("1080"); // { bind: "127.0.0.1", port: 1080 }
 * parseListenSpec("[::1]:1080"); // { bind: "::1", port: 1080 }
 * ```
 */
export function parseListenSpec(text: string): ListenSpec {
  const bad = (why: string) =>
    new SpecError(
      `Listen address ${
        JSON.stringify(text)
      } ${why}: expected [BIND:]PORT, like 1080 or 0.0.0.0:1080`,
    );
  const split = splitColons(text);
  if (split === null || split.parts.length > 2) throw bad("is not in the right shape");
  return parseListen(split.parts, split.bracketed, split.parts.length - 1, bad);
}

function parseListen(
  parts: string[],
  bracketed: boolean[],
  portAt: number,
  bad: (why: string) => SpecError,
): ListenSpec {
  let bind = DEFAULT_BIND;
  if (portAt === 1) {
    const written = parts[0]!;
    if (written === "*" && !bracketed[0]) bind = "0.0.0.0";
    else if (written.toLowerCase() === "localhost" && !bracketed[0]) bind = DEFAULT_BIND;
    else {
      const address = host(written, bracketed[0]!, false);
      if (address === null) throw bad(`has an invalid bind address "${written}"`);
      bind = address;
    }
  }
  const local = port(parts[portAt]!, true);
  if (local === null) throw bad(`has an invalid local port "${parts[portAt]}"`);
  return { bind, port: local };
}

/**
 * A forward as messages show it: `127.0.0.1:15432 -> db1 127.0.0.1:5432`.
 *
 * @example
 * ```ts
 * describeForward("db1", { bind: "::1", port: 80, host: "web", targetPort: 8080 });
 * // "[::1]:80 -> db1 web:8080"
 * ```
 */
export function describeForward(
  agent: string,
  spec: Pick<ForwardSpec, "bind" | "port" | "host" | "targetPort">,
): string {
  return `${formatHostPort(spec.bind, spec.port)} -> ${agent} ${
    formatHostPort(spec.host, spec.targetPort)
  }`;
}
