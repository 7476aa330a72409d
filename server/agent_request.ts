/**
 * A client request sent to an agent: the head (and body) on a new Http
 * stream, the agent's reply turned into the client's response (whole,
 * streamed, or a WebSocket relay), and a request whose agent never answered
 * offered to another agent of the domain.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AccessEntry } from "../shared/log/setup.ts";
import type { ServerConfig, ServerDomain } from "./config_types.ts";
import type { AgentRegistry, Unreachable } from "./agents.ts";
import type { AgentRegistration } from "./agent_registrations.ts";
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
import { endToEndPairs, PairList } from "../shared/http/headers.ts";
import { relayWebSocket } from "../shared/http/ws_relay.ts";
import type { Flight } from "./flight.ts";
import type { ClientBody } from "./request_head.ts";
import { failure, refusal } from "./proxy_answers.ts";

/** What sending requests to agents needs from the rest of the server. */
export interface AgentRequestDeps {
  /** Server configuration. */
  config: ServerConfig;
  /** Connected agents. */
  agents: AgentRegistry;
  /** System log. */
  log: Logger;
  /** Writes one access log entry. */
  access(entry: AccessEntry): void;
}

/** What a request sends: its head's pairs, whether it is a WebSocket upgrade, and its body. */
export type SentRequest = { headers: [string, string][]; ws: boolean } & ClientBody;

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
export const NO_BODY: ClientBody = { body: null, peek: false };

/**
 * Sends admitted client requests to agents; one per server.
 *
 * @example
 * ```ts
 * const requests = new AgentRequests({ config, agents, log, access });
 * return requests.send(req, flight, domain, reg, { headers, ws: false, ...body }, info.completed);
 * ```
 */
export class AgentRequests {
  readonly #deps: AgentRequestDeps;
  readonly #watchdog: Watchdog;
  readonly #relays = new Set<Promise<void>>();
  /** Limits on an agent's reply: the head we accept, and how long the agent may take. */
  readonly #replyLimits: { maxBody: number; timeout: number };

  /** Requests sent under `deps.config.limits`. */
  constructor(deps: AgentRequestDeps) {
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

  /** Sends the request head (and body) on a new stream, and answers with the agent's reply. */
  async send(
    req: Request,
    f: Flight,
    domain: ServerDomain,
    reg: AgentRegistration,
    sent: SentRequest,
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
    return this.send(r.req, f, r.domain, next, sent, r.completed, r.attempt + 1);
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

  #refuse(f: Flight, reason: string, domain: ServerDomain | null): Response {
    return refusal(this.#deps, f, reason, domain);
  }

  #fail(f: Flight, domain: ServerDomain, status: number, reason: string): Response {
    return failure(this.#deps, f, domain, status, reason);
  }
}
