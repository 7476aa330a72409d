/**
 * Agent sessions as the audit records them: "an agent that reconnects within
 * a grace period (default 60 s) continues the same session; after it the
 * session closes." Fed connect and disconnect events by agent name, the
 * tracker decides between a new session and the one going on, and ends a
 * session once its agent stayed away for the whole grace period. The
 * session's end time is when the agent went away, not when the grace ran out.
 *
 * Two connections under one name (the newer wins, the older is told GoAway):
 * the newer continues the session, and the older one's disconnect is then
 * ignored, since only the connection holding the current {@link SessionLease}
 * counts.
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "../../shared/time/clock.ts";
import type { SessionEnd, SessionResume, SessionStart } from "./records.ts";

/** Where sessions are written: the {@link AuditStore} (or a test double). */
export interface SessionSink {
  /** Records a new session; returns its id. */
  sessionStarted(record: SessionStart): number;
  /** Records that a session goes on with a new connection. */
  sessionResumed(id: number, record: SessionResume): void;
  /** Records a session's end. */
  sessionEnded(id: number, record: SessionEnd): void;
}

/** What is known of an agent connection when it comes up. */
export interface AgentConnectionInfo {
  /** Remote address. */
  remote: string;
  /** Burrow version reported by the agent. */
  version?: string;
  /** Operating system reported by the agent. */
  os?: string;
  /** Host name reported by the agent. */
  host?: string;
}

/** One connection's hold on a session: pass it back to {@link SessionTracker.disconnected}. */
export interface SessionLease {
  /** Agent name. */
  readonly agent: string;
  /** The session's id in the store. */
  readonly sessionId: number;
  /** True when this connection continued a session (grace period or takeover). */
  readonly resumed: boolean;
}

/** A session the tracker holds: connected, or inside its grace period. */
export interface TrackedSession {
  /** Agent name. */
  agent: string;
  /** Session id. */
  sessionId: number;
  /** When the session started, ms since the epoch. */
  since: number;
  /** True while a connection holds it; false inside the grace period. */
  connected: boolean;
  /** When the agent went away (inside the grace period), else null. */
  disconnectedAt: number | null;
}

/** How a {@link SessionTracker} behaves. */
export interface SessionTrackerOptions {
  /** How long a session waits for its agent to come back, ms. 0 ends it at once. */
  grace: number;
  /** Time and timers. Default the system clock. */
  clock?: Clock;
}

/** A tracked session's state. */
interface Entry {
  sessionId: number;
  since: number;
  lease: SessionLease | null;
  disconnectedAt: number;
  reason: string;
  timer: TimerHandle | undefined;
}

/**
 * Decides which agent connections continue a session, and ends sessions whose
 * grace period ran out.
 *
 * @example
 * ```ts ignore
 * const tracker = new SessionTracker(store, { grace: 60_000 });
 * const lease = tracker.connected("db1", { remote: "192.0.2.7:50123", version: "0.2.0" });
 * tracker.disconnected(lease, "connection lost"); // the session waits 60 s for db1
 * tracker.close(); // at shutdown: ends every session
 * ```
 */
export class SessionTracker {
  readonly #sink: SessionSink;
  readonly #grace: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  /** A tracker writing to `sink`. */
  constructor(sink: SessionSink, options: SessionTrackerOptions) {
    if (!(options.grace >= 0)) throw new RangeError(`Invalid grace period ${options.grace} ms`);
    this.#sink = sink;
    this.#grace = options.grace;
    this.#clock = options.clock ?? systemClock;
  }

  /** Sessions held: connected or inside their grace period. */
  get size(): number {
    return this.#entries.size;
  }

  /** The session `agent` holds, if any. */
  get(agent: string): TrackedSession | undefined {
    const entry = this.#entries.get(agent);
    return entry === undefined ? undefined : this.#view(agent, entry);
  }

  /** Every session held, by agent name. */
  list(): TrackedSession[] {
    return [...this.#entries].map(([agent, entry]) => this.#view(agent, entry))
      .sort((a, b) => a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0);
  }

  /**
   * An agent connection came up: continues the session of `agent` when it is
   * inside its grace period or still held by an older connection, else
   * starts one.
   *
   * @throws {Error} after {@link close}.
   */
  connected(agent: string, info: AgentConnectionInfo): SessionLease {
    if (this.#closed) throw new Error(`Cannot track agent ${agent}: session tracker closed`);
    const now = this.#clock.now();
    const entry = this.#entries.get(agent);
    if (entry !== undefined) {
      if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.lease = { agent, sessionId: entry.sessionId, resumed: true };
      this.#sink.sessionResumed(entry.sessionId, { remote: info.remote, at: now });
      return entry.lease;
    }
    const sessionId = this.#sink.sessionStarted({ agent, ...info, at: now });
    const lease: SessionLease = { agent, sessionId, resumed: false };
    this.#entries.set(agent, {
      sessionId,
      since: now,
      lease,
      disconnectedAt: 0,
      reason: "",
      timer: undefined,
    });
    return lease;
  }

  /**
   * The connection holding `lease` went away for `reason`: its session waits
   * the grace period for the agent. Returns false (and does nothing) when the
   * lease no longer holds the session (a newer connection took it over).
   */
  disconnected(lease: SessionLease, reason: string): boolean {
    const entry = this.#entries.get(lease.agent);
    if (entry === undefined || entry.lease !== lease) return false;
    entry.lease = null;
    entry.disconnectedAt = this.#clock.now();
    entry.reason = reason;
    if (this.#grace === 0) this.#end(lease.agent, entry);
    else entry.timer = this.#clock.setTimeout(() => this.#end(lease.agent, entry), this.#grace);
    return true;
  }

  /**
   * Ends every session now: those inside their grace period at the time their
   * agent went away, those still connected now with `reason`. Later
   * `connected()` calls throw. Idempotent.
   */
  close(reason = "server stopped"): void {
    if (this.#closed) return;
    this.#closed = true;
    const now = this.#clock.now();
    for (const [agent, entry] of [...this.#entries]) {
      if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
      if (entry.lease !== null) {
        entry.disconnectedAt = now;
        entry.reason = reason;
      }
      this.#end(agent, entry);
    }
  }

  #end(agent: string, entry: Entry): void {
    entry.timer = undefined;
    if (this.#entries.get(agent) !== entry) return;
    this.#entries.delete(agent);
    this.#sink.sessionEnded(entry.sessionId, { reason: entry.reason, at: entry.disconnectedAt });
  }

  #view(agent: string, entry: Entry): TrackedSession {
    const connected = entry.lease !== null;
    return {
      agent,
      sessionId: entry.sessionId,
      since: entry.since,
      connected,
      disconnectedAt: connected ? null : entry.disconnectedAt,
    };
  }
}
