/**
 * The timing of an agent's connection to a server (keepalive, reconnect
 * backoff, dials), and its production values.
 *
 * @module
 */

/** Timing of a connection, in ms; every field has a default in {@linkcode DEFAULT_TUNING}. */
export interface ConnectionTuning {
  /** Milliseconds between keepalive pings. */
  keepAliveInterval: number;
  /** Milliseconds a ping may wait for its answer before the session is dropped. */
  pingTimeout: number;
  /** Ceiling of the first reconnect (and re-register) delay. */
  backoffMin: number;
  /** Largest reconnect delay. */
  backoffMax: number;
  /** Largest reconnect delay while the outage is younger than `backoffFastFor`. */
  backoffFastMax: number;
  /** How long after a disconnect reconnects stay within `backoffFastMax`. */
  backoffFastFor: number;
  /** A connection or registration that lasted this long starts the backoff over. */
  backoffReset: number;
  /** Longest a dial (TCP, TLS, upgrade) may take. */
  dialTimeout: number;
  /** A dial not finished after this long gets a second one beside it; the first up wins. */
  dialHedge: number;
}

/**
 * Production timing: keepalive 15 s / 15 s; reconnects within 0.25–1 s for
 * the first 90 s of an outage, then backing off to 30 s; reset after 30 s
 * up; dials given up after 10 s, a second one started after 2 s.
 */
export const DEFAULT_TUNING: Readonly<ConnectionTuning> = {
  keepAliveInterval: 15_000,
  pingTimeout: 15_000,
  backoffMin: 250,
  backoffMax: 30_000,
  backoffFastMax: 1_000,
  backoffFastFor: 90_000,
  backoffReset: 30_000,
  dialTimeout: 10_000,
  dialHedge: 2_000,
};
