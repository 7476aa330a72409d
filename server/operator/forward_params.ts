/**
 * The open parameters of an operator's forward streams, read strictly: a
 * TcpForward is `{ agent, host, port, kind? }` (`kind` "forward", the
 * default, or "socks" for the operator's SOCKS5 front end), a UdpForward
 * `{ agent, host, port }`. Any other key, or a value of the wrong type, is
 * answered ERROR `bad-params` by the server itself, before any agent is
 * asked.
 *
 * @module
 */

import { ForwardError, parseForwardTarget } from "../../shared/forward/mod.ts";
import { isIdentityName, NAME_HINT } from "../../shared/auth/identity_name.ts";
import type { Params } from "../../shared/open/mod.ts";

/** What an operator's forward stream asks for. */
export interface OperatorForward {
  /** The agent's name (lower case). */
  agent: string;
  /** Target host, as the agent will resolve it (IPv6 without brackets). */
  host: string;
  /** Target port, 1–65535. */
  port: number;
  /** The channel kind it is authorised and audited as. */
  kind: "forward" | "socks" | "udp";
}

const TCP_KEYS: ReadonlySet<string> = new Set(["agent", "host", "port", "kind"]);
const UDP_KEYS: ReadonlySet<string> = new Set(["agent", "host", "port"]);

/**
 * Reads the params of an operator's TcpForward (`udp` false) or UdpForward
 * (`udp` true) stream.
 *
 * @throws {ForwardError} code `bad-params`, saying what is wrong.
 * @example
 * ```ts
 * import { parseOperatorForward } from "./forward_params.ts";
 * parseOperatorForward({ agent: "db1", host: "127.0.0.1", port: 5432 }, false);
 * // { agent: "db1", host: "127.0.0.1", port: 5432, kind: "forward" }
 * ```
 */
export function parseOperatorForward(params: Params, udp: boolean): OperatorForward {
  const allowed = udp ? UDP_KEYS : TCP_KEYS;
  for (const key of Object.keys(params)) {
    if (!allowed.has(key)) {
      throw new ForwardError(
        `Unknown ${udp ? "UdpForward" : "TcpForward"} parameter ${JSON.stringify(key)}`,
        "bad-params",
      );
    }
  }
  const agent = params.agent;
  if (typeof agent !== "string" || !isIdentityName(agent.toLowerCase())) {
    throw new ForwardError(
      `Forward parameter "agent" must be ${NAME_HINT}, got ${JSON.stringify(agent)?.slice(0, 80)}`,
      "bad-params",
    );
  }
  const { host, port } = parseForwardTarget(params);
  let kind: OperatorForward["kind"] = udp ? "udp" : "forward";
  if (!udp && params.kind !== undefined) {
    if (params.kind !== "forward" && params.kind !== "socks") {
      throw new ForwardError(
        `Forward parameter "kind" must be "forward" or "socks", got ${
          JSON.stringify(params.kind)?.slice(0, 80)
        }`,
        "bad-params",
      );
    }
    kind = params.kind;
  }
  return { agent: agent.toLowerCase(), host, port, kind };
}
