/**
 * `burrow audit`: authentication refusals recorded by the server's audit,
 * newest first, from the admin API.
 *
 * @module
 */

import { OPERATOR_FLAGS_USAGE } from "../operator/settings.ts";
import { type Column, formatTime } from "./admin_table.ts";
import {
  LISTING_FLAGS_USAGE,
  type ListingIo,
  RANGE_FLAGS_USAGE,
  runListing,
} from "./admin_listing.ts";
import type { RefusalRow } from "../server/audit/query.ts";

/** Usage text of `burrow audit`. */
export const AUDIT_USAGE =
  `Usage: burrow audit [--kind <k>] [--identity <id>] [--source <addr>] [options]

List authentication refusals, newest first, with the real reason (the
client got the stealth answer). Repeats within the server's rate-limit
window are one row with a count. Needs an operator token with the kind
"admin" and a server that keeps an audit.

Filters:
  --kind <k>           agent, domain, operator, basic-auth, admin, certificate
  --identity <id>      Only refusals naming this identity (agent, operator, user)
  --source <addr>      Only refusals from this address
${RANGE_FLAGS_USAGE}

${LISTING_FLAGS_USAGE}

${OPERATOR_FLAGS_USAGE}
  -h, --help           Show this help`;

const COLUMNS: Column<RefusalRow>[] = [
  { heading: "ID", cell: (r) => String(r.id), right: true },
  { heading: "TIME", cell: (r) => formatTime(r.at) },
  { heading: "KIND", cell: (r) => r.kind },
  { heading: "IDENTITY", cell: (r) => r.identity },
  { heading: "SOURCE", cell: (r) => r.source },
  { heading: "COUNT", cell: (r) => String(r.count), right: true },
  { heading: "REASON", cell: (r) => r.reason },
];

/**
 * Runs `burrow audit`: resolves to 0, 1 after an error, 2 after a usage mistake.
 *
 * @example
 * ```ts ignore
 * Deno.exitCode = await auditCommand(["--kind", "operator", "--since", "1h"]);
 * ```
 */
export async function auditCommand(args: string[], io?: ListingIo): Promise<number> {
  return await runListing<RefusalRow>(args, {
    listing: "audit",
    command: "audit",
    usage: AUDIT_USAGE,
    range: true,
    options: {
      kind: { type: "string" },
      identity: { type: "string" },
      source: { type: "string" },
    },
    params: (f) => ({
      kind: f.kind as string | undefined,
      identity: f.identity as string | undefined,
      source: f.source as string | undefined,
    }),
    columns: () => COLUMNS,
  }, io);
}
