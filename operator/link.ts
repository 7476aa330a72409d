/**
 * The operator session of a long-running command (`burrow forward`,
 * `burrow socks`), kept up: dialled once at the start (a refusal there ends
 * the command), redialled with backoff whenever it is lost. Connections
 * that arrive while it is down wait for it, for a bounded time.
 *
 * @module
 */

import type { Session } from "../shared/mux/mod.ts";
import { dialOperator, type OperatorSession } from "./dial.ts";
import type { OperatorSettings } from "./settings.ts";
import { Backoff, sleep } from "../shared/time/backoff.ts";

/** Where forwards get the session to open their streams on. */
export interface SessionSource {
  /**
   * The live session; while it is being redialled, waits for it.
   *
   * @throws {LinkError} when none came back in time, or the link is closed.
   */
  session(): Promise<Session>;
}

/** No operator session is available. */
export class LinkError extends Error {
  /** Always "LinkError". */
  override name = "LinkError";
  /** `down`: being redialled and not back in time; `closed`: the command is stopping. */
  readonly code: "down" | "closed";

  /** Creates a link error. */
  constructor(message: string, code: "down" | "closed") {
    super(message);
    this.code = code;
  }
}

/** Options of {@linkcode OperatorLink.connect}. */
export interface OperatorLinkOptions {
  /** Told one line when the session is lost, a redial fails, or it is back. */
  onEvent?: (line: string) => void;
  /** Milliseconds a new connection waits for a lost session to come back. Default 10,000. */
  waitTimeout?: number;
  /** First and largest redial delay, ms (full jitter). Default 250 and 15,000. */
  backoff?: { min: number; max: number };
  /** Dialer (tests). Default {@linkcode dialOperator}. */
  dial?: (settings: OperatorSettings, signal: AbortSignal) => Promise<OperatorSession>;
}

/**
 * A kept-up operator session.
 *
 * @example
 * ```ts
 * const link = await OperatorLink.connect(settings, { onEvent: (line) => console.error(line) });
 * const forward = await openTcpForward(await link.session(), "127.0.0.1", 22, { params: { agent: "db1" } });
 * await link.close();
 * ```
 */
export class OperatorLink implements SessionSource {
  readonly #settings: OperatorSettings;
  readonly #options: OperatorLinkOptions;
  readonly #stop = new AbortController();
  #current: OperatorSession | null;
  #lastError = "";
  #waiters: PromiseWithResolvers<Session>[] = [];
  #redialling: Promise<void> | null = null;

  private constructor(
    settings: OperatorSettings,
    options: OperatorLinkOptions,
    first: OperatorSession,
  ) {
    this.#settings = settings;
    this.#options = options;
    this.#current = first;
    this.#watch(first);
  }

  /**
   * Dials the first session.
   *
   * @throws {OperatorDialError} when it cannot be opened: the command should stop there.
   */
  static async connect(
    settings: OperatorSettings,
    options: OperatorLinkOptions = {},
  ): Promise<OperatorLink> {
    const dial = options.dial ?? dialWith;
    return new OperatorLink(settings, options, await dial(settings, new AbortController().signal));
  }

  /** True while a session is up. */
  get connected(): boolean {
    return this.#current !== null;
  }

  /** The live session, or the next one within `waitTimeout`. */
  session(): Promise<Session> {
    if (this.#stop.signal.aborted) {
      return Promise.reject(new LinkError("stopping", "closed"));
    }
    if (this.#current !== null) return Promise.resolve(this.#current.session);
    const waiter = Promise.withResolvers<Session>();
    this.#waiters.push(waiter);
    const wait = this.#options.waitTimeout ?? 10_000;
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      waiter.reject(
        new LinkError(
          `not connected to ${this.#settings.server.host} (reconnecting${
            this.#lastError ? `; last try: ${this.#lastError}` : ""
          })`,
          "down",
        ),
      );
    }, wait);
    return waiter.promise.finally(() => clearTimeout(timer));
  }

  /** Stops redialling and closes the session; waiters get a `closed` LinkError. */
  async close(): Promise<void> {
    this.#stop.abort();
    for (const w of this.#waiters) w.reject(new LinkError("stopping", "closed"));
    this.#waiters = [];
    await this.#current?.close();
    await this.#redialling;
  }

  #watch(op: OperatorSession): void {
    op.closed.then(() => {
      if (this.#current !== op || this.#stop.signal.aborted) return;
      this.#current = null;
      const why = op.session.closeReason?.message ?? "the server closed it";
      this.#options.onEvent?.(
        `lost the operator session to ${this.#settings.server.host}: ${why}; reconnecting`,
      );
      this.#redialling = this.#redial();
    });
  }

  async #redial(): Promise<void> {
    const { min, max } = this.#options.backoff ?? { min: 250, max: 15_000 };
    const dial = this.#options.dial ?? dialWith;
    const signal = this.#stop.signal;
    const backoff = new Backoff({ min, max });
    while (!signal.aborted) {
      if (!(await sleep(backoff.next(), signal))) return;
      let op: OperatorSession;
      try {
        op = await dial(this.#settings, signal);
      } catch (e) {
        if (signal.aborted) return;
        this.#lastError = (e as Error).message;
        this.#options.onEvent?.(
          `reconnect to ${this.#settings.server.host} failed: ${this.#lastError}`,
        );
        continue;
      }
      if (signal.aborted) {
        await op.close();
        return;
      }
      this.#current = op;
      this.#lastError = "";
      this.#watch(op);
      this.#options.onEvent?.(`reconnected to ${this.#settings.server.host}`);
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.resolve(op.session);
      return;
    }
  }
}

function dialWith(settings: OperatorSettings, signal: AbortSignal): Promise<OperatorSession> {
  return dialOperator(settings, { signal });
}
