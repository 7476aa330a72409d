/**
 * The client's half of the WebSocket opening handshake (RFC 6455 §4.1): the
 * request head, and the checks of the server's answer. Text in, text out;
 * no I/O.
 *
 * @module
 */

import { VERSION } from "../version.ts";
import { DialError } from "../transport/dial_error.ts";

/** Headers the handshake sets itself; a caller may not pass them. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);

/** An HTTP token (RFC 9110 §5.6.2), what a subprotocol name must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Fixed GUID of RFC 6455 §1.3, hashed with the key into Sec-WebSocket-Accept. */
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * Checks subprotocol names and extra headers before a dial: names must be
 * distinct HTTP tokens, and no header may be one the handshake sets itself.
 * Returns the headers as a `Headers` object.
 *
 * @throws {TypeError} on an invalid subprotocol name or a reserved header.
 * @example
 * ```ts
 * const extra = checkHandshakeOptions(["burrow.v1"], { authorization: "Bearer t0ken" });
 * ```
 */
export function checkHandshakeOptions(protocols: string[], headers?: HeadersInit): Headers {
  for (const p of protocols) {
    if (!TOKEN.test(p)) throw new TypeError(`Invalid subprotocol name "${p}"`);
  }
  if (new Set(protocols).size !== protocols.length) {
    throw new TypeError(`Duplicate subprotocol in "${protocols.join(", ")}"`);
  }
  const extra = new Headers(headers);
  for (const name of extra.keys()) {
    if (RESERVED_HEADERS.has(name)) {
      throw new TypeError(`Cannot set header "${name}": the WebSocket handshake sets it`);
    }
  }
  return extra;
}

/** A fresh Sec-WebSocket-Key and the Sec-WebSocket-Accept a server must answer it with. */
export async function makeKey(): Promise<{ key: string; accept: string }> {
  const key = base64(crypto.getRandomValues(new Uint8Array(16)));
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + ACCEPT_GUID));
  return { key, accept: base64(new Uint8Array(digest)) };
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** The upgrade request's head, blank line included. */
export function requestHead(url: URL, key: string, protocols: string[], extra: Headers): string {
  const lines = [
    `GET ${url.pathname || "/"}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(", ")}`);
  if (!extra.has("user-agent")) lines.push(`User-Agent: burrow/${VERSION}`);
  for (const [name, value] of extra) lines.push(`${name}: ${value}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

/** Index of the first CRLFCRLF at or after `from`, or -1. */
export function indexOfBlankLine(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** A parsed HTTP/1.1 response head. */
export interface ResponseHead {
  /** Status code. */
  status: number;
  /** Reason phrase; may be empty. */
  text: string;
  /** Header fields. */
  headers: Headers;
}

/** Status line and headers of an HTTP/1.1 response head (no blank line); null when malformed. */
export function parseHead(head: string): ResponseHead | null {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) return null;
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return null;
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      return null;
    }
  }
  return { status: Number(match[1]), text: match[2] ?? "", headers };
}

/**
 * Checks the headers of a 101 answer: Upgrade, Connection, the accept
 * value, no extension, and a subprotocol among those `offered` (or none).
 * Returns the problem, or null when the upgrade is valid.
 */
export function checkUpgrade(
  headers: Headers,
  accept: string,
  offered: string[],
): DialError | null {
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new DialError(`101 response has Upgrade "${headers.get("upgrade")}"`, "handshake");
  }
  const connection = (headers.get("connection") ?? "").toLowerCase().split(/\s*,\s*/);
  if (!connection.includes("upgrade")) {
    return new DialError(`101 response has Connection "${headers.get("connection")}"`, "handshake");
  }
  if (headers.get("sec-websocket-accept") !== accept) {
    return new DialError("101 response has a wrong Sec-WebSocket-Accept", "handshake");
  }
  if (headers.has("sec-websocket-extensions")) {
    const ext = headers.get("sec-websocket-extensions");
    return new DialError(`Server chose extension "${ext}", none was offered`, "handshake");
  }
  const protocol = headers.get("sec-websocket-protocol");
  if (protocol !== null && !offered.includes(protocol)) {
    return new DialError(
      `Server chose subprotocol "${protocol}", not one of "${offered.join(", ")}"`,
      "subprotocol",
    );
  }
  return null;
}
