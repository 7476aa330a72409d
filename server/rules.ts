/**
 * Client rules of a domain: networks, UTC time ranges, credentials.
 *
 * @module
 */

import { verifySecret } from "../shared/auth/secret.ts";
import { inTimeRanges } from "./time_range.ts";
import type { ClientRules } from "./config_types.ts";

/** The verdict on a client request. */
export type Admission =
  | { ok: true; user: string | null }
  | { ok: false; challenge: boolean; reason: string };

/** The verdict for a domain without credentials: one shared object, never edited. */
const ANONYMOUS: Admission = Object.freeze({ ok: true, user: null });

/**
 * Checks a client against a domain's rules. A refusal with `challenge` asks
 * for credentials (401 with the realm); any other refusal is answered with
 * the server's "unavailable" status, the reason going to the log only. `now`
 * (default: the current time, read only when the rules have time ranges) is
 * checked against the time ranges.
 */
export function admit(
  rules: ClientRules,
  clientIp: string,
  authorization: string | null,
  now?: Date,
): Admission {
  if (rules.networks !== null && !rules.networks.contains(clientIp)) {
    return { ok: false, challenge: false, reason: `client ${clientIp} outside allowed networks` };
  }
  if (rules.ranges.length > 0 && !inTimeRanges(rules.ranges, now ?? new Date())) {
    return { ok: false, challenge: false, reason: "outside allowed time ranges" };
  }
  if (rules.credentials.length === 0) return ANONYMOUS;
  const basic = parseBasic(authorization);
  if (basic === null) return { ok: false, challenge: true, reason: "no credentials" };
  let ok = false;
  for (const c of rules.credentials) {
    // Every matching user entry is checked, so timing does not tell which one failed.
    if (c.user === basic.user && verifySecret(basic.password, c.password)) ok = true;
  }
  if (!ok) return { ok: false, challenge: true, reason: `wrong credentials for "${basic.user}"` };
  return { ok: true, user: basic.user };
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
