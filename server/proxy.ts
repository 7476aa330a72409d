/**
 * The reverse proxy: one client request becomes one Http stream to an agent
 * serving the request's domain; bodies stream both ways.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AccessEntry } from "../shared/log/setup.ts";
import type { ServerConfig, ServerDomain } from "./config_types.ts";
import type { DomainRegistry } from "./domains.ts";
import type { AgentRegistry, Unreachable } from "./agents.ts";
import type { AgentRegistration } from "./agent_registrations.ts";
import { admit } from "./rules.ts";
import { challenge, checkBasic } from "./basic_auth.ts";
import type { AuthGuard } from "./auth_guard.ts";
import { Watchdog } from "../shared/time/watchdog.ts";
import {
  clientResponse,
  countingBody,
  peekBody,
  pumpBody,
  readSmall,
  SMALL_BODY,
} from "./bodies.ts";
import { readTextReply } from "../shared/open/mod.ts";
import { decodeResponseHead, type HttpResponseHead } from "../shared/http/head_codec.ts";
import { encodeHttpOpen, HTTP_ERROR_STATUS } from "../shared/protocol.ts";
import { endToEndPairs, PairList, setForwarded } from "../shared/http/headers.ts";
import { relayWebSocket } from "../shared/http/ws_relay.ts";
import { Flight } from "./flight.ts";
import {
  type ClientBody,
  clientBody,
  type ClientHead,
  headTooLarge,
  hostOf,
  readHead,
  targetOf,
} from "./request_head.ts";

/** What the proxy needs from the rest of the server. */
export interface ProxyDeps {
  /** Server configuration. */
  config: ServerConfig;
  /** Domain files. */
  domains: DomainRegistry;
  /** Connected agents. */
  agents: AgentRegistry;
  /** Credential checks and their limits. */
  auth: AuthGuard;
  /** System log. */
  log: Logger;
  /** Writes one access log entry. */
  access(entry: AccessEntry): void;
}

/** Methods a request may be sent again with, to another agent (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Most agents one request is offered to. */
const MAX_ATTEMPTS = 3;

/** What sending a request again needs. */
interface Retry {
  req: Request;
  domain: ServerDomain;
  headers: [string, string][];
  ws: boolean;
  /** True when the request had no body: nothing of it was consumed. */
  bodyless: boolean;
  completed: Promise<void>;
  attempt: number;
}

/** Statuses whose responses carry no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The options given to {@link endToEndPairs} for a list of our own. */
const REUSE = { reuse: true } as const;

/** What a WebSocket upgrade sends after its head: no body. */
const NO_BODY: ClientBody = { body: null, peek: false };

/** The forwarders of a domain that trusts none. */
const TRUST_NONE = (_ip: string) => false;

/** Handles client requests for every listener. */
export class Proxy {
  readonly #deps: ProxyDeps;
  readonly #inflight = new Map<string, number>();
  readonly #watchdog: Watchdog;
  readonly #relays = new Set<Promise<void>>();
  /** Limits on an agent's reply: the head we accept, and how long the agent may take. */
  readonly #replyLimits: { maxBody: number; timeout: number };

  /** A proxy over the server's registries. */
  constructor(deps: ProxyDeps) {
    this.#deps = deps;
    const { readTimeout, writeTimeout, headerSize, idleTimeout } = deps.config.limits;
    this.#replyLimits = { maxBody: headerSize + 4096, timeout: idleTimeout };
    this.#watchdog = new Watchdog(Watchdog.intervalFor(Math.min(readTimeout, writeTimeout)), {
      linger: true,
    });
  }

  /** Stops timers and waits for WebSocket relays to end. */
  async close(): Promise<void> {
    this.#watchdog.close();
    await Promise.all([...this.#relays]);
  }

  /** The request handler given to every listener. */
  handle(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    proto: "https" | "http",
  ): Response | Promise<Response> {
    const { config, agents } = this.#deps;
    const remote = info.remoteAddr;
    const target = asteriskForm(req.method, targetOf(req.url));
    if (isPath(target, config.agentPath)) return agents.upgrade(req, remote.hostname);
    const f = new Flight(req, target);
    const head = readHead(req, target);
    f.domain = hostOf(head.headers.get("host") ?? new URL(req.url).host);
    f.client = remote.hostname;
    const domain = this.#deps.domains.get(f.domain);
    if (domain === undefined || !domain.active) {
      return this.#refuse(f, domain === undefined ? "unknown domain" : "domain inactive", null);
    }
    return this.#forDomain(req, f, domain, head, info, proto);
  }

  /** Checks the request against the domain's limits and rules, then starts the exchange. */
  #forDomain(
    req: Request,
    f: Flight,
    domain: ServerDomain,
    head: ClientHead,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    proto: "https" | "http",
  ): Response | Promise<Response> {
    const { config } = this.#deps;
    const headers = head.headers;
    if (f.method === "CONNECT") {
      return this.#fail(f, domain, 501, "CONNECT refused: the server is not a forward proxy");
    }
    if (headTooLarge(head, config.limits.headerSize)) {
      return this.#fail(f, domain, 431, "request head too large");
    }
    const ws = head.upgrade?.toLowerCase() === "websocket";
    if (ws) {
      headers.set("upgrade", head.upgrade!);
      headers.set("connection", "Upgrade");
    }
    const trusted = domain.trustedForwarders;
    f.client = setForwarded({
      headers,
      clientIp: f.client,
      trusted: trusted ? (ip) => trusted.contains(ip) : TRUST_NONE,
      proto,
      host: headers.get("host") ?? f.domain,
    });
    const verdict = admit(domain.clients, f.client);
    if (!verdict.ok) return this.#refuse(f, verdict.reason, domain);
    if (domain.clients.credentials.length === 0) return this.#admitted(req, f, domain, head, info);
    return checkBasic(this.#deps.auth, domain.clients.credentials, {
      domain: domain.name,
      address: f.client,
      authorization: headers.get("authorization"),
    }).then((basic) => {
      if (basic.ok) {
        headers.delete("authorization");
        return this.#admitted(req, f, domain, head, info);
      }
      if (basic.status === 503) return this.#fail(f, domain, 503, basic.reason);
      f.end(401, basic.reason, this.#deps.access);
      return new Response("Authentication required\n", {
        status: 401,
        headers: { "www-authenticate": challenge(domain.clients.realm) },
      });
    });
  }

  /** The request passed the domain's rules: limits, an agent, then the exchange. */
  #admitted(
    req: Request,
    f: Flight,
    domain: ServerDomain,
    head: ClientHead,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> {
    const headers = head.headers;
    const ws = head.upgrade?.toLowerCase() === "websocket";
    const length = Number(headers.get("content-length") ?? "0");
    if (length > domain.bodySize) return this.#fail(f, domain, 413, "request body too large");
    const inflight = this.#inflight.get(domain.name) ?? 0;
    if (inflight >= domain.concurrency) {
      return this.#fail(f, domain, 429, `over ${domain.concurrency} concurrent requests`);
    }
    const reg = this.#deps.agents.pick(domain.name);
    if (reg === undefined) return this.#refuse(f, "no agent connected", domain);
    f.agent = reg.agent;
    f.hold(this.#inflight, domain.name);
    if (domain.transactionId) headers.set("x-transaction-id", f.tid);
    const body = ws ? NO_BODY : clientBody(req, head);
    if (body === null) return this.#fail(f, domain, 501, `${f.method} body unreadable here`);
    return this.#forward(
      req,
      f,
      domain,
      reg,
      { headers: headers.pairs, ws, ...body },
      info.completed,
    );
  }

  /** Sends the request head (and body) on a new stream, and answers with the agent's reply. */
  async #forward(
    req: Request,
    f: Flight,
    domain: ServerDomain,
    reg: AgentRegistration,
    sent: { headers: [string, string][]; ws: boolean } & ClientBody,
    completed: Promise<void>,
    attempt = 1,
  ): Promise<Response> {
    const { headers, ws } = sent;
    let body = sent.body;
    if (sent.peek) {
      const peeked = await peekBody(body!, this.#watchdog, this.#deps.config.limits.readTimeout);
      if (peeked === "timeout") return this.#fail(f, domain, 408, "request body read timeout");
      body = peeked;
    }
    try {
      const open = encodeHttpOpen({
        domain: domain.name,
        method: f.method,
        target: f.path,
        headers,
        client: f.client,
        tid: f.tid,
        ws,
        body: body !== null,
      }, this.#replyLimits.maxBody);
      const stream = await reg.session.open();
      f.stream = stream;
      // A client that goes away before the response is delivered aborts the exchange.
      // Once the response (or upgrade) is handed to Deno, a client that leaves is
      // seen through the body's cancel; resetting here would error a body Deno
      // is still reading and show up as an unhandled handler error.
      completed.catch(() => f.gone());
      await stream.write(open);
      if (body !== null) this.#pump(body, f, domain);
      else if (!ws) stream.closeWrite();
      let reply;
      try {
        reply = await readTextReply(stream, this.#replyLimits);
      } catch (e) {
        stream.reset();
        if (f.abortStatus !== 0) return this.#fail(f, domain, f.abortStatus, f.abortReason);
        if (f.clientGone) return this.#fail(f, domain, 499, "client went away");
        throw e;
      }
      if (!reply.ok) {
        stream.reset();
        const status = HTTP_ERROR_STATUS[reply.code] ?? 502;
        return this.#fail(f, domain, status, `agent: ${reply.code}: ${reply.message}`);
      }
      const response = decodeResponseHead(reply.text);
      f.responded = true;
      if (ws) return this.#upgrade(req, f, domain, response);
      const out = this.#responseHeaders(f, domain, response);
      if (NULL_BODY.has(response.status) || req.method === "HEAD") {
        return this.#empty(f, response.status, out);
      }
      // A small body goes out in one write with the head: Deno's TLS server
      // sockets keep Nagle's algorithm on, so a head and a body written apart
      // would wait for the client's delayed ACK (40 ms).
      if (Number(out.get("content-length") ?? "NaN") <= SMALL_BODY) {
        const small = await readSmall(stream, SMALL_BODY);
        if (small !== null) return this.#whole(f, small, response.status, out);
      }
      return this.#streamed(f, response.status, out);
    } catch (e) {
      // Whatever failed (a bad response head from the agent, a head too large to
      // send…), the stream must not linger on the agent's session.
      f.stream?.reset();
      const unreachable = f.responded ? null : this.#deps.agents.unreachable(reg, e);
      if (unreachable !== null) {
        const retry = { req, domain, headers, ws, bodyless: body === null, completed, attempt };
        return this.#reroute(f, retry, unreachable, (e as Error).message);
      }
      return this.#fail(f, domain, 502, `agent exchange failed: ${(e as Error).message}`);
    }
  }

  /**
   * The agent never answered (it did not acknowledge the stream, or its
   * session ended first): a request that is safe to send again (no body,
   * idempotent method) goes to another agent of the domain. Otherwise, or
   * without another agent, an unacknowledged request gets the unavailable
   * status (the agent is), and one whose agent went away mid-way a 502.
   */
  #reroute(f: Flight, r: Retry, kind: Unreachable, why: string): Response | Promise<Response> {
    const safe = r.bodyless && IDEMPOTENT.has(f.method) && r.attempt < MAX_ATTEMPTS;
    const next = safe ? this.#deps.agents.pick(r.domain.name) : undefined;
    if (next === undefined) {
      if (kind === "gone") return this.#fail(f, r.domain, 502, `agent exchange failed: ${why}`);
      return this.#refuse(f, `agent unreachable: ${kind}: ${why}`, r.domain);
    }
    f.agent = next.agent;
    f.stream = null;
    const sent = { headers: r.headers, ws: r.ws, ...NO_BODY };
    return this.#forward(r.req, f, r.domain, next, sent, r.completed, r.attempt + 1);
  }

  /** Streams the client's body to the agent; a cut body is answered by the reply's failure. */
  #pump(body: ReadableStream<Uint8Array>, f: Flight, domain: ServerDomain): void {
    const stream = f.stream!;
    pumpBody(body, stream, {
      watchdog: this.#watchdog,
      readTimeout: this.#deps.config.limits.readTimeout,
      minRate: this.#deps.config.limits.bodyMinRate,
      maxBytes: domain.bodySize,
      onBytes: (n) => f.bytesIn += n,
      abort: (status, reason) => {
        f.abortStatus = status;
        f.abortReason = reason;
        stream.reset();
      },
    });
  }

  /** The headers of the client's response: the agent's end-to-end ones, and the transaction id. */
  #responseHeaders(f: Flight, domain: ServerDomain, response: HttpResponseHead): PairList {
    // decodeResponseHead made the pairs: they are ours to edit.
    const out = new PairList(endToEndPairs(response.headers, REUSE));
    if (domain.transactionId) out.set("x-transaction-id", f.tid);
    return out;
  }

  /** A response without a body (HEAD, 204, 304…): the agent's Content-Length stays. */
  #empty(f: Flight, status: number, out: PairList): Response {
    f.stream!.cancelRead();
    const response = clientResponse(null, status, out.pairs);
    f.end(status, null, this.#deps.access);
    return response;
  }

  /** A small body read whole, sent with the head in one write. */
  #whole(f: Flight, body: Uint8Array, status: number, out: PairList): Response {
    f.bytesOut = body.length;
    // Deno sets Content-Length from a body given as bytes (the agent's value
    // is replaced anyway): one header less to validate.
    out.delete("content-length");
    const response = clientResponse(body as Uint8Array<ArrayBuffer>, status, out.pairs);
    f.end(status, null, this.#deps.access);
    return response;
  }

  /** A body streamed from the agent, counted and held to the write timeout. */
  #streamed(f: Flight, status: number, out: PairList): Response {
    const stream = f.stream!;
    const access = this.#deps.access;
    // Until the response exists the body is not the client's: a header Deno
    // refuses fails the exchange (one 502 line), not this body as well.
    let handed = false;
    const body = countingBody(stream, {
      watchdog: this.#watchdog,
      writeTimeout: this.#deps.config.limits.writeTimeout,
      onBytes: (n) => f.bytesOut += n,
      onTimeout: () => stream.reset(),
      onDone: (error) => {
        if (handed) f.end(status, error === null ? null : `response aborted: ${error}`, access);
      },
    });
    try {
      const response = clientResponse(body, status, out.pairs);
      handed = true;
      return response;
    } catch (e) {
      body.cancel();
      throw e;
    }
  }

  #upgrade(req: Request, f: Flight, domain: ServerDomain, response: HttpResponseHead): Response {
    const stream = f.stream!;
    if (response.status !== 101) {
      stream.reset();
      return this.#fail(
        f,
        domain,
        response.status === 200 ? 502 : response.status,
        "backend refused the WebSocket upgrade",
      );
    }
    const { socket, response: upgraded } = Deno.upgradeWebSocket(req, {
      ...(response.protocol ? { protocol: response.protocol } : {}),
    });
    const relay = relayWebSocket(socket, { readable: stream.readable, writable: stream.writable })
      .catch((e) => {
        this.#deps.log.debug("WebSocket relay for {domain} ended: {error}", {
          domain: domain.name,
          error: String(e),
        });
        stream.reset();
      })
      .finally(() => f.end(101, null, this.#deps.access));
    this.#relays.add(relay);
    relay.finally(() => this.#relays.delete(relay));
    return upgraded;
  }

  /** A stealth refusal: the configured "unavailable" status, the reason in the log only. */
  #refuse(f: Flight, reason: string, domain: ServerDomain | null): Response {
    const status = this.#deps.config.unavailableStatus;
    if (domain !== null || this.#deps.config.log.unavailable) {
      f.end(status, reason, this.#deps.access);
    }
    return new Response(statusText(status), { status });
  }

  #fail(f: Flight, domain: ServerDomain, status: number, reason: string): Response {
    f.end(status, reason, this.#deps.access);
    const headers = domain.transactionId ? { "x-transaction-id": f.tid } : undefined;
    return new Response(statusText(status), { status: status === 499 ? 400 : status, headers });
  }
}

/**
 * The request target to forward: `OPTIONS *` (asterisk form) as it was
 * sent. Deno gives it the URL path `/*`, as it does `OPTIONS /*`; the two
 * cannot be told apart, and the asterisk form is the one in use.
 */
function asteriskForm(method: string, target: string): string {
  return target === "/*" && method === "OPTIONS" ? "*" : target;
}

/** True when `target` (path and query) has the path `path`. */
function isPath(target: string, path: string): boolean {
  return target.startsWith(path) &&
    (target.length === path.length || target.charCodeAt(path.length) === 0x3f /* ? */);
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    404: "Not Found",
    408: "Request Timeout",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  return `${texts[status] ?? "Error"}\n`;
}
