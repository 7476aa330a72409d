/**
 * Bounds and formats that server and agent files share, written once so the
 * two roles cannot drift.
 *
 * @module
 */

/**
 * Bounds of a domain's `concurrency`, in server and agent domain files alike.
 *
 * @example
 * ```ts
 * import { CONCURRENCY } from "./bounds.ts";
 * CONCURRENCY.default; // 20
 * ```
 */
export const CONCURRENCY = { default: 20, min: 1, max: 10_000 } as const;

/**
 * A URL path (the server's `agentPath`, an agent domain's `service`): starts
 * with `/`, no spaces, query or fragment.
 *
 * @example
 * ```ts
 * import { URL_PATH } from "./bounds.ts";
 * URL_PATH.pattern.test("/.well-known/burrow-agent"); // true
 * ```
 */
export const URL_PATH = {
  pattern: /^\/[^\s?#]*$/,
  hint: 'a URL path starting with "/"',
} as const;
