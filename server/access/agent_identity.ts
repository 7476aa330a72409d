/**
 * The agent identity decision: does an Identify request (name, secret, the
 * address the agent connects from) match an `agents.d` file? Typed answers
 * for the server's log and audit; the agent itself only ever gets the one
 * stealth refusal (`docs/protocol.md`, "Identify streams").
 *
 * @module
 */

import { verifySecret } from "../../shared/auth/secret.ts";
import type { AgentFile } from "./types.ts";

/** What an agent presented. */
export interface IdentityClaim {
  /** The name it claims (lower case). */
  name: string;
  /** The secret it sent (plain). */
  secret: string;
  /** Its address, as the server sees it. */
  address: string;
}

/** Why an identity was refused. */
export type IdentityRefusal =
  /** No `agents.d` file has the name. */
  | "unknown-agent"
  /** The secret does not match. */
  | "bad-secret"
  /** The address is outside the agent's `networks`. */
  | "network";

/** The answer of {@link checkAgentIdentity}. */
export type IdentityCheck =
  | { ok: true; agent: AgentFile }
  | { ok: false; reason: IdentityRefusal; message: string };

/**
 * Checks a presented secret against a stored one (plain or `$6$`), sync or
 * async. `context` says whose claim it is and whether `stored` is the decoy
 * checked for an unknown name, so the server's `AuthGuard` (failure limits
 * per address and account, `$6$` in its worker pool) can be plugged in.
 *
 * @example
 * ```ts
 * const verify: VerifySecret = async (plain, stored, { claim, decoy }) =>
 *   (await guard.verify({
 *     address: claim.address,
 *     account: `agent ${claim.name}`,
 *     presented: plain,
 *     stored: [stored],
 *     decoy,
 *   })).ok;
 * ```
 */
export type VerifySecret = (
  plain: string,
  stored: string,
  context: { claim: IdentityClaim; decoy: boolean },
) => boolean | Promise<boolean>;

/**
 * A `$6$` hash of a random secret nobody knows, verified for an unknown name
 * so that an unknown name costs as long as a known one with a wrong secret.
 */
const DUMMY_HASH =
  "$6$burrowdummysalt$6KLSZNNUe.pUq2.ZtE.B5anvzjJq95rX801K9Ua24QKiB3IMw.Cihei8hKUDwzaLYj1oLPxL5zEVDiV9cBO3p1";

/**
 * Checks `claim` against `agent` (the file for `claim.name`, or undefined
 * when there is none). The network is checked before the secret, so a
 * connection from outside pays no hash; an unknown name still verifies
 * against a dummy hash, so its answer takes as long as a wrong secret.
 *
 * @example
 * ```ts
 * import { checkAgentIdentity } from "./agent_identity.ts";
 * const answer = await checkAgentIdentity(agents.get("db1"), {
 *   name: "db1", secret: "s3cret", address: "198.51.100.7",
 * });
 * if (!answer.ok) log.warn(answer.message);
 * ```
 */
export async function checkAgentIdentity(
  agent: AgentFile | undefined,
  claim: IdentityClaim,
  verify: VerifySecret = verifySecret,
): Promise<IdentityCheck> {
  if (agent === undefined || agent.name !== claim.name) {
    await verify(claim.secret, DUMMY_HASH, { claim, decoy: true });
    return refuse("unknown-agent", `agent ${claim.name} has no agents.d file`);
  }
  if (agent.networks !== null && !agent.networks.contains(claim.address)) {
    return refuse(
      "network",
      `agent ${claim.name} connected from ${claim.address}, outside its networks`,
    );
  }
  if (agent.secret === null) {
    // A certificate-only agent: no secret opens it, and refusing costs what a wrong one does.
    await verify(claim.secret, DUMMY_HASH, { claim, decoy: true });
    return refuse("bad-secret", `agent ${claim.name} identifies by certificate only (no secret)`);
  }
  if (!(await verify(claim.secret, agent.secret, { claim, decoy: false }))) {
    return refuse("bad-secret", `agent ${claim.name} presented a wrong secret`);
  }
  return { ok: true, agent };
}

function refuse(reason: IdentityRefusal, message: string): IdentityCheck {
  return { ok: false, reason, message };
}
