/**
 * The admin API's agent listing: every agent the server knows of, by name,
 * from three sources merged: the identified agents connected now (the
 * {@link AgentDirectory}), the agents that have an `agents.d` file, and the
 * agents the audit has sessions of (its latest one attached, so an offline
 * agent shows when it was last seen). Pages by name like the audit's own
 * agent listing: `next` is the last name of the page, passed back as `after`.
 *
 * @module
 */

import type { AgentDirectory } from "../agent_directory.ts";
import type { AgentFile } from "../access/types.ts";
import type { AgentListFilter, AuditQuery, Page, SessionRow } from "../audit/mod.ts";
import { DEFAULT_PAGE, MAX_PAGE } from "../audit/query.ts";

/** One agent of the listing. */
export interface AgentItem {
  /** The agent's name. */
  name: string;
  /** True while an identified agent of this name is connected. */
  connected: boolean;
  /** True when it has an `agents.d` file (an identity it can connect with). */
  configured: boolean;
  /** Groups (labels) from its `agents.d` file, or from its connection. */
  groups: readonly string[];
  /** Its address (IP) while connected; else null. */
  address: string | null;
  /** Burrow version it reported while connected; else null (see `lastSession`). */
  version: string | null;
  /** Operating system it reported while connected; else null. */
  os: string | null;
  /** Host name it reported while connected; else null. */
  host: string | null;
  /** When its identity was accepted (ms since the epoch) while connected; else null. */
  since: number | null;
  /** Its audit session while connected (when the audit is on); else null. */
  sessionId: number | null;
  /** Its latest session in the audit (open or ended); null without audit or any session. */
  lastSession: SessionRow | null;
}

/** Where agents come from. */
export interface AgentSources {
  /** Identified agents connected now. */
  directory: AgentDirectory;
  /** Agent files in force (`AccessFolders.agents`). */
  files(): readonly AgentFile[];
  /** The audit's listings; null when the audit is off. */
  audit: AuditQuery | null;
}

/** Whether an item passes the filter's `connected` and `group`. */
function passes(item: AgentItem, filter: AgentListFilter): boolean {
  if (filter.connected !== undefined && item.connected !== filter.connected) return false;
  return filter.group === undefined || item.groups.includes(filter.group.toLowerCase());
}

/** An item for `name` with nothing known yet. */
function blank(name: string): AgentItem {
  return {
    name,
    connected: false,
    configured: false,
    groups: [],
    address: null,
    version: null,
    os: null,
    host: null,
    since: null,
    sessionId: null,
    lastSession: null,
  };
}

/**
 * One page of agents, by name.
 *
 * @throws {RangeError} for a `limit` out of range.
 * @example
 * ```ts ignore
 * const page = listAgents(sources, { limit: 50 });
 * const more = page.next === null ? null : listAgents(sources, { limit: 50, after: page.next });
 * ```
 */
export function listAgents(
  sources: AgentSources,
  filter: AgentListFilter,
): Page<AgentItem, string> {
  const limit = filter.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new RangeError(`Page limit ${limit} is not an integer from 1 to ${MAX_PAGE}`);
  }
  const after = filter.after ?? "";
  const items = new Map<string, AgentItem>();
  for (const file of sources.files()) {
    if (file.name <= after) continue;
    items.set(file.name, { ...blank(file.name), configured: true, groups: file.groups });
  }
  for (const agent of sources.directory.list()) {
    if (agent.name <= after) continue;
    const item = items.get(agent.name) ?? blank(agent.name);
    items.set(agent.name, {
      ...item,
      connected: true,
      groups: item.configured ? item.groups : agent.groups,
      address: agent.address,
      version: agent.agent.version,
      os: agent.agent.os,
      host: agent.agent.host,
      since: agent.since.getTime(),
      sessionId: agent.sessionId ?? null,
    });
  }
  const excluded = new Set<string>();
  for (const [name, item] of items) {
    if (passes(item, filter)) continue;
    items.delete(name);
    excluded.add(name);
  }
  if (sources.audit !== null) attachSessions(sources.audit, { items, excluded }, filter, limit);
  const page = [...items.values()].sort((a, b) => a.name < b.name ? -1 : 1).slice(0, limit + 1);
  const shown = page.slice(0, limit);
  return { items: shown, next: page.length > limit ? shown[shown.length - 1]!.name : null };
}

/**
 * Attaches each agent's latest audit session, and adds the agents only the
 * audit knows (when the filter lets them in), reading the audit's agents in
 * name order until no later one can reach the page.
 */
function attachSessions(
  audit: AuditQuery,
  known: { items: Map<string, AgentItem>; excluded: ReadonlySet<string> },
  filter: AgentListFilter,
  limit: number,
): void {
  const { items, excluded } = known;
  let cursor = filter.after;
  for (;;) {
    const page = audit.agents({ limit: MAX_PAGE, ...(cursor !== undefined && { after: cursor }) });
    for (const summary of page.items) {
      const item = items.get(summary.agent);
      if (item !== undefined) item.lastSession = summary.last;
      else if (!excluded.has(summary.agent)) {
        const only = { ...blank(summary.agent), lastSession: summary.last };
        if (passes(only, filter)) items.set(only.name, only);
      }
    }
    if (page.next === null) return;
    // The page holds the first `limit + 1` names: a later audit name cannot reach it.
    const names = [...items.keys()].sort();
    if (names.length > limit && page.next >= names[limit]!) return;
    cursor = page.next;
  }
}
