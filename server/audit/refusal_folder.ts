/**
 * Authentication refusals folded per window before they reach the audit
 * store, so a loop of 10,000 wrong attempts is a few rows, not 10,000: the
 * first refusal of a (kind, identity, source, reason) in a window is written
 * at once; the repeats are counted and written as one row (`count`, the time
 * of the last one) when the window ends. Memory is bounded: past `maxKeys`
 * distinct keys in one window, refusals go to the store unfolded (its queue
 * bound then counts what it cannot take).
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "../../shared/time/clock.ts";
import type { AuthRefusal } from "./records.ts";

/** Where folded refusals go: the {@link AuditStore} (or a test double). */
export interface RefusalSink {
  /** Records a refusal row. */
  authRefused(record: AuthRefusal): void;
}

/** How a {@link RefusalFolder} folds. */
export interface RefusalFolderOptions {
  /** Window length, ms (the auth limiter's window fits). */
  window: number;
  /** Most distinct keys folded in one window. Default 10,000. */
  maxKeys?: number;
  /** Time and timers. Default the system clock. */
  clock?: Clock;
}

/** A key's repeats in the current window. */
interface Pending {
  record: Omit<AuthRefusal, "count" | "at">;
  repeats: number;
  last: number;
}

/**
 * Folds repeated refusals per window.
 *
 * @example
 * ```ts ignore
 * const refusals = new RefusalFolder(store, { window: 60_000 });
 * refusals.refused({ kind: "operator", identity: "bob", source: "192.0.2.9", reason: "wrong token" });
 * refusals.close(); // at shutdown: writes the counts pending
 * ```
 */
export class RefusalFolder {
  readonly #sink: RefusalSink;
  readonly #window: number;
  readonly #maxKeys: number;
  readonly #clock: Clock;
  readonly #pending = new Map<string, Pending>();
  #timer: TimerHandle | undefined;
  #closed = false;

  /** A folder writing to `sink`. */
  constructor(sink: RefusalSink, options: RefusalFolderOptions) {
    if (!(options.window > 0)) throw new RangeError(`Invalid refusal window ${options.window} ms`);
    this.#sink = sink;
    this.#window = options.window;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Keys folded in the current window. */
  get size(): number {
    return this.#pending.size;
  }

  /** Records one refusal: written now if it is the first of its key in this window, else counted. */
  refused(record: Omit<AuthRefusal, "count" | "at">): void {
    const now = this.#clock.now();
    if (this.#closed) {
      this.#sink.authRefused({ ...record, at: now });
      return;
    }
    const key = [record.kind, record.identity ?? "", record.source, record.reason].join("\0");
    const pending = this.#pending.get(key);
    if (pending !== undefined) {
      pending.repeats++;
      pending.last = now;
      return;
    }
    this.#sink.authRefused({ ...record, at: now });
    if (this.#pending.size >= this.#maxKeys) return;
    this.#pending.set(key, { record, repeats: 0, last: now });
    this.#timer ??= this.#clock.setTimeout(() => this.#endWindow(), this.#window);
  }

  /** Writes the counted repeats now and starts a new window. */
  flush(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#endWindow();
  }

  /** Writes the counted repeats; later refusals are written one by one. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
  }

  #endWindow(): void {
    this.#timer = undefined;
    for (const { record, repeats, last } of this.#pending.values()) {
      if (repeats > 0) this.#sink.authRefused({ ...record, count: repeats, at: last });
    }
    this.#pending.clear();
  }
}
