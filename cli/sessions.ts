/**
 * `burrow sessions`: agent sessions recorded by the server's audit, newest
 * first, from the admin API.
 *
 * @module
 */

import { OPERATOR_FLAGS_USAGE } from "../operator/settings.ts";
import { type Column, formatDuration, formatTime } from "./admin_table.ts";
import {
  LISTING_FLAGS_USAGE,
  type ListingIo,
  RANGE_FLAGS_USAGE,
  runListing,
} from "./admin_listing.ts";
import type { SessionRow } from "../server/audit/query.ts";

/** Usage text of `burrow sessions`. */
export const SESSIONS_USAGE = `Usage: burrow sessions [--agent <name>] [--open | --closed] [options]

List agent sessions, newest first: when each agent connected and went
away, from where, and why it ended. A session goes on across reconnects
within the server's grace period. Needs an operator token with the kind
"admin" and a server that keeps an audit.

Filters:
  --agent <name>       Only this agent's sessions
  --open               Only sessions still open
  --closed             Only sessions that ended
${RANGE_FLAGS_USAGE}

${LISTING_FLAGS_USAGE}

${OPERATOR_FLAGS_USAGE}
  -h, --help           Show this help`;

function columns(now: number): Column<SessionRow>[] {
  return [
    { heading: "ID", cell: (s) => String(s.id), right: true },
    { heading: "AGENT", cell: (s) => s.agent },
    { heading: "CONNECTED", cell: (s) => formatTime(s.connectedAt) },
    {
      heading: "ENDED",
      cell: (s) => s.disconnectedAt === null ? "open" : formatTime(s.disconnectedAt),
    },
    {
      heading: "DURATION",
      cell: (s) => formatDuration(s.connectedAt, s.disconnectedAt, now),
      right: true,
    },
    { heading: "REMOTE", cell: (s) => s.remote },
    { heading: "VERSION", cell: (s) => s.version },
    { heading: "OS", cell: (s) => s.os },
    { heading: "RECONNECTS", cell: (s) => String(s.reconnects), right: true },
    { heading: "REASON", cell: (s) => s.reason ?? "" },
  ];
}

/**
 * Runs `burrow sessions`: resolves to 0, 1 after an error, 2 after a usage mistake.
 *
 * @example
 * ```ts ignore
 * Deno.exitCode = await sessionsCommand(["--agent", "db1", "--since", "1d"]);
 * ```
 */
export async function sessionsCommand(args: string[], io?: ListingIo): Promise<number> {
  return await runListing<SessionRow>(args, {
    listing: "sessions",
    command: "sessions",
    usage: SESSIONS_USAGE,
    range: true,
    options: {
      agent: { type: "string" },
      open: { type: "boolean" },
      closed: { type: "boolean" },
    },
    exclusive: [["open", "closed"]],
    params: (f) => ({
      agent: f.agent as string | undefined,
      open: f.open ? "true" : f.closed ? "false" : undefined,
    }),
    columns,
  }, io);
}
