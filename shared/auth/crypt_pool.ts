/**
 * SHA-512 crypt off the event loop. One `$6$` check is about 12 ms of CPU
 * (5,000 rounds of SHA-512); on the server's only JavaScript thread, 49 wrong
 * passwords a second raised another domain's latency from 2 ms to 240–1000 ms
 * (issue 9). A {@link CryptPool} runs the hashes in Web Workers instead:
 *
 * - a few workers (default: one fewer than the cores, at least 1, at most 2),
 *   started on the first job and terminated after 5 minutes without one: a
 *   process that never checks a hash pays no worker (about 20–30 MB each),
 *   and an idle pool does not keep a process alive for ever. Not sooner,
 *   because starting a worker is not free for the event loop either: `new
 *   Worker()` returned after 40–90 ms here (2 loaded cores; the worker's own
 *   start, 70–300 ms, runs on its thread), a few hashes' worth, paid once per
 *   busy period rather than once per login;
 * - a bounded queue: when it is full a job is refused at once with
 *   {@link CryptPoolError} "busy" rather than queued behind seconds of work.
 *
 * @module
 */

import type { CryptAnswer, CryptJob } from "./crypt_worker.ts";
import { sha512Crypt } from "./sha512_crypt.ts";

/** Default jobs waiting for a worker, beyond those running. */
export const DEFAULT_QUEUE = 32;
/** Default time workers stay up with nothing to do. */
export const DEFAULT_IDLE_TIMEOUT = 5 * 60_000;

/** Workers by default: leave a core to the event loop, and no more than 2. */
export function defaultPoolSize(cores = navigator.hardwareConcurrency): number {
  return Math.max(1, Math.min(2, cores - 1));
}

/** Why a job was not run. */
export type CryptPoolErrorCode = "busy" | "closed" | "failed";

/** A job the pool refused ("busy", "closed") or that failed in its worker ("failed"). */
export class CryptPoolError extends Error {
  override readonly name = "CryptPoolError";
  /** Which of the three. */
  readonly code: CryptPoolErrorCode;

  /** An error with its code. */
  constructor(message: string, code: CryptPoolErrorCode) {
    super(message);
    this.code = code;
  }
}

/** Options of {@link CryptPool}. */
export interface CryptPoolOptions {
  /** Workers at most. Default {@link defaultPoolSize}. */
  size?: number;
  /** Jobs waiting beyond those running. Default {@link DEFAULT_QUEUE}. */
  queue?: number;
  /** Idle time before the workers are terminated (ms). Default {@link DEFAULT_IDLE_TIMEOUT}. */
  idleTimeout?: number;
  /** The worker module. Default `crypt_worker.ts` beside this file; tests pass one that fails. */
  workerUrl?: URL;
  /**
   * Called once if a worker dies before its first answer (its module cannot
   * load: a `deno compile` without `--include shared/auth/crypt_worker.ts`,
   * say). The pool then hashes on the calling thread rather than failing
   * every check; the caller should say so loudly.
   */
  onFallback?: (reason: string) => void;
}

/** A job and who waits for it. */
interface Pending extends CryptJob {
  resolve(hash: string): void;
  reject(error: Error): void;
}

/** One worker and the job it runs, if any. */
interface Slot {
  worker: Worker;
  job: Pending | null;
  /** Whether it has answered a job: one that dies before that could not start. */
  answered: boolean;
}

/**
 * A pool of workers computing SHA-512 crypt hashes.
 *
 * @example
 * ```ts
 * import { CryptPool } from "./crypt_pool.ts";
 * const pool = new CryptPool({ size: 1 });
 * const hash = await pool.crypt("secret", "$6$saltsalt"); // "$6$saltsalt$TVLl…"
 * pool.close();
 * ```
 */
export class CryptPool {
  readonly #size: number;
  readonly #queueLimit: number;
  readonly #idleTimeout: number;
  readonly #workerUrl: URL;
  readonly #onFallback: (reason: string) => void;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  #closed = false;
  #started = 0;
  #fallback: string | null = null;

  /** A pool; no worker starts before the first job. */
  constructor(options: CryptPoolOptions = {}) {
    this.#size = Math.max(1, options.size ?? defaultPoolSize());
    this.#queueLimit = Math.max(0, options.queue ?? DEFAULT_QUEUE);
    this.#idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.#workerUrl = options.workerUrl ?? new URL("./crypt_worker.ts", import.meta.url);
    this.#onFallback = options.onFallback ?? (() => {});
  }

  /** Why the pool hashes on the calling thread (a worker could not start), or null. */
  get fallback(): string | null {
    return this.#fallback;
  }

  /** Workers running now. */
  get workers(): number {
    return this.#slots.length;
  }

  /** Workers started since the pool was made (restarts after idle periods count). */
  get started(): number {
    return this.#started;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * `sha512Crypt(plain, setting)`, computed in a worker.
   *
   * @throws {CryptPoolError} "busy" at once when the queue is full, "closed"
   * after {@link close}, "failed" when the setting is malformed or the worker died.
   */
  crypt(plain: string, setting: string): Promise<string> {
    if (this.#closed) return Promise.reject(new CryptPoolError("Crypt pool is closed", "closed"));
    if (this.#fallback !== null) return inline(plain, setting);
    const free = this.#slots.find((s) => s.job === null);
    const canStart = free === undefined && this.#slots.length < this.#size;
    if (free === undefined && !canStart && this.#queue.length >= this.#queueLimit) {
      return Promise.reject(
        new CryptPoolError(`Crypt pool is busy: ${this.#queue.length} jobs queued`, "busy"),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const job: Pending = { id: this.#nextId++, plain, setting, resolve, reject };
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (free !== undefined) this.#run(free, job);
    else if (canStart) this.#run(this.#start(), job);
    else this.#queue.push(job);
    return promise;
  }

  /** Terminates the workers; running and queued jobs fail with "closed". */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const error = new CryptPoolError("Crypt pool is closed", "closed");
    for (const job of this.#queue.splice(0)) job.reject(error);
    for (const slot of this.#slots.splice(0)) {
      slot.worker.terminate();
      slot.job?.reject(error);
    }
  }

  #start(): Slot {
    const worker = new Worker(this.#workerUrl, { type: "module" });
    const slot: Slot = { worker, job: null, answered: false };
    this.#started++;
    worker.onmessage = (event: MessageEvent<CryptAnswer>) => this.#answer(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#lose(slot, `Crypt worker failed: ${event.message}`);
    };
    worker.onmessageerror = () => this.#lose(slot, "Crypt worker sent an unreadable message");
    this.#slots.push(slot);
    return slot;
  }

  #run(slot: Slot, job: Pending): void {
    slot.job = job;
    const message: CryptJob = { id: job.id, plain: job.plain, setting: job.setting };
    slot.worker.postMessage(message);
  }

  #answer(slot: Slot, answer: CryptAnswer): void {
    const job = slot.job;
    if (job === null || job.id !== answer.id) return;
    slot.job = null;
    slot.answered = true;
    if ("hash" in answer) job.resolve(answer.hash);
    else job.reject(new CryptPoolError(answer.error, "failed"));
    this.#next(slot);
  }

  /**
   * A worker that failed is replaced by a fresh one for the queued jobs; one
   * that never answered means workers cannot start here: fall back.
   */
  #lose(slot: Slot, message: string): void {
    slot.worker.terminate();
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    if (!slot.answered && !this.#closed && this.#fallback === null) {
      this.#fallback = message;
      this.#onFallback(message);
      const jobs = [...(slot.job === null ? [] : [slot.job]), ...this.#queue.splice(0)];
      slot.job = null;
      for (const job of jobs) inline(job.plain, job.setting).then(job.resolve, job.reject);
      return;
    }
    slot.job?.reject(new CryptPoolError(message, "failed"));
    slot.job = null;
    if (!this.#closed && this.#queue.length > 0) this.#next(this.#start());
    else this.#idleCheck();
  }

  #next(slot: Slot): void {
    const job = this.#queue.shift();
    if (job !== undefined) this.#run(slot, job);
    else this.#idleCheck();
  }

  /** Arms the idle timer once no worker has a job. */
  #idleCheck(): void {
    if (this.#closed || this.#slots.some((s) => s.job !== null) || this.#slots.length === 0) {
      return;
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      for (const slot of this.#slots.splice(0)) slot.worker.terminate();
    }, this.#idleTimeout);
  }
}

/** `sha512Crypt` on the calling thread, as a promise: the fallback when workers cannot start. */
function inline(plain: string, setting: string): Promise<string> {
  try {
    return Promise.resolve(sha512Crypt(plain, setting));
  } catch (e) {
    return Promise.reject(new CryptPoolError((e as Error).message, "failed"));
  }
}
