/**
 * One client request on its way through the proxy: the fields of its access
 * log entry, its slot in the domain's concurrency count, and the stream to
 * the agent. One object per request, in place of a record, a few closures
 * and a separate log entry.
 *
 * @module
 */

import type { AccessEntry } from "../shared/log/setup.ts";
import type { MuxStream } from "../shared/mux/mod.ts";
import { transactionId } from "../shared/http/headers.ts";

/** The last ISO time string made, and the millisecond it is for. */
let isoCache = { ms: 0, text: "" };

/** `new Date().toISOString()`, made once per millisecond at most. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoCache.ms) isoCache = { ms, text: new Date(ms).toISOString() };
  return isoCache.text;
}

/**
 * A request in flight. It is its own access log entry: {@link Flight.end}
 * fills the closing fields and hands it to the log.
 *
 * @example
 * ```ts
 * const flight = new Flight(req, "/a?b=c");
 * flight.domain = "app.test";
 * flight.client = "203.0.113.7";
 * flight.hold(inflight, "app.test");
 * flight.end(200, null, access); // logs, and frees the concurrency slot
 * ```
 */
export class Flight implements AccessEntry {
  /** When the entry was written (ISO). */
  time = "";
  /** Domain the request was for (its host name; set right after construction). */
  domain = "";
  /** Effective client IP (the direct peer until X-Forwarded-For is read). */
  client = "";
  /** Request method. */
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** Status sent to the client. */
  status = 0;
  /** Request body bytes received. */
  bytesIn = 0;
  /** Response body bytes sent. */
  bytesOut = 0;
  /** Time from arrival to {@link end}. */
  durationMs = 0;
  /** Transaction id. */
  readonly tid: string;
  /** Agent serving the request, once picked. */
  agent: string | null = null;
  /** Why the request was refused or cut, when it was. */
  reason: string | null = null;
  /** When the request arrived (`performance.now()`). */
  readonly start: number = performance.now();
  /** The stream to the agent, once opened. */
  stream: MuxStream | null = null;
  /** True once the response (or upgrade) was handed to Deno. */
  responded = false;
  /** True when the client went away before that. */
  clientGone = false;
  /** Status and reason when the request body was cut (limit, read timeout); status 0 otherwise. */
  abortStatus = 0;
  /** See {@link abortStatus}. */
  abortReason = "";
  /** The domain's in-flight counts while this request holds a slot, else null. */
  #inflight: Map<string, number> | null = null;
  /** Domain name the slot is counted under. */
  #name = "";

  /** `req`, for `path` (path and query), arrived now; it gets a new transaction id. */
  constructor(req: Request, path: string) {
    this.method = req.method;
    this.path = path;
    this.tid = transactionId();
  }

  /** Takes one of the domain's concurrency slots (`inflight` counts them by domain name). */
  hold(inflight: Map<string, number>, name: string): void {
    inflight.set(name, (inflight.get(name) ?? 0) + 1);
    this.#inflight = inflight;
    this.#name = name;
  }

  /** Frees the slot taken by {@link hold}, once; nothing when none was taken. */
  #release(): void {
    const inflight = this.#inflight;
    if (inflight === null) return;
    this.#inflight = null;
    const n = (inflight.get(this.#name) ?? 1) - 1;
    if (n === 0) inflight.delete(this.#name);
    else inflight.set(this.#name, n);
  }

  /** Client went away: the exchange is reset unless the response is already Deno's. */
  gone(): void {
    this.clientGone = true;
    if (!this.responded) this.stream?.reset();
  }

  /** Frees the slot and writes the access log entry: this object, its closing fields filled. */
  end(status: number, reason: string | null, access: (entry: AccessEntry) => void): void {
    this.#release();
    this.time = isoNow();
    this.status = status;
    this.reason = reason;
    this.durationMs = Math.round((performance.now() - this.start) * 10) / 10;
    access(this);
  }
}
