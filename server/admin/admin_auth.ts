/**
 * Who may use the admin API: an operator whose bearer token
 * (`Authorization: Bearer <token>`) matches an `operators.d` file whose
 * `kinds` include `admin`, connecting from its `networks`.
 *
 * Token checks go through the server's {@link AuthGuard}, under the limits
 * of every other secret: failures count per source address and against the
 * one account {@link OPERATOR_TOKEN_ACCOUNT} (a bearer token names nobody
 * before it matches), and during a lockout the token is not looked up at
 * all, so the right token gets the same 401 as a wrong one. Every refusal
 * goes to the audit (kind `admin`) and, once per address and window, to the
 * log at WARN.
 *
 * @module
 */

import type { AuthGuard } from "../auth_guard.ts";
import type { AccessFolders } from "../access/access_folders.ts";
import { authorizeOperator } from "../access/authorize.ts";
import type { OperatorFile } from "../access/types.ts";
import type { AuthRefusal } from "../audit/records.ts";
import { errorAnswer, unauthorized } from "./answers.ts";

/**
 * The account operator token failures count against: one for all operators,
 * since a wrong token names none. An address that presented a good token
 * within the last day is still checked during its lockout (see
 * {@link AuthGuard}), so a flood of wrong tokens does not shut out an
 * operator who used the API recently from where it works.
 */
export const OPERATOR_TOKEN_ACCOUNT = "operator token";

/** Longest token looked up; a longer one is a failure without a hash. */
const MAX_TOKEN_LENGTH = 4096;

/** Where refusals are recorded: the audit's `RefusalFolder` (or a test double). */
export interface RefusalRecorder {
  /** Records one refusal (folded per window by the recorder). */
  refused(record: Omit<AuthRefusal, "count" | "at">): void;
}

/** What {@link authenticateAdmin} needs. */
export interface AdminAuthDeps {
  /** Operator files: the token lookup. */
  access: Pick<AccessFolders, "operatorByToken">;
  /** Failure limits and refusal logging. */
  auth: AuthGuard;
  /** The audit's refusals; null when the audit is off. */
  refusals: RefusalRecorder | null;
}

/** The outcome of {@link authenticateAdmin}. */
export type AdminAuth =
  | { ok: true; operator: OperatorFile }
  | { ok: false; response: Response; reason: string };

/** The token of an `Authorization: Bearer <token>` header; null when absent or another scheme. */
export function bearerToken(header: string | null): string | null {
  const m = header === null ? null : /^Bearer[ \t]+([^ \t]+)[ \t]*$/i.exec(header);
  return m === null ? null : m[1]!;
}

/**
 * Authenticates and authorises an admin request from `address` (IP) with
 * the request's `Authorization` header: 401 for no token, a wrong one or a
 * lockout; 403 when the operator may not use `admin` from there.
 *
 * @example
 * ```ts ignore
 * const auth = await authenticateAdmin(req.headers.get("authorization"), "192.0.2.7", deps);
 * if (!auth.ok) return auth.response;
 * log.info("admin request by {operator}", { operator: auth.operator.name });
 * ```
 */
export async function authenticateAdmin(
  authorization: string | null,
  address: string,
  deps: AdminAuthDeps,
): Promise<AdminAuth> {
  const token = bearerToken(authorization);
  if (token === null) return refuse(deps, address, "", 401, "no bearer token");
  const verdict = await deps.auth.check(
    { address, account: OPERATOR_TOKEN_ACCOUNT },
    () =>
      token.length > MAX_TOKEN_LENGTH
        ? Promise.resolve(undefined)
        : deps.access.operatorByToken(token),
  );
  if (!verdict.ok) return refuse(deps, address, "", 401, verdict.reason);
  const operator = verdict.value;
  const decision = authorizeOperator(operator, { kind: "admin", clientAddr: address });
  if (!decision.allowed) return refuse(deps, address, operator.name, 403, decision.message);
  return { ok: true, operator };
}

/** Records and logs a refusal, and builds its answer. */
function refuse(
  deps: AdminAuthDeps,
  address: string,
  identity: string,
  status: 401 | 403,
  reason: string,
): AdminAuth {
  deps.refusals?.refused({ kind: "admin", identity, source: address, reason });
  deps.auth.logRefusal(address, "Admin API refused {address}: {reason}", { address, reason });
  const response = status === 401
    ? unauthorized()
    : errorAnswer(403, "forbidden", sentence(reason));
  return { ok: false, response, reason };
}

/** `reason` with a capital first letter. */
function sentence(reason: string): string {
  return reason.charAt(0).toUpperCase() + reason.slice(1);
}
