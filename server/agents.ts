/**
 * Agent connections: the WebSocket upgrade on the agent path, one mux
 * session per agent, and the domain registrations the agents hold.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import { MuxError, type MuxStream, Session } from "../shared/mux/mod.ts";
import {
  type IncomingStream,
  serveStream,
  type StreamHandler,
  StreamKind,
} from "../shared/open/mod.ts";
import { parseRegister, SUBPROTOCOL } from "../shared/protocol.ts";
import type { AuthGuard } from "./auth_guard.ts";
import type { DomainChange, DomainRegistry } from "./domains.ts";
import type { AgentLimits, ServerDomain } from "./config_types.ts";
import { AgentGate, WindowLog } from "./agent_gate.ts";

/** Longest a stopping server waits for an agent's WebSocket close handshake, in ms. */
const SOCKET_CLOSE_WAIT_MS = 1000;

/** Resolves once `ws` is closed, or after `ms`. */
async function socketClosed(ws: WebSocket, ms: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onClose: (() => void) | undefined;
  await new Promise<void>((resolve) => {
    onClose = resolve;
    timer = setTimeout(resolve, ms);
    ws.addEventListener("close", onClose, { once: true });
  });
  clearTimeout(timer);
  ws.removeEventListener("close", onClose!);
}

/** Most domains one agent connection may register. */
const MAX_REGISTRATIONS = 1024;

/** One connected agent. */
interface AgentConn {
  id: string;
  remote: string;
  session: Session;
  registrations: Set<AgentRegistration>;
  /** True once it registered something: the register deadline no longer applies. */
  registered: boolean;
  /** True while a stream open went unacknowledged: no requests are routed to it. */
  suspect: boolean;
}

/**
 * Why an exchange with an agent got no answer: `"unacknowledged"` when the
 * agent did not acknowledge the stream within `agents.openTimeout` (it is
 * suspect from then on), `"gone"` when its session ended or went away first.
 */
export type Unreachable = "unacknowledged" | "gone";

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
  readonly #bySession = new Map<Session, AgentConn>();
  readonly #limits: AgentLimits;
  readonly #gate: AgentGate;
  readonly #expired: WindowLog;
  /** Sessions closed for abusing the mux (a peer that asks and never reads). */
  readonly #abusive: WindowLog;
  #closing = false;

  /**
   * A registry checking registrations against `domains`, secrets through
   * `auth`, and bounding agent connections by `limits`.
   */
  constructor(
    domains: DomainRegistry,
    log: Logger,
    { auth, limits }: { auth: AuthGuard; limits: AgentLimits },
  ) {
    this.#domains = domains;
    this.#log = log;
    this.#auth = auth;
    this.#limits = limits;
    this.#gate = new AgentGate(limits, log);
    this.#expired = new WindowLog(log, "agent connection(s) closed for registering nothing");
    this.#abusive = new WindowLog(log, "agent connection(s) closed for not reading");
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

  /** An agent serving `domain`, round-robin among several; suspect agents are skipped. */
  pick(domain: string): AgentRegistration | undefined {
    const regs = this.#byDomain.get(domain);
    if (regs === undefined || regs.length === 0) return undefined;
    const start = this.#next.get(domain) ?? 0;
    for (let k = 0; k < regs.length; k++) {
      const i = (start + k) % regs.length;
      const reg = regs[i]!;
      if (this.#bySession.get(reg.session)?.suspect === true) continue;
      this.#next.set(domain, i + 1);
      return reg;
    }
    return undefined;
  }

  /**
   * Sorts out why an exchange on `reg` failed before the agent's reply:
   * {@linkcode Unreachable} when the agent never answered, null for any
   * other failure. An unacknowledged stream open makes the agent suspect
   * (skipped by {@linkcode pick}) until it answers a ping, which it must
   * within `openTimeout` more, or its session is closed.
   */
  unreachable(reg: AgentRegistration, error: unknown): Unreachable | null {
    if (!(error instanceof MuxError)) return null;
    if (error.code === "session-closed" || error.code === "go-away") return "gone";
    // A stream's own "timeout" is its open going unacknowledged (pings fail sessions, not streams).
    if (error.code !== "timeout") return null;
    const agent = this.#bySession.get(reg.session);
    if (agent !== undefined && !agent.suspect && !agent.session.isClosed) this.#suspect(agent);
    return "unacknowledged";
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
    const refusal = this.#gate.admit(remote);
    if (refusal !== null) return refusal;
    let upgraded;
    try {
      upgraded = Deno.upgradeWebSocket(req, { protocol: SUBPROTOCOL });
    } catch (e) {
      this.#gate.release(remote, false);
      throw e;
    }
    const run = this.#run(upgraded.socket, remote).then(
      (registered) => this.#gate.release(remote, registered),
      (e) => {
        this.#gate.release(remote, false);
        throw e;
      },
    );
    this.#track(run);
    return upgraded.response;
  }

  /**
   * Closes every agent session (GoAway first: agents redial at once, to this
   * server restarted or to another one) and waits for them.
   */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#agents].map((a) => a.session.close()));
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  /** Runs an agent's session until it ends; resolves true when it registered something. */
  async #run(socket: WebSocket, remote: string): Promise<boolean> {
    let conn;
    try {
      conn = await fromWebSocket(socket);
    } catch (e) {
      this.#log.warn("Agent at {remote} went away during the upgrade: {error}", {
        remote,
        error: (e as Error).message,
      });
      return false;
    }
    const id = crypto.randomUUID().slice(0, 8);
    const session = new Session(conn, {
      client: false,
      keepAliveInterval: 15_000,
      pingTimeout: 15_000,
      // A silent agent is found by its first request instead of by the next keepalive.
      openTimeout: this.#limits.openTimeout,
      // The peer is a Burrow agent: SYN, ACK and FIN ride on Data frames.
      foldFlags: true,
    });
    const agent: AgentConn = {
      id,
      remote,
      session,
      registrations: new Set(),
      registered: false,
      suspect: false,
    };
    this.#agents.add(agent);
    this.#bySession.set(session, agent);
    this.#log.info("agent#{agent} connected from {remote}", { agent: id, remote });
    if (this.#closing) await session.close();
    // A connection must register something within the deadline, or it only holds memory.
    const deadline = setTimeout(() => {
      if (agent.registered) return;
      this.#expired.note(
        `agent#${id} from ${remote} registered nothing within ${this.#limits.registerTimeout} ms: closed`,
      );
      session.close();
    }, this.#limits.registerTimeout);
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
    clearTimeout(deadline);
    for (const reg of agent.registrations) this.#remove(reg);
    this.#agents.delete(agent);
    this.#bySession.delete(session);
    // On shutdown the listeners stop after this, and Deno then closes WebSockets still open
    // with 1001 ahead of our GoAway: let the close handshake finish first (bounded).
    if (this.#closing) await socketClosed(socket, SOCKET_CLOSE_WAIT_MS);
    await Promise.all(serving);
    const reason = session.closeReason;
    if (reason instanceof MuxError && reason.code === "peer-not-draining") {
      this.#abusive.note(`agent#${id} from ${remote} closed for abuse: ${reason.message}`);
    }
    this.#log.info("agent#{agent} disconnected: {reason}", {
      agent: id,
      reason: session.closeReason?.message ?? "closed",
    });
    return agent.registered;
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
    if (!agent.registered) {
      agent.registered = true;
      this.#gate.registered();
    }
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

  /**
   * Stops routing to `agent` and pings it: an answer within `openTimeout`
   * clears the suspicion (a slow link, not a dead one), none closes the session.
   */
  #suspect(agent: AgentConn): void {
    agent.suspect = true;
    const ms = this.#limits.openTimeout;
    this.#log.warn(
      "agent#{agent} did not acknowledge a stream within {ms} ms: no requests go to it until it answers a ping",
      { agent: agent.id, ms },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<"silent">((resolve) => timer = setTimeout(resolve, ms, "silent"));
    const answered = agent.session.ping().then(() => "answered" as const, () => "silent" as const);
    this.#track(
      Promise.race([answered, silent]).then((outcome) => {
        clearTimeout(timer);
        if (agent.session.isClosed) return;
        if (outcome === "answered") {
          agent.suspect = false;
          this.#log.info("agent#{agent} answered a ping: requests go to it again", {
            agent: agent.id,
          });
          return;
        }
        this.#log.warn("agent#{agent} did not answer a ping within {ms} ms: session closed", {
          agent: agent.id,
          ms,
        });
        return agent.session.close();
      }),
    );
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
