/**
 * Stream-open messages: the first bytes of every stream name its kind and
 * parameters; the accepting side answers OK or ERROR before any payload
 * flows. A pure codec, no I/O. Wire format in `docs/protocol.md`.
 *
 * Both messages share one frame layout, integers big-endian:
 *
 * | offset | size | field                                            |
 * | ------ | ---- | ------------------------------------------------ |
 * | 0      | 1    | version, {@linkcode OPEN_VERSION}                |
 * | 1      | 1    | open: stream kind; reply: status (0 OK, 1 ERROR) |
 * | 2      | 4    | length of the body                               |
 * | 6      | n    | body: a UTF-8 JSON object, or text for {@linkcode TEXT_KINDS} |
 *
 * @module
 */

/**
 * Version of the stream-open layer; a message with another version is
 * refused. Version 2: Http heads are text lines instead of JSON.
 */
export const OPEN_VERSION = 2;

/** Size of the fixed part of an open or reply message. */
export const OPEN_HEADER_SIZE = 6;

/**
 * Default limit of a message body, in bytes. Readers may allow more (an Http
 * stream's head is as large as the server's header-size limit).
 */
export const MAX_BODY_SIZE = 16 * 1024;

/**
 * Kinds of stream. The opener names one; the acceptor serves it or answers
 * ERROR "unknown-kind". Values are fixed forever; new kinds get new values.
 */
export const StreamKind = {
  /** Server → agent: one proxied HTTP request. Params: `{ domain }`. */
  Http: 0x01,
  /** Agent → server: the agent's control channel (hello, domains, heartbeat). */
  Control: 0x02,
  /** Agent → server: the agent's identity (`shared/identify.ts`). Params: `{ name, secret, agent }`. */
  Identify: 0x03,
  /**
   * Operator → agent (via server): a TCP connection. Params: `{ host, port }`.
   * The agent resolves a name once, checks the address it dials against its
   * allowlist, dials, and answers OK `{ address, port }` or ERROR (`policy`,
   * `connection-refused`, …); then raw bytes both ways, FIN as TCP half-close.
   * See `shared/forward/`.
   */
  TcpForward: 0x10,
  /**
   * Operator → agent (via server): one UDP flow. Params: `{ host, port }`,
   * checked as for TcpForward; then datagrams both ways, each a 2-byte
   * length and 0–65,535 bytes; the agent ends a flow idle for its
   * `forward.udpIdleTimeout` with FIN. See `shared/forward/datagram.ts`.
   */
  UdpForward: 0x11,
  /** Operator → agent (via server): a terminal. Params: `{ cols, rows, command? }`. */
  Pty: 0x12,
  /** Operator → agent: a command for an open terminal, e.g. resize. Params: `{ sid, type, cols, rows }`. */
  PtyCommand: 0x13,
  /** Server → agent: reload the agent's configuration. */
  Reload: 0x14,
  /** Agent → server: diagnostics from a plugin. Params: `{ plugin }`. */
  Diagnostics: 0x20,
  /** Server → agent: a management command (add or remove a service). Params: `{ command, … }`. */
  Command: 0x21,
} as const;

/** A stream kind value. */
export type StreamKind = typeof StreamKind[keyof typeof StreamKind];

/**
 * Kinds whose open body and OK reply body are UTF-8 text in a kind-specific
 * format (an Http head: `shared/http/head_codec.ts`), not a JSON object:
 * cheaper to make and read on the per-request path. ERROR replies are JSON
 * for every kind.
 */
export const TEXT_KINDS: ReadonlySet<number> = new Set([StreamKind.Http]);

/** Name of a known kind, or its hex value. */
export function kindName(kind: number): string {
  for (const [name, value] of Object.entries(StreamKind)) if (value === kind) return name;
  return `0x${kind.toString(16).padStart(2, "0")}`;
}

/** Reply status byte. */
export const ReplyStatus = { Ok: 0, Error: 1 } as const;

/** JSON parameters of an open message or the data of a reply. */
export type Params = Record<string, unknown>;

/** An open request of a JSON kind. */
export interface OpenMessage {
  /** What the stream is for. */
  kind: number;
  /** Kind-specific parameters. */
  params: Params;
}

/** An open request of a text kind ({@linkcode TEXT_KINDS}). */
export interface TextOpenMessage {
  /** What the stream is for. */
  kind: number;
  /** The body, in the kind's text format. */
  text: string;
}

/** The acceptor's ERROR answer. */
export interface ErrorReply {
  ok: false;
  code: string;
  message: string;
}

/** The acceptor's answer to a JSON kind. */
export type Reply = { ok: true; data: Params } | ErrorReply;

/** The acceptor's answer to a text kind. */
export type TextReply = { ok: true; text: string } | ErrorReply;

/** Why an open or reply message was refused. */
export type OpenErrorCode =
  | "bad-version"
  | "bad-status"
  | "too-large"
  | "bad-json"
  | "bad-text"
  | "bad-head"
  | "truncated"
  | "unexpected-data"
  | "timeout"
  | "unknown-kind"
  | "refused";

/**
 * A stream-open exchange failed: a malformed message, or an ERROR reply
 * (`code` "refused", with the acceptor's code in `remoteCode`).
 */
export class OpenError extends Error {
  /** Error class name, for logs and `instanceof`-free checks. */
  override name = "OpenError";
  /** Machine-readable reason. */
  readonly code: OpenErrorCode;
  /** For "refused": the code the acceptor sent. */
  readonly remoteCode: string | undefined;

  /** Creates an open error. */
  constructor(message: string, code: OpenErrorCode, remoteCode?: string) {
    super(message);
    this.code = code;
    this.remoteCode = remoteCode;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encoded messages are cut from 64 KiB slabs: allocating a small typed array
 * costs about 1 µs (its memory lives outside the JavaScript heap), a view of a
 * slab almost nothing. Messages are short-lived (the mux copies them into its
 * write batch), so a slab is garbage soon after it is used up.
 */
const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

function frame(second: number, body: Params | string, maxBody: number): Uint8Array {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  const room = OPEN_HEADER_SIZE + 3 * text.length;
  let out: Uint8Array;
  if (room > SLAB_SIZE >>> 2) out = new Uint8Array(room);
  else {
    if (slabUsed + room > SLAB_SIZE) {
      slab = new Uint8Array(SLAB_SIZE);
      slabUsed = 0;
    }
    out = slab.subarray(slabUsed, slabUsed + room);
  }
  const length = encoder.encodeInto(text, out.subarray(OPEN_HEADER_SIZE)).written;
  if (length > maxBody) {
    throw new OpenError(`Message body of ${length} bytes exceeds ${maxBody}`, "too-large");
  }
  if (out.buffer === slab.buffer) slabUsed += OPEN_HEADER_SIZE + length;
  out[0] = OPEN_VERSION;
  out[1] = second;
  out[2] = length >>> 24;
  out[3] = (length >>> 16) & 0xff;
  out[4] = (length >>> 8) & 0xff;
  out[5] = length & 0xff;
  return out.subarray(0, OPEN_HEADER_SIZE + length);
}

/**
 * Encodes an open request.
 *
 * @example
 * ```ts
 * const bytes = encodeOpen({ kind: StreamKind.TcpForward, params: { host: "127.0.0.1", port: 22 } });
 * ```
 */
export function encodeOpen(
  message: OpenMessage | TextOpenMessage,
  maxBody = MAX_BODY_SIZE,
): Uint8Array {
  if (!Number.isInteger(message.kind) || message.kind < 0 || message.kind > 255) {
    throw new RangeError(`Stream kind must be a byte, got ${message.kind}`);
  }
  return frame(message.kind, "text" in message ? message.text : message.params, maxBody);
}

/** Encodes a reply: OK with JSON data, OK with a text body (text kinds), or ERROR. */
export function encodeReply(reply: Reply | TextReply, maxBody = MAX_BODY_SIZE): Uint8Array {
  if (!reply.ok) {
    return frame(ReplyStatus.Error, { code: reply.code, message: reply.message }, maxBody);
  }
  return frame(ReplyStatus.Ok, "text" in reply ? reply.text : reply.data, maxBody);
}

/**
 * Validates a complete message header; returns the body length.
 *
 * @throws {OpenError} on a bad version or an oversized body.
 */
export function bodyLength(header: Uint8Array, maxBody = MAX_BODY_SIZE): number {
  if (header[0] !== OPEN_VERSION) {
    throw new OpenError(
      `Unsupported stream-open version ${header[0]} (this side speaks ${OPEN_VERSION})`,
      "bad-version",
    );
  }
  const length = ((header[2]! << 24) >>> 0) + (header[3]! << 16) + (header[4]! << 8) + header[5]!;
  if (length > maxBody) {
    throw new OpenError(`Message body of ${length} bytes exceeds ${maxBody}`, "too-large");
  }
  return length;
}

/** Parses a message body as a JSON object. */
export function parseBody(body: Uint8Array): Params {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch (e) {
    throw new OpenError(`Message body is not valid JSON: ${(e as Error).message}`, "bad-json");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OpenError("Message body must be a JSON object", "bad-json");
  }
  return value as Params;
}

/** Decodes a text body (UTF-8). */
export function parseText(body: Uint8Array): string {
  try {
    return decoder.decode(body);
  } catch {
    throw new OpenError("Message body is not valid UTF-8", "bad-text");
  }
}

/** Decodes a whole reply message (header + body) to a JSON kind. */
export function decodeReply(header: Uint8Array, body: Uint8Array): Reply {
  if (header[1] === ReplyStatus.Ok) return { ok: true, data: parseBody(body) };
  return decodeError(header, body);
}

/** Decodes a whole reply message (header + body) to a text kind. */
export function decodeTextReply(header: Uint8Array, body: Uint8Array): TextReply {
  if (header[1] === ReplyStatus.Ok) return { ok: true, text: parseText(body) };
  return decodeError(header, body);
}

function decodeError(header: Uint8Array, body: Uint8Array): ErrorReply {
  if (header[1] !== ReplyStatus.Error) {
    throw new OpenError(`Unknown reply status ${header[1]}`, "bad-status");
  }
  const params = parseBody(body);
  return {
    ok: false,
    code: typeof params.code === "string" ? params.code : "error",
    message: typeof params.message === "string" ? params.message : "",
  };
}
