/**
 * Client rules of a domain: networks and UTC time ranges (credentials: `basic_auth.ts`).
 *
 * @module
 */

import { inTimeRanges } from "./time_range.ts";
import type { ClientRules } from "./config_types.ts";

/** The verdict on a client's address and time; credentials are checked apart (`basic_auth.ts`). */
export type Admission =
  | { ok: true }
  | { ok: false; reason: string };

/** The verdict for a client the rules let in: one shared object, never edited. */
const ADMITTED: Admission = Object.freeze({ ok: true });

/**
 * Checks a client against a domain's networks and time ranges. A refusal is
 * answered with the server's "unavailable" status, the reason going to the
 * log only. `now` (default: the current time, read only when the rules have
 * time ranges) is checked against the time ranges.
 */
export function admit(rules: ClientRules, clientIp: string, now?: Date): Admission {
  if (rules.networks !== null && !rules.networks.contains(clientIp)) {
    return { ok: false, reason: `client ${clientIp} outside allowed networks` };
  }
  if (rules.ranges.length > 0 && !inTimeRanges(rules.ranges, now ?? new Date())) {
    return { ok: false, reason: "outside allowed time ranges" };
  }
  return ADMITTED;
}
