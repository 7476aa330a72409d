/**
 * One agent connection to one server: dials `wss://<remote><service>`, runs
 * a client mux session over it, holds one Control stream per domain, serves
 * the streams the server opens, and redials after any disconnect with
 * exponential backoff. Protocol in `docs/protocol.md`, section 3.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AgentDomain, AgentIdentityConfig } from "./config_types.ts";
import { IdentityClaim } from "./identity_claim.ts";
import { Backoff, retryAfterDelay, sleep } from "../shared/time/backoff.ts";
import { hedgedDial } from "./hedged_dial.ts";
import { MAX_HTTP_HEAD } from "./http.ts";
import { type AgentIdentity, DomainRegistration } from "./registration.ts";
import { Session } from "../shared/mux/mod.ts";
import { openStream, serveStream, type StreamHandler } from "../shared/open/mod.ts";
import { identifyMessage } from "../shared/identify.ts";
import { type DialedWebSocket, DialError, type dialWebSocket } from "../shared/transport/dial.ts";
import { describeDialError, dialServer } from "./server_dial.ts";
import { dialWithCertificate } from "./certificate_dial.ts";
import type { ConnectionTuning } from "./connection_tuning.ts";

/** Longest wait for a closed socket's close handshake, in ms. */
const SOCKET_CLOSE_WAIT_MS = 2000;

/** How our WebSocket transports word a close with code 1001 (Going Away). */
const GOING_AWAY = /^WebSocket closed \(code 1001\b/;

/** A session the server ended with GoAway after at least this long is redialled at once. */
const GOAWAY_REDIAL_AFTER_MS = 1000;

export type { AgentIdentity } from "./registration.ts";

/** What a {@linkcode Connection} needs. */
export interface ConnectionOptions {
  /** Server URL, `wss://<remote><service>`. */
  url: string;
  /** Skip verification of the server's certificate. */
  insecure: boolean;
  /** PEM file of a CA to trust for the server, read at every dial. */
  caFile: string | null;
  /** Sent with every registration. */
  agent: AgentIdentity;
  /** The agent's own identity, claimed on this connection's sessions; null for domains only. */
  identity?: AgentIdentityConfig | null;
  /** Handlers of the streams the server opens (Http). */
  handlers: ReadonlyMap<number, StreamHandler>;
  /** Logger of this connection's scope. */
  log: Logger;
  /** Timing. */
  tuning: ConnectionTuning;
  /** Dialer; tests may replace it. Default {@linkcode dialWebSocket}. */
  dial?: typeof dialWebSocket;
}

/** What {@linkcode Connection.status} reports for one domain. */
export interface DomainStatus {
  /** Domain name. */
  domain: string;
  /** Server URL the domain is served through. */
  url: string;
  /** True while the connection's session is up. */
  connected: boolean;
  /** True while the server holds the domain's registration. */
  registered: boolean;
  /** The last failure (dial, refusal, revocation); null after a registration succeeded. */
  lastError: string | null;
}

/**
 * Connection manager for the domains that share one server, TLS settings
 * and service path. Runs until {@linkcode Connection.close}.
 *
 * @example
 * ```ts
 * const connection = new Connection({ url, insecure: false, caFile: null, agent, handlers, log,
 *   tuning: DEFAULT_TUNING }, [domain]);
 * connection.status(); // [{ domain: "app.example.com", connected: false, ... }]
 * await connection.close();
 * ```
 */
export class Connection {
  readonly #options: ConnectionOptions;
  readonly #log: Logger;
  readonly #entries = new Map<string, DomainRegistration>();
  readonly #closing = new AbortController();
  readonly #tasks = new Set<Promise<void>>();
  readonly #registrations = new Set<Promise<void>>();
  readonly #lingering = new Set<Promise<void>>();
  readonly #run: Promise<void>;
  #session: Session | null = null;
  #sessionDown: AbortSignal | null = null;
  #lastDialError: string | null = null;
  readonly #claim: IdentityClaim | null;
  /** Set when a newer connection took the identity: the next redial waits the longest backoff. */
  #replaced = false;
  /** When the identity was last accepted (performance.now()); -1 before. */
  #identifiedAt = -1;
  /** The identity's client certificate: the connection dials with it, and its session is the identity. */
  readonly #certificate: { name: string; remote: string; certFile: string; keyFile: string } | null;
  /** True once the server answered a ping on this session: it took the certificate. */
  #certificateHeld = false;
  /** The certificate identity's last failure (dial, refused handshake, disconnect). */
  #certificateError: string | null = null;

  /** Starts connecting at once for `domains` (and the identity, when set). */
  constructor(options: ConnectionOptions, domains: readonly AgentDomain[]) {
    this.#options = options;
    this.#log = options.log;
    for (const domain of domains) this.#entries.set(domain.name, this.#newEntry(domain));
    const { tuning } = options;
    const identity = options.identity ?? null;
    this.#certificate = identity?.certificate
      ? { name: identity.name, remote: identity.remote, ...identity.certificate }
      : null;
    this.#claim = identity !== null && this.#certificate === null
      ? new IdentityClaim(identity, {
        agent: options.agent,
        log: options.log,
        backoff: { min: tuning.backoffMin, max: tuning.backoffMax, reset: tuning.backoffReset },
        // Two machines with one name must not take it from each other in a loop.
        onReplaced: () => this.#replaced = true,
        onIdentified: () => this.#identifiedAt = performance.now(),
      })
      : null;
    this.#run = this.#loop();
  }

  /** The identity's state on this connection; null when it claims none. */
  identityStatus(): { name: string; identified: boolean; lastError: string | null } | null {
    const certificate = this.#certificate;
    if (certificate !== null) {
      // The server takes the certificate at the handshake: a session is the identity held.
      return {
        name: certificate.name,
        identified: this.#certificateHeld,
        lastError: this.#certificateError,
      };
    }
    const claim = this.#claim;
    if (claim === null) return null;
    return { name: claim.identity.name, identified: claim.identified, lastError: claim.lastError };
  }

  /** True when this connection carries neither domains nor an identity. */
  get empty(): boolean {
    return this.#entries.size === 0 && this.#claim === null && this.#certificate === null;
  }

  /** Streams from the server being served now (requests, relays), registrations not counted. */
  get serving(): number {
    return this.#tasks.size - this.#registrations.size;
  }

  /** Per-domain state, for tests and diagnostics. */
  status(): DomainStatus[] {
    const connected = this.#session !== null && !this.#session.isClosed;
    return [...this.#entries.values()].map((e) => ({
      domain: e.domain.name,
      url: this.#options.url,
      connected,
      registered: e.registered,
      lastError: e.lastError,
    }));
  }

  /**
   * Applies a new set of domains: a new domain registers, a missing one ends
   * its registration (FIN), one whose secret changed registers again; any
   * other change (targets, concurrency) needs no new registration and keeps it.
   */
  update(domains: readonly AgentDomain[]): void {
    const next = new Map(domains.map((d) => [d.name, d]));
    for (const [name, entry] of this.#entries) {
      const domain = next.get(name);
      if (domain !== undefined && domain.secret === entry.domain.secret) {
        entry.domain = domain;
        continue;
      }
      entry.stop();
      this.#entries.delete(name);
      this.#log.info("{domain}: {what}, registration closed", {
        domain: name,
        what: domain === undefined ? "removed" : "secret changed",
      });
    }
    for (const [name, domain] of next) {
      if (this.#entries.has(name)) continue;
      const entry = this.#newEntry(domain);
      this.#entries.set(name, entry);
      if (this.#session !== null && this.#sessionDown !== null) {
        this.#startRegistration(entry, this.#session, this.#sessionDown);
      }
    }
  }

  /**
   * Ends every registration (FIN) and waits up to `finTimeout` ms for the
   * server to acknowledge them, so it stops routing requests here first;
   * then closes the session (GoAway), stops the reconnect timer, and resolves
   * once the socket, the registration loops and the streams being served are
   * all finished.
   */
  async close(finTimeout = 1000): Promise<void> {
    if (!this.#closing.signal.aborted) {
      this.#closing.abort();
      for (const entry of this.#entries.values()) entry.stop();
      this.#claim?.stop();
      await settleWithin([...this.#registrations], finTimeout);
      this.#session?.close();
    }
    await this.#run;
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    await settleWithin([...this.#lingering], SOCKET_CLOSE_WAIT_MS);
  }

  // ---- Connecting --------------------------------------------------------

  async #loop(): Promise<void> {
    const { tuning } = this.#options;
    const backoff = new Backoff({
      min: tuning.backoffMin,
      max: tuning.backoffMax,
      fastMax: Math.min(Math.max(tuning.backoffFastMax, tuning.backoffMin), tuning.backoffMax),
      fastFor: tuning.backoffFastFor,
    });
    const closing = this.#closing.signal;
    while (!closing.aborted) {
      let dialed: DialedWebSocket;
      try {
        // A dial that gets stuck does not hold up the next try: a second one starts beside it.
        dialed = await hedgedDial(() => this.#dial(), {
          hedgeAfter: tuning.dialHedge,
          signal: closing,
          onHedge: () => this.#log.debug("Dial still pending: dialling again beside it"),
          discard: (late) => this.#linger(late),
        });
      } catch (e) {
        if (closing.aborted) break;
        let delay = backoff.next();
        // An overloaded server says when to come back (503 + Retry-After): never sooner.
        if (e instanceof DialError && e.retryAfter !== undefined) {
          delay = Math.max(delay, retryAfterDelay(e.retryAfter));
        }
        const error = describeDialError(e, this.#options.url);
        this.#failAll(error);
        if (this.#certificate !== null) this.#certificateError = error;
        // The first failure and every new one are warnings; the same one again is noise.
        const fields = { error, delay };
        if (error === this.#lastDialError) {
          this.#log.debug("Cannot connect: {error}; retrying in {delay} ms", fields);
        } else this.#log.warn("Cannot connect: {error}; retrying in {delay} ms", fields);
        this.#lastDialError = error;
        if (!await sleep(delay, closing)) break;
        continue;
      }
      const up = performance.now();
      const { reason, goAway } = await this.#serve(dialed);
      if (closing.aborted) break;
      const lasted = performance.now() - up;
      // A server that took a registration was back and working: the next outage is a new
      // one (a restart right after another gets the fast redials again). A connection
      // dropped before that counts as one more failure of the same outage.
      // A certificate connection gets no "replaced" notice (the server only sends GoAway): it
      // counts as working, and redials at once after GoAway, only when it lasted, so that two
      // machines with one certificate do not take the name from each other in a tight loop.
      const certificate = this.#certificate !== null;
      const worked = [...this.#entries.values()].some((e) => (e.registeredAt ?? -1) >= up) ||
        (!certificate && this.#identifiedAt >= up);
      if (worked || lasted >= tuning.backoffReset) backoff.reset();
      // A server going away on purpose (restart, deploy) said so: redial now, and keep the
      // backoff for the failures that may follow while it is down. An identity another
      // machine took over waits the longest backoff: the two must not take turns.
      const redialAfter = certificate ? tuning.backoffReset : GOAWAY_REDIAL_AFTER_MS;
      let delay = goAway && lasted >= redialAfter ? 0 : backoff.next();
      if (this.#replaced) {
        this.#replaced = false;
        delay = tuning.backoffMax;
      }
      this.#failAll(`Disconnected: ${reason}`);
      if (this.#certificate !== null) this.#certificateError = `Disconnected: ${reason}`;
      this.#log.warn("Disconnected: {reason}; reconnecting in {delay} ms", { reason, delay });
      if (!await sleep(delay, closing)) break;
    }
  }

  /** Closes a socket and keeps track of it until its close handshake ends. */
  #linger(dialed: DialedWebSocket): void {
    dialed.close();
    this.#lingering.add(dialed.closed);
    dialed.closed.finally(() => this.#lingering.delete(dialed.closed));
  }

  #dial(): Promise<DialedWebSocket> {
    const { url, caFile, insecure, tuning, dial } = this.#options;
    if (this.#certificate !== null) {
      const { remote, certFile, keyFile } = this.#certificate;
      return dialWithCertificate({
        remote,
        caFile,
        certFile,
        keyFile,
        timeout: tuning.dialTimeout,
        signal: this.#closing.signal,
      });
    }
    return dialServer({
      url,
      caFile,
      insecure,
      timeout: tuning.dialTimeout,
      signal: this.#closing.signal,
      dial,
    });
  }

  /** Runs one session until it ends; resolves with the reason it ended, and whether by GoAway. */
  async #serve(dialed: DialedWebSocket): Promise<{ reason: string; goAway: boolean }> {
    const { tuning, handlers } = this.#options;
    const session = new Session(dialed.conn, {
      client: true,
      keepAliveInterval: tuning.keepAliveInterval,
      pingTimeout: tuning.pingTimeout,
      // The peer is a Burrow server: SYN, ACK and FIN ride on Data frames.
      foldFlags: true,
    });
    const down = new AbortController();
    this.#session = session;
    this.#sessionDown = down.signal;
    this.#lastDialError = null;
    this.#log.info("Connected to {url}", { url: this.#options.url });
    if (this.#closing.signal.aborted) session.close();
    for (const entry of this.#entries.values()) {
      this.#startRegistration(entry, session, down.signal);
    }
    if (this.#claim !== null) this.#startClaim(this.#claim, session, down.signal);
    if (this.#certificate !== null) {
      // The server took the certificate when it answers: a refused one ends the session instead
      // (with TLS 1.3 the client's handshake finishes before the server checked the certificate).
      // Its Identify stream carries only what the agent says of its process (no secret).
      this.#track(this.#reportProcess(session, this.#certificate.name));
    }
    for (let s = await session.accept(); s !== null; s = await session.accept()) {
      this.#track(serveStream(s, handlers, { maxBody: MAX_HTTP_HEAD }));
    }
    await session.closed;
    down.abort();
    this.#session = null;
    this.#certificateHeld = false;
    this.#sessionDown = null;
    // The redial does not wait for the old socket's close handshake: a peer that went
    // silent never finishes it, and a server that went away needs no answer.
    this.#linger(dialed);
    // No reason on a session this side did not close: the server sent GoAway, then ended it.
    const reason = session.closeReason;
    // A WebSocket closed with 1001 (Going Away: a server or a proxy shutting down) says the same.
    if (reason !== null) return { reason: reason.message, goAway: GOING_AWAY.test(reason.message) };
    if (this.#closing.signal.aborted) return { reason: "the agent is stopping", goAway: false };
    return { reason: "the server went away (GoAway)", goAway: true };
  }

  /**
   * Tells the server, on a certificate session, the agent's version, OS and
   * host (an Identify stream with no secret); its OK also says the server took
   * the certificate. A server that refuses it is asked with a ping instead.
   */
  async #reportProcess(session: Session, name: string): Promise<void> {
    const agent = { ...this.#options.agent, os: Deno.build.os };
    let answered: boolean;
    try {
      const stream = await openStream(session, identifyMessage({ name, secret: "", agent }));
      await stream.writable.close().catch(() => {});
      await stream.readable.pipeTo(new WritableStream()).catch(() => {});
      answered = true;
    } catch {
      answered = await session.ping().then(() => true, () => false);
    }
    if (!answered || this.#session !== session) return;
    this.#certificateHeld = true;
    this.#certificateError = null;
    this.#identifiedAt = performance.now();
  }

  #failAll(error: string): void {
    for (const entry of this.#entries.values()) entry.fail(error);
  }

  // ---- Registrations -----------------------------------------------------

  #newEntry(domain: AgentDomain): DomainRegistration {
    const { agent, log, tuning } = this.#options;
    return new DomainRegistration(domain, {
      agent,
      log,
      backoff: { min: tuning.backoffMin, max: tuning.backoffMax, reset: tuning.backoffReset },
    });
  }

  #startRegistration(entry: DomainRegistration, session: Session, down: AbortSignal): void {
    const loop = entry.run(session, down);
    this.#registrations.add(loop);
    loop.finally(() => this.#registrations.delete(loop));
    this.#track(loop);
  }

  #startClaim(claim: IdentityClaim, session: Session, down: AbortSignal): void {
    const held = claim.run(session, down).then(() => {});
    this.#registrations.add(held);
    held.finally(() => this.#registrations.delete(held));
    this.#track(held);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }
}

/** Resolves when every promise settled or `ms` passed, whichever comes first. */
async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  try {
    await Promise.race([Promise.allSettled(promises), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
