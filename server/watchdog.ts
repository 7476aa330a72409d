/**
 * One timer for many deadlines: transfers report progress, and those silent
 * for longer than their timeout are aborted. Cheaper than a timer per request.
 *
 * @module
 */

/** A watched transfer. */
export interface Watched {
  /** Marks progress now (and resumes a paused deadline). */
  touch(): void;
  /** Suspends the deadline until the next `touch()` (waiting on someone else). */
  pause(): void;
  /** Stops watching (the transfer ended). */
  done(): void;
}

interface Entry {
  last: number;
  timeout: number;
  onTimeout: () => void;
}

/** Sweeps watched transfers every `interval` ms; the timer runs only while something is watched. */
export class Watchdog {
  readonly #entries = new Set<Entry>();
  readonly #interval: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A watchdog sweeping every `interval` ms (default 1,000). */
  constructor(interval = 1000) {
    this.#interval = interval;
  }

  /** Watches a transfer that must make progress at least every `timeout` ms. */
  watch(timeout: number, onTimeout: () => void): Watched {
    const entry: Entry = { last: performance.now(), timeout, onTimeout };
    this.#entries.add(entry);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#interval);
      Deno.unrefTimer(this.#timer);
    }
    return {
      touch: () => {
        entry.last = performance.now();
      },
      pause: () => {
        entry.last = Infinity;
      },
      done: () => this.#remove(entry),
    };
  }

  /** Stops the timer and forgets every transfer. */
  close(): void {
    this.#entries.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #remove(entry: Entry): void {
    this.#entries.delete(entry);
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const e of [...this.#entries]) {
      if (e.last !== Infinity && now - e.last > e.timeout) {
        this.#remove(e);
        e.onTimeout();
      }
    }
  }
}
