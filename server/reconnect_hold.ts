/**
 * Requests for a domain whose agent just lost its connection wait a while
 * (`agents.holdTime`) for it to come back instead of failing at once: an
 * agent redials within a second of a dropped link, and a request made in
 * that gap should not see a 502. Only domains whose last agent went away
 * within the hold time wait; a domain nobody serves fails at once.
 *
 * The waiters are the proxy's requests, each already counted against its
 * domain's `concurrency`: that bounds them.
 *
 * @module
 */

/** Domains whose agents went away recently, and the requests waiting for them. */
export class ReconnectHold {
  readonly #holdTime: number;
  readonly #now: () => number;
  /** Per domain, when its last registration went with its session. */
  readonly #lost = new Map<string, number>();
  readonly #waiters = new Map<string, Set<(back: boolean) => void>>();

  /** A hold of `holdTime` ms (0: nothing waits). */
  constructor(holdTime: number, now: () => number = () => performance.now()) {
    this.#holdTime = holdTime;
    this.#now = now;
  }

  /** Requests waiting now. */
  get waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }

  /** The last agent of `domain` lost its connection. */
  lost(domain: string): void {
    if (this.#holdTime > 0) this.#lost.set(domain, this.#now());
  }

  /** An agent registered `domain`: its waiters go on. */
  arrived(domain: string): void {
    this.#lost.delete(domain);
    const set = this.#waiters.get(domain);
    if (set === undefined) return;
    this.#waiters.delete(domain);
    for (const resolve of set) resolve(true);
  }

  /**
   * Waits for an agent of `domain`: true once one registered, false at once
   * when the domain's agent did not go away within the hold time, or when
   * the rest of the hold time passes or `signal` aborts first.
   */
  wait(domain: string, signal?: AbortSignal): Promise<boolean> {
    const at = this.#lost.get(domain);
    if (at === undefined) return Promise.resolve(false);
    const left = at + this.#holdTime - this.#now();
    if (left <= 0 || signal?.aborted) {
      if (left <= 0) this.#lost.delete(domain);
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const set = this.#waiters.get(domain) ?? new Set();
      this.#waiters.set(domain, set);
      const done = (back: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(domain) === set) this.#waiters.delete(domain);
        resolve(back);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), left);
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(done);
    });
  }

  /** Ends every wait (false): the server stops. */
  close(): void {
    for (const set of [...this.#waiters.values()]) for (const done of [...set]) done(false);
    this.#lost.clear();
  }
}
