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
  /**
   * Largest ceiling while the failures are younger than `fastFor`, in ms:
   * during a short outage (a restart, a deploy) retries stay this close
   * together. Default: no fast phase.
   */
  fastMax?: number;
  /** How long after the first failure since a reset `fastMax` holds, in ms. Default 0. */
  fastFor?: number;
  /** Random source in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Clock in ms. Default `performance.now`. */
  now?: () => number;
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential
 * Backoff And Jitter"): attempt `n` waits a uniformly random time between 0
 * and `min(max, min × 2ⁿ)`, so many agents cut off at once do not come back
 * in lockstep.
 *
 * With a fast phase (`fastMax`, `fastFor`), the ceiling stops at `fastMax`
 * for the first `fastFor` ms of failures, so an agent finds a restarted
 * server within `fastMax` of its return; after that it doubles from
 * `fastMax` up to `max` (a long outage: thousands of agents spread out).
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ min: 250, max: 30_000, fastMax: 1000, fastFor: 60_000 });
 * const delay = backoff.next(); // 0–250 ms, 0–500 ms, then 0–1 s for a minute; then 0–2 s, 0–4 s, … 0–30 s
 * backoff.reset(); // after a connection that stayed up
 * ```
 */
export class Backoff {
  readonly #min: number;
  readonly #max: number;
  readonly #fastMax: number;
  readonly #fastFor: number;
  readonly #random: () => number;
  readonly #now: () => number;
  #attempt = 0;
  /** Attempts made after the fast phase. */
  #slow = 0;
  /** When the first failure since the last reset happened. */
  #since: number | null = null;

  /**
   * Creates a backoff.
   *
   * @throws {RangeError} when `min` is not positive, `max` is below `min`,
   * or `fastMax` is outside [`min`, `max`].
   */
  constructor(options: BackoffOptions = {}) {
    this.#min = options.min ?? 500;
    this.#max = options.max ?? 30_000;
    this.#fastMax = options.fastMax ?? this.#max;
    this.#fastFor = options.fastFor ?? 0;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    if (!(this.#min > 0) || !(this.#max >= this.#min)) {
      throw new RangeError(`Backoff needs 0 < min <= max, got min ${this.#min}, max ${this.#max}`);
    }
    if (!(this.#fastMax >= this.#min && this.#fastMax <= this.#max)) {
      throw new RangeError(`Backoff needs min <= fastMax <= max, got fastMax ${this.#fastMax}`);
    }
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The ceiling of the next delay, in ms. */
  get ceiling(): number {
    const elapsed = this.#since === null ? 0 : this.#now() - this.#since;
    if (elapsed < this.#fastFor || this.#fastMax === this.#max) {
      return Math.min(this.#fastMax, this.#min * 2 ** Math.min(this.#attempt, 30));
    }
    return Math.min(this.#max, this.#fastMax * 2 ** Math.min(this.#slow + 1, 30));
  }

  /** Returns the delay before the next attempt and counts the attempt. */
  next(): number {
    this.#since ??= this.#now();
    const ceiling = this.ceiling;
    if (this.#now() - this.#since >= this.#fastFor && this.#fastMax < this.#max) this.#slow++;
    this.#attempt++;
    return Math.floor(this.#random() * ceiling);
  }

  /** Starts over from the smallest delay (and a new fast phase). */
  reset(): void {
    this.#attempt = 0;
    this.#slow = 0;
    this.#since = null;
  }
}

/** Longest `Retry-After` an agent honours, in ms; a larger one is cut to this. */
export const RETRY_AFTER_MAX_MS = 300_000;

/**
 * The wait a server's `Retry-After` asks for, in ms, bounded to
 * {@linkcode RETRY_AFTER_MAX_MS} and spread by up to a quarter more, so the
 * agents a server turned away together do not come back together.
 *
 * @example
 * ```ts
 * retryAfterDelay(10_000); // 10,000–12,500 ms
 * ```
 */
export function retryAfterDelay(ms: number, random: () => number = Math.random): number {
  const wait = Math.min(Math.max(0, ms), RETRY_AFTER_MAX_MS);
  return Math.floor(wait * (1 + random() / 4));
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
