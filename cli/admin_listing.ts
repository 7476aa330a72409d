/**
 * What `burrow agents`, `sessions`, `channels` and `audit` share: the
 * connection flags (`operator/settings.ts`), paging (`--limit`, `--cursor`,
 * `--all`), time ranges (`--since`, `--until`), the request through
 * {@linkcode AdminClient}, and the output: an aligned table for people, or
 * with `--json` the server's JSON as one document for scripts.
 *
 * @module
 */

import type { ParseArgsOptionsConfig } from "node:util";
import {
  AdminClient,
  AdminClientError,
  type AdminListing,
  type AdminPage,
} from "../operator/admin_client.ts";
import {
  OPERATOR_FLAG_OPTIONS,
  type OperatorFlags,
  resolveOperatorSettings,
  SettingsError,
} from "../operator/settings.ts";
import { ConfigError } from "../shared/config/jsonc.ts";
import { type Column, parseTime, renderTable } from "./admin_table.ts";
import { parseFlags, UsageError } from "./usage.ts";

/** Where a listing command writes (tests capture it). */
export interface ListingIo {
  /** Standard output: the table or the JSON. */
  out(text: string): void;
  /** Standard error: hints and errors. */
  err(text: string): void;
}

/** The console. */
const CONSOLE: ListingIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

/** Flags every listing takes besides its own and the connection's. */
const COMMON_OPTIONS = {
  json: { type: "boolean" },
  limit: { type: "string" },
  cursor: { type: "string" },
  all: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Time range flags, for listings with times. */
const RANGE_OPTIONS = { since: { type: "string" }, until: { type: "string" } } as const;

/** Usage lines of the flags every listing takes. */
export const LISTING_FLAGS_USAGE = `Output and paging:
  --json               Print the server's JSON (one document) instead of a table
  --limit <n>          Rows per page, 1-1000 (server default 100)
  --cursor <c>         Start after a previous page (its "next", shown on stderr)
  --all                Follow every page to the end`;

/** Usage lines of `--since` and `--until`. */
export const RANGE_FLAGS_USAGE =
  `  --since <time>       From this time: 15m, 2h, 7d (ago), 2026-12-05 21:00 (local),
                       2026-12-05T20:00:00Z, or ms since the epoch
  --until <time>       Up to this time (same forms)`;

/** What one listing command is. */
export interface ListingSpec<T> {
  /** The admin API listing it reads. */
  listing: AdminListing;
  /** The command word (`sessions`), for hints. */
  command: string;
  /** Its usage text. */
  usage: string;
  /** Whether it takes `--since`/`--until` (the agents listing has no times). */
  range: boolean;
  /** Its own flags. */
  options: ParseArgsOptionsConfig;
  /** Pairs of its boolean flags that exclude each other (`--open` and `--closed`): both is a usage error. */
  exclusive?: readonly (readonly [string, string])[];
  /** Query parameters from its own flags (undefined values are left out). */
  params(flags: Record<string, string | boolean | undefined>): Record<string, string | undefined>;
  /** Its table's columns; `now` for durations of what still runs. */
  columns(now: number): Column<T>[];
}

/** Most pages `--all` follows (1,000 rows each): a guard against a server that never ends. */
const MAX_PAGES = 10_000;

/**
 * Runs a listing command: resolves to 0, 1 after an error (one line on
 * stderr), or 2 after a usage mistake.
 */
export async function runListing<T>(
  args: string[],
  spec: ListingSpec<T>,
  io: ListingIo = CONSOLE,
): Promise<number> {
  try {
    return await listing(args, spec, io);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`burrow: ${e.message}\n\n${e.usage}`);
    return e.exitCode;
  }
}

/** {@link runListing} up to its usage errors. */
async function listing<T>(args: string[], spec: ListingSpec<T>, io: ListingIo): Promise<number> {
  const flags = parseFlags(args, {
    options: {
      ...OPERATOR_FLAG_OPTIONS,
      ...COMMON_OPTIONS,
      ...(spec.range ? RANGE_OPTIONS : {}),
      ...spec.options,
    },
    usage: spec.usage,
  }) as Record<string, string | boolean | undefined>;
  if (flags.help) {
    io.out(spec.usage);
    return 0;
  }
  for (const [a, b] of spec.exclusive ?? []) {
    if (flags[a] === true && flags[b] === true) {
      throw new UsageError(`--${a} and --${b} exclude each other: give one`, spec.usage);
    }
  }
  const params = queryParams(flags, spec);
  try {
    const settings = await resolveOperatorSettings(flags as OperatorFlags);
    await using admin = await AdminClient.open(settings);
    const page = flags.all
      ? await allPages(admin, spec.listing, params)
      : await admin.page(spec.listing, params);
    print(page, spec, flags.json === true, io);
    return 0;
  } catch (e) {
    if (
      e instanceof AdminClientError || e instanceof SettingsError || e instanceof ConfigError
    ) {
      io.err(`burrow ${spec.command}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/** The query of the flags: paging, range, then the listing's own. */
function queryParams<T>(
  flags: Record<string, string | boolean | undefined>,
  spec: ListingSpec<T>,
): URLSearchParams {
  const now = Date.now();
  const time = (flag: "since" | "until") => {
    const text = flags[flag];
    if (typeof text !== "string") return undefined;
    try {
      return String(parseTime(text, `--${flag}`, now));
    } catch (e) {
      throw new UsageError((e as Error).message, spec.usage);
    }
  };
  const limit = flags.limit ?? (flags.all ? "1000" : undefined);
  if (typeof limit === "string" && !/^\d+$/.test(limit)) {
    throw new UsageError(`--limit ${JSON.stringify(limit)} is not a number`, spec.usage);
  }
  const all: Record<string, string | undefined> = {
    limit: limit as string | undefined,
    [spec.listing === "agents" ? "after" : "before"]: flags.cursor as string | undefined,
    ...(spec.range && { from: time("since"), to: time("until") }),
    ...spec.params(flags),
  };
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(all)) if (value !== undefined) params.set(key, value);
  return params;
}

/** Every page from the first asked for, as one page. */
async function allPages(
  admin: AdminClient,
  listing: AdminListing,
  params: URLSearchParams,
): Promise<AdminPage> {
  const cursor = listing === "agents" ? "after" : "before";
  const items: AdminPage["items"] = [];
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const page = await admin.page(listing, params);
    items.push(...page.items);
    if (page.next === null || String(page.next) === params.get(cursor)) break;
    params.set(cursor, String(page.next));
  }
  return { items, next: null };
}

/** Prints a page: JSON, or a table and a hint for the next page. */
function print<T>(page: AdminPage, spec: ListingSpec<T>, json: boolean, io: ListingIo): void {
  if (json) {
    io.out(JSON.stringify(page, null, 2));
    return;
  }
  if (page.items.length === 0) {
    io.out(`(no ${spec.listing === "audit" ? "refusals" : spec.listing})`);
  } else io.out(renderTable(spec.columns(Date.now()), page.items as T[]));
  if (page.next !== null) {
    io.err(
      `More: burrow ${spec.command} --cursor ${page.next} (same filters), or --all for every page`,
    );
  }
}
