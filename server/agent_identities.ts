/**
 * Agent identities on the server's agent sessions: the Identify stream
 * handler (`server/access/identify_service.ts`) plugged into the server's
 * auth guard (failure limits, `$6$` off the event loop), the audit (agent
 * sessions with their grace period, refusals), and the
 * {@linkcode AgentDirectory} the operator channels, published ports and the
 * admin API read.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Session } from "../shared/mux/mod.ts";
import type { StreamHandler } from "../shared/open/mod.ts";
import type { AccessFolders } from "./access/access_folders.ts";
import {
  type IdentifyEvent,
  IdentifyService,
  IDENTITY_REFUSED,
  readIdentify,
} from "./access/identify_service.ts";
import type { AgentInfo } from "../shared/identify.ts";
import type { Audit, SessionLease } from "./audit/mod.ts";
import type { AuthGuard } from "./auth_guard.ts";
import type { AgentDirectory, ConnectedAgent } from "./agent_directory.ts";
import { ReconnectHold } from "./reconnect_hold.ts";

/** What {@linkcode AgentIdentities} needs. */
export interface AgentIdentitiesOptions {
  /** The `agents.d` files in force. */
  access: AccessFolders;
  /** Failure limits and secret checks. */
  auth: AuthGuard;
  /** Audit store, or null when the server keeps none. */
  audit: Audit | null;
  /** System log. */
  log: Logger;
  /** Told when a session identified: it no longer needs to register a domain. */
  onIdentified: (session: Session) => void;
  /** How long channels to an agent that lost its connection wait for it (`agents.holdTime`). */
  holdTime: number;
}

/** The agent identities held on this server's sessions. */
export class AgentIdentities implements AgentDirectory {
  readonly #service: IdentifyService<Session>;
  readonly #options: AgentIdentitiesOptions;
  /** Per identified name: its session, its audit lease when the audit is on, and its end. */
  readonly #held = new Map<
    string,
    {
      session: Session;
      lease: SessionLease | null;
      ended: AbortController;
      /** What a certificate agent reported after its session started (an info Identify stream). */
      agent?: AgentInfo;
    }
  >();
  readonly #hold: ReconnectHold;

  /** Identities checked against `access`'s agent files through `auth`. */
  constructor(options: AgentIdentitiesOptions) {
    this.#options = options;
    this.#hold = new ReconnectHold(options.holdTime);
    const { access, auth, log } = options;
    this.#service = new IdentifyService<Session>({
      agentFile: (name) => access.agent(name),
      log,
      // The newer connection has the name: the older one is told GoAway and closed.
      onDisplaced: (session) => void session.close(),
      verify: async (plain, stored, { claim, decoy }) =>
        (await auth.verify({
          address: claim.address,
          account: `agent identity ${claim.name}`,
          presented: plain,
          stored: [stored],
          decoy,
        })).ok,
      onEvent: (event) => this.#record(event),
      // Once per window per address, like every other auth refusal: a loop of wrong
      // secrets (or of unknown names, or of claims from outside a name's networks, each a
      // decoy check the guard counts as a failure) is not a line each.
      logRefusal: (address, message, properties) => auth.logRefusal(address, message, properties),
    });
  }

  /** The Identify stream handler of `session`, whose agent connects from `address`. */
  handler(session: Session, address: string): StreamHandler {
    return this.#service.handler(session, address);
  }

  /**
   * Holds the identity `name` for `session`, from the CN of a client
   * certificate the TLS layer verified (`server/agent_tls.ts`); `close`
   * ends the connection when the identity is revoked or replaced. Returns
   * the release to call when the session ends, or null when refused (no
   * agent file, or `address` outside its networks: logged once per window,
   * audited as a `certificate` refusal).
   */
  holdCertificate(
    session: Session,
    claim: { name: string; address: string; close: () => void },
  ): (() => void) | null {
    return this.#service.holdCertificate(session, {
      ...claim,
      agent: { id: "", version: "", os: "", host: "" },
    });
  }

  /**
   * The Identify handler of a session that holds certificate identity
   * `name`: the certificate is the proof, so the stream only carries what the
   * agent says of its process (version, OS, host; the secret is ignored), for
   * the directory and the audit session row. Another name is refused.
   */
  infoHandler(session: Session, name: string): StreamHandler {
    return async (incoming) => {
      const request = await readIdentify(incoming);
      if (request === null) return;
      const held = this.#held.get(name);
      if (request.name !== name || held === undefined || held.session !== session) {
        await incoming.refuse(IDENTITY_REFUSED.code, IDENTITY_REFUSED.message);
        return;
      }
      held.agent = request.agent;
      const { version, os, host } = request.agent;
      if (held.lease !== null) {
        this.#options.audit?.store.sessionInfo(held.lease.sessionId, { version, os, host });
      }
      await incoming.accept({ name });
      await incoming.writable.close().catch(() => {});
      await incoming.readable.pipeTo(new WritableStream()).catch(() => {});
    };
  }

  /** Re-checks the identity `name` after its agent file changed (ends it when no longer allowed). */
  review(name: string): void {
    this.#service.review(name);
  }

  /** Set when the server stops: connections ending from then on end with "server stopped". */
  stopping = false;

  /** Number of identities held. */
  get size(): number {
    return this.#service.size;
  }

  get(name: string): ConnectedAgent | undefined {
    const hold = this.#service.holder(name);
    if (hold === undefined) return undefined;
    const held = this.#held.get(name);
    const lease = held?.lease ?? undefined;
    return {
      name,
      groups: hold.file.groups,
      address: hold.address,
      agent: held?.agent ?? hold.agent,
      since: hold.since,
      session: hold.session,
      ...(lease !== undefined && { sessionId: lease.sessionId }),
      ...(held !== undefined && { ended: held.ended.signal }),
    };
  }

  async waitFor(name: string, signal?: AbortSignal): Promise<ConnectedAgent | undefined> {
    return await this.#hold.wait(name, signal) ? this.get(name) : undefined;
  }

  /** Ends the waits for agents to come back: the server stops. */
  close(): void {
    this.stopping = true;
    this.#hold.close();
  }

  list(): ConnectedAgent[] {
    return [...this.#held.keys()].sort().map((n) => this.get(n)).filter((a) => a !== undefined);
  }

  #record(event: IdentifyEvent): void {
    const { audit } = this.#options;
    switch (event.type) {
      case "identified": {
        const hold = this.#service.holder(event.name);
        if (hold === undefined) return;
        this.#options.onIdentified(hold.session);
        const previous = this.#held.get(event.name);
        // The channels through the connection it replaces end with it.
        previous?.ended.abort();
        const old = previous?.lease ?? null;
        // A newer connection taking the name over continues its session (SessionTracker).
        if (old !== null) audit?.sessions.disconnected(old, "replaced by a newer connection");
        const lease = audit?.sessions.connected(event.name, {
          remote: event.address,
          version: event.agent.version,
          os: event.agent.os,
          host: event.agent.host,
        }) ?? null;
        this.#held.set(event.name, { session: hold.session, lease, ended: new AbortController() });
        this.#hold.arrived(event.name);
        return;
      }
      case "ended": {
        const held = this.#held.get(event.name);
        // A newer connection holds the name (and the lease) now: nothing ends.
        if (held === undefined || this.#service.holder(event.name) !== undefined) return;
        this.#held.delete(event.name);
        held.ended.abort();
        const reason = this.stopping
          ? "server stopped"
          : event.reason === "closed"
          ? held.session.closeReason?.message ?? "connection closed"
          : endReason(event.reason);
        if (held.lease !== null) audit?.sessions.disconnected(held.lease, reason);
        // A lost link (not the agent's FIN): channels asked for meanwhile wait a little
        // for the agent to redial.
        if (event.reason === "closed" && held.session.isClosed && !this.stopping) {
          this.#hold.lost(event.name);
        }
        return;
      }
      case "refused":
        audit?.refusals.refused({
          kind: event.certificate === true ? "certificate" : "agent",
          identity: event.name,
          source: event.address,
          reason: event.reason,
        });
        return;
    }
  }
}

function endReason(reason: "closed" | "replaced" | "revoked"): string {
  switch (reason) {
    case "closed":
      return "connection closed";
    case "replaced":
      return "replaced by a newer connection";
    case "revoked":
      return "identity revoked";
  }
}
