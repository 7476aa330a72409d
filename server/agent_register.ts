/**
 * The Register exchange on an agent's Control stream: the request checked
 * (domain file, activity, agent networks, secret through the auth guard),
 * refused in stealth or accepted, and the registration held until the
 * agent's FIN, a reset or the session's end.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Session } from "../shared/mux/mod.ts";
import type { IncomingStream } from "../shared/open/mod.ts";
import { parseRegister } from "../shared/protocol.ts";
import type { AuthGuard } from "./auth_guard.ts";
import type { DomainRegistry } from "./domains.ts";
import type { ServerDomain } from "./config_types.ts";
import type { AgentRegistration, RegistrationTable } from "./agent_registrations.ts";

/** Most domains one agent connection may register. */
export const MAX_REGISTRATIONS = 1024;

/** The agent connection a Control stream came on, as registration sees it. */
export interface RegisteringAgent {
  /** Connection id, for logs. */
  id: string;
  /** Source address. */
  remote: string;
  /** Its session. */
  session: Session;
  /** Registrations it holds. */
  registrations: Set<AgentRegistration>;
  /** True once it registered something. */
  registered: boolean;
}

/** What {@link serveRegistration} works with. */
export interface RegistrationDeps {
  /** Domain files in force. */
  domains: DomainRegistry;
  /** Secret checks and failure limits. */
  auth: AuthGuard;
  /** System log. */
  log: Logger;
  /** Where accepted registrations go. */
  table: RegistrationTable;
  /** Called when the agent registers its first domain. */
  onFirst: () => void;
  /** Forgets a registration (table and agent); false when it was gone already. */
  remove: (reg: AgentRegistration) => boolean;
}

/**
 * Serves one Control stream of `agent`: answers its Register request and,
 * once accepted, holds the registration until the stream ends.
 *
 * @example
 * ```ts
 * handlers.set(StreamKind.Control, (incoming) => serveRegistration(agent, incoming, deps));
 * ```
 */
export async function serveRegistration(
  agent: RegisteringAgent,
  incoming: IncomingStream,
  deps: RegistrationDeps,
): Promise<void> {
  let req;
  try {
    req = parseRegister(incoming.params);
  } catch (e) {
    await incoming.refuse("bad-request", (e as Error).message);
    return;
  }
  const domain = deps.domains.get(req.domain);
  const reason = await refusal(domain, req.secret, agent, deps);
  if (reason !== null) {
    // Stealth: the agent learns nothing about why; the log has the real reason,
    // at WARN once per window for an address.
    deps.auth.logRefusal(agent.remote, "agent#{agent} refused for {domain}: {reason}", {
      agent: agent.id,
      domain: req.domain,
      reason,
    });
    await incoming.refuse("refused", "Domain not available");
    return;
  }
  const reg: AgentRegistration = {
    domain: req.domain,
    agent: agent.id,
    session: agent.session,
    control: incoming.stream,
    secret: domain!.secret,
    remote: agent.remote,
  };
  agent.registrations.add(reg);
  if (!agent.registered) {
    agent.registered = true;
    deps.onFirst();
  }
  deps.table.add(reg);
  await incoming.accept({ domain: reg.domain });
  deps.log.info("agent#{agent} serves {domain} (agent {version} on {host})", {
    agent: agent.id,
    domain: reg.domain,
    version: req.agent.version,
    host: req.agent.host,
  });
  // The registration lasts until the agent's FIN, a reset, or the session's end.
  await incoming.readable.pipeTo(new WritableStream()).catch(() => {});
  if (deps.remove(reg)) {
    deps.log.info("agent#{agent} no longer serves {domain}", {
      agent: agent.id,
      domain: reg.domain,
    });
    await incoming.writable.close().catch(() => {});
  }
}

/** Why `agent` may not register `domain` with `secret`, or null when it may. */
async function refusal(
  domain: ServerDomain | undefined,
  secret: string,
  agent: RegisteringAgent,
  deps: RegistrationDeps,
): Promise<string | null> {
  if (domain === undefined) return "no such domain file";
  if (!domain.active) return "domain is not active";
  if (domain.secret === "") return "domain has no secret";
  if (domain.agentNetworks !== null && !domain.agentNetworks.contains(agent.remote)) {
    return `agent address ${agent.remote} is outside the domain's agent networks`;
  }
  const verdict = await deps.auth.verify({
    address: agent.remote,
    account: `agent secret of ${domain.name}`,
    presented: secret,
    stored: [domain.secret],
  });
  if (!verdict.ok) return verdict.reason;
  if (deps.domains.get(domain.name) !== domain) return "domain file changed during the check";
  if (agent.registrations.size >= MAX_REGISTRATIONS) {
    return `agent already holds ${MAX_REGISTRATIONS} registrations`;
  }
  return null;
}
