/**
 * Counting authentication failures per key (a source address, an account)
 * and locking a key out after too many: the caller refuses a locked key
 * without checking its secret at all, so a flood costs a table lookup, not a
 * hash. Generic: the server keys it by address and by domain/user for agent
 * secrets and Basic auth; operator tokens will reuse it.
 *
 * - `max` failures within `window` lock the key out for `lockout`; each
 *   further lockout of the same key doubles, up to `maxLockout`, until the key
 *   stays quiet for `maxLockout` after a lockout.
 * - Attempts during a lockout are refused and counted, and do not extend it.
 * - Memory is bounded: at most `capacity` keys, the least recently seen
 *   forgotten first (a forgotten key starts afresh). An attacker rotating
 *   through more addresses than that can shed its own address entries; the
 *   account keys it keeps hitting stay recent and keep counting.
 *
 * @module
 */

/** Options of {@link FailureLimiter}. Durations in ms. */
export interface FailureLimiterOptions {
  /** Failures within `window` that start a lockout; 0 never locks out. */
  max: number;
  /** Length of the window failures are counted in. */
  window: number;
  /** First lockout. */
  lockout: number;
  /** Longest lockout; repeated lockouts double up to it. */
  maxLockout: number;
  /** Keys remembered at most. */
  capacity: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** A key's lockout, as {@link FailureLimiter.locked} reports it. */
export interface Lockout {
  /** When it ends (ms since the epoch, on the limiter's clock). */
  until: number;
  /** Attempts refused during it so far, this one included. */
  refused: number;
}

/** What one failure did, as {@link FailureLimiter.fail} reports it. */
export interface FailureOutcome {
  /** Failures in the current window, this one included. */
  failures: number;
  /** True for the first failure of a window: the one worth a log line. */
  first: boolean;
  /** Length of the lockout this failure started (ms); 0 when it started none. */
  lockout: number;
}

/** What the limiter remembers of one key. */
interface Entry {
  windowStart: number;
  failures: number;
  lockedUntil: number;
  lockouts: number;
  refused: number;
}

/**
 * A bounded table of failure counts and lockouts.
 *
 * @example
 * ```ts
 * import { FailureLimiter } from "./failure_limiter.ts";
 * const limiter = new FailureLimiter({
 *   max: 3, window: 60_000, lockout: 60_000, maxLockout: 3_600_000, capacity: 10_000,
 * });
 * for (let i = 0; i < 3; i++) limiter.fail("203.0.113.7");
 * limiter.locked("203.0.113.7"); // { until: <now + 60 s>, refused: 1 }
 * ```
 */
export class FailureLimiter {
  readonly #options: Required<FailureLimiterOptions>;
  /** Map order is recency order: the first key is the least recently seen. */
  readonly #entries = new Map<string, Entry>();

  /** A limiter with an empty table. */
  constructor(options: FailureLimiterOptions) {
    this.#options = { now: Date.now, ...options };
    if (!(this.#options.capacity >= 1)) {
      throw new RangeError(`Invalid capacity ${options.capacity}: must be at least 1`);
    }
  }

  /** Keys remembered now (at most `capacity`). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The key's lockout, or null when it may try. A refused attempt is counted
   * in the lockout's `refused`; it does not extend the lockout.
   */
  locked(key: string): Lockout | null {
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    this.#touch(key, entry);
    if (entry.lockedUntil <= this.#options.now()) return null;
    entry.refused++;
    return { until: entry.lockedUntil, refused: entry.refused };
  }

  /** Counts a failure for `key`; the `max`th failure within a window starts a lockout. */
  fail(key: string): FailureOutcome {
    const { max, window, lockout, maxLockout } = this.#options;
    const now = this.#options.now();
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { windowStart: now, failures: 0, lockedUntil: 0, lockouts: 0, refused: 0 };
      this.#add(key, entry);
    } else this.#touch(key, entry);
    if (entry.lockedUntil > 0 && now - entry.lockedUntil > maxLockout) entry.lockouts = 0;
    if (now - entry.windowStart >= window) {
      entry.windowStart = now;
      entry.failures = 0;
    }
    entry.failures++;
    const outcome: FailureOutcome = {
      failures: entry.failures,
      first: entry.failures === 1,
      lockout: 0,
    };
    if (max > 0 && entry.failures >= max && entry.lockedUntil <= now) {
      outcome.lockout = Math.min(maxLockout, lockout * 2 ** Math.min(entry.lockouts, 30));
      entry.lockouts++;
      entry.lockedUntil = now + outcome.lockout;
      entry.refused = 0;
      // Counting starts again when the lockout ends.
      entry.windowStart = entry.lockedUntil;
      entry.failures = 0;
    }
    return outcome;
  }

  /** Moves `key` to the most recent end of the table. */
  #touch(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }

  #add(key: string, entry: Entry): void {
    if (this.#entries.size >= this.#options.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, entry);
  }
}
