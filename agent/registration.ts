/**
 * One domain's registration with the server: a Control stream opened right
 * after the session is up and held open for as long as the agent serves the
 * domain (`docs/protocol.md`, "Control streams"). Refusals and revocations
 * are retried with backoff; the agent ends it with FIN.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AgentDomain } from "./config_types.ts";
import { Backoff, sleep } from "../shared/time/backoff.ts";
import { MuxError, type Session } from "../shared/mux/mod.ts";
import { type OpenedStream, OpenError, openStream, StreamKind } from "../shared/open/mod.ts";
import type { RegisterRequest } from "../shared/protocol.ts";

/** Who the agent is, sent with every registration. */
export type AgentIdentity = RegisterRequest["agent"];

/** What a {@linkcode DomainRegistration} needs from its connection. */
export interface RegistrationOptions {
  /** Sent with the request. */
  agent: AgentIdentity;
  /** Logger of the connection's scope. */
  log: Logger;
  /** Backoff of retries, in ms: first ceiling, largest ceiling, and how long a hold resets it. */
  backoff: { min: number; max: number; reset: number };
}

/**
 * The registration of one domain on a connection. A connection makes a new
 * one when the domain's secret changes; other changes update `domain` in place.
 *
 * @example
 * ```ts
 * const registration = new DomainRegistration(domain, { agent, log, backoff });
 * const held = registration.run(session, sessionDown.signal); // until the session ends
 * registration.stop(); // FIN: the server stops routing the domain here
 * await held;
 * ```
 */
export class DomainRegistration {
  /** The domain file in force. */
  domain: AgentDomain;
  /** True while the server holds the registration. */
  registered = false;
  /** The last refusal or revocation; null once registered. */
  lastError: string | null = null;
  /** When the server last accepted the registration (`performance.now()`); null before. */
  registeredAt: number | null = null;

  readonly #options: RegistrationOptions;
  readonly #stop = new AbortController();
  #control: OpenedStream | null = null;

  /** A registration of `domain`, not yet running. */
  constructor(domain: AgentDomain, options: RegistrationOptions) {
    this.domain = domain;
    this.#options = options;
  }

  /**
   * Registers on `session` and holds the registration until `down` aborts
   * (the session ended), the session closes, or {@linkcode stop} is called.
   * A refusal or a revocation by the server is retried with backoff.
   */
  async run(session: Session, down: AbortSignal): Promise<void> {
    const signal = AbortSignal.any([this.#stop.signal, down]);
    const { min, max, reset } = this.#options.backoff;
    const backoff = new Backoff({ min, max });
    while (!signal.aborted) {
      let control: OpenedStream;
      try {
        control = await openStream(session, { kind: StreamKind.Control, params: this.#params() });
      } catch (e) {
        // A closing session (or the server's GoAway before it closes) ends this loop; the
        // connection registers again on its next session.
        if (signal.aborted || session.isClosed || (e instanceof MuxError && e.code === "go-away")) {
          break;
        }
        if (!await this.#retry(backoff, `registration refused: ${describe(e)}`, signal)) break;
        continue;
      }
      this.#held(control);
      if (signal.aborted) finish(control);
      const since = performance.now();
      const ended = await hold(control);
      this.#control = null;
      this.registered = false;
      // A session that ended takes every registration with it; the connection says so once.
      if (signal.aborted || session.isClosed) break;
      if (performance.now() - since >= reset) backoff.reset();
      if (!await this.#retry(backoff, `registration ended by the server: ${ended}`, signal)) break;
    }
    this.registered = false;
  }

  /** Ends the registration: FIN on its Control stream, no more retries. Idempotent. */
  stop(): void {
    this.#stop.abort();
    if (this.#control !== null) finish(this.#control);
  }

  /** Marks a session's end (or a dial failure) as the reason the domain is not served. */
  fail(error: string): void {
    this.registered = false;
    this.lastError = error;
  }

  #params() {
    return {
      domain: this.domain.name,
      secret: this.domain.secret,
      agent: { ...this.#options.agent },
    };
  }

  #held(control: OpenedStream): void {
    this.#control = control;
    this.registered = true;
    this.registeredAt = performance.now();
    this.lastError = null;
    this.#options.log.info("{domain}: registered", { domain: this.domain.name });
  }

  /**
   * Records `error`, logs it (at warning level the first time, at debug level
   * while it repeats), and sleeps the next backoff delay; false when stopped.
   */
  async #retry(backoff: Backoff, error: string, signal: AbortSignal): Promise<boolean> {
    const delay = backoff.next();
    const repeated = this.lastError === error;
    this.lastError = error;
    const fields = { domain: this.domain.name, error, delay };
    if (repeated) this.#options.log.debug("{domain}: {error}; retrying in {delay} ms", fields);
    else this.#options.log.warn("{domain}: {error}; retrying in {delay} ms", fields);
    return await sleep(delay, signal);
  }
}

/** Ends a registration from the agent's side: FIN on the Control stream. */
function finish(control: OpenedStream): void {
  control.writable.close().catch(() => {});
}

/**
 * Waits while the Control stream stays open (it carries no data yet);
 * resolves with how it ended: the server's FIN, its reset, or the session's end.
 */
async function hold(control: OpenedStream): Promise<string> {
  const reader = control.readable.getReader();
  try {
    while (!(await reader.read()).done) {
      // The protocol defines no payload yet; anything sent is ignored.
    }
    return "the server closed it";
  } catch (e) {
    return (e as Error).message;
  } finally {
    reader.releaseLock();
  }
}

function describe(e: unknown): string {
  if (e instanceof OpenError && e.code === "refused") return e.message;
  return e instanceof Error ? e.message : String(e);
}
