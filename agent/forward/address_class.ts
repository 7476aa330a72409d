/**
 * Address classes a forward never reaches by accident: cloud metadata,
 * link-local, multicast, broadcast and the unspecified address. The agent's
 * allowlist lets one through only when an entry names it explicitly (an
 * entry that lies inside the class, never a broad CIDR that covers it).
 *
 * @module
 */

import { CidrSet, isIpAddress } from "../../shared/net/cidr.ts";

/** One guarded class of addresses. */
export interface AddressClass {
  /** Short name for logs and the refusal message ("cloud metadata"). */
  name: string;
  /** The class's networks, each with its prefix length in the 128-bit form. */
  networks: readonly { set: CidrSet; prefix128: number }[];
}

function network(cidr: string): { set: CidrSet; prefix128: number } {
  return { set: new CidrSet([cidr]), prefix128: prefix128Of(cidr) };
}

/**
 * The guarded classes, most specific first: cloud metadata lies inside
 * link-local and must be named on its own.
 */
export const GUARDED_CLASSES: readonly AddressClass[] = [
  {
    name: "cloud metadata",
    networks: [network("169.254.169.254/32"), network("fd00:ec2::254/128")],
  },
  { name: "link-local", networks: [network("169.254.0.0/16"), network("fe80::/10")] },
  { name: "multicast", networks: [network("224.0.0.0/4"), network("ff00::/8")] },
  { name: "broadcast", networks: [network("255.255.255.255/32")] },
  { name: "the unspecified address", networks: [network("0.0.0.0/8"), network("::/128")] },
];

/**
 * The prefix length of `cidr` (or a bare address) in the 128-bit form the
 * CIDR code uses: an IPv4 `/p` is `/(96 + p)`, a bare address is a full prefix.
 *
 * @example
 * ```ts
 * prefix128Of("10.0.0.0/8"); // 104
 * prefix128Of("::1"); // 128
 * ```
 */
export function prefix128Of(cidr: string): number {
  const [address = "", prefix] = cidr.split("/");
  const v4 = !address.includes(":");
  const bits = prefix === undefined ? (v4 ? 32 : 128) : Number(prefix);
  return v4 ? 96 + bits : bits;
}

/**
 * The guarded class `address` is in, or null for an ordinary address. Any
 * string that is not an IP address is treated as unspecified (fails closed).
 *
 * @example
 * ```ts
 * classOf("169.254.169.254")?.name; // "cloud metadata"
 * classOf("::ffff:169.254.1.1")?.name; // "link-local"
 * classOf("127.0.0.1"); // null
 * ```
 */
export function classOf(address: string): AddressClass | null {
  if (!isIpAddress(address)) return GUARDED_CLASSES[GUARDED_CLASSES.length - 1]!;
  for (const c of GUARDED_CLASSES) {
    if (c.networks.some((n) => n.set.contains(address))) return c;
  }
  return null;
}

/**
 * Whether the network `base/prefix128` lies wholly inside one of the
 * networks of `c` (so naming it is naming that part of the class explicitly).
 */
export function networkInside(base: string, prefix128: number, c: AddressClass): boolean {
  return c.networks.some((n) => prefix128 >= n.prefix128 && n.set.contains(base));
}
