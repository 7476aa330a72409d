/**
 * The agent's target allowlist for forward streams: which `address:port`
 * an operator may reach through this agent. Checked on the address that is
 * actually dialled, after a name was resolved (once).
 *
 * Entries (one string each):
 * - `host:port`, `host:lo-hi`, `host:*`: an IP address (IPv6 in brackets) or
 *   a DNS name, with a port, a port range, or every port;
 * - `cidr:ports`: a network, `10.0.0.0/8:1-65535`, `[fd00::/8]:22`;
 * - `localhost` (every port) or `localhost:ports`: the agent machine itself,
 *   127.0.0.0/8 and ::1 (whatever the name resolves to).
 *
 * A name entry allows the addresses that name resolves to, when the operator
 * asked for that name. Guarded addresses (`address_class.ts`: cloud
 * metadata, link-local, multicast, broadcast, unspecified) pass only an IP
 * entry lying inside their class: `169.254.169.254:80` opens the metadata
 * service, `0.0.0.0/0:*` does not.
 *
 * @module
 */

import { CidrSet, isIpAddress } from "../../shared/net/cidr.ts";
import { isHostname } from "../../shared/net/address.ts";
import { formatHostPort } from "../../shared/forward/target.ts";
import { classOf, networkInside, prefix128Of } from "./address_class.ts";

/** One parsed allowlist entry. */
interface AllowEntry {
  /** As written. */
  text: string;
  /** Lowest and highest allowed port. */
  low: number;
  high: number;
  /** Network of an IP or CIDR entry (or the loopback networks of `localhost`). */
  network: CidrSet | null;
  /** First address of an IP or CIDR entry as written, and its 128-bit prefix length. */
  base: string;
  prefix128: number;
  /** Lower-case name of a name entry. */
  name: string | null;
}

/** The agent machine itself. */
const LOOPBACK = new CidrSet(["127.0.0.0/8", "::1"]);

/** The allowlist when none is configured: the agent machine itself, any port. */
export const DEFAULT_ALLOW: readonly string[] = ["localhost"];

/** Parses `lo-hi`, `port` or `*`; null when malformed or out of range. */
function parsePorts(text: string): [number, number] | null {
  if (text === "*") return [1, 65535];
  const match = /^([1-9][0-9]{0,4})(?:-([1-9][0-9]{0,4}))?$/.exec(text);
  if (match === null) return null;
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  return low <= high && high <= 65535 ? [low, high] : null;
}

/**
 * Parses one allowlist entry.
 *
 * @throws {TypeError} saying what is wrong, quoting the entry.
 */
export function parseAllowEntry(text: string): AllowEntry {
  const bad = (why: string) =>
    new TypeError(
      `Allowlist entry ${
        JSON.stringify(text)
      } ${why} (like "10.0.0.0/8:1-65535", "[::1]:22", "db.lan:5432" or "localhost")`,
    );
  if (text.toLowerCase() === "localhost") {
    return { text, low: 1, high: 65535, network: LOOPBACK, base: "", prefix128: 0, name: null };
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):([^:]+)$/.exec(text);
  if (match === null) throw bad("is not host:ports");
  const host = match[1] ?? match[2] ?? "";
  const ports = parsePorts(match[3] ?? "");
  if (ports === null) throw bad("has an invalid port or port range (1-65535, lo-hi or *)");
  const [low, high] = ports;
  if (match[1] === undefined && host.toLowerCase() === "localhost") {
    return { text, low, high, network: LOOPBACK, base: "", prefix128: 0, name: null };
  }
  const [address = "", prefix] = host.split("/");
  if (isIpAddress(address)) {
    if (address.includes(":") !== (match[1] !== undefined)) {
      throw bad(
        address.includes(":")
          ? "needs its IPv6 address in brackets"
          : "has brackets around an IPv4 address",
      );
    }
    let network: CidrSet;
    try {
      network = new CidrSet([host]);
    } catch (e) {
      throw bad(`has an invalid network: ${(e as Error).message}`);
    }
    const prefix128 = prefix128Of(host);
    return { text, low, high, network, base: address, prefix128, name: null };
  }
  if (prefix !== undefined || match[1] !== undefined || !isHostname(host.replace(/\.$/, ""))) {
    throw bad("has neither an IP address, a network nor a host name");
  }
  const name = host.toLowerCase().replace(/\.$/, "");
  return { text, low, high, network: null, base: "", prefix128: 0, name };
}

/** The verdict on one address: allowed, or the reason it is not (for "refused by agent policy: …"). */
export type Verdict = { allowed: true } | { allowed: false; reason: string };

/**
 * The allowlist of one agent.
 *
 * @example
 * ```ts
 * const list = new Allowlist(["10.0.0.0/8:22", "db.lan:5432"]);
 * list.check("10.1.2.3", 22).allowed; // true
 * list.check("10.1.2.3", 80); // { allowed: false, reason: "10.1.2.3:80 is not in the agent's allowlist" }
 * list.check("192.168.1.9", 5432, "db.lan").allowed; // true: the name was asked for
 * new Allowlist().check("169.254.169.254", 80); // reason "169.254.169.254:80 is cloud metadata"
 * ```
 */
export class Allowlist {
  /** The entries as written. */
  readonly entries: readonly string[];
  readonly #entries: AllowEntry[];

  /**
   * Builds an allowlist; with no entries given, {@linkcode DEFAULT_ALLOW}.
   * An empty array allows nothing.
   *
   * @throws {TypeError} naming the first malformed entry.
   */
  constructor(entries: readonly string[] = DEFAULT_ALLOW) {
    this.entries = [...entries];
    this.#entries = this.entries.map(parseAllowEntry);
  }

  /**
   * Whether `address:port` may be dialled. `name` is the host name the
   * operator asked for, when `address` came from resolving it (lower case,
   * no trailing dot).
   */
  check(address: string, port: number, name?: string): Verdict {
    const guarded = classOf(address);
    for (const e of this.#entries) {
      if (port < e.low || port > e.high) continue;
      if (e.name !== null) {
        if (guarded === null && e.name === name) return { allowed: true };
        continue;
      }
      if (e.network === null || !e.network.contains(address)) continue;
      // `localhost` has no base: loopback is never guarded.
      if (guarded === null || networkInside(e.base, e.prefix128, guarded)) return { allowed: true };
    }
    const where = formatHostPort(address, port);
    const asked = name === undefined ? where : `${formatHostPort(name, port)} (${address})`;
    if (guarded !== null) return { allowed: false, reason: `${asked} is ${guarded.name}` };
    return { allowed: false, reason: `${asked} is not in the agent's allowlist` };
  }
}
