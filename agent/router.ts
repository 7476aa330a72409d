/**
 * The agent's request router: picks the first target of a domain whose
 * method and path filters match, balances its backend URLs by weight (smooth
 * weighted round-robin, as nginx does), and fails over to the next URL when a
 * backend refuses the connection.
 *
 * @module
 */

import type { Target, TargetUrl } from "./config_types.ts";

/** How long a URL that refused a connection is avoided, in ms. */
export const DOWN_FOR_MS = 5_000;

/** Why a request could not be routed; the code is the Http stream's ERROR code. */
export type RouteErrorCode =
  /** No target of the domain matches the request. */
  | "no-route"
  /** Every backend URL that was tried refused the connection. */
  | "bad-gateway";

/**
 * A request found no target, or no backend of its target answered.
 *
 * @example
 * ```ts
 * try {
 *   await router.forward("GET", "/", { retry: true }, send);
 * } catch (e) {
 *   if (e instanceof RouteError) await incoming.refuse(e.code, e.message);
 * }
 * ```
 */
export class RouteError extends Error {
  /** Error class name, for logs and `instanceof`-free checks. */
  override name = "RouteError";
  /** Machine-readable reason, also the ERROR code sent to the server. */
  readonly code: RouteErrorCode;

  /** Creates a route error. */
  constructor(message: string, code: RouteErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Options of a {@linkcode Router}. */
export interface RouterOptions {
  /** How long a refusing URL is avoided, in ms. Default {@linkcode DOWN_FOR_MS}. */
  downFor?: number;
  /** Clock in ms. Default `performance.now`. */
  now?: () => number;
}

/** Options of {@linkcode Router.forward}. */
export interface ForwardOptions {
  /** Whether a refused attempt may be repeated on another URL of the target. */
  retry: boolean;
}

/** What {@linkcode Router.forward} sends a request with, when not a function. */
export interface Sender<T> {
  /** Sends the request to `url` of `target`. */
  send(url: TargetUrl, target: Target): Promise<T>;
}

/** Balancing state of one backend URL. */
interface UrlState {
  /** Smooth weighted round-robin counter. */
  current: number;
  /** Clock value until which the URL counts as down. */
  downUntil: number;
}

const REFUSED = /connection refused|actively refused|ECONNREFUSED/i;

/**
 * True when `error` says a backend refused the TCP connection: nothing was
 * sent, so the request may safely go to another URL. Deno's `fetch` throws a
 * `TypeError("fetch failed")` whose cause reads "… Connection refused (os
 * error 111)" (61 on macOS, "actively refused … (os error 10061)" on Windows).
 *
 * @example
 * ```ts
 * try {
 *   await fetch("http://127.0.0.1:1/");
 * } catch (e) {
 *   isConnectionRefused(e); // true
 * }
 * ```
 */
export function isConnectionRefused(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof Deno.errors.ConnectionRefused || REFUSED.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}

/** The `tried` set of a first pick. */
const NONE_TRIED: ReadonlySet<TargetUrl> = new Set();

/**
 * Routes the requests of one domain to its targets. Balancing state lives in
 * the router; a domain change builds a new one.
 *
 * @example
 * ```ts
 * const router = new Router(domain.targets);
 * const response = await router.forward("GET", "/a?b=c", { retry: true }, (url) =>
 *   fetch(new URL("/a?b=c", url.url)));
 * ```
 */
export class Router {
  readonly #targets: readonly Target[];
  readonly #downFor: number;
  readonly #now: () => number;
  readonly #state = new Map<TargetUrl, UrlState>();

  /** Creates a router over `targets`, in priority order. */
  constructor(targets: readonly Target[], options: RouterOptions = {}) {
    this.#targets = targets;
    this.#downFor = options.downFor ?? DOWN_FOR_MS;
    this.#now = options.now ?? (() => performance.now());
    for (const target of targets) {
      for (const url of target.urls) this.#state.set(url, { current: 0, downUntil: -Infinity });
    }
  }

  /**
   * The first target whose method and path filters both match; `requestTarget`
   * is the path with its query (`/a/b?c=d`). Null when none does.
   */
  match(method: string, requestTarget: string): Target | null {
    for (const target of this.#targets) {
      if (target.method !== null && !test(target.method, method)) continue;
      if (target.path !== null && !test(target.path, requestTarget)) continue;
      return target;
    }
    return null;
  }

  /**
   * Picks the next URL of `target` by smooth weighted round-robin, skipping
   * the URLs in `tried`. URLs marked down are used only when every untried URL
   * is down: the mark steers traffic away from a dead backend while another is
   * alive, but never turns a lone backend that just restarted into a 5 s
   * outage. Null when every URL was tried.
   */
  pick(target: Target, tried: ReadonlySet<TargetUrl> = NONE_TRIED): TargetUrl | null {
    const urls = target.urls;
    // One URL (the usual case) needs no balancing: it is tried whether up or down.
    if (urls.length === 1) return tried.has(urls[0]!) ? null : urls[0]!;
    const now = this.#now();
    const untried = urls.filter((u) => !tried.has(u));
    const up = untried.filter((u) => this.#stateOf(u).downUntil <= now);
    const candidates = up.length > 0 ? up : untried;
    let best: TargetUrl | null = null;
    let total = 0;
    for (const url of candidates) {
      const state = this.#stateOf(url);
      state.current += url.weight;
      total += url.weight;
      if (best === null || state.current > this.#stateOf(best).current) best = url;
    }
    if (best !== null) this.#stateOf(best).current -= total;
    return best;
  }

  /** Avoids `url` for the router's `downFor` ms. */
  markDown(url: TargetUrl): void {
    this.#stateOf(url).downUntil = this.#now() + this.#downFor;
  }

  /** True while `url` is marked down. */
  isDown(url: TargetUrl): boolean {
    return this.#stateOf(url).downUntil > this.#now();
  }

  /**
   * Routes a request and runs `send` (a function, or a {@linkcode Sender}
   * whose method needs no closure per request) against the chosen URL. When `send`
   * fails because the backend refused the connection, the URL is marked down
   * and, if `options.retry`, the next URL of the same target is tried. Other
   * failures (timeouts, resets, TLS errors) propagate as they are: the backend
   * may have seen the request, so repeating it could run it twice.
   *
   * @throws {RouteError} "no-route" when no target matches, "bad-gateway"
   * when the URLs tried all refused.
   */
  async forward<T>(
    method: string,
    requestTarget: string,
    options: ForwardOptions,
    send: ((url: TargetUrl, target: Target) => Promise<T>) | Sender<T>,
  ): Promise<T> {
    const target = this.match(method, requestTarget);
    if (target === null) {
      throw new RouteError(`No target matches ${method} ${requestTarget}`, "no-route");
    }
    // Made on the first refusal only: most requests go to the first URL picked.
    let tried: Set<TargetUrl> | null = null;
    let last: unknown = undefined;
    for (
      let url = this.pick(target);
      url !== null;
      url = this.pick(target, tried ?? NONE_TRIED)
    ) {
      try {
        return await (typeof send === "function" ? send(url, target) : send.send(url, target));
      } catch (e) {
        if (!isConnectionRefused(e)) throw e;
        (tried ??= new Set()).add(url);
        this.markDown(url);
        last = e;
        if (!options.retry) break;
      }
    }
    const why = last instanceof Error ? `: ${messageOf(last)}` : "";
    throw new RouteError(
      `No backend of target "${target.name}" accepted the connection (${
        tried?.size ?? 0
      } tried)${why}`,
      "bad-gateway",
      { cause: last },
    );
  }

  #stateOf(url: TargetUrl): UrlState {
    let state = this.#state.get(url);
    if (state === undefined) {
      state = { current: 0, downUntil: -Infinity };
      this.#state.set(url, state);
    }
    return state;
  }
}

/** Tests without the `lastIndex` side effect of global or sticky regexes. */
function test(re: RegExp, value: string): boolean {
  re.lastIndex = 0;
  return re.test(value);
}

/** The most specific message of an error chain ("fetch failed" says little). */
function messageOf(error: Error): string {
  const cause = error.cause;
  return cause instanceof Error ? cause.message : error.message;
}
