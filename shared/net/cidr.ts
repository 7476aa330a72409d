/**
 * IP networks in CIDR notation and membership tests, for IPv4, IPv6 and
 * IPv4-mapped IPv6 addresses. Pure code: no I/O, no dependencies.
 *
 * Every address is held as a 128-bit `bigint`; an IPv4 address `a.b.c.d` is
 * held as its IPv4-mapped form `::ffff:a.b.c.d`, so `10.0.0.0/8` is the same
 * network as `::ffff:10.0.0.0/104` and matches clients whichever way the
 * socket reports them.
 *
 * @module
 */

/** `::ffff:0:0`, the prefix of IPv4-mapped IPv6 addresses. */
const V4_MAPPED = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

/** One network: its first address and the mask of its prefix. */
interface Network {
  base: bigint;
  mask: bigint;
}

/**
 * Parses a dotted-quad IPv4 address (`192.168.1.7`) into a 32-bit number, or
 * returns null. Leading zeros are refused: `010.0.0.1` is octal to some
 * parsers and decimal to others.
 */
function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const byte = Number(part);
    if (byte > 255) return null;
    value = value * 256 + byte;
  }
  return value;
}

/** Parses up to `max` colon-separated hex groups; null when one is malformed. */
function parseGroups(text: string): number[] | null {
  if (text === "") return [];
  const groups: number[] = [];
  for (const group of text.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    groups.push(parseInt(group, 16));
  }
  return groups;
}

/**
 * Parses an IPv6 address (`2001:db8::1`, `::ffff:10.1.2.3`, `::`) into a
 * 128-bit bigint, or returns null.
 */
function parseIpv6(text: string): bigint | null {
  let head = text;
  let tailV4: number | null = null;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.includes(".", lastColon)) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (tailV4 === null) return null;
    // Keep the colon(s) before the IPv4 part so "::" stays intact.
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const left = parseGroups(halves[0] ?? "");
  const right = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (left === null || right === null) return null;
  const present = left.length + right.length;
  if (halves.length === 2 ? present > 7 : present !== 8) return null;
  const groups = [...left, ...new Array<number>(8 - present).fill(0), ...right];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  if (tailV4 !== null) value = (value & ~0xffffffffn) | BigInt(tailV4);
  return value;
}

/**
 * Parses an IPv4 or IPv6 address into the 128-bit form (IPv4 mapped), with
 * the number of bits its family has (32 or 128), or returns null. A zone
 * (`fe80::1%eth0`) and surrounding brackets (`[::1]`) are ignored.
 */
function parseAddress(text: string): { value: bigint; bits: 32 | 128 } | null {
  let address = text;
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
  const v4 = parseIpv4(address);
  if (v4 !== null) return { value: V4_MAPPED | BigInt(v4), bits: 32 };
  const zone = address.indexOf("%");
  if (zone > 0) address = address.slice(0, zone);
  const v6 = parseIpv6(address);
  return v6 === null ? null : { value: v6, bits: 128 };
}

/** Parses one CIDR (or bare address) into a network; throws a TypeError naming it. */
function parseNetwork(text: string): Network {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  if (addressText.includes("%") || addressText.includes("[")) {
    throw new TypeError(
      `Invalid CIDR ${JSON.stringify(text)}: expected an address like 10.0.0.0/8`,
    );
  }
  const address = parseAddress(addressText);
  if (address === null) {
    throw new TypeError(`Invalid CIDR ${JSON.stringify(text)}: bad IP address`);
  }
  let prefix: number = address.bits;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    prefix = /^(0|[1-9][0-9]{0,2})$/.test(prefixText) ? Number(prefixText) : -1;
    if (prefix < 0 || prefix > address.bits) {
      throw new TypeError(
        `Invalid CIDR ${JSON.stringify(text)}: prefix length must be 0 to ${address.bits}`,
      );
    }
  }
  const hostBits = BigInt(address.bits - prefix);
  const mask = ALL_ONES ^ ((1n << hostBits) - 1n);
  return { base: address.value & mask, mask };
}

/**
 * A set of IP networks. Entries are CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or
 * bare addresses (`192.168.1.7` is `/32`, `::1` is `/128`); host bits set
 * below the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`). IPv4 entries
 * also match IPv4-mapped IPv6 clients (`::ffff:10.1.2.3`).
 *
 * @example
 * ```ts
 * import { CidrSet } from "./cidr.ts";
 * const lan = new CidrSet(["10.0.0.0/8", "::1"]);
 * lan.contains("10.1.2.3"); // true
 * lan.contains("::ffff:10.1.2.3"); // true
 * lan.contains("192.168.0.1"); // false
 * ```
 */
export class CidrSet {
  /** The entries as written. */
  readonly entries: readonly string[];
  readonly #networks: Network[];

  /**
   * Builds a set from `entries`.
   *
   * @throws {TypeError} naming the first entry that is not a valid address or CIDR.
   */
  constructor(entries: Iterable<string>) {
    this.entries = [...entries];
    this.#networks = this.entries.map(parseNetwork);
  }

  /** Number of entries. */
  get size(): number {
    return this.#networks.length;
  }

  /**
   * Whether `ip` (IPv4, IPv6 or IPv4-mapped IPv6, optionally in brackets or
   * with a zone) lies in one of the networks. A string that is not an IP
   * address is in no network: this returns false rather than throwing, so a
   * per-request check fails closed.
   */
  contains(ip: string): boolean {
    const address = parseAddress(ip);
    if (address === null) return false;
    return this.#networks.some((net) => (address.value & net.mask) === net.base);
  }

  /** The entries, comma-separated (for logs). */
  toString(): string {
    return this.entries.join(", ");
  }
}

/**
 * Whether `text` is an IPv4 or IPv6 address (no prefix, brackets or zone).
 *
 * @example
 * ```ts
 * import { isIpAddress } from "./cidr.ts";
 * isIpAddress("::1"); // true
 * isIpAddress("localhost"); // false
 * ```
 */
export function isIpAddress(text: string): boolean {
  return parseIpv4(text) !== null || parseIpv6(text) !== null;
}

/**
 * The block an address counts in when limiting by source: an IPv4 address
 * (plain or IPv4-mapped) is itself, an IPv6 address its /64 network (one
 * host usually holds a whole /64), text that is no address stays as it is.
 *
 * @example
 * ```ts
 * import { addressBlock } from "./cidr.ts";
 * addressBlock("::ffff:192.0.2.7"); // "192.0.2.7"
 * addressBlock("2001:db8:1:2:aaaa::1"); // "2001:db8:1:2::/64"
 * ```
 */
export function addressBlock(text: string): string {
  const parsed = parseAddress(text);
  if (parsed === null) return text;
  const { value } = parsed;
  if (parsed.bits === 32 || value >> 32n === V4_MAPPED >> 32n) {
    const v4 = Number(value & 0xffff_ffffn);
    return [v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join(".");
  }
  const groups = [48n, 32n, 16n, 0n].map((s) => ((value >> (64n + s)) & 0xffffn).toString(16));
  return `${groups.join(":")}::/64`;
}
