/**
 * One timer for many deadlines: transfers report progress, and those silent
 * for longer than their timeout are called back. Cheaper than a timer per
 * request or per chunk: watching, touching and pausing only set fields.
 *
 * @module
 */

/** A watched transfer. */
export interface Watched {
  /** Marks progress now (and resumes a paused deadline). */
  touch(): void;
  /** Suspends the deadline until the next `touch()` (waiting on someone else). */
  pause(): void;
  /** Stops watching (the transfer ended). Idempotent. */
  done(): void;
  /** True once the deadline passed (and the transfer was called back). */
  readonly timedOut: boolean;
}

/** What the entries of one watchdog share: the set they are in, and what to do once it is empty. */
interface Owner {
  entries: Set<Entry>;
  idle(): void;
}

/** One watched transfer: the handle returned by `watch()` is the entry itself. */
class Entry implements Watched {
  /** When progress was last made (`performance.now()`), Infinity while paused. */
  last: number = performance.now();
  timedOut = false;
  readonly timeout: number;
  readonly onTimeout: (this: unknown) => void;
  /** `this` for `onTimeout`: lets a caller pass a shared function rather than a closure. */
  readonly context: unknown;
  readonly #owner: Owner;

  constructor(owner: Owner, timeout: number, onTimeout: (this: unknown) => void, context: unknown) {
    this.#owner = owner;
    this.timeout = timeout;
    this.onTimeout = onTimeout;
    this.context = context;
  }

  touch(): void {
    this.last = performance.now();
  }

  pause(): void {
    this.last = Infinity;
  }

  done(): void {
    const owner = this.#owner;
    if (owner.entries.delete(this) && owner.entries.size === 0) owner.idle();
  }
}

/**
 * Sweeps watched transfers every `interval` ms; the timer runs only while
 * something is watched, and does not keep the process alive. A deadline fires
 * between `timeout` and `timeout + interval` ms after the last progress, never
 * early.
 *
 * @example
 * ```ts
 * const watchdog = new Watchdog(Watchdog.intervalFor(30_000));
 * const watched = watchdog.watch(30_000, () => controller.abort());
 * for await (const chunk of body) {
 *   watched.touch();
 * }
 * watched.done();
 * ```
 */
export class Watchdog {
  readonly #entries = new Set<Entry>();
  readonly #owner: Owner;
  readonly #interval: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * A sweep interval for deadlines of at least `shortest` ms: an eighth of
   * it, so a deadline is at most 12.5% late, between 10 ms and 1 s.
   */
  static intervalFor(shortest: number): number {
    return Math.max(10, Math.min(1000, Math.floor(shortest / 8)));
  }

  /**
   * A watchdog sweeping every `interval` ms (default 1,000). With `linger`,
   * the timer keeps running until a sweep finds nothing watched, rather than
   * stopping the moment the last transfer ends: no timer churn when transfers
   * come one after another; the owner must then `close()` it at shutdown.
   */
  constructor(interval = 1000, options: { linger?: boolean } = {}) {
    this.#interval = interval;
    const linger = options.linger === true;
    this.#owner = {
      entries: this.#entries,
      idle: () => {
        if (!linger) this.#stop();
      },
    };
  }

  /** Transfers being watched. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Watches a transfer that must make progress at least every `timeout` ms;
   * `onTimeout` is called with `context` as `this`, so one function defined
   * once can serve every transfer (no closure per watch).
   */
  watch(timeout: number, onTimeout: () => void): Watched;
  watch<T>(timeout: number, onTimeout: (this: T) => void, context: T): Watched;
  watch(timeout: number, onTimeout: (this: unknown) => void, context?: unknown): Watched {
    const entry = new Entry(this.#owner, timeout, onTimeout, context);
    this.#entries.add(entry);
    if (this.#timer === undefined) {
      const timer = setInterval(() => this.#sweep(), this.#interval);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return entry;
  }

  /** Stops the timer and forgets every transfer, without calling them back. */
  close(): void {
    this.#entries.clear();
    this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    if (this.#entries.size === 0) {
      this.#stop();
      return;
    }
    const now = performance.now();
    // Deleting the entry being visited is safe while iterating a Set.
    for (const e of this.#entries) {
      if (now - e.last > e.timeout) {
        e.done();
        e.timedOut = true;
        e.onTimeout.call(e.context);
      }
    }
  }
}
