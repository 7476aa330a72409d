/**
 * The answers the server makes up itself for a client request (not the
 * agent's): stealth refusals with the domain's unavailable status, and
 * failures with their own status, each written to the access log.
 *
 * @module
 */

import type { AccessEntry } from "../shared/log/setup.ts";
import type { ServerConfig, ServerDomain } from "./config_types.ts";
import type { Flight } from "./flight.ts";

/** What the answers need of the server. */
export interface AnswerDeps {
  /** Server configuration (`unavailableStatus`, `log.unavailable`). */
  config: ServerConfig;
  /** Writes one access log entry. */
  access(entry: AccessEntry): void;
}

/**
 * A stealth refusal: the configured "unavailable" status, the reason in the
 * log only (for an unknown or inactive domain, `domain` null, only with
 * `log.unavailable`).
 *
 * @example
 * ```ts
 * return refusal(deps, f, "no agent connected", domain);
 * ```
 */
export function refusal(
  deps: AnswerDeps,
  f: Flight,
  reason: string,
  domain: ServerDomain | null,
): Response {
  const status = deps.config.unavailableStatus;
  if (domain !== null || deps.config.log.unavailable) f.end(status, reason, deps.access);
  return new Response(statusText(status), { status });
}

/**
 * A failure of the request with `status` (499, the client went away, is
 * logged as such and answered 400), the reason in the access log.
 *
 * @example
 * ```ts
 * return failure(deps, f, domain, 413, "request body too large");
 * ```
 */
export function failure(
  deps: AnswerDeps,
  f: Flight,
  domain: ServerDomain,
  status: number,
  reason: string,
): Response {
  f.end(status, reason, deps.access);
  const headers = domain.transactionId ? { "x-transaction-id": f.tid } : undefined;
  return new Response(statusText(status), { status: status === 499 ? 400 : status, headers });
}

/** The body of an answer of ours: the status's reason phrase. */
function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    404: "Not Found",
    408: "Request Timeout",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  return `${texts[status] ?? "Error"}\n`;
}
