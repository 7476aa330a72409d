/**
 * A bounded queue that writes in batches, off the caller's path: `push()`
 * only appends (or counts a drop when full) and never blocks nor throws;
 * a timer writes up to `batchSize` items at a time, `interval` ms after the
 * first item queued, or at once (next macrotask) when a batch is full.
 *
 * @module
 */

/** Counters of a {@link WriteQueue}. */
export interface WriteQueueStats {
  /** Items waiting now. */
  queued: number;
  /** Items written. */
  written: number;
  /** Items refused because the queue was full (or closed). */
  dropped: number;
  /** Items lost in batches whose write failed. */
  failed: number;
  /** Batches written (one transaction each, for the audit store). */
  batches: number;
}

/** How a {@link WriteQueue} writes and reports. */
export interface WriteQueueOptions<T> {
  /** Most items waiting; more are dropped and counted. */
  capacity: number;
  /** Most items per write. */
  batchSize: number;
  /** Longest an item waits before its batch is written, in ms. */
  interval: number;
  /** Writes one batch; throws when it could not (the batch is counted as failed). */
  write(batch: T[]): void;
  /** Called once when the queue starts dropping, and once with the total when it drained. */
  onDrops?(event: { phase: "start"; capacity: number } | { phase: "end"; dropped: number }): void;
  /**
   * Called once when writes start failing (with the first error), and once
   * when a write succeeds again (with the items lost meanwhile): a disk that
   * stays full logs two lines, not one per batch.
   */
  onFailures?(
    event: { phase: "start"; error: unknown } | { phase: "end"; lost: number },
  ): void;
}

/**
 * A bounded, batching write queue.
 *
 * @example
 * ```ts
 * import { WriteQueue } from "./write_queue.ts";
 * const written: number[][] = [];
 * const q = new WriteQueue<number>({
 *   capacity: 100, batchSize: 10, interval: 500, write: (b) => written.push(b),
 * });
 * q.push(1);
 * q.push(2);
 * q.flush(); // written: [[1, 2]]
 * q.close();
 * ```
 */
export class WriteQueue<T> {
  readonly #options: WriteQueueOptions<T>;
  #items: T[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerSoon = false;
  #dropping = 0;
  #failing = 0;
  #closed = false;
  readonly #stats: Omit<WriteQueueStats, "queued"> = {
    written: 0,
    dropped: 0,
    failed: 0,
    batches: 0,
  };

  /** A queue writing through `options.write`. */
  constructor(options: WriteQueueOptions<T>) {
    if (options.capacity < 1 || options.batchSize < 1 || options.interval < 0) {
      throw new RangeError(
        `Invalid write queue: capacity ${options.capacity}, batch size ${options.batchSize}, interval ${options.interval}`,
      );
    }
    this.#options = options;
  }

  /** The counters. */
  get stats(): WriteQueueStats {
    return { queued: this.#items.length, ...this.#stats };
  }

  /** Queues `item`; false (and counted) when the queue is full or closed. Never blocks. */
  push(item: T): boolean {
    if (this.#closed || this.#items.length >= this.#options.capacity) {
      this.#stats.dropped++;
      if (this.#dropping++ === 0 && !this.#closed) {
        this.#options.onDrops?.({ phase: "start", capacity: this.#options.capacity });
      }
      return false;
    }
    this.#items.push(item);
    this.#schedule();
    return true;
  }

  /** Writes every queued item now, batch by batch; returns the number written. */
  flush(): number {
    let n = 0;
    while (this.#items.length > 0) n += this.#writeBatch();
    this.#disarm();
    return n;
  }

  /** Writes what is queued and stops: later pushes are dropped. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
  }

  #schedule(): void {
    const full = this.#items.length >= this.#options.batchSize;
    if (this.#timer !== undefined && (this.#timerSoon || !full)) return;
    this.#disarm();
    this.#timerSoon = full;
    this.#timer = setTimeout(() => this.#tick(), full ? 0 : this.#options.interval);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerSoon = false;
  }

  #tick(): void {
    this.#timer = undefined;
    this.#timerSoon = false;
    this.#writeBatch();
    // One batch per macrotask: a full batch left is written after the event loop had a turn;
    // a partial one waits for the next interval.
    if (this.#items.length > 0) this.#schedule();
  }

  /** Writes one batch; returns the number written (0 when it failed). */
  #writeBatch(): number {
    const batch = this.#items.splice(0, this.#options.batchSize);
    if (batch.length === 0) return 0;
    try {
      this.#options.write(batch);
    } catch (e) {
      this.#stats.failed += batch.length;
      if (this.#failing === 0) this.#options.onFailures?.({ phase: "start", error: e });
      this.#failing += batch.length;
      return 0;
    }
    this.#stats.written += batch.length;
    this.#stats.batches++;
    if (this.#failing > 0) {
      this.#options.onFailures?.({ phase: "end", lost: this.#failing });
      this.#failing = 0;
    }
    if (this.#items.length === 0 && this.#dropping > 0) {
      this.#options.onDrops?.({ phase: "end", dropped: this.#dropping });
      this.#dropping = 0;
    }
    return batch.length;
  }
}
