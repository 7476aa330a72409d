/**
 * The admin API's answers: JSON documents, errors as
 * `{ "error": { "code", "message" } }`, and the one 401 every failed
 * authentication gets (stealth: a missing token, a wrong one and a locked-out
 * address look the same).
 *
 * @module
 */

/** Codes of the admin API's errors (`error.code`). */
export type AdminErrorCode =
  /** No token, a wrong one, or an address or account locked out (401, always the same answer). */
  | "unauthorized"
  /** The operator may not use the admin API (no `admin` kind, or outside its networks) (403). */
  | "forbidden"
  /** A method other than GET or HEAD (405). */
  | "method-not-allowed"
  /** No listing of that name (404). */
  | "not-found"
  /** A query parameter the listing does not take, or a bad value (400, with `param`). */
  | "bad-param"
  /** The audit database is off: sessions, channels and refusals are not recorded (503). */
  | "audit-off"
  /** A `$6$` token check found the hash workers full (503; not counted as a failure). */
  | "busy"
  /** The listing failed on the server (500; the server logs the error). */
  | "internal";

/** Headers of every answer: JSON, never cached (the data is live and private). */
const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
} as const;

/**
 * A JSON answer.
 *
 * @example
 * ```ts
 * import { jsonAnswer } from "./answers.ts";
 * const res = jsonAnswer(200, { items: [], next: null });
 * // res.headers.get("content-type") === "application/json; charset=utf-8"
 * ```
 */
export function jsonAnswer(status: number, body: unknown, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  for (const [k, v] of Object.entries(JSON_HEADERS)) h.set(k, v);
  return new Response(JSON.stringify(body) + "\n", { status, headers: h });
}

/**
 * An error answer: `{ "error": { "code", "message", ...extra } }`.
 *
 * @example
 * ```ts
 * import { errorAnswer } from "./answers.ts";
 * errorAnswer(400, "bad-param", "Parameter limit=\"0\" is not an integer from 1 to 1000", {
 *   param: "limit",
 * });
 * ```
 */
export function errorAnswer(
  status: number,
  code: AdminErrorCode,
  message: string,
  options: { extra?: Record<string, unknown>; headers?: HeadersInit } = {},
): Response {
  return jsonAnswer(status, { error: { code, message, ...options.extra } }, options.headers);
}

/**
 * The 401 of every failed authentication, whatever the reason (the reason
 * goes to the log and the audit only).
 */
export function unauthorized(): Response {
  return errorAnswer(401, "unauthorized", "A valid operator bearer token is required", {
    headers: { "www-authenticate": 'Bearer realm="burrow-admin"' },
  });
}
