/**
 * The domains agents serve: which agent connections hold a registration for
 * each domain, round-robin among them, and which registrations a change of a
 * domain file revokes. Knows nothing of sessions' lifecycles or secrets; the
 * agent registry (`agents.ts`) adds and removes entries.
 *
 * @module
 */

import type { MuxStream, Session } from "../shared/mux/mod.ts";
import type { ServerDomain } from "./config_types.ts";

/** A domain served by an agent connection. */
export interface AgentRegistration {
  /** Domain name. */
  domain: string;
  /** Connection id, for logs (`agent#a1b2c3`). */
  agent: string;
  /** The agent's session: Http streams are opened on it. */
  session: Session;
  /** The Control stream that holds the registration. */
  control: MuxStream;
  /** Secret hash in force when registered; a change revokes the registration. */
  secret: string;
  /** Agent address, checked again when the domain's agent networks change. */
  remote: string;
}

/**
 * Why a registration no longer stands once its domain file became `after`
 * (undefined: removed), or null when it still does.
 *
 * @example
 * ```ts
 * revocationReason(reg, undefined); // "domain file removed"
 * ```
 */
export function revocationReason(
  reg: AgentRegistration,
  after: ServerDomain | undefined,
): string | null {
  if (after === undefined) return "domain file removed";
  if (!after.active) return "domain deactivated";
  if (after.secret !== reg.secret) return "secret changed";
  if (after.agentNetworks !== null && !after.agentNetworks.contains(reg.remote)) {
    return "agent networks changed";
  }
  return null;
}

/**
 * Registrations by domain, in the order they came.
 *
 * @example
 * ```ts
 * const table = new RegistrationTable();
 * table.add(reg);
 * table.pick("app.test", () => false); // reg
 * table.remove(reg); // true
 * ```
 */
export class RegistrationTable {
  readonly #byDomain = new Map<string, AgentRegistration[]>();
  readonly #next = new Map<string, number>();
  readonly #onAdd: (domain: string) => void;

  /** A table telling `onAdd` of each registration added. */
  constructor(onAdd: (domain: string) => void = () => {}) {
    this.#onAdd = onAdd;
  }

  /** True when some agent serves `domain`. */
  has(domain: string): boolean {
    return (this.#byDomain.get(domain)?.length ?? 0) > 0;
  }

  /** The registrations of `domain`, as a copy. */
  of(domain: string): AgentRegistration[] {
    return [...(this.#byDomain.get(domain) ?? [])];
  }

  /** Adds a registration after those of its domain. */
  add(reg: AgentRegistration): void {
    const list = this.#byDomain.get(reg.domain) ?? [];
    list.push(reg);
    this.#byDomain.set(reg.domain, list);
    this.#onAdd(reg.domain);
  }

  /** Forgets a registration; false when it was gone already. */
  remove(reg: AgentRegistration): boolean {
    const list = this.#byDomain.get(reg.domain);
    const i = list?.indexOf(reg) ?? -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    if (list!.length === 0) this.#byDomain.delete(reg.domain);
    return true;
  }

  /** A registration of `domain`, round-robin among several, skipping those `skip` names. */
  pick(domain: string, skip: (reg: AgentRegistration) => boolean): AgentRegistration | undefined {
    const regs = this.#byDomain.get(domain);
    if (regs === undefined || regs.length === 0) return undefined;
    const start = this.#next.get(domain) ?? 0;
    for (let k = 0; k < regs.length; k++) {
      const i = (start + k) % regs.length;
      const reg = regs[i]!;
      if (skip(reg)) continue;
      this.#next.set(domain, i + 1);
      return reg;
    }
    return undefined;
  }
}
