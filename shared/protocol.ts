/**
 * Burrow's protocol constants and messages above the mux, in one place (spec:
 * `docs/protocol.md`): the agent path and WebSocket subprotocol (section 1),
 * the Control stream's register message, and the open message of an Http
 * stream with the reasons an agent refuses one (section 3). The Http head's
 * text format is `shared/http/head_codec.ts`; the open/reply framing is
 * `shared/open/`.
 *
 * @module
 */

import { encodeOpen, OpenError, type Params, StreamKind } from "./open/message.ts";
import { encodeRequestHead, type HttpRequestHead } from "./http/head_codec.ts";

/**
 * The WebSocket subprotocol of this protocol version. "The client offers the
 * subprotocol `burrow.v1` in `Sec-WebSocket-Protocol`. The server accepts only
 * a version it speaks and echoes it. The number in the subprotocol changes
 * only when layer 2 or 3 changes incompatibly."
 */
export const SUBPROTOCOL = "burrow.v1";

/**
 * The default URL path agents dial: "The agent dials `wss://<server>/<path>`;
 * the default path is `/.well-known/burrow-agent`."
 */
export const AGENT_PATH = "/.well-known/burrow-agent";

/**
 * The default URL path operator commands dial (`burrow forward`, `burrow
 * socks`): "Operators dial `wss://<server><operatorPath>`; the default path
 * is `/.well-known/burrow-operator`", with a bearer token.
 */
export const OPERATOR_PATH = "/.well-known/burrow-operator";

/**
 * The admin API's path prefix, on every listener: "`GET <prefix>/agents`,
 * `/sessions`, `/channels` and `/audit` answer JSON to an operator whose
 * bearer token grants the kind `admin`" (`docs/admin.md`). The version is in
 * the path: a change that breaks clients gets `v2`.
 */
export const ADMIN_PATH = "/.well-known/burrow-admin/v1";

/**
 * The registration an agent sends on a Control stream (kind `0x02`), one per
 * domain: "Request params: `{ domain, secret, agent: { id, version, host } }`."
 */
export interface RegisterRequest {
  /** Domain to serve. */
  domain: string;
  /** The domain's shared secret. */
  secret: string;
  /** Who the agent is, for logs. */
  agent: {
    /** Random id of the agent process. */
    id: string;
    /** Burrow version of the agent. */
    version: string;
    /** Host name of the agent's machine. */
    host: string;
  };
}

function bad(message: string): OpenError {
  return new OpenError(message, "bad-json");
}

function str(p: Params, key: string, max = 8192): string {
  const v = p[key];
  if (typeof v !== "string" || v.length > max) throw bad(`"${key}" must be a string`);
  return v;
}

/**
 * Validates the params of a Control (register) open message: the domain
 * (lower-cased) and secret must be strings; the agent's identity is
 * optional and cut to size.
 *
 * @throws {OpenError} "bad-json" naming the field that is wrong.
 * @example
 * ```ts
 * const req = parseRegister({ domain: "App.example.com", secret: "s3cret" });
 * // req.domain === "app.example.com"
 * ```
 */
export function parseRegister(p: Params): RegisterRequest {
  const agent = p.agent;
  const a = typeof agent === "object" && agent !== null && !Array.isArray(agent)
    ? agent as Params
    : {};
  return {
    domain: str(p, "domain", 253).toLowerCase(),
    secret: str(p, "secret", 4096),
    agent: {
      id: typeof a.id === "string" ? a.id.slice(0, 64) : "",
      version: typeof a.version === "string" ? a.version.slice(0, 32) : "",
      host: typeof a.host === "string" ? a.host.slice(0, 253) : "",
    },
  };
}

/** Reasons an agent refuses an Http stream, and the status the server answers with. */
export const HTTP_ERROR_STATUS: Readonly<Record<string, number>> = {
  /** The agent is at its concurrency limit for the domain. */
  busy: 502,
  /** No backend answered (connection refused, DNS, TLS…). */
  "bad-gateway": 502,
  /** The backend did not answer in time. */
  timeout: 504,
  /** No target of the domain matches the request. */
  "no-route": 404,
  /** The agent does not serve the domain (any more). */
  "unknown-domain": 404,
};

/**
 * The open message of an Http stream (kind `0x01`): the request head as
 * text, framed by `shared/open/`, the body at most `maxBody` bytes. What the
 * server (`server/proxy.ts`) and the agent's test server write first on a
 * new Http stream.
 *
 * @throws {TypeError} when a field contains a line feed.
 * @throws {OpenError} "too-large" when the head is larger than `maxBody`.
 * @example
 * ```ts
 * const open = encodeHttpOpen({
 *   domain: "app.example.com", method: "GET", target: "/", headers: [],
 *   client: "203.0.113.7", tid: "4f2c", ws: false, body: false,
 * }, 64 * 1024);
 * await stream.write(open);
 * ```
 */
export function encodeHttpOpen(head: HttpRequestHead, maxBody: number): Uint8Array {
  return encodeOpen({ kind: StreamKind.Http, text: encodeRequestHead(head) }, maxBody);
}
