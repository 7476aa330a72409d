/**
 * The Identify stream (kind `0x03`, agent → server): the agent says who it
 * is, by the name and secret of its `agents.d/<name>.jsonc` file on the
 * server, once per connection. Spec: `docs/protocol.md`, "Identify streams".
 *
 * - Request params: `{ "name": "db1", "secret": "…", "agent": { "id", "version", "host", "os" } }`.
 * - Reply OK `{ "name": "db1" }`, or ERROR `refused` (the same answer for
 *   every reason; the server's log has the real one).
 * - After OK the stream stays open and silent while the identity holds. The
 *   server ends it with an *end notice* (the ERROR reply layout, codes in
 *   {@link IDENTITY_END_CODES}) and FIN: `replaced` when a newer connection
 *   identified with the same name (GoAway and the end of the session follow),
 *   `revoked` when the agent's file was removed or no longer matches.
 *
 * A pure codec, no I/O beyond reading the notice from a stream.
 *
 * @module
 */

import { isIdentityName } from "./auth/identity_name.ts";
import {
  bodyLength,
  decodeReply,
  encodeReply,
  MAX_BODY_SIZE,
  OPEN_HEADER_SIZE,
  OpenError,
  type OpenMessage,
  type Params,
  StreamKind,
} from "./open/message.ts";
import type { RegisterRequest } from "./protocol.ts";

/** Who the agent process is (for the server's sessions and logs): the Register message's `agent`, and its OS. */
export interface AgentInfo extends Readonly<RegisterRequest["agent"]> {
  /** Operating system (`Deno.build.os`: `linux`, `darwin`, `windows`, …). */
  readonly os: string;
}

/** The Identify request. */
export interface IdentifyRequest {
  /** The agent's name (lower case), the server's `agents.d/<name>.jsonc`. */
  name: string;
  /** The agent's secret, plain. */
  secret: string;
  /** The agent process. */
  agent: AgentInfo;
}

/**
 * Codes of the server's end notice on an Identify stream: "`replaced`: a
 * newer connection identified with the same name; this session gets GoAway.
 * `revoked`: the agent's file was removed, or its secret or networks no
 * longer let this connection in."
 */
export const IDENTITY_END_CODES = ["replaced", "revoked"] as const;

/** Why the server ended an identity. */
export type IdentityEndCode = typeof IDENTITY_END_CODES[number];

/** The server's end notice. */
export interface IdentityEnd {
  /** Why. */
  code: IdentityEndCode;
  /** For people: "replaced by a connection from 198.51.100.7". */
  message: string;
}

/**
 * The open message of an Identify stream.
 *
 * @example
 * ```ts
 * import { identifyMessage } from "./identify.ts";
 * const opened = await openStream(session, identifyMessage({
 *   name: "db1", secret: "s3cret",
 *   agent: { id: "4f2c", version: "0.1.0", host: "db1.lan", os: Deno.build.os },
 * }));
 * ```
 */
export function identifyMessage(request: IdentifyRequest): OpenMessage {
  const { name, secret, agent } = request;
  return {
    kind: StreamKind.Identify,
    params: {
      name,
      secret,
      agent: { id: agent.id, version: agent.version, host: agent.host, os: agent.os },
    },
  };
}

function bad(message: string): OpenError {
  return new OpenError(message, "bad-json");
}

/** `value` if it is a string, cut to `max` characters; else "". */
function cut(value: unknown, max: number): string {
  return typeof value === "string" ? value.slice(0, max) : "";
}

/**
 * Validates the params of an Identify open message: the name (lower-cased)
 * must be a valid agent name, the secret a string; the agent fields are
 * optional and cut to size.
 *
 * @throws {OpenError} "bad-json" naming the field that is wrong.
 * @example
 * ```ts
 * import { parseIdentify } from "./identify.ts";
 * parseIdentify({ name: "DB1", secret: "s3cret" }).name; // "db1"
 * ```
 */
export function parseIdentify(p: Params): IdentifyRequest {
  const name = p.name;
  if (typeof name !== "string" || !isIdentityName(name.toLowerCase())) {
    throw bad('"name" must be an agent name');
  }
  const secret = p.secret;
  if (typeof secret !== "string" || secret.length > 4096) throw bad('"secret" must be a string');
  const a = typeof p.agent === "object" && p.agent !== null && !Array.isArray(p.agent)
    ? p.agent as Params
    : {};
  return {
    name: name.toLowerCase(),
    secret,
    agent: {
      id: cut(a.id, 64),
      version: cut(a.version, 32),
      host: cut(a.host, 253),
      os: cut(a.os, 32),
    },
  };
}

/**
 * Encodes the server's end notice (the ERROR reply layout), to write on an
 * Identify stream after its OK, followed by FIN.
 *
 * @example
 * ```ts
 * import { encodeIdentityEnd } from "./identify.ts";
 * await stream.write(encodeIdentityEnd({ code: "replaced", message: "replaced by 198.51.100.7" }));
 * ```
 */
export function encodeIdentityEnd(end: IdentityEnd): Uint8Array {
  return encodeReply({ ok: false, code: end.code, message: end.message.slice(0, 1024) });
}

/**
 * Reads what follows the OK on an Identify stream: the server's end notice,
 * returned as soon as it is complete (the session may close right after
 * it), or null when the stream ended, or failed, with nothing after the OK
 * (an older server, or a session closing). Bytes beyond one notice are an
 * error.
 *
 * @throws {OpenError} when the bytes are not one end notice.
 * @example
 * ```ts
 * import { readIdentityEnd } from "./identify.ts";
 * const end = await readIdentityEnd(opened.readable);
 * if (end?.code === "replaced") log.error("Another agent took the name: {message}", end);
 * ```
 */
export async function readIdentityEnd(
  readable: ReadableStream<Uint8Array>,
): Promise<IdentityEnd | null> {
  const reader = readable.getReader();
  const bytes = new Uint8Array(OPEN_HEADER_SIZE + MAX_BODY_SIZE);
  let length = 0;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        chunk = { done: true, value: undefined };
      }
      if (chunk.done) {
        if (length === 0) return null;
        throw new OpenError(`End notice cut short after ${length} bytes`, "truncated");
      }
      const whole = length >= OPEN_HEADER_SIZE
        ? OPEN_HEADER_SIZE + bodyLength(bytes.subarray(0, OPEN_HEADER_SIZE))
        : bytes.length;
      if (length + chunk.value.length > whole) {
        throw new OpenError("Identify stream carries more than one end notice", "unexpected-data");
      }
      bytes.set(chunk.value, length);
      length += chunk.value.length;
      if (length < OPEN_HEADER_SIZE) continue;
      const size = OPEN_HEADER_SIZE + bodyLength(bytes.subarray(0, OPEN_HEADER_SIZE));
      if (length > size) {
        throw new OpenError("Identify stream carries more than one end notice", "unexpected-data");
      }
      if (length === size) return decodeIdentityEnd(bytes.subarray(0, length));
    }
  } finally {
    reader.releaseLock();
  }
}

/** Decodes one whole end notice. */
export function decodeIdentityEnd(bytes: Uint8Array): IdentityEnd {
  if (bytes.length < OPEN_HEADER_SIZE) throw new OpenError("Truncated end notice", "truncated");
  const header = bytes.subarray(0, OPEN_HEADER_SIZE);
  const size = bodyLength(header);
  if (bytes.length !== OPEN_HEADER_SIZE + size) {
    throw new OpenError(
      `End notice of ${bytes.length} bytes, expected ${OPEN_HEADER_SIZE + size}`,
      bytes.length < OPEN_HEADER_SIZE + size ? "truncated" : "unexpected-data",
    );
  }
  const reply = decodeReply(header, bytes.subarray(OPEN_HEADER_SIZE));
  if (reply.ok) throw new OpenError("An end notice must be an ERROR message", "bad-status");
  const code = IDENTITY_END_CODES.find((c) => c === reply.code);
  if (code === undefined) {
    throw new OpenError(`Unknown end notice code ${JSON.stringify(reply.code)}`, "bad-json");
  }
  return { code, message: reply.message };
}
