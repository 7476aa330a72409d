/**
 * The Http head codec (see `docs/protocol.md`, "Http streams"): the typed
 * request and response heads, and their text encoding in the open message of
 * an Http stream and its OK reply, validated on decoding.
 *
 * An Http head is a list of fields separated by LF (`\n`), which no field
 * may contain: a request head is `domain, method, target, client, tid,
 * flags` then header name/value pairs; a response head is `status,
 * protocol` then the pairs. Cheaper than JSON on the per-request path: no
 * quoting to make, one `split` to read.
 *
 * @module
 */

import { OpenError } from "../open/message.ts";

/** A header list in wire order; repeated names (Set-Cookie) stay separate. */
export type HeaderPairs = [string, string][];

/** The request head the server sends to the agent when it opens an Http stream. */
export interface HttpRequestHead {
  /** Domain the request is for. */
  domain: string;
  /** Request method. */
  method: string;
  /** Path and query as the client sent them (`/a/b?c=d`), or `*` for `OPTIONS *`. */
  target: string;
  /** Request headers, hop-by-hop ones removed, X-Forwarded-* added. */
  headers: HeaderPairs;
  /** The client's IP address as the server sees it. */
  client: string;
  /** Transaction id of the request. */
  tid: string;
  /** True for a WebSocket upgrade: after OK the stream carries relayed messages. */
  ws: boolean;
  /** True when a request body follows the head (until the server's FIN). */
  body: boolean;
}

/** The response head the agent answers with (data of the OK reply). */
export interface HttpResponseHead {
  /** Status code (101 for an accepted WebSocket upgrade). */
  status: number;
  /** Response headers, hop-by-hop ones removed. */
  headers: HeaderPairs;
  /** Subprotocol the backend chose, for WebSocket upgrades. */
  protocol?: string;
}

/** Fields of a request head before its header pairs. */
const REQUEST_FIELDS = 6;
/** Fields of a response head before its header pairs. */
const RESPONSE_FIELDS = 2;
/** A status code as a response head carries it. */
const STATUS = /^[1-5][0-9][0-9]$/;

function badHead(message: string): OpenError {
  return new OpenError(message, "bad-head");
}

/** `field`, refused when it contains the separator (a caller's bug: Deno and our parsers never let one through). */
function line(field: string, what: string): string {
  if (field.indexOf("\n") !== -1) throw new TypeError(`${what} contains a line feed`);
  return field;
}

/** Appends the header pairs to an encoded head. */
function withHeaders(text: string, headers: HeaderPairs): string {
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    text += "\n" + line(name, "A header name") + "\n" + line(value, `Header ${name}`);
  }
  return text;
}

/** Header pairs from the fields after the fixed ones. */
function headersFrom(fields: string[], start: number): HeaderPairs {
  if ((fields.length - start) % 2 !== 0) throw badHead("Http head has a header name without value");
  const headers: HeaderPairs = new Array((fields.length - start) / 2);
  for (let i = start, j = 0; i < fields.length; i += 2, j++) {
    headers[j] = [fields[i]!, fields[i + 1]!];
  }
  return headers;
}

/**
 * Encodes the body of an Http open message.
 *
 * @throws {TypeError} when a field contains a line feed.
 * @example
 * ```ts
 * const text = encodeRequestHead({
 *   domain: "app.example.com", method: "GET", target: "/", headers: [["accept", "*\/*"]],
 *   client: "203.0.113.7", tid: "4f2c", ws: false, body: false,
 * });
 * ```
 */
export function encodeRequestHead(head: HttpRequestHead): string {
  const flags = head.ws ? (head.body ? "wb" : "w") : head.body ? "b" : "";
  return withHeaders(
    line(head.domain, "The domain") + "\n" + line(head.method, "The method") + "\n" +
      line(head.target, "The target") + "\n" + line(head.client, "The client address") +
      "\n" + line(head.tid, "The transaction id") + "\n" + flags,
    head.headers,
  );
}

/**
 * Decodes and validates the body of an Http open message.
 *
 * @throws {OpenError} "bad-head" naming the first field that is wrong.
 */
export function decodeRequestHead(text: string): HttpRequestHead {
  const fields = text.split("\n");
  if (fields.length < REQUEST_FIELDS) {
    throw badHead(`Http request head has ${fields.length} fields, expected at least 6`);
  }
  const [domain, method, target, client, tid, flags] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (domain.length === 0 || domain.length > 253) throw badHead("Http request head: bad domain");
  if (method.length === 0 || method.length > 32) throw badHead("Http request head: bad method");
  // An origin-form path, or the asterisk form of `OPTIONS *`.
  if ((target[0] !== "/" && target !== "*") || target.length > 65536) {
    throw badHead(`Http request head: the target must start with "/" or be "*"`);
  }
  if (client.length > 64) throw badHead("Http request head: bad client address");
  if (tid.length > 64) throw badHead("Http request head: bad transaction id");
  if (flags !== "" && flags !== "b" && flags !== "w" && flags !== "wb") {
    throw badHead(`Http request head: unknown flags ${JSON.stringify(flags)}`);
  }
  return {
    domain,
    method,
    target,
    headers: headersFrom(fields, REQUEST_FIELDS),
    client,
    tid,
    ws: flags[0] === "w",
    body: flags[flags.length - 1] === "b",
  };
}

/**
 * Encodes the body of an Http OK reply.
 *
 * @throws {TypeError} when a field contains a line feed.
 */
export function encodeResponseHead(head: HttpResponseHead): string {
  return withHeaders(
    head.status + "\n" + line(head.protocol ?? "", "The subprotocol"),
    head.headers,
  );
}

/**
 * Decodes and validates the body of an Http OK reply.
 *
 * @throws {OpenError} "bad-head" when the status or the fields are wrong.
 */
export function decodeResponseHead(text: string): HttpResponseHead {
  const fields = text.split("\n");
  if (fields.length < RESPONSE_FIELDS) {
    throw badHead("Http response head without subprotocol field");
  }
  const code = fields[0]!;
  if (!STATUS.test(code)) {
    throw badHead(`Http response head: ${JSON.stringify(code.slice(0, 16))} is not a status code`);
  }
  const head: HttpResponseHead = {
    status: Number(code),
    headers: headersFrom(fields, RESPONSE_FIELDS),
  };
  if (fields[1] !== "") head.protocol = fields[1];
  return head;
}
