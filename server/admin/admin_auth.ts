/**
 * Who may use the admin API: an operator whose bearer token
 * (`Authorization: Bearer <token>`) matches an `operators.d` file whose
 * `kinds` include `admin`, connecting from its `networks`.
 *
 * Token checks go through the server's {@link AuthGuard}, under the limits
 * of every other secret and counted as the operator endpoint counts them
 * (`server/operator/token_auth.ts`): per source address, and per presented
 * token by digest (a bearer token names nobody before it matches); during a
 * lockout the token is not looked up at all, so the right token gets the
 * same 401 as a wrong one. Every refusal goes to the audit (kind `admin`)
 * and, once per address and window, to the log at WARN.
 *
 * @module
 */

import type { AuthGuard } from "../auth_guard.ts";
import type { AccessFolders } from "../access/access_folders.ts";
import { authorizeOperator } from "../access/authorize.ts";
import type { OperatorFile } from "../access/types.ts";
import type { AuthRefusal } from "../audit/records.ts";
import { bearerToken, tokenAccount } from "../operator/token_auth.ts";
import { errorAnswer, unauthorized } from "./answers.ts";

/** Longest token looked up; a longer one gets the 401, neither hashed nor counted. */
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
  if (token.length > MAX_TOKEN_LENGTH) return refuse(deps, address, "", 401, "token too long");
  let found: OperatorFile | undefined;
  const verdict = await deps.auth.verifyWith(
    { address, account: tokenAccount(token) },
    async () => {
      found = await deps.access.operatorByToken(token);
      return found !== undefined;
    },
  );
  // Assigned in the check: TypeScript cannot see that.
  const operator = found as OperatorFile | undefined;
  if (!verdict.ok && verdict.busy) {
    return {
      ok: false,
      response: errorAnswer(503, "busy", "The server is busy checking secrets; retry later"),
      reason: verdict.reason,
    };
  }
  if (!verdict.ok || operator === undefined) {
    const reason = verdict.ok ? "wrong token" : verdict.reason;
    return refuse(deps, address, "", 401, reason.replace(/^wrong secret for .*/, "wrong token"));
  }
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
