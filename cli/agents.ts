/**
 * `burrow agents`: the agents the server knows of (connected now, with an
 * `agents.d` file, or on record in its audit), from the admin API.
 *
 * @module
 */

import { OPERATOR_FLAGS_USAGE } from "../operator/settings.ts";
import { type Column, formatTime } from "./admin_table.ts";
import { LISTING_FLAGS_USAGE, type ListingIo, runListing } from "./admin_listing.ts";
import type { AgentItem as AgentRow } from "../server/admin/agent_listing.ts";

/** Usage text of `burrow agents`. */
export const AGENTS_USAGE = `Usage: burrow agents [--connected | --offline] [--group <g>] [options]

List the agents the server knows of, by name: connected now, with an agent
file on the server, or seen before (the audit's latest session). Needs an
operator token with the kind "admin".

Filters:
  --connected          Only agents connected now
  --offline            Only agents not connected
  --group <g>          Only agents in this group

${LISTING_FLAGS_USAGE}

${OPERATOR_FLAGS_USAGE}
  -h, --help           Show this help`;

/** `connected`, `session open` (in its grace period, or a domain-only agent), or `offline`. */
function status(a: AgentRow): string {
  const state = a.connected
    ? "connected"
    : a.lastSession !== null && a.lastSession.disconnectedAt === null
    ? "session open"
    : "offline";
  return a.configured ? state : `${state} (no file)`;
}

/** Columns of `burrow agents`: a disconnected agent shows its last session's details. */
const COLUMNS: Column<AgentRow>[] = [
  { heading: "NAME", cell: (a) => a.name },
  { heading: "STATUS", cell: status },
  {
    heading: "SINCE",
    cell: (a) =>
      formatTime(
        a.connected ? a.since : a.lastSession?.disconnectedAt ?? a.lastSession?.connectedAt,
      ),
  },
  { heading: "GROUPS", cell: (a) => a.groups.join(",") },
  { heading: "ADDRESS", cell: (a) => a.address ?? a.lastSession?.remote ?? "" },
  { heading: "VERSION", cell: (a) => a.version ?? a.lastSession?.version ?? "" },
  { heading: "OS", cell: (a) => a.os ?? a.lastSession?.os ?? "" },
  { heading: "HOST", cell: (a) => a.host ?? a.lastSession?.host ?? "" },
];

/**
 * Runs `burrow agents`: resolves to 0, 1 after an error, 2 after a usage mistake.
 *
 * @example
 * ```ts ignore
 * Deno.exitCode = await agentsCommand(["--offline", "--server", "https://tunnel.example.com"]);
 * ```
 */
export async function agentsCommand(args: string[], io?: ListingIo): Promise<number> {
  return await runListing<AgentRow>(args, {
    listing: "agents",
    command: "agents",
    usage: AGENTS_USAGE,
    range: false,
    options: {
      connected: { type: "boolean" },
      offline: { type: "boolean" },
      group: { type: "string" },
    },
    exclusive: [["connected", "offline"]],
    params: (f) => ({
      connected: f.connected ? "true" : f.offline ? "false" : undefined,
      group: f.group as string | undefined,
    }),
    columns: () => COLUMNS,
  }, io);
}
