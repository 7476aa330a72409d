/**
 * Time as a dependency: what reads the time and sets timers takes a
 * {@link Clock}, so tests drive it with a fake one (`tests/helpers/fake_clock.ts`)
 * instead of waiting.
 *
 * @module
 */

/** A handle returned by {@link Clock.setTimeout}: opaque, only for `clearTimeout`. */
export type TimerHandle = unknown;

/** The time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` once, `ms` from now; the handle cancels it. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; a handle already fired or cancelled is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `Date.now` and the global timers.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const t = systemClock.setTimeout(() => console.log("later"), 1000);
 * systemClock.clearTimeout(t);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
