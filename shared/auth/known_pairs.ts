/**
 * Pairs (source, account) that authenticated recently: a bounded table with
 * an expiry, so that a lockout aimed at an address or an account does not
 * shut out whoever already proved it knows the secret from that address (a
 * legitimate agent sharing a NAT address with a guesser; a user whose name
 * someone else keeps failing against). Only successes add pairs, so an
 * attacker cannot fill the table with failures.
 *
 * @module
 */

/** Options of {@link KnownPairs}. */
export interface KnownPairsOptions {
  /** Pairs kept at most; the least recently seen go first. */
  capacity: number;
  /** How long a success vouches for its pair (ms). */
  ttl: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * Recently successful (source, account) pairs.
 *
 * @example
 * ```ts
 * import { KnownPairs } from "./known_pairs.ts";
 * const known = new KnownPairs({ capacity: 10_000, ttl: 86_400_000 });
 * known.add("192.0.2.7", "agent secret of app.test");
 * known.has("192.0.2.7", "agent secret of app.test"); // true
 * ```
 */
export class KnownPairs {
  /** Pair key → expiry; Map order is recency order. */
  readonly #pairs = new Map<string, number>();
  readonly #capacity: number;
  readonly #ttl: number;
  readonly #now: () => number;

  /** An empty table. */
  constructor(options: KnownPairsOptions) {
    this.#capacity = Math.max(1, options.capacity);
    this.#ttl = options.ttl;
    this.#now = options.now ?? Date.now;
  }

  /** Pairs kept now. */
  get size(): number {
    return this.#pairs.size;
  }

  /** Remembers a success of `account` from `source` (again: renews it). */
  add(source: string, account: string): void {
    const key = `${source}\n${account}`;
    this.#pairs.delete(key);
    if (this.#pairs.size >= this.#capacity) {
      const oldest = this.#pairs.keys().next();
      if (oldest.done !== true) this.#pairs.delete(oldest.value);
    }
    this.#pairs.set(key, this.#now() + this.#ttl);
  }

  /** Forgets a pair (after a failure: a known pair vouches for one secret, not for guesses). */
  delete(source: string, account: string): void {
    this.#pairs.delete(`${source}\n${account}`);
  }

  /** Whether `account` succeeded from `source` within the last `ttl`. */
  has(source: string, account: string): boolean {
    const key = `${source}\n${account}`;
    const expiry = this.#pairs.get(key);
    if (expiry === undefined) return false;
    if (expiry <= this.#now()) {
      this.#pairs.delete(key);
      return false;
    }
    return true;
  }
}
