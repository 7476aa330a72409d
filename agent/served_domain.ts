/**
 * What the agent's Http stream handler (`http.ts`) and the two ways it
 * proxies a request (`proxied_request.ts`, `http_ws.ts`) share: a served
 * domain and the handler's options. Its own file so that those three import
 * it and not each other.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AgentConfig, AgentDomain } from "./config_types.ts";
import type { Router } from "./router.ts";
import type { Http1Pool } from "./http1/pool.ts";

/** A domain the agent serves, with its routing state and in-flight count. */
export interface ServedDomain {
  /** The domain file (replaced on reload). */
  domain: AgentDomain;
  /** Its router, balancing state included (replaced when the targets change). */
  router: Router;
  /** Requests in flight, counted against `domain.concurrency`. */
  active: number;
}

/** What the Http handler needs from the agent. */
export interface HttpHandlerOptions {
  /** The served domain of that name, if the agent serves it. */
  lookup(name: string): ServedDomain | undefined;
  /** The agent's HTTP client for `https:` backends (`allowHost: true`), shared for keep-alive. */
  client: Deno.HttpClient;
  /** The agent's HTTP/1.1 connection pool for `http:` backends. */
  pool: Http1Pool;
  /** Backend timeouts, in ms. */
  timeouts: Pick<AgentConfig, "connectTimeout" | "readTimeout" | "idleTimeout">;
  /** System log. */
  log: Logger;
  /** Aborts every exchange when the agent shuts down. */
  signal: AbortSignal;
}
