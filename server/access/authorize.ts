/**
 * The operator decision: may this operator, connected from this address,
 * open a channel of this kind to this agent? Pure: the operator file and the
 * request in, a typed answer out, with a reason a person can act on (for
 * the server's log and audit; the operator sees it too, since it has
 * already proved who it is).
 *
 * @module
 */

import { matchesAgent } from "./selector.ts";
import { type ChannelKind, SERVER_KINDS } from "./types.ts";
import type { OperatorFile } from "./types.ts";

/** What an operator asks for. */
export interface OperatorRequest {
  /** Channel kind. */
  kind: ChannelKind;
  /** The agent's name; ignored (and may be absent) for `admin`, which reaches no agent. */
  agentName?: string;
  /** The agent's groups (from its `agents.d` file; empty for an agent without one). */
  agentGroups?: readonly string[];
  /** The operator's client address (IP, as the server sees it). */
  clientAddr: string;
}

/** Why an operator was refused. */
export type DenyReason =
  /** The client address is outside the operator's `networks`. */
  | "network"
  /** The operator's `kinds` do not include the kind. */
  | "kind"
  /** No selector of the operator's `agents` matches the agent (or no agent was named). */
  | "agent";

/** The answer of {@link authorizeOperator}. */
export type Authorization =
  | { allowed: true }
  | { allowed: false; reason: DenyReason; message: string };

/**
 * Decides whether `operator` may open `request`. The checks, in order:
 * the client network, the kind, then (for kinds that reach an agent) the
 * agent. The first that fails is the answer.
 *
 * @example
 * ```ts
 * import { authorizeOperator } from "./authorize.ts";
 * const answer = authorizeOperator(operator, {
 *   kind: "shell", agentName: "db1", agentGroups: [], clientAddr: "10.0.0.5",
 * });
 * // { allowed: false, reason: "kind", message: "operator alice may not use kind shell" }
 * ```
 */
export function authorizeOperator(operator: OperatorFile, request: OperatorRequest): Authorization {
  const who = `operator ${operator.name}`;
  if (operator.networks !== null && !operator.networks.contains(request.clientAddr)) {
    return deny("network", `client ${request.clientAddr} is outside ${who}'s networks`);
  }
  if (!operator.kinds.includes(request.kind)) {
    return deny("kind", `${who} may not use kind ${request.kind}`);
  }
  if (SERVER_KINDS.has(request.kind)) return { allowed: true };
  const agent = request.agentName;
  if (agent === undefined || agent === "") {
    return deny("agent", `kind ${request.kind} needs an agent, and none was named`);
  }
  if (!matchesAgent(operator.agents, agent, request.agentGroups ?? [])) {
    return deny("agent", `agent ${agent} is not in ${who}'s agents`);
  }
  return { allowed: true };
}

function deny(reason: DenyReason, message: string): Authorization {
  return { allowed: false, reason, message };
}
