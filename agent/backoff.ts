/**
 * Retry pacing for the agent: exponential backoff with full jitter, and an
 * abortable sleep that leaves no timer behind.
 *
 * @module
 */

/** Options of a {@linkcode Backoff}. */
export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. Default 500. */
  min?: number;
  /** Largest ceiling, in ms. Default 30,000. */
  max?: number;
  /** Random source in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential
 * Backoff And Jitter"): attempt `n` waits a uniformly random time between 0
 * and `min(max, min × 2ⁿ)`, so many agents cut off at once do not come back
 * in lockstep.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ min: 500, max: 30_000 });
 * const delay = backoff.next(); // 0–500 ms, then 0–1 s, 0–2 s, … up to 0–30 s
 * backoff.reset(); // after a connection that stayed up
 * ```
 */
export class Backoff {
  readonly #min: number;
  readonly #max: number;
  readonly #random: () => number;
  #attempt = 0;

  /**
   * Creates a backoff.
   *
   * @throws {RangeError} when `min` is not positive or `max` is below `min`.
   */
  constructor(options: BackoffOptions = {}) {
    this.#min = options.min ?? 500;
    this.#max = options.max ?? 30_000;
    this.#random = options.random ?? Math.random;
    if (!(this.#min > 0) || !(this.#max >= this.#min)) {
      throw new RangeError(`Backoff needs 0 < min <= max, got min ${this.#min}, max ${this.#max}`);
    }
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The ceiling of the next delay, in ms. */
  get ceiling(): number {
    return Math.min(this.#max, this.#min * 2 ** Math.min(this.#attempt, 30));
  }

  /** Returns the delay before the next attempt and counts the attempt. */
  next(): number {
    const delay = Math.floor(this.#random() * this.ceiling);
    this.#attempt++;
    return delay;
  }

  /** Starts over from the smallest delay. */
  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * Waits `ms` milliseconds; resolves `true` when the time passed and `false`
 * as soon as `signal` aborts (the timer is cleared either way).
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * if (!await sleep(1000, stop.signal)) console.log("stopped early");
 * ```
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
