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

/** Options of {@linkcode endToEndPairs}. */
export interface EndToEndOptions {
  /**
   * Adds the bytes all the headers (hop-by-hop included) take in an HTTP/1.1
   * head, `name: value\r\n` each, to `bytes`.
   */
  size?: { bytes: number };
  /**
   * The caller owns `headers`, an array, and every pair in it (fresh arrays
   * nobody else holds): the result is that array, filtered and its names
   * lower-cased in place, and no pair is copied.
   */
  reuse?: boolean;
}

/**
 * Lists `headers` without hop-by-hop headers, including every header the
 * `Connection` header names, in one pass: names in lower case, each pair kept
 * as it is (repeated names, Set-Cookie included, stay separate). Takes header
 * pairs or a `Headers` (which iterates as pairs, one per Set-Cookie). The cheap
 * way to forward headers: no `Headers` object is built. The result is a fresh
 * array, or with `reuse` the one given.
 *
 * @example
 * ```ts
 * endToEndPairs([["connection", "close, x-a"], ["x-a", "1"], ["accept", "*\/*"]]);
 * // [["accept", "*\/*"]]
 * ```
 */
export function endToEndPairs(
  headers: Iterable<readonly [string, string]>,
  options?: EndToEndOptions,
): [string, string][] {
  // An index loop, not for-of: no iterator, nor a result object per pair.
  const list = Array.isArray(headers) ? headers as readonly (readonly [string, string])[] : [
    ...headers,
  ];
  const reuse = options?.reuse === true && list === headers;
  const out: [string, string][] = reuse ? headers as [string, string][] : [];
  let kept = 0;
  let named: string[] | null = null;
  let bytes = 0;
  // Writing out[kept] while reading the same array is safe: kept never passes the reader.
  for (let i = 0; i < list.length; i++) {
    const pair = list[i]!;
    const raw = pair[0];
    const value = pair[1];
    bytes += raw.length + value.length + 4;
    const name = raw.toLowerCase();
    if (!HOP_BY_HOP.has(name)) {
      // A pair already in lower case is kept, not copied: one array less per
      // header (pairs are never edited in place, but for `reuse`; PairList replaces them).
      if (reuse) {
        if (name !== raw) (pair as [string, string])[0] = name;
        out[kept] = pair as [string, string];
      } else out[kept] = name === raw ? pair as [string, string] : [name, value];
      kept++;
    } else if (name === "connection") {
      named ??= [];
      for (const token of value.split(",")) named.push(token.trim().toLowerCase());
    }
  }
  out.length = kept;
  if (options?.size !== undefined) options.size.bytes += bytes;
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
    const pairs = this.pairs;
    let out: string | null = null;
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i]!;
      if (pair[0] === name) out = out === null ? pair[1] : `${out}, ${pair[1]}`;
    }
    return out;
  }

  /** True when a `name` (lower case) header exists. */
  has(name: string): boolean {
    const pairs = this.pairs;
    for (let i = 0; i < pairs.length; i++) if (pairs[i]![0] === name) return true;
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
  return { headers: options.headers, clientIp: setForwarded(options) };
}

/**
 * {@linkcode forwardedHeaders} without its result object: sets the headers
 * the same way and returns only the effective client IP.
 *
 * @example
 * ```ts
 * const clientIp = setForwarded({ headers: new PairList([]), clientIp: "203.0.113.7",
 *   trusted: () => false, proto: "https", host: "example.com" });
 * // clientIp === "203.0.113.7"
 * ```
 */
export function setForwarded<H extends HeaderBag>(options: ForwardedOptions<H>): string {
  const { headers, clientIp, trusted, proto, host } = options;
  if (!trusted(clientIp)) {
    headers.set("x-forwarded-for", clientIp);
    headers.set("x-forwarded-proto", proto);
    headers.set("x-forwarded-host", host);
    return clientIp;
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
  return effective;
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

const CROCKFORD_CODES = Array.from("0123456789ABCDEFGHJKMNPQRSTVWXYZ", (c) => c.charCodeAt(0));

/** Random bytes drawn 4 KiB at a time: one call to the system's generator per 409 ids. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/** Character codes of the id being made: 10 for the time (kept while the millisecond lasts), 16 random. */
const idCodes: number[] = new Array(26).fill(0);
/** The millisecond the time codes in {@link idCodes} are for. */
let idMs = -1;

/**
 * A new transaction id: 26 Crockford base-32 characters, 10 for the time in
 * ms (so ids sort by time) and 16 random (80 bits). Built as one string from
 * character codes, not by appending characters (a string per step).
 */
export function transactionId(): string {
  if (poolAt + 10 > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const ms = Date.now();
  if (ms !== idMs) {
    idMs = ms;
    let time = ms;
    for (let i = 9; i >= 0; i--) {
      idCodes[i] = CROCKFORD_CODES[time % 32]!;
      time = Math.floor(time / 32);
    }
  }
  // 80 random bits = 16 characters of 5 bits, from the pool in place.
  let acc = 0;
  let bits = 0;
  let at = 10;
  const end = poolAt + 10;
  for (let i = poolAt; i < end; i++) {
    acc = ((acc << 8) | pool[i]!) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      idCodes[at++] = CROCKFORD_CODES[(acc >> bits) & 31]!;
    }
  }
  poolAt = end;
  return String.fromCharCode.apply(null, idCodes);
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
