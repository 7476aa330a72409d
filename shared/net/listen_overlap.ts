/**
 * Whether two listening addresses want one socket, so that the second bind
 * would fail (Linux): what the config loaders check `listen`,
 * `agentCertificates.listen` and `publish` against.
 *
 * @module
 */

import type { HostPort } from "./address.ts";

/** An address an IPv4 socket could take: dotted IPv4, or IPv4-mapped IPv6. */
function isIPv4Side(hostname: string): boolean {
  return !hostname.includes(":") || hostname.toLowerCase().startsWith("::ffff:");
}

/** Whether a socket on wildcard host `wildcard` takes the port on `other` too. */
function wildcardTakes(wildcard: string, other: string): boolean {
  // `::` is dual-stack (Linux's default bindv6only=0): every address; `0.0.0.0`
  // only the IPv4 ones and `::` (which wants IPv4 too), not `::1` or `2001:db8::5`.
  if (wildcard === "::") return true;
  return wildcard === "0.0.0.0" && (isIPv4Side(other) || other === "::");
}

/**
 * Whether listening on `a` and on `b` would want the same socket: the same
 * port (not 0), and the same host or a wildcard on either side that covers
 * the other (Linux refuses to bind both): `::` covers every address,
 * `0.0.0.0` the IPv4 ones and `::`.
 *
 * @example
 * ```ts
 * import { listenOverlaps } from "./listen_overlap.ts";
 * listenOverlaps({ hostname: "0.0.0.0", port: 22 }, { hostname: "127.0.0.1", port: 22 }); // true
 * listenOverlaps({ hostname: "127.0.0.1", port: 0 }, { hostname: "127.0.0.1", port: 0 }); // false
 * ```
 */
export function listenOverlaps(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  return a.hostname === b.hostname || wildcardTakes(a.hostname, b.hostname) ||
    wildcardTakes(b.hostname, a.hostname);
}
