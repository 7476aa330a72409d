/**
 * Basic auth of a domain's clients (`clients.credentials`): the header
 * codec, the challenge, and the check through the server's
 * {@link AuthGuard}. An unknown user costs what a known one costs: the
 * password is checked against a decoy shaped like the domain's first stored
 * password (a `$6$` hash of the same rounds), so timing does not tell which
 * users exist.
 *
 * @module
 */

import { decoyFor } from "../shared/auth/secret.ts";
import type { AuthGuard } from "./auth_guard.ts";
import type { Credential } from "./config_types.ts";

/** The outcome of {@link checkBasic}. */
export type BasicVerdict =
  | { ok: true; user: string }
  /** 401 with a challenge (no or wrong credentials, locked out), or 503 when the check is busy. */
  | { ok: false; status: 401 | 503; reason: string };

/** What {@link checkBasic} needs to know of the request. */
export interface BasicRequest {
  /** Domain name, for limits and logs. */
  domain: string;
  /** Client address. */
  address: string;
  /** The request's `Authorization` header. */
  authorization: string | null;
}

/**
 * Checks a request's Basic credentials against `credentials` (not empty).
 *
 * @example
 * ```ts ignore
 * const verdict = await checkBasic(guard, domain.clients.credentials, {
 *   domain: "app.test", address: "192.0.2.7", authorization: req.headers.get("authorization"),
 * });
 * ```
 */
export async function checkBasic(
  guard: AuthGuard,
  credentials: readonly Credential[],
  request: BasicRequest,
): Promise<BasicVerdict> {
  const basic = parseBasic(request.authorization);
  if (basic === null) return { ok: false, status: 401, reason: "no credentials" };
  const stored = credentials.filter((c) => c.user === basic.user).map((c) => c.password);
  const decoy = stored.length === 0;
  if (decoy) {
    stored.push(decoyFor(credentials[0]?.password ?? "", `${request.domain}\n${basic.user}`));
  }
  const verdict = await guard.verify({
    address: request.address,
    account: `user ${JSON.stringify(basic.user)} of ${request.domain}`,
    presented: basic.password,
    stored,
    decoy,
  });
  if (verdict.ok) return { ok: true, user: basic.user };
  return { ok: false, status: verdict.busy ? 503 : 401, reason: verdict.reason };
}

/** The `WWW-Authenticate` value asking for credentials in `realm`. */
export function challenge(realm: string): string {
  return `Basic realm="${realm.replace(/["\\]/g, "\\$&")}", charset="UTF-8"`;
}

/** Decodes `Basic base64(user:password)`; null when absent or malformed. */
export function parseBasic(header: string | null): { user: string; password: string } | null {
  if (header === null) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (m === null) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0)),
    );
  } catch {
    return null;
  }
  const i = text.indexOf(":");
  if (i < 0) return null;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}
