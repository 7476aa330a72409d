/**
 * Pure header helpers of the reverse proxy: hop-by-hop stripping,
 * `X-Forwarded-*` on header pairs, transaction ids and a wire form of
 * `Headers` that keeps every `Set-Cookie`.
 *
 * @module
 */

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), lower case: they describe one
 * connection and are never forwarded. `proxy-connection` is not standard but
 * old clients send it, so proxies drop it too (as Go's `httputil` does).
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Lists `headers` without hop-by-hop headers, including every header the
 * `Connection` header names, in one pass: names in lower case, each pair kept
 * as it is (repeated names, Set-Cookie included, stay separate). Takes header
 * pairs or a `Headers` (which iterates as pairs, one per Set-Cookie). The cheap
 * way to forward headers: no `Headers` object is built. With `size`, adds the
 * bytes all the headers (hop-by-hop included) take in an HTTP/1.1 head,
 * `name: value\r\n` each, to `size.bytes`.
 *
 * @example
 * ```ts
 * endToEndPairs([["connection", "close, x-a"], ["x-a", "1"], ["accept", "*\/*"]]);
 * // [["accept", "*\/*"]]
 * ```
 */
export function endToEndPairs(
  headers: Iterable<readonly [string, string]>,
  size?: { bytes: number },
): [string, string][] {
  const out: [string, string][] = [];
  let named: string[] | null = null;
  let bytes = 0;
  for (const pair of headers) {
    const raw = pair[0];
    const value = pair[1];
    bytes += raw.length + value.length + 4;
    const name = raw.toLowerCase();
    // A pair already in lower case is kept, not copied: one array less per
    // header (pairs are never edited in place; PairList replaces them).
    if (!HOP_BY_HOP.has(name)) out.push(name === raw ? pair as [string, string] : [name, value]);
    else if (name === "connection") {
      named ??= [];
      for (const token of value.split(",")) named.push(token.trim().toLowerCase());
    }
  }
  if (size !== undefined) size.bytes += bytes;
  if (named === null) return out;
  const drop = new Set(named);
  return out.filter(([name]) => !drop.has(name));
}

/** The header calls {@linkcode forwardedHeaders} makes: `Headers` and {@linkcode PairList} have them. */
export interface HeaderBag {
  /** The value of `name` (repeated headers joined with ", "), or null. */
  get(name: string): string | null;
  /** Replaces every `name` header with one. */
  set(name: string, value: string): void;
  /** True when a `name` header exists. */
  has(name: string): boolean;
}

/**
 * Header pairs (names in lower case) with the few `Headers` calls the proxy
 * needs, editing the array in place: cheaper than a `Headers` object, whose
 * every call validates and whose iteration sorts.
 *
 * @example
 * ```ts
 * const list = new PairList([["x-a", "1"], ["x-a", "2"]]);
 * list.get("x-a"); // "1, 2"
 * list.set("x-b", "3");
 * list.pairs; // [["x-a", "1"], ["x-a", "2"], ["x-b", "3"]]
 * ```
 */
export class PairList implements HeaderBag {
  /** The pairs, edited in place. */
  readonly pairs: [string, string][];

  /** Wraps `pairs` (names must be lower case already). */
  constructor(pairs: [string, string][]) {
    this.pairs = pairs;
  }

  /** The value of `name` (lower case), repeated headers joined with ", "; null when absent. */
  get(name: string): string | null {
    let out: string | null = null;
    for (const [n, v] of this.pairs) {
      if (n === name) out = out === null ? v : `${out}, ${v}`;
    }
    return out;
  }

  /** True when a `name` (lower case) header exists. */
  has(name: string): boolean {
    for (const pair of this.pairs) if (pair[0] === name) return true;
    return false;
  }

  /** Replaces every `name` (lower case) header with one, at the end. */
  set(name: string, value: string): void {
    this.delete(name);
    this.pairs.push([name, value]);
  }

  /** Removes every `name` (lower case) header. */
  delete(name: string): void {
    const pairs = this.pairs;
    let j = 0;
    for (let i = 0; i < pairs.length; i++) {
      if (pairs[i]![0] !== name) pairs[j++] = pairs[i]!;
    }
    pairs.length = j;
  }
}

/** What {@link forwardedHeaders} needs to know about the request. */
export interface ForwardedOptions<H extends HeaderBag = Headers> {
  /** Request headers; `X-Forwarded-*` are set on this object. */
  headers: H;
  /** Address of the direct peer (the TCP connection), e.g. `"203.0.113.7"` or `"::1"`. */
  clientIp: string;
  /** Whether an address belongs to a proxy whose `X-Forwarded-*` headers are believed. */
  trusted: (ip: string) => boolean;
  /** Scheme the request arrived on: `"http"` or `"https"`. */
  proto: string;
  /** Host the request was for, as the client sent it. */
  host: string;
}

/** What {@link forwardedHeaders} returns. */
export interface Forwarded<H extends HeaderBag = Headers> {
  /** The `headers` passed in, with `X-Forwarded-*` set. */
  headers: H;
  /** The effective client IP. */
  clientIp: string;
}

/**
 * Sets `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` on
 * `headers` (mutating it) and returns them with the effective client IP.
 *
 * When the direct peer is trusted, the peer is appended to the existing
 * `X-Forwarded-For` chain, an existing `X-Forwarded-Proto`/`-Host` is kept,
 * and the effective client is found by walking the chain from the right past
 * trusted addresses: the first untrusted one, or the left-most entry if all are
 * trusted. An entry that is not an IP address ends the walk at the trusted hop
 * that reported it. When the peer is not trusted, all three headers are
 * replaced and the peer is the client.
 *
 * @example
 * ```ts
 * const headers = new Headers({ "x-forwarded-for": "198.51.100.1" });
 * const { clientIp } = forwardedHeaders({ headers, clientIp: "10.0.0.2", trusted: (a) => a.startsWith("10."),
 *   proto: "https", host: "example.com" });
 * // clientIp === "198.51.100.1"; x-forwarded-for: "198.51.100.1, 10.0.0.2"
 * ```
 */
export function forwardedHeaders<H extends HeaderBag>(
  options: ForwardedOptions<H>,
): Forwarded<H> {
  const { headers, clientIp, trusted, proto, host } = options;
  if (!trusted(clientIp)) {
    headers.set("x-forwarded-for", clientIp);
    headers.set("x-forwarded-proto", proto);
    headers.set("x-forwarded-host", host);
    return { headers, clientIp };
  }
  const prior = (headers.get("x-forwarded-for") ?? "").split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const chain = [...prior, clientIp];
  headers.set("x-forwarded-for", chain.join(", "));
  if (!headers.has("x-forwarded-proto")) headers.set("x-forwarded-proto", proto);
  if (!headers.has("x-forwarded-host")) headers.set("x-forwarded-host", host);
  let effective = clientIp;
  for (let i = prior.length - 1; i >= 0; i--) {
    const ip = normalizeIp(prior[i]!);
    if (ip === null) break;
    effective = ip;
    if (!trusted(ip)) break;
  }
  return { headers, clientIp: effective };
}

/**
 * The bare IP address of an `X-Forwarded-For` entry (brackets and a port
 * removed), or null when it is not an IP address (`unknown`, a hostname).
 */
export function normalizeIp(entry: string): string | null {
  let s = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(":"));
  if (IPV4.test(s)) return s;
  if (!s.includes(":") || !/^[\da-fA-F:.]+$/.test(s)) return null;
  try {
    new URL(`http://[${s}]/`);
    return s;
  } catch {
    return null;
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Random bytes drawn 4 KiB at a time: one call to the system's generator per 409 ids. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/** The time part of the last id made, and the millisecond it is for: one per ms at most. */
let timePart = { ms: -1, text: "" };

function timeChars(ms: number): string {
  if (ms === timePart.ms) return timePart.text;
  let text = "";
  let time = ms;
  for (let i = 0; i < 10; i++) {
    text = CROCKFORD[time % 32]! + text;
    time = Math.floor(time / 32);
  }
  timePart = { ms, text };
  return text;
}

export function transactionId(): string {
  if (poolAt + 10 > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  let out = timeChars(Date.now());
  // 80 random bits = 16 characters of 5 bits, from the pool in place.
  let acc = 0;
  let bits = 0;
  const end = poolAt + 10;
  for (let i = poolAt; i < end; i++) {
    acc = ((acc << 8) | pool[i]!) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31]!;
    }
  }
  poolAt = end;
  return out;
}

/**
 * Lists `headers` as name/value pairs (names in lower case), with one pair
 * per `Set-Cookie` value, which must never be joined.
 *
 * @example
 * ```ts
 * const h = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
 * headersToPairs(h); // [["set-cookie", "a=1"], ["set-cookie", "b=2"]]
 * ```
 */
export function headersToPairs(headers: Headers): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of headers) {
    if (name !== "set-cookie") pairs.push([name, value]);
  }
  for (const cookie of headers.getSetCookie()) pairs.push(["set-cookie", cookie]);
  return pairs;
}

/**
 * Builds `Headers` from name/value pairs, appending repeated names (so every
 * `Set-Cookie` stays separate).
 *
 * @throws {TypeError} on an invalid header name or value.
 * @example
 * ```ts
 * pairsToHeaders([["set-cookie", "a=1"], ["set-cookie", "b=2"]]).getSetCookie(); // ["a=1", "b=2"]
 * ```
 */
export function pairsToHeaders(pairs: Iterable<readonly [string, string]>): Headers {
  const headers = new Headers();
  for (const [name, value] of pairs) headers.append(name, value);
  return headers;
}
