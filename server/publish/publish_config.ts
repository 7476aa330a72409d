/**
 * The server's `publish` key: public TCP ports the server listens on, each
 * carried to a target through one agent (frp's remote ports). Parse → fill
 * defaults → validate, every mistake a `ConfigError` at file:line:column.
 * The key is documented in `docs/config.md`, "Published ports".
 *
 * @module
 */

import { type Field, ObjectReader } from "../../shared/config/fields.ts";
import { isIdentityName, NAME_HINT } from "../../shared/auth/identity_name.ts";
import { formatAddress, type HostPort } from "../../shared/net/address.ts";
import { listenOverlaps } from "../../shared/net/listen_overlap.ts";
import type { CidrSet } from "../../shared/net/cidr.ts";

/** Defaults and bounds of a `publish` entry's numbers. */
export const PUBLISH_LIMITS = {
  /** Connections one published port carries at once; more are closed at once. */
  maxConnections: { default: 256, min: 1, max: 100_000 },
} as const;

/** One published port, as read from the server's main file. */
export interface PublishEntry {
  /**
   * The listen address as written, host lower-cased (`0.0.0.0:2222`,
   * `[::]:2222`): what identifies the entry across reloads.
   */
  key: string;
  /** Address to listen on; port 0 picks a free port. */
  listen: HostPort;
  /** Name of the agent that reaches the target. */
  agent: string;
  /** Where the agent connects (a name is resolved by the agent). */
  target: HostPort;
  /** Client networks allowed; null allows every address. */
  clients: CidrSet | null;
  /** Most connections at once. Default 256. */
  maxConnections: number;
}

// Generic address helpers, re-exported for the publish module's users.
export { formatAddress, listenOverlaps };

/** One `publish` entry. */
function parseEntry(field: Field): PublishEntry {
  const r = ObjectReader.of(field);
  const at = r.required("listen").hostPort({ allowZero: true });
  const listen = { hostname: at.hostname.toLowerCase(), port: at.port };
  const agentField = r.required("agent");
  const agent = agentField.string().toLowerCase();
  if (!isIdentityName(agent)) {
    throw agentField.error(`${JSON.stringify(agent)} is not ${NAME_HINT}`);
  }
  const entry: PublishEntry = {
    key: formatAddress(listen),
    listen,
    agent,
    target: r.required("target").hostPort(),
    clients: r.cidrs("clients"),
    maxConnections: r.int("maxConnections", PUBLISH_LIMITS.maxConnections),
  };
  r.finish();
  return entry;
}

/**
 * Parses the `publish` array (`field` null when the key is absent: no port
 * published). `listen` is the server's own listeners: a published port may
 * not take their address, nor another entry's.
 *
 * @throws {ConfigError} at the first mistake: a bad address or port, an
 * unknown key, a listen address used twice or used by a server listener.
 * @example
 * ```ts
 * import { JsoncDocument } from "../../shared/config/jsonc.ts";
 * import { ObjectReader } from "../../shared/config/fields.ts";
 * import { parsePublish } from "./publish_config.ts";
 * const doc = JsoncDocument.parse("s.jsonc", `{ "publish": [
 *   { "listen": "0.0.0.0:2222", "agent": "db1", "target": "127.0.0.1:22" } ] }`);
 * const [entry] = parsePublish(ObjectReader.root(doc).field("publish"), []);
 * // entry.maxConnections === 256, entry.clients === null
 * ```
 */
export function parsePublish(
  field: Field | null,
  listen: readonly HostPort[],
): PublishEntry[] {
  if (field === null) return [];
  const entries: PublishEntry[] = [];
  for (const item of field.array()) {
    const entry = parseEntry(item);
    const where = ObjectReader.of(item);
    const server = listen.find((l) => listenOverlaps(entry.listen, l));
    if (server !== undefined) {
      throw where.error(
        "listen",
        `${entry.key} collides with the server's listener ${formatAddress(server)}`,
      );
    }
    const other = entries.find((e) =>
      e.key === entry.key || listenOverlaps(entry.listen, e.listen)
    );
    if (other !== undefined) {
      throw where.error(
        "listen",
        `${entry.key} is already published (entry for ${other.key} → agent ${other.agent})`,
      );
    }
    entries.push(entry);
  }
  return entries;
}

/**
 * Whether two entries with the same key publish the same thing (agent,
 * target, clients, limit): an unchanged entry keeps running across a reload.
 */
export function samePublishEntry(a: PublishEntry, b: PublishEntry): boolean {
  return a.key === b.key && a.agent === b.agent &&
    formatAddress(a.target) === formatAddress(b.target) &&
    (a.clients?.toString() ?? "") === (b.clients?.toString() ?? "") &&
    a.maxConnections === b.maxConnections;
}

/** One line describing an entry, for logs: `0.0.0.0:2222 → db1 → 127.0.0.1:22`. */
export function describePublish(entry: PublishEntry): string {
  const clients = entry.clients === null ? "" : ` (clients ${entry.clients})`;
  return `${entry.key} → agent ${entry.agent} → ${formatAddress(entry.target)}${clients}`;
}
