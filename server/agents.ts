/**
 * Agent connections: the WebSocket upgrade on the agent path (admitted by
 * `agent_gate.ts`, refused by `agent_upgrade.ts`), one mux session per agent
 * from its start to its end, and the routing of requests to the agents
 * (registrations: `agent_register.ts` accepts them, `agent_registrations.ts`
 * keeps them by domain).
 *
 * @module
 */

import { upgradeMuxSocket } from "../shared/transport/upgrade.ts";
import type { Logger } from "@logtape/logtape";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import type { Conn } from "../shared/transport/conn.ts";
import { MuxError, Session } from "../shared/mux/mod.ts";
import {
  type IncomingStream,
  serveStream,
  type StreamHandler,
  StreamKind,
} from "../shared/open/mod.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";
import type { AuthGuard } from "./auth_guard.ts";
import type { DomainChange, DomainRegistry } from "./domains.ts";
import type { AgentLimits } from "./config_types.ts";
import { AgentGate, WindowLog } from "./agent_gate.ts";
import {
  type AgentRegistration,
  RegistrationTable,
  revocationReason,
} from "./agent_registrations.ts";
import { endUpgrade, socketClosed, upgradeRefusal } from "./agent_upgrade.ts";
import { serveRegistration } from "./agent_register.ts";
import type { AccessFolders } from "./access/access_folders.ts";
import type { Audit } from "./audit/mod.ts";
import { AgentIdentities } from "./agent_identities.ts";
import { ReconnectHold } from "./reconnect_hold.ts";

/** Longest a stopping server waits for an agent's WebSocket close handshake, in ms. */
const SOCKET_CLOSE_WAIT_MS = 1000;

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

/** Connected agents and the domains they serve. */
export class AgentRegistry {
  readonly #domains: DomainRegistry;
  readonly #log: Logger;
  readonly #auth: AuthGuard;
  readonly #agents = new Set<AgentConn>();
  readonly #hold: ReconnectHold;
  readonly #registrations: RegistrationTable;
  readonly #tasks = new Set<Promise<void>>();
  readonly #bySession = new Map<Session, AgentConn>();
  readonly #limits: AgentLimits;
  readonly #gate: AgentGate;
  readonly #expired: WindowLog;
  /** Sessions closed for abusing the mux (a peer that asks and never reads). */
  readonly #abusive: WindowLog;
  /** Upgrades refused for their subprotocol, and sockets gone during the upgrade. */
  readonly #badUpgrades: WindowLog;
  /** Identities of the agents (`agents.d`), and the directory of identified agents. */
  readonly identities: AgentIdentities;
  #closing = false;

  /**
   * A registry checking registrations against `domains`, identities against
   * `access`'s agent files, secrets through `auth`, recording sessions in
   * `audit`, and bounding agent connections by `limits`.
   */
  constructor(
    domains: DomainRegistry,
    log: Logger,
    { auth, limits, access, audit }: {
      auth: AuthGuard;
      limits: AgentLimits;
      access: AccessFolders;
      audit: Audit | null;
    },
  ) {
    this.#domains = domains;
    this.#log = log;
    this.#auth = auth;
    this.#limits = limits;
    this.#hold = new ReconnectHold(limits.holdTime);
    this.#registrations = new RegistrationTable((domain) => this.#hold.arrived(domain));
    this.#gate = new AgentGate(limits, log);
    this.#expired = new WindowLog(log, "agent connection(s) closed for registering nothing");
    this.#abusive = new WindowLog(log, "agent connection(s) closed for not reading");
    this.#badUpgrades = new WindowLog(log, "agent upgrade(s) refused or abandoned");
    domains.onChange((change) => this.#revokeChanged(change));
    this.identities = new AgentIdentities({
      access,
      auth,
      audit,
      log,
      holdTime: limits.holdTime,
      onIdentified: (session) => {
        const agent = this.#bySession.get(session);
        if (agent === undefined || agent.registered) return;
        agent.registered = true;
        this.#gate.registered();
      },
    });
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
    return this.#registrations.has(domain);
  }

  /** An agent serving `domain`, round-robin among several; suspect agents are skipped. */
  pick(domain: string): AgentRegistration | undefined {
    return this.#registrations.pick(
      domain,
      (reg) => this.#bySession.get(reg.session)?.suspect === true,
    );
  }

  /**
   * Waits for an agent of `domain` when its last one lost its connection
   * within `agents.holdTime` (it is probably redialling); resolves with the
   * agent picked then, or undefined at once for a domain nobody served.
   */
  async waitFor(domain: string, signal?: AbortSignal): Promise<AgentRegistration | undefined> {
    if (!await this.#hold.wait(domain, signal)) return undefined;
    return this.pick(domain);
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
    const refused = upgradeRefusal(req, remote, this.#badUpgrades);
    if (refused !== null) return refused;
    if (this.#closing) return new Response("Server is shutting down\n", { status: 503 });
    const refusal = this.#gate.admit(remote);
    if (refusal !== null) return refusal;
    let upgraded;
    try {
      upgraded = upgradeMuxSocket(req, SUBPROTOCOL);
    } catch (e) {
      // A malformed handshake (no key, say) is the client's mistake, not a server error.
      this.#gate.release(remote, false);
      this.#badUpgrades.note(`Agent at ${remote} sent a bad upgrade: ${(e as Error).message}`);
      return new Response("Bad WebSocket upgrade\n", { status: 400 });
    }
    const run = this.#run(upgraded.socket, remote).then(
      (registered) => this.#gate.release(remote, registered),
      (e) => {
        this.#gate.release(remote, false);
        throw e;
      },
    );
    this.#track(run);
    // A peer that ignores the close frame does not keep its connection.
    // (Not while the server stops: its janitor stops too, and Deno closes what is left.)
    this.#track(
      run.catch(() => {}).then(() => this.#closing ? undefined : endUpgrade(req, upgraded.socket)),
    );
    return upgraded.response;
  }

  /**
   * Closes every agent session (GoAway first: agents redial at once, to this
   * server restarted or to another one) and waits for them.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.identities.close();
    this.#hold.close();
    await Promise.all([...this.#agents].map((a) => a.session.close()));
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  /**
   * Runs an agent session over `conn`, a TLS connection whose client
   * certificate (signed by the configured CA, checked by the TLS layer)
   * names the agent `name` (`server/agent_tls.ts`). Agent caps apply; the
   * identity is held as long as the session, which ends when the agent
   * file no longer allows it. False when refused (`conn` is closed then).
   */
  certificateSession(conn: Conn, remote: string, name: string): boolean {
    if (this.#closing || this.#gate.admit(remote) !== null) {
      void conn.writable.abort().catch(() => {});
      return false;
    }
    const run = this.#runSession(conn, remote, { certificate: name }).then(
      (registered) => this.#gate.release(remote, registered),
      (e) => {
        this.#gate.release(remote, false);
        throw e;
      },
    );
    this.#track(run);
    return true;
  }

  /** Runs an agent's session until it ends; resolves true when it registered something. */
  async #run(socket: WebSocket, remote: string): Promise<boolean> {
    let conn;
    try {
      conn = await fromWebSocket(socket);
    } catch (e) {
      this.#badUpgrades.note(
        `Agent at ${remote} went away during the upgrade: ${(e as Error).message}`,
      );
      return false;
    }
    return await this.#runSession(conn, remote, {
      // On shutdown the listeners stop after this, and Deno then closes WebSockets still open
      // with 1001 ahead of our GoAway: let the close handshake finish first (bounded).
      afterEnd: () => this.#closing ? socketClosed(socket, SOCKET_CLOSE_WAIT_MS) : undefined,
    });
  }

  /**
   * Runs an agent's session over `conn` until it ends; resolves true when
   * it registered something. With `certificate`, the session holds that
   * identity from the start (or is closed at once when it is refused).
   */
  async #runSession(
    conn: Conn,
    remote: string,
    { certificate, afterEnd }: { certificate?: string; afterEnd?: () => Promise<void> | void },
  ): Promise<boolean> {
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
    const release = certificate === undefined ? null : this.identities.holdCertificate(session, {
      name: certificate,
      address: remote,
      close: () => void session.close(),
    });
    if (certificate !== undefined && release === null) await session.close();
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
      [
        StreamKind.Identify,
        certificate === undefined
          ? this.identities.handler(session, remote)
          : this.identities.infoHandler(session, certificate),
      ],
    ]);
    const serving = new Set<Promise<void>>();
    for (let s = await session.accept(); s !== null; s = await session.accept()) {
      const p = serveStream(s, handlers);
      serving.add(p);
      p.finally(() => serving.delete(p));
    }
    await session.closed;
    clearTimeout(deadline);
    release?.();
    for (const reg of agent.registrations) this.#remove(reg);
    this.#agents.delete(agent);
    this.#bySession.delete(session);
    await afterEnd?.();
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

  /** Serves a Control stream of `agent`: a registration, held until it ends. */
  #register(agent: AgentConn, incoming: IncomingStream): Promise<void> {
    return serveRegistration(agent, incoming, {
      domains: this.#domains,
      auth: this.#auth,
      log: this.#log,
      table: this.#registrations,
      onFirst: () => this.#gate.registered(),
      remove: (reg) => this.#remove(reg),
    });
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

  /**
   * Forgets a registration; false when it was gone already. When it went
   * with its session (a lost link, not the agent's FIN) and no other agent
   * serves the domain, its requests wait a little for it to redial
   * (`agents.holdTime`).
   */
  #remove(reg: AgentRegistration): boolean {
    if (!this.#registrations.remove(reg)) return false;
    if (reg.session.isClosed && !this.#registrations.has(reg.domain)) this.#hold.lost(reg.domain);
    this.#bySession.get(reg.session)?.registrations.delete(reg);
    return true;
  }

  /** Revokes registrations a domain change no longer allows; unchanged ones stay. */
  #revokeChanged({ name, after }: DomainChange): void {
    for (const reg of this.#registrations.of(name)) {
      const why = revocationReason(reg, after);
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
