/**
 * The agent identity decision: does an Identify request (name, secret, the
 * address the agent connects from) match an `agents.d` file? Typed answers
 * for the server's log and audit; the agent itself only ever gets the one
 * stealth refusal (`docs/protocol.md`, "Identify streams").
 *
 * @module
 */

import { decoyFor, verifySecret } from "../../shared/auth/secret.ts";
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
 * async. `context` says whose claim it is and whether `stored` is a decoy
 * (checked for its cost only, for a claim refused whatever the secret: an
 * unknown name, a certificate-only agent, an address outside the agent's
 * networks), so the server's `AuthGuard` (failure limits per address and
 * account, `$6$` in its worker pool) can be plugged in: a decoy check is a
 * failure there.
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
 * The shape of the decoy an unknown name is checked against: a `$6$` hash
 * of the default rounds (the form `burrow password` writes). Each name gets
 * its own decoy ({@link decoyFor}), so a secret tried under two unknown names
 * is hashed twice, as under two known ones (one shared decoy would answer
 * the second try from the verifier's cache, at once).
 */
const DECOY_SHAPE =
  "$6$burrowdummysalt$6KLSZNNUe.pUq2.ZtE.B5anvzjJq95rX801K9Ua24QKiB3IMw.Cihei8hKUDwzaLYj1oLPxL5zEVDiV9cBO3p1";

/**
 * Checks `claim` against `agent` (the file for `claim.name`, or undefined
 * when there is none). Every refusal costs one secret verification, so
 * timing does not tell them apart: an unknown name and a certificate-only
 * agent are checked against a decoy hash; a claim from outside the agent's
 * `networks` against a decoy shaped like its stored secret (same rounds,
 * verified and cached the same way as a wrong secret, and never the real
 * hash, whose cached success would answer a right secret sooner). Decoy
 * checks are flagged `decoy` for the verifier: they never match, and the
 * server's `AuthGuard` counts them as failures, so a loop of such claims is
 * locked out like a loop of wrong secrets.
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
  const decoy = (stored: string) => verify(claim.secret, stored, { claim, decoy: true });
  if (agent === undefined || agent.name !== claim.name) {
    await decoy(unknownDecoy(claim.name));
    return refuse("unknown-agent", `agent ${claim.name} has no agents.d file`);
  }
  if (agent.networks !== null && !agent.networks.contains(claim.address)) {
    await decoy(
      agent.secret === null
        ? unknownDecoy(claim.name)
        : decoyFor(agent.secret, `off ${claim.name}`),
    );
    return refuse(
      "network",
      `agent ${claim.name} connected from ${claim.address}, outside its networks`,
    );
  }
  if (agent.secret === null) {
    // A certificate-only agent: no secret opens it, and refusing costs what an unknown name does.
    await decoy(unknownDecoy(claim.name));
    return refuse("bad-secret", `agent ${claim.name} identifies by certificate only (no secret)`);
  }
  if (!(await verify(claim.secret, agent.secret, { claim, decoy: false }))) {
    return refuse("bad-secret", `agent ${claim.name} presented a wrong secret`);
  }
  return { ok: true, agent };
}

/** The decoy an unknown (or certificate-only) `name` is checked against. */
function unknownDecoy(name: string): string {
  return decoyFor(DECOY_SHAPE, `agent ${name}`);
}

function refuse(reason: IdentityRefusal, message: string): IdentityCheck {
  return { ok: false, reason, message };
}
