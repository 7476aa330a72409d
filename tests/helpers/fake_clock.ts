/**
 * A {@link Clock} for tests: time moves only when the test calls
 * {@link FakeClock.advance}, which fires the timers due, in time order.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../shared/time/clock.ts";

/** A pending timer. */
interface Timer {
  at: number;
  seq: number;
  callback: () => void;
}

/**
 * A manual clock.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./fake_clock.ts";
 * const clock = new FakeClock(1_000);
 * let fired = false;
 * clock.setTimeout(() => fired = true, 500);
 * clock.advance(499); // fired === false
 * clock.advance(1); // fired === true
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<TimerHandle, Timer>();

  /** A clock reading `start` ms since the epoch. */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  /** Timers pending. */
  get pending(): number {
    return this.#timers.size;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const handle = ++this.#seq;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), seq: handle, callback });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle);
  }

  /** Moves time `ms` forward, firing each timer due at its own time. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [TimerHandle, Timer] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at > end) continue;
        if (
          next === undefined || entry[1].at < next[1].at ||
          (entry[1].at === next[1].at && entry[1].seq < next[1].seq)
        ) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
    }
    this.#now = end;
  }
}
