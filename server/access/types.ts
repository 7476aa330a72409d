/**
 * Typed `agents.d` and `operators.d` files of the server, as produced by
 * `agent_file.ts` and `operator_file.ts`. The JSONC keys are documented in
 * `docs/config.md` ("Agent files", "Operator files").
 *
 * @module
 */

import type { CidrSet } from "../../shared/net/cidr.ts";
import type { AgentSelector } from "./selector.ts";

/**
 * Channel kinds an operator may be allowed: `forward` (TCP forwards),
 * `udp` (UDP forwards), `socks` (SOCKS5), `admin` (the admin API). `shell`,
 * `services` and `diagnostics` are reserved for the next features: accepted
 * in operator files, and granted by nothing yet.
 */
export const CHANNEL_KINDS = [
  "forward",
  "udp",
  "socks",
  "admin",
  "shell",
  "services",
  "diagnostics",
] as const;

/** A channel kind (see {@link CHANNEL_KINDS}). */
export type ChannelKind = typeof CHANNEL_KINDS[number];

/** The kinds accepted in operator files that no channel uses yet. */
export const RESERVED_KINDS: ReadonlySet<ChannelKind> = new Set([
  "shell",
  "services",
  "diagnostics",
]);

/** Kinds that reach no agent (the admin API is the server's own). */
export const SERVER_KINDS: ReadonlySet<ChannelKind> = new Set(["admin"]);

/** A server-side agent file, `agents.d/<name>.jsonc`: one agent identity. */
export interface AgentFile {
  /** The agent's name (the file name without `.jsonc`, lower case). */
  name: string;
  /** File it came from (absolute). */
  file: string;
  /**
   * The agent's secret: plain text or a `$6$` hash, as in domain files, never
   * empty; null when the agent may identify only by a client certificate.
   */
  secret: string | null;
  /** Networks the agent may connect from; null allows any. */
  networks: CidrSet | null;
  /** Groups the agent belongs to (lower case, sorted, no repeats), for operator selectors. */
  groups: string[];
}

/** A server-side operator file, `operators.d/<name>.jsonc`: one operator. */
export interface OperatorFile {
  /** The operator's name (the file name without `.jsonc`, lower case). */
  name: string;
  /** File it came from (absolute). */
  file: string;
  /** The bearer token's hash: `sha256:<64 hex>` (from `burrow token`) or `$6$…`. */
  token: string;
  /** Which agents the operator may reach; empty reaches none. */
  agents: AgentSelector[];
  /** Which channel kinds the operator may use; empty allows none. */
  kinds: ChannelKind[];
  /** Client networks the operator may connect from; null allows any. */
  networks: CidrSet | null;
}
