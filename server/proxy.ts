/**
 * The reverse proxy's front: a client request is routed by Host (or to the
 * agent path, the operator path or the admin API), checked against its
 * domain's limits, client rules and Basic auth, given an agent and a
 * concurrency slot, then sent to the agent by `agent_request.ts`; bodies
 * stream both ways.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AccessEntry } from "../shared/log/setup.ts";
import type { ServerConfig, ServerDomain } from "./config_types.ts";
import type { DomainRegistry } from "./domains.ts";
import type { AgentRegistry } from "./agents.ts";
import type { AgentRegistration } from "./agent_registrations.ts";
import { admit } from "./rules.ts";
import { challenge, checkBasic } from "./basic_auth.ts";
import type { AuthGuard } from "./auth_guard.ts";
import { setForwarded } from "../shared/http/headers.ts";
import { AgentRequests, NO_BODY } from "./agent_request.ts";
import { failure, refusal } from "./proxy_answers.ts";
import { Flight } from "./flight.ts";
import { type AdminApi, isAdminPath } from "./admin/admin_api.ts";
import {
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
  /** The admin API, served under its path on every listener. */
  admin: AdminApi;
  /** System log. */
  log: Logger;
  /** Writes one access log entry. */
  access(entry: AccessEntry): void;
  /** The operator path's endpoint; without it, `operatorPath` is routed like any path. */
  operators?: { upgrade(req: Request, remote: Deno.NetAddr): Promise<Response> };
}

/** The forwarders of a domain that trusts none. */
const TRUST_NONE = (_ip: string) => false;

/** Handles client requests for every listener. */
export class Proxy {
  readonly #deps: ProxyDeps;
  readonly #inflight = new Map<string, number>();
  readonly #requests: AgentRequests;

  /** A proxy over the server's registries. */
  constructor(deps: ProxyDeps) {
    this.#deps = deps;
    this.#requests = new AgentRequests(deps);
  }

  /** Stops timers and waits for WebSocket relays to end. */
  async close(): Promise<void> {
    await this.#requests.close();
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
    const operators = this.#deps.operators;
    if (operators !== undefined && isPath(target, config.operatorPath)) {
      return operators.upgrade(req, remote);
    }
    if (isAdminPath(target.split("?", 1)[0]!)) return this.#deps.admin.handle(req, remote.hostname);
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
    const length = Number(head.headers.get("content-length") ?? "0");
    if (length > domain.bodySize) return this.#fail(f, domain, 413, "request body too large");
    const inflight = this.#inflight.get(domain.name) ?? 0;
    if (inflight >= domain.concurrency) {
      return this.#fail(f, domain, 429, `over ${domain.concurrency} concurrent requests`);
    }
    const reg = this.#deps.agents.pick(domain.name);
    if (reg === undefined) return this.#awaitAgent(req, f, domain, head, info);
    f.agent = reg.agent;
    f.hold(this.#inflight, domain.name);
    return this.#send(req, f, domain, head, info, reg);
  }

  /**
   * No agent serves the domain now: when its agent just lost its connection
   * the request waits for it (`agents.holdTime`), counted against the
   * domain's concurrency meanwhile; otherwise it is refused at once.
   */
  async #awaitAgent(
    req: Request,
    f: Flight,
    domain: ServerDomain,
    head: ClientHead,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> {
    f.hold(this.#inflight, domain.name);
    const reg = await this.#deps.agents.waitFor(domain.name, req.signal);
    if (reg === undefined) return this.#refuse(f, "no agent connected", domain);
    f.agent = reg.agent;
    return await this.#send(req, f, domain, head, info, reg);
  }

  #send(
    req: Request,
    f: Flight,
    domain: ServerDomain,
    head: ClientHead,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    reg: AgentRegistration,
  ): Response | Promise<Response> {
    const headers = head.headers;
    const ws = head.upgrade?.toLowerCase() === "websocket";
    if (domain.transactionId) headers.set("x-transaction-id", f.tid);
    const body = ws ? NO_BODY : clientBody(req, head);
    if (body === null) return this.#fail(f, domain, 501, `${f.method} body unreadable here`);
    return this.#requests.send(
      req,
      f,
      domain,
      reg,
      { headers: headers.pairs, ws, ...body },
      info.completed,
    );
  }

  #refuse(f: Flight, reason: string, domain: ServerDomain | null): Response {
    return refusal(this.#deps, f, reason, domain);
  }

  #fail(f: Flight, domain: ServerDomain, status: number, reason: string): Response {
    return failure(this.#deps, f, domain, status, reason);
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
