/**
 * The parameters of Http and Control streams (see `docs/protocol.md`):
 * typed shapes and validation of what arrives in open and reply messages.
 *
 * @module
 */

import { OpenError, type Params } from "../open/message.ts";

/** A header list in wire order; repeated names (Set-Cookie) stay separate. */
export type HeaderPairs = [string, string][];

/** The request head the server sends to the agent when it opens an Http stream. */
export interface HttpRequestHead {
  /** Domain the request is for. */
  domain: string;
  /** Request method. */
  method: string;
  /** Path and query as the client sent them (`/a/b?c=d`). */
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

/** The registration an agent sends on a Control stream, one per domain. */
export interface RegisterRequest {
  /** Domain to serve. */
  domain: string;
  /** The domain's shared secret. */
  secret: string;
  /** Who the agent is, for logs. */
  agent: { id: string; version: string; host: string };
}

function bad(message: string): OpenError {
  return new OpenError(message, "bad-json");
}

function str(p: Params, key: string, max = 8192): string {
  const v = p[key];
  if (typeof v !== "string" || v.length > max) throw bad(`"${key}" must be a string`);
  return v;
}

function pairs(p: Params, key: string): HeaderPairs {
  const v = p[key];
  if (!Array.isArray(v)) throw bad(`"${key}" must be an array of [name, value] pairs`);
  for (const pair of v) {
    if (
      !Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" ||
      typeof pair[1] !== "string"
    ) {
      throw bad(`"${key}" must be an array of [name, value] pairs`);
    }
  }
  return v as HeaderPairs;
}

/** Validates the params of an Http open message. */
export function parseRequestHead(p: Params): HttpRequestHead {
  const target = str(p, "target", 65536);
  if (!target.startsWith("/")) throw bad(`"target" must start with "/"`);
  return {
    domain: str(p, "domain", 253),
    method: str(p, "method", 32),
    target,
    headers: pairs(p, "headers"),
    client: str(p, "client", 64),
    tid: str(p, "tid", 64),
    ws: p.ws === true,
    body: p.body === true,
  };
}

/** Validates the data of an Http OK reply. */
export function parseResponseHead(p: Params): HttpResponseHead {
  const status = p.status;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599) {
    throw bad(`"status" must be an HTTP status code`);
  }
  const head: HttpResponseHead = { status, headers: pairs(p, "headers") };
  if (typeof p.protocol === "string") head.protocol = p.protocol;
  return head;
}

/** Validates the params of a Control (register) open message. */
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
