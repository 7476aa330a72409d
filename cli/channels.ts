/**
 * `burrow channels`: operator channels and published-port connections
 * recorded by the server's audit, newest first, from the admin API.
 *
 * @module
 */

import { OPERATOR_FLAGS_USAGE } from "../operator/settings.ts";
import { type Column, formatBytes, formatDuration, formatTime } from "./admin_table.ts";
import {
  LISTING_FLAGS_USAGE,
  type ListingIo,
  RANGE_FLAGS_USAGE,
  runListing,
} from "./admin_listing.ts";
import type { ChannelRow } from "../server/audit/query.ts";

/** Usage text of `burrow channels`. */
export const CHANNELS_USAGE = `Usage: burrow channels [filters] [options]

List channels, newest first: TCP and UDP forwards, SOCKS connections and
published-port connections, with their target, bytes each way and result.
Needs an operator token with the kind "admin" and a server that keeps an
audit.

Filters:
  --agent <name>       Only channels through this agent
  --operator <name>    Only this operator's channels ("" for published ports)
  --kind <kind>        forward, udp, socks or published
  --result <r>         ok, refused, failed, or open (still running)
  --session <id>       Only channels of this agent session
${RANGE_FLAGS_USAGE}

${LISTING_FLAGS_USAGE}

${OPERATOR_FLAGS_USAGE}
  -h, --help           Show this help`;

function columns(now: number): Column<ChannelRow>[] {
  return [
    { heading: "ID", cell: (c) => String(c.id), right: true },
    { heading: "OPENED", cell: (c) => formatTime(c.openedAt) },
    { heading: "DURATION", cell: (c) => formatDuration(c.openedAt, c.closedAt, now), right: true },
    { heading: "OPERATOR", cell: (c) => c.operator },
    { heading: "AGENT", cell: (c) => c.agent },
    { heading: "KIND", cell: (c) => c.kind },
    { heading: "TARGET", cell: (c) => c.target },
    { heading: "SOURCE", cell: (c) => c.source },
    { heading: "UP", cell: (c) => formatBytes(c.bytesUp), right: true },
    { heading: "DOWN", cell: (c) => formatBytes(c.bytesDown), right: true },
    { heading: "RESULT", cell: (c) => c.result },
    { heading: "DETAIL", cell: (c) => c.detail },
  ];
}

/**
 * Runs `burrow channels`: resolves to 0, 1 after an error, 2 after a usage mistake.
 *
 * @example
 * ```ts ignore
 * Deno.exitCode = await channelsCommand(["--operator", "alice", "--result", "refused"]);
 * ```
 */
export async function channelsCommand(args: string[], io?: ListingIo): Promise<number> {
  return await runListing<ChannelRow>(args, {
    listing: "channels",
    command: "channels",
    usage: CHANNELS_USAGE,
    range: true,
    options: {
      agent: { type: "string" },
      operator: { type: "string" },
      kind: { type: "string" },
      result: { type: "string" },
      session: { type: "string" },
    },
    params: (f) => ({
      agent: f.agent as string | undefined,
      operator: f.operator as string | undefined,
      kind: f.kind as string | undefined,
      result: f.result as string | undefined,
      session: f.session as string | undefined,
    }),
    columns,
  }, io);
}
