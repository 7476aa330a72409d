/**
 * The server's side of Identify streams (`docs/protocol.md`, "Identify
 * streams"), as a stream handler the agent-session code puts in its table
 * next to Control's: parse, check against the `agents.d` file, answer, hold
 * the name in the {@link IdentityRegistry} (newer wins: the displaced
 * connection gets the `replaced` notice and the caller's `onDisplaced`,
 * which sends GoAway and closes it), and release it when the stream ends.
 * File changes revoke identities they no longer allow ({@link IdentifyService.review}).
 *
 * Everything the session code knows (its session object, the agent's
 * address) comes in as an opaque `S` and a string, so this file imports
 * nothing from `server/agents.ts`.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import {
  type AgentInfo,
  encodeIdentityEnd,
  type IdentifyRequest,
  type IdentityEndCode,
  parseIdentify,
} from "../../shared/identify.ts";
import type { IncomingStream, StreamHandler } from "../../shared/open/mod.ts";
import { checkAgentIdentity, type IdentityRefusal, type VerifySecret } from "./agent_identity.ts";
import { IdentityRegistry } from "./identity_registry.ts";
import type { AgentFile } from "./types.ts";

/** The stealth refusal every failed Identify gets. */
export const IDENTITY_REFUSED = { code: "refused", message: "Identity not accepted" } as const;

/**
 * The Identify request on `incoming`, or null once the stream was refused
 * with `bad-request` and the parse error (malformed params).
 *
 * @example
 * ```ts ignore
 * const request = await readIdentify(incoming);
 * if (request === null) return;
 * ```
 */
export async function readIdentify(incoming: IncomingStream): Promise<IdentifyRequest | null> {
  try {
    return parseIdentify(incoming.params);
  } catch (e) {
    await incoming.refuse("bad-request", (e as Error).message);
    return null;
  }
}

/** An identity held by a connection. */
export interface IdentityHold<S> {
  /** The agent's name. */
  readonly name: string;
  /** The connection's session (opaque here). */
  readonly session: S;
  /** The agent's address. */
  readonly address: string;
  /** What the agent said about its process. */
  readonly agent: AgentInfo;
  /** The agent file the identity was accepted with. */
  readonly file: AgentFile;
  /** When it was accepted. */
  readonly since: Date;
  /** The Identify stream; null for an identity held by a client certificate. */
  readonly incoming: IncomingStream | null;
  /** Ends the connection of a certificate identity that was revoked or replaced. */
  readonly close?: () => void;
}

/** What happened, for the audit log (next: SQLite) and tests. */
export type IdentifyEvent =
  | { type: "identified"; name: string; address: string; agent: AgentInfo }
  | {
    type: "refused";
    name: string;
    address: string;
    reason: IdentityRefusal | "duplicate";
    /** True for a client certificate's CN, false for an Identify stream. */
    certificate?: boolean;
  }
  | { type: "ended"; name: string; address: string; reason: "closed" | IdentityEndCode };

/** Options of {@linkcode IdentifyService}. */
export interface IdentifyServiceOptions<S> {
  /** The agent file for a name (`AccessFolders.agent`). */
  agentFile: (name: string) => AgentFile | undefined;
  /** System log. */
  log: Logger;
  /** Called with the session an identity was taken from: send it GoAway and close it. */
  onDisplaced: (session: S, by: IdentityHold<S>) => void;
  /** Secret check (plain or `$6$`). Default the shared `verifySecret`. */
  verify?: VerifySecret;
  /** Every identification, refusal and end. */
  onEvent?: (event: IdentifyEvent) => void;
  /**
   * Logs a refusal (the server's `AuthGuard.logRefusal`: at WARN once per
   * window per address, at DEBUG otherwise, so a loop of wrong secrets is
   * not a line each). Default: every refusal at WARN.
   */
  logRefusal?: (address: string, message: string, properties: Record<string, unknown>) => void;
}

/**
 * Identities of the connected agents.
 *
 * @example
 * ```ts
 * const identities = new IdentifyService<Session>({
 *   agentFile: (name) => access.agent(name),
 *   log,
 *   onDisplaced: (session) => session.close(),
 * });
 * const handlers = new Map([[StreamKind.Identify, identities.handler(session, remoteAddress)]]);
 * access.watch(({ folder, change }) => folder === "agents" && identities.review(change.name));
 * ```
 */
export class IdentifyService<S> {
  readonly #options: IdentifyServiceOptions<S>;
  readonly #registry = new IdentityRegistry<IdentityHold<S>>();
  /** Per session, its Identify stream being checked or held (one at a time). */
  readonly #current = new WeakMap<object, IncomingStream>();

  /** A service with no identity held. */
  constructor(options: IdentifyServiceOptions<S>) {
    this.#options = options;
  }

  /** The identity `name` is held by, if any. */
  holder(name: string): IdentityHold<S> | undefined {
    return this.#registry.holder(name);
  }

  /** Number of identities held. */
  get size(): number {
    return this.#registry.size;
  }

  /** The handler of Identify streams on `session`, whose agent connects from `address`. */
  handler(session: S & object, address: string): StreamHandler {
    return (incoming) => this.#identify(session, address, incoming);
  }

  /**
   * Re-checks the identity `name` against its agent file after the file
   * changed: ends it with `revoked` when the file is gone, its secret
   * changed, or its networks no longer hold the agent's address.
   */
  review(name: string): void {
    const hold = this.#registry.holder(name);
    if (hold === undefined) return;
    const file = this.#options.agentFile(name);
    let why: string | null = null;
    if (file === undefined) why = "agent file removed";
    // A certificate identity does not use the secret.
    else if (hold.incoming !== null && file.secret !== hold.file.secret) why = "secret changed";
    else if (file.networks !== null && !file.networks.contains(hold.address)) {
      why = "agent networks changed";
    }
    if (why !== null) void this.#end(hold, "revoked", why);
  }

  /**
   * Holds `name` for `session`, whose agent presented a client certificate
   * with that CN, signed by the configured CA (checked by the TLS layer):
   * the name must have an agent file whose `networks` hold `address`. The
   * newer connection wins as with Identify streams (the older one's `close`
   * or `onDisplaced`). `close` ends this connection when the identity is
   * revoked or replaced. Returns the release to call when the session
   * ends, or null when refused (logged and reported like an Identify refusal).
   * No secret is involved: an unknown name and an address outside the
   * networks cost the same lookups and end the same way for the peer (the
   * caller closes the session), and only a certificate the CA signed gets here.
   */
  holdCertificate(
    session: S & object,
    claim: { name: string; address: string; agent: AgentInfo; close: () => void },
  ): (() => void) | null {
    const { log } = this.#options;
    const { name, address, agent } = claim;
    const file = this.#options.agentFile(name);
    let refusal: [IdentityRefusal, string] | null = null;
    if (file === undefined || file.name !== name) {
      refusal = ["unknown-agent", `agent ${name} has no agents.d file`];
    } else if (file.networks !== null && !file.networks.contains(address)) {
      refusal = ["network", `agent ${name} connected from ${address}, outside its networks`];
    }
    if (refusal !== null || file === undefined) {
      const [reason, detail] = refusal ?? ["unknown-agent", ""];
      const message = "Client certificate {name} from {address} refused: {detail}";
      const properties = { name, address, detail };
      if (this.#options.logRefusal === undefined) log.warn(message, properties);
      else this.#options.logRefusal(address, message, properties);
      this.#options.onEvent?.({ type: "refused", name, address, reason, certificate: true });
      return null;
    }
    const hold: IdentityHold<S> = {
      name,
      session,
      address,
      agent,
      file,
      since: new Date(),
      incoming: null,
      close: claim.close,
    };
    const { displaced } = this.#registry.claim(name, hold);
    log.info("Agent {name} identified by its certificate from {address}", { name, address });
    this.#options.onEvent?.({ type: "identified", name, address, agent });
    if (displaced !== undefined) {
      log.warn("Agent {name} from {address} replaces the connection from {old}: GoAway to it", {
        name,
        address,
        old: displaced.address,
      });
      void this.#end(displaced, "replaced", `replaced by a connection from ${address}`);
      this.#options.onDisplaced(displaced.session, hold);
    }
    return () => {
      if (!this.#registry.release(name, hold)) return;
      log.info("Agent {name} from {address} no longer identified", { name, address });
      this.#options.onEvent?.({ type: "ended", name, address, reason: "closed" });
    };
  }

  async #identify(session: S & object, address: string, incoming: IncomingStream): Promise<void> {
    const request = await readIdentify(incoming);
    if (request === null) return;
    const { name } = request;
    if (this.#current.has(session)) {
      return await this.#refuse(incoming, name, address, "duplicate", "a second Identify stream");
    }
    this.#current.set(session, incoming);
    try {
      await this.#check(session, address, incoming, request);
    } finally {
      if (this.#current.get(session) === incoming) this.#current.delete(session);
    }
  }

  /** Checks an Identify request, answers it, and holds the identity until its stream ends. */
  async #check(
    session: S & object,
    address: string,
    incoming: IncomingStream,
    request: IdentifyRequest,
  ): Promise<void> {
    const { log } = this.#options;
    const { name } = request;
    const check = await checkAgentIdentity(this.#options.agentFile(name), {
      name,
      secret: request.secret,
      address,
    }, this.#options.verify);
    if (!check.ok) return await this.#refuse(incoming, name, address, check.reason, check.message);
    await incoming.accept({ name });
    const hold: IdentityHold<S> = {
      name,
      session,
      address,
      agent: request.agent,
      file: check.agent,
      since: new Date(),
      incoming,
    };
    const { displaced } = this.#registry.claim(name, hold);
    log.info("Agent {name} identified from {address} ({version} on {os})", {
      name,
      address,
      version: request.agent.version,
      os: request.agent.os,
    });
    this.#options.onEvent?.({ type: "identified", name, address, agent: request.agent });
    if (displaced !== undefined) {
      log.warn("Agent {name} from {address} replaces the connection from {old}: GoAway to it", {
        name,
        address,
        old: displaced.address,
      });
      await this.#end(displaced, "replaced", `replaced by a connection from ${address}`);
      this.#options.onDisplaced(displaced.session, hold);
    }
    // The identity lasts until the agent's FIN, a reset, or the session's end.
    await incoming.readable.pipeTo(new WritableStream()).catch(() => {});
    if (this.#registry.release(name, hold)) {
      log.info("Agent {name} from {address} no longer identified", { name, address });
      this.#options.onEvent?.({ type: "ended", name, address, reason: "closed" });
      await incoming.writable.close().catch(() => {});
    }
  }

  async #refuse(
    incoming: IncomingStream,
    name: string,
    address: string,
    reason: IdentityRefusal | "duplicate",
    detail: string,
  ): Promise<void> {
    // Stealth: the agent learns nothing about why; the log has the real reason.
    const message = "Identify as {name} from {address} refused: {detail}";
    const properties = { name, address, detail };
    if (this.#options.logRefusal === undefined) this.#options.log.warn(message, properties);
    else this.#options.logRefusal(address, message, properties);
    this.#options.onEvent?.({ type: "refused", name, address, reason });
    await incoming.refuse(IDENTITY_REFUSED.code, IDENTITY_REFUSED.message);
  }

  /** Ends `hold` with a notice and FIN; it no longer holds its name. */
  async #end(hold: IdentityHold<S>, code: IdentityEndCode, message: string): Promise<void> {
    this.#registry.release(hold.name, hold);
    const session = hold.session as S & object;
    if (hold.incoming !== null && this.#current.get(session) === hold.incoming) {
      this.#current.delete(session);
    }
    this.#options.log.info("Agent {name} from {address}: identity ended ({code}): {message}", {
      name: hold.name,
      address: hold.address,
      code,
      message,
    });
    this.#options.onEvent?.({
      type: "ended",
      name: hold.name,
      address: hold.address,
      reason: code,
    });
    if (hold.incoming === null) {
      // A certificate identity is its connection: it ends with it.
      hold.close?.();
      return;
    }
    try {
      await hold.incoming.stream.write(encodeIdentityEnd({ code, message }));
      hold.incoming.stream.closeWrite();
    } catch {
      hold.incoming.stream.reset(); // gone already: nothing to tell
    }
  }
}
