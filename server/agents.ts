/**
 * Agent connections: the WebSocket upgrade on the agent path, one mux
 * session per agent, and the domain registrations the agents hold.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import { type MuxStream, Session } from "../shared/mux/mod.ts";
import {
  type IncomingStream,
  serveStream,
  type StreamHandler,
  StreamKind,
} from "../shared/open/mod.ts";
import { parseRegister, SUBPROTOCOL } from "../shared/protocol.ts";
import type { AuthGuard } from "./auth_guard.ts";
import type { DomainChange, DomainRegistry } from "./domains.ts";
import type { ServerDomain } from "./config_types.ts";

/** Most domains one agent connection may register. */
const MAX_REGISTRATIONS = 1024;

/** One connected agent. */
interface AgentConn {
  id: string;
  remote: string;
  session: Session;
  registrations: Set<AgentRegistration>;
}

/** A domain served by an agent connection. */
export interface AgentRegistration {
  /** Domain name. */
  domain: string;
  /** Connection id, for logs (`agent#a1b2c3`). */
  agent: string;
  /** The agent's session: Http streams are opened on it. */
  session: Session;
  /** The Control stream that holds the registration. */
  control: MuxStream;
  /** Secret hash in force when registered; a change revokes the registration. */
  secret: string;
  /** Agent address, checked again when the domain's agent networks change. */
  remote: string;
}

/** Connected agents and the domains they serve. */
export class AgentRegistry {
  readonly #domains: DomainRegistry;
  readonly #log: Logger;
  readonly #auth: AuthGuard;
  readonly #agents = new Set<AgentConn>();
  readonly #byDomain = new Map<string, AgentRegistration[]>();
  readonly #next = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  #closing = false;

  /** A registry checking registrations against `domains`, secrets through `auth`. */
  constructor(domains: DomainRegistry, log: Logger, auth: AuthGuard) {
    this.#domains = domains;
    this.#log = log;
    this.#auth = auth;
    domains.onChange((change) => this.#revokeChanged(change));
  }

  /** Number of connected agents. */
  get size(): number {
    return this.#agents.size;
  }

  /** Streams open on all agent sessions besides the registrations' Control streams. */
  openStreams(): number {
    let n = 0;
    for (const a of this.#agents) n += a.session.numStreams - a.registrations.size;
    return n;
  }

  /** True when some agent serves `domain`. */
  has(domain: string): boolean {
    return (this.#byDomain.get(domain)?.length ?? 0) > 0;
  }

  /** An agent serving `domain`, round-robin among several. */
  pick(domain: string): AgentRegistration | undefined {
    const regs = this.#byDomain.get(domain);
    if (regs === undefined || regs.length === 0) return undefined;
    const i = (this.#next.get(domain) ?? 0) % regs.length;
    this.#next.set(domain, i + 1);
    return regs[i];
  }

  /**
   * Answers an agent's WebSocket upgrade: 426 unless it offers
   * {@linkcode SUBPROTOCOL}; otherwise starts a session once the socket opens.
   */
  upgrade(req: Request, remote: string): Response {
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) =>
      s.trim()
    ).filter((s) => s !== "");
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Burrow agents connect with a WebSocket upgrade\n", { status: 426 });
    }
    if (!offered.includes(SUBPROTOCOL)) {
      this.#log.warn(
        "Agent at {remote} refused: offered subprotocol {offered}, server speaks {ours}",
        {
          remote,
          offered: offered.join(", ") || "none",
          ours: SUBPROTOCOL,
        },
      );
      return new Response(
        `This Burrow server speaks ${SUBPROTOCOL}; the agent offered ${
          offered.join(", ") || "no subprotocol"
        }. Upgrade the older side.\n`,
        { status: 426, headers: { "upgrade": "websocket" } },
      );
    }
    if (this.#closing) return new Response("Server is shutting down\n", { status: 503 });
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: SUBPROTOCOL });
    this.#track(this.#run(socket, remote));
    return response;
  }

  /** Closes every agent session and waits for them. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#agents].map((a) => a.session.close()));
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #run(socket: WebSocket, remote: string): Promise<void> {
    let conn;
    try {
      conn = await fromWebSocket(socket);
    } catch (e) {
      this.#log.warn("Agent at {remote} went away during the upgrade: {error}", {
        remote,
        error: (e as Error).message,
      });
      return;
    }
    const id = crypto.randomUUID().slice(0, 8);
    const session = new Session(conn, {
      client: false,
      keepAliveInterval: 15_000,
      pingTimeout: 15_000,
      // The peer is a Burrow agent: SYN, ACK and FIN ride on Data frames.
      foldFlags: true,
    });
    const agent: AgentConn = { id, remote, session, registrations: new Set() };
    this.#agents.add(agent);
    this.#log.info("agent#{agent} connected from {remote}", { agent: id, remote });
    if (this.#closing) await session.close();
    const handlers = new Map<number, StreamHandler>([
      [StreamKind.Control, (incoming) => this.#register(agent, incoming)],
    ]);
    const serving = new Set<Promise<void>>();
    for (let s = await session.accept(); s !== null; s = await session.accept()) {
      const p = serveStream(s, handlers);
      serving.add(p);
      p.finally(() => serving.delete(p));
    }
    await session.closed;
    for (const reg of agent.registrations) this.#remove(reg);
    this.#agents.delete(agent);
    await Promise.all(serving);
    this.#log.info("agent#{agent} disconnected: {reason}", {
      agent: id,
      reason: session.closeReason?.message ?? "closed",
    });
  }

  async #register(agent: AgentConn, incoming: IncomingStream): Promise<void> {
    let req;
    try {
      req = parseRegister(incoming.params);
    } catch (e) {
      await incoming.refuse("bad-request", (e as Error).message);
      return;
    }
    const domain = this.#domains.get(req.domain);
    const reason = await this.#refusal(domain, req.secret, agent);
    if (reason !== null) {
      // Stealth: the agent learns nothing about why; the log has the real reason,
      // at WARN once per window for an address.
      this.#auth.logRefusal(agent.remote, "agent#{agent} refused for {domain}: {reason}", {
        agent: agent.id,
        domain: req.domain,
        reason,
      });
      await incoming.refuse("refused", "Domain not available");
      return;
    }
    const reg: AgentRegistration = {
      domain: req.domain,
      agent: agent.id,
      session: agent.session,
      control: incoming.stream,
      secret: domain!.secret,
      remote: agent.remote,
    };
    agent.registrations.add(reg);
    const list = this.#byDomain.get(reg.domain) ?? [];
    list.push(reg);
    this.#byDomain.set(reg.domain, list);
    await incoming.accept({ domain: reg.domain });
    this.#log.info("agent#{agent} serves {domain} (agent {version} on {host})", {
      agent: agent.id,
      domain: reg.domain,
      version: req.agent.version,
      host: req.agent.host,
    });
    // The registration lasts until the agent's FIN, a reset, or the session's end.
    await incoming.readable.pipeTo(new WritableStream()).catch(() => {});
    if (this.#remove(reg)) {
      this.#log.info("agent#{agent} no longer serves {domain}", {
        agent: agent.id,
        domain: reg.domain,
      });
      await incoming.writable.close().catch(() => {});
    }
  }

  async #refusal(
    domain: ServerDomain | undefined,
    secret: string,
    agent: AgentConn,
  ): Promise<string | null> {
    if (domain === undefined) return "no such domain file";
    if (!domain.active) return "domain is not active";
    if (domain.secret === "") return "domain has no secret";
    if (domain.agentNetworks !== null && !domain.agentNetworks.contains(agent.remote)) {
      return `agent address ${agent.remote} is outside the domain's agent networks`;
    }
    const verdict = await this.#auth.verify({
      address: agent.remote,
      account: `agent secret of ${domain.name}`,
      presented: secret,
      stored: [domain.secret],
    });
    if (!verdict.ok) return verdict.reason;
    if (this.#domains.get(domain.name) !== domain) return "domain file changed during the check";
    if (agent.registrations.size >= MAX_REGISTRATIONS) {
      return `agent already holds ${MAX_REGISTRATIONS} registrations`;
    }
    return null;
  }

  /** Forgets a registration; false when it was gone already. */
  #remove(reg: AgentRegistration): boolean {
    const list = this.#byDomain.get(reg.domain);
    const i = list?.indexOf(reg) ?? -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    if (list!.length === 0) this.#byDomain.delete(reg.domain);
    for (const a of this.#agents) a.registrations.delete(reg);
    return true;
  }

  /** Revokes registrations a domain change no longer allows; unchanged ones stay. */
  #revokeChanged({ name, after }: DomainChange): void {
    for (const reg of [...(this.#byDomain.get(name) ?? [])]) {
      let why: string | null = null;
      if (after === undefined) why = "domain file removed";
      else if (!after.active) why = "domain deactivated";
      else if (after.secret !== reg.secret) why = "secret changed";
      else if (after.agentNetworks !== null && !after.agentNetworks.contains(reg.remote)) {
        why = "agent networks changed";
      }
      if (why === null) continue;
      this.#remove(reg);
      reg.control.reset();
      this.#log.info("agent#{agent} registration for {domain} revoked: {reason}", {
        agent: reg.agent,
        domain: name,
        reason: why,
      });
    }
  }
}
