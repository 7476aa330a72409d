/**
 * Admission of agent connections: a cap in all and one per source address,
 * answered with 503 and `Retry-After` when reached, and a log of refusals
 * and expiries that writes once per window instead of once per attempt.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { addressBlock } from "../shared/net/cidr.ts";

/** How often repeated events are summed up in the log, in ms. */
export const LOG_WINDOW_MS = 60_000;

/** The caps of a {@linkcode AgentGate}. */
export interface GateLimits {
  /** Most agent connections in all. */
  maxConnections: number;
  /** Most agent connections from one address. */
  maxPerAddress: number;
  /** Most agent connections that have not registered yet (a reconnect stampede). */
  maxPending: number;
  /** `Retry-After` of a refusal, in ms. */
  retryAfter: number;
}

/**
 * Counts agent connections in all, per address (an IPv6 address counts as
 * its /64, which one host can rotate through; an IPv4-mapped one as its IPv4
 * address), and those not registered yet (the work of a reconnect stampede: TLS, upgrade, secret checks).
 * Memory: one entry per address with a connection open, so at most
 * `maxConnections` entries.
 *
 * @example
 * ```ts
 * const limits = { maxConnections: 10_000, maxPerAddress: 100, maxPending: 1000, retryAfter: 10_000 };
 * const gate = new AgentGate(limits, log);
 * const refusal = gate.admit("203.0.113.7");
 * if (refusal !== null) return refusal; // 503 + Retry-After
 * let registered = false;
 * try { registered = await runSession(() => gate.registered()); } finally { gate.release("203.0.113.7", registered); }
 * ```
 */
export class AgentGate {
  readonly #limits: GateLimits;
  readonly #perAddress = new Map<string, number>();
  readonly #refusals: WindowLog;
  #total = 0;
  #pending = 0;

  /** A gate with `limits`; refusals are logged on `log`. */
  constructor(limits: GateLimits, log: Logger) {
    this.#limits = limits;
    this.#refusals = new WindowLog(log, "agent connection(s) refused over a cap");
  }

  /** Agent connections admitted and not yet released. */
  get size(): number {
    return this.#total;
  }

  /** Takes a slot for `remote`: null when admitted (release it later), else the 503 to answer. */
  admit(remote: string): Response | null {
    const { maxConnections, maxPerAddress, maxPending } = this.#limits;
    const mine = this.#perAddress.get(addressBlock(remote)) ?? 0;
    let why: string | null = null;
    if (this.#total >= maxConnections) why = `${maxConnections} agent connections in all`;
    else if (mine >= maxPerAddress) why = `${maxPerAddress} agent connections from ${remote}`;
    else if (this.#pending >= maxPending) {
      why = `${maxPending} agent connections not registered yet`;
    }
    if (why !== null) {
      this.#refusals.note(`Agent connection from ${remote} refused: the server holds ${why}`);
      const seconds = Math.ceil(this.#limits.retryAfter / 1000);
      return new Response("Too many agent connections; retry later\n", {
        status: 503,
        headers: { "retry-after": String(seconds) },
      });
    }
    this.#total++;
    this.#pending++;
    this.#perAddress.set(addressBlock(remote), mine + 1);
    return null;
  }

  /** Notes that a connection admitted for `remote` registered: it no longer counts as pending. */
  registered(): void {
    this.#pending--;
  }

  /** Gives back the slot `admit(remote)` took; `registered` says whether `registered()` was called. */
  release(remote: string, registered: boolean): void {
    const block = addressBlock(remote);
    const mine = this.#perAddress.get(block) ?? 0;
    if (mine <= 1) this.#perAddress.delete(block);
    else this.#perAddress.set(block, mine - 1);
    this.#total--;
    if (!registered) this.#pending--;
  }
}

/**
 * Logs an event that may repeat thousands of times: the first one of a
 * window in full (warning), the others counted and summed up by the first
 * one after the window ends. Keeps two numbers, whatever the flood.
 *
 * @example
 * ```ts
 * const expired = new WindowLog(log, "agent session(s) closed for not registering");
 * expired.note("agent#a1b2c3d4 from 203.0.113.7 registered nothing within 10000 ms");
 * ```
 */
export class WindowLog {
  readonly #log: Logger;
  readonly #what: string;
  readonly #windowMs: number;
  readonly #now: () => number;
  #windowStart = -Infinity;
  #held = 0;

  /** Logs on `log`; `what` names the events in summaries ("agent connection(s) refused"). */
  constructor(
    log: Logger,
    what: string,
    options: { windowMs?: number; now?: () => number } = {},
  ) {
    this.#log = log;
    this.#what = what;
    this.#windowMs = options.windowMs ?? LOG_WINDOW_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Records one event described by `message`; writes a log line at most once per window. */
  note(message: string): void {
    const now = this.#now();
    if (now - this.#windowStart < this.#windowMs) {
      this.#held++;
      return;
    }
    const held = this.#held;
    this.#windowStart = now;
    this.#held = 0;
    if (held === 0) {
      this.#log.warn("{message} (repeats within {seconds} s are counted, not logged)", {
        message,
        seconds: this.#windowMs / 1000,
      });
    } else {
      this.#log.warn("{message}; {held} more {what} in the previous window", {
        message,
        held,
        what: this.#what,
      });
    }
  }
}
