/**
 * Who an operator request is: its `Authorization: Bearer <token>` checked
 * through the server's {@linkcode AuthGuard} (failures limited per source
 * address and per presented token; a locked-out attempt is refused with the
 * same 401 and no token lookup at all), then the operator's `networks`.
 * Every refusal is recorded in the audit (folded per window) and logged once
 * per window per address.
 *
 * A bearer token names no account, so the "account" the guard counts is the
 * presented token itself, by digest (`operator token #1a2b3c4d`): a revoked
 * token a script keeps sending is locked out wherever it comes from, and
 * nothing of the token reaches the logs.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Logger } from "@logtape/logtape";
import type { AuthGuard } from "../auth_guard.ts";
import type { AccessFolders } from "../access/access_folders.ts";
import type { OperatorFile } from "../access/types.ts";
import type { RefusalFolder } from "../audit/mod.ts";

/** What {@linkcode authenticateOperator} needs from the server. */
export interface OperatorAuthDeps {
  /** Operator files, by token. */
  access: Pick<AccessFolders, "operatorByToken">;
  /** Failure limits and the once-per-window refusal log. */
  auth: Pick<AuthGuard, "verifyWith" | "logRefusal">;
  /** Where refusals are recorded; null records nothing. */
  audit: { refusals: Pick<RefusalFolder, "refused"> } | null;
  /** System log (a busy hash pool). */
  log: Logger;
}

/** The answer of {@linkcode authenticateOperator}. */
export type OperatorAdmission =
  | { ok: true; operator: OperatorFile }
  | { ok: false; response: Response };

/** The stealth answer to a missing, wrong or locked-out token: the same every time. */
export function unauthorized(): Response {
  return new Response("Authentication required\n", {
    status: 401,
    headers: { "www-authenticate": 'Bearer realm="burrow"' },
  });
}

/**
 * Authenticates the operator behind `req`, coming from `address` (IP):
 * 401 for a missing, malformed, wrong or locked-out token, 503 when the
 * `$6$` workers are saturated, 403 (one line saying why) for a client
 * outside the operator's `networks`.
 *
 * @example
 * ```ts ignore
 * const admission = await authenticateOperator(req, "192.0.2.7", { access, auth, audit, log });
 * if (!admission.ok) return admission.response;
 * console.log(admission.operator.name); // "alice"
 * ```
 */
export async function authenticateOperator(
  req: Request,
  address: string,
  deps: OperatorAuthDeps,
): Promise<OperatorAdmission> {
  const token = bearerToken(req.headers.get("authorization"));
  let found: OperatorFile | undefined;
  const verdict = await deps.auth.verifyWith(
    { address, account: tokenAccount(token) },
    async () => {
      if (token === null) return false;
      found = await deps.access.operatorByToken(token);
      return found !== undefined;
    },
  );
  if (verdict.ok && found !== undefined) {
    const operator = found;
    if (operator.networks === null || operator.networks.contains(address)) {
      return { ok: true, operator };
    }
    const reason = `client ${address} is outside operator ${operator.name}'s networks`;
    refused(deps, address, operator.name, reason);
    return { ok: false, response: new Response(`Refused: ${reason}\n`, { status: 403 }) };
  }
  if (!verdict.ok && verdict.busy) {
    deps.log.warn("Operator from {address} not checked: {reason}", {
      address,
      reason: verdict.reason,
    });
    return { ok: false, response: new Response("Server busy; retry later\n", { status: 503 }) };
  }
  const reason = token === null
    ? "no bearer token"
    : verdict.ok
    ? "wrong token"
    : verdict.reason.replace(/^wrong secret for .*/, "wrong token");
  refused(deps, address, "", reason);
  return { ok: false, response: unauthorized() };
}

/** The token of `Bearer <token>`; null when absent or another scheme. */
export function bearerToken(header: string | null): string | null {
  if (header === null) return null;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return m === null ? null : m[1]!;
}

/**
 * The account a presented token is counted under: its digest, never the
 * token (the admin API counts its tokens the same way).
 */
export function tokenAccount(token: string | null): string {
  if (token === null) return "operator token (none)";
  const digest = createHash("sha256").update(token).digest("hex").slice(0, 8);
  return `operator token #${digest}`;
}

/** Records and logs (once per window per address) a refused operator. */
function refused(deps: OperatorAuthDeps, address: string, identity: string, reason: string): void {
  deps.audit?.refusals.refused({ kind: "operator", identity, source: address, reason });
  deps.auth.logRefusal(address, "Operator from {address} refused: {reason}", {
    address,
    reason,
    ...(identity === "" ? {} : { operator: identity }),
  });
}
