/**
 * The read side of the audit store, for the admin API: agents, sessions,
 * channels and auth refusals as plain objects, newest first, a page at a
 * time with filters.
 *
 * Paging is by cursor, not offset: a page answers `next`, the id to pass as
 * `before` for the following page (null on the last one). Ids only grow, so
 * rows written while a client pages (new ones have larger ids) or deleted by
 * retention never shift a page: no row is shown twice or skipped. Agents
 * page by name (`after`), in name order.
 *
 * Time filters take milliseconds since the epoch: `from` inclusive, `to`
 * exclusive. A session or channel matches when it overlaps the range (it
 * started before `to` and had not ended before `from`); a refusal when its
 * time is in it.
 *
 * @module
 */

import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { ChannelResult } from "./records.ts";

/** Rows per page unless `limit` says otherwise. */
export const DEFAULT_PAGE = 100;
/** Most rows per page. */
export const MAX_PAGE = 1000;

/** One page of a listing. */
export interface Page<T, C = number> {
  /** The rows, newest first (agents: by name). */
  items: T[];
  /** Cursor of the following page (`before`, or `after` for agents); null on the last page. */
  next: C | null;
}

/** Paging and time range, common to the id-ordered listings. */
export interface Paging {
  /** Rows per page, 1 to {@link MAX_PAGE}. Default {@link DEFAULT_PAGE}. */
  limit?: number;
  /** Only rows with a smaller id: the `next` of the previous page. */
  before?: number;
  /** Start of the time range (inclusive), ms since the epoch. */
  from?: number;
  /** End of the time range (exclusive), ms since the epoch. */
  to?: number;
}

/** Filters of {@link AuditQuery.sessions}. */
export interface SessionFilter extends Paging {
  /** Only this agent's sessions. */
  agent?: string;
  /** Only open (true) or ended (false) sessions. */
  open?: boolean;
}

/** Filters of {@link AuditQuery.channels}. */
export interface ChannelFilter extends Paging {
  /** Only channels through this agent. */
  agent?: string;
  /** Only this operator's channels (`""`: published ports). */
  operator?: string;
  /** Only this kind (`forward`, `socks`, …). */
  kind?: string;
  /** Only this result; `"open"` for channels still running. */
  result?: ChannelResult | "open";
  /** Only channels of this agent session. */
  sessionId?: number;
}

/** Filters of {@link AuditQuery.refusals}. */
export interface RefusalFilter extends Paging {
  /** Only refusals of this kind (`agent`, `operator`, `basic-auth`, …). */
  kind?: string;
  /** Only refusals naming this identity. */
  identity?: string;
  /** Only refusals from this source address. */
  source?: string;
}

/** Filters of {@link AuditQuery.agents}. */
export interface AgentFilter {
  /** Agents per page, 1 to {@link MAX_PAGE}. Default {@link DEFAULT_PAGE}. */
  limit?: number;
  /** Only agents named after this one: the `next` of the previous page. */
  after?: string;
  /** Only agents whose latest session is open (true) or ended (false). */
  open?: boolean;
}

/** An agent session. */
export interface SessionRow {
  /** Session id (grows with time). */
  id: number;
  /** Agent name. */
  agent: string;
  /** Remote address of its latest connection. */
  remote: string;
  /** Burrow version the agent reported. */
  version: string;
  /** Operating system the agent reported. */
  os: string;
  /** Host name the agent reported. */
  host: string;
  /** When it started, ms since the epoch. */
  connectedAt: number;
  /** Null while the session is open (connected, or inside its grace period). */
  disconnectedAt: number | null;
  /** Why it ended; null while open. */
  reason: string | null;
  /** Connections after the first that continued this session. */
  reconnects: number;
}

/** A channel. */
export interface ChannelRow {
  /** Channel id (grows with time). */
  id: number;
  /** The agent session it ran in, when known. */
  sessionId: number | null;
  /** Operator name; `""` for a published port. */
  operator: string;
  /** Agent name. */
  agent: string;
  /** Channel kind (`forward`, `udp`, `socks`, …). */
  kind: string;
  /** Target as asked for. */
  target: string;
  /** Address the operator or client came from. */
  source: string;
  /** When it opened, ms since the epoch. */
  openedAt: number;
  /** When it closed; null while it runs. */
  closedAt: number | null;
  /** Bytes from the operator side to the target. */
  bytesUp: number;
  /** Bytes from the target to the operator side. */
  bytesDown: number;
  /** `"open"` while it runs. */
  result: ChannelResult | "open";
  /** The line the operator saw (refusal or error), else empty. */
  detail: string;
}

/** An auth refusal (or `count` folded into one rate-limit window). */
export interface RefusalRow {
  /** Refusal id (grows with time). */
  id: number;
  /** When, ms since the epoch. */
  at: number;
  /** Who was being authenticated (`agent`, `operator`, `basic-auth`, …). */
  kind: string;
  /** Identity claimed; empty when none. */
  identity: string;
  /** Source address. */
  source: string;
  /** The real reason (the peer got the stealth answer). */
  reason: string;
  /** Refusals this row stands for (one per rate-limit window). */
  count: number;
}

/** An agent as its sessions describe it. */
export interface AgentSummary {
  /** Agent name. */
  agent: string;
  /** Sessions recorded (within retention). */
  sessions: number;
  /** Its latest session. */
  last: SessionRow;
  /** True while the latest session is open. */
  open: boolean;
}

/** The `limit` of a page, checked. */
function pageSize(limit: number | undefined): number {
  const n = limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new RangeError(`Page limit ${n} is not an integer from 1 to ${MAX_PAGE}`);
  }
  return n;
}

/** WHERE clauses and their parameters, built one filter at a time. */
class Where {
  readonly clauses: string[] = [];
  readonly params: SQLInputValue[] = [];

  add(clause: string, ...params: SQLInputValue[]): void {
    this.clauses.push(clause);
    this.params.push(...params);
  }

  /** `clause` when `value` is defined. */
  maybe(value: SQLInputValue | undefined, clause: string): void {
    if (value !== undefined) this.add(clause, value);
  }

  get sql(): string {
    return this.clauses.length === 0 ? "" : `WHERE ${this.clauses.join(" AND ")}`;
  }
}

/** Paging and overlap of [start, end) with the filter's range. */
function pagedRange(w: Where, f: Paging, start: string, end: string | null): void {
  w.maybe(f.before, "id < ?");
  w.maybe(f.to, `${start} < ?`);
  if (f.from !== undefined) {
    w.add(end === null ? `${start} >= ?` : `(${end} IS NULL OR ${end} >= ?)`, f.from);
  }
}

const SESSION_COLUMNS = `id, agent, remote, version, os, host, connected_at AS connectedAt,
  disconnected_at AS disconnectedAt, reason, reconnects`;

/** Listings over an open audit database. */
export class AuditQuery {
  readonly #db: DatabaseSync;

  /** Listings of `db` (at the current schema). */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Agent sessions, newest first.
   *
   * @throws {RangeError} for a `limit` out of range.
   * @example
   * ```ts ignore
   * const first = store.query.sessions({ agent: "db1", limit: 50 });
   * const second = store.query.sessions({ agent: "db1", limit: 50, before: first.next! });
   * ```
   */
  sessions(filter: SessionFilter = {}): Page<SessionRow> {
    const w = new Where();
    pagedRange(w, filter, "connected_at", "disconnected_at");
    w.maybe(filter.agent, "agent = ?");
    if (filter.open !== undefined) {
      w.add(`disconnected_at IS ${filter.open ? "" : "NOT "}NULL`);
    }
    return this.#page<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM agent_sessions`, w, filter);
  }

  /**
   * Channels, newest first.
   *
   * @throws {RangeError} for a `limit` out of range.
   */
  channels(filter: ChannelFilter = {}): Page<ChannelRow> {
    const w = new Where();
    pagedRange(w, filter, "opened_at", "closed_at");
    w.maybe(filter.agent, "agent = ?");
    w.maybe(filter.operator, "operator = ?");
    w.maybe(filter.kind, "kind = ?");
    w.maybe(filter.sessionId, "session_id = ?");
    if (filter.result === "open") w.add("result IS NULL");
    else w.maybe(filter.result, "result = ?");
    return this.#page<ChannelRow>(
      `SELECT id, session_id AS sessionId, operator, agent, kind, target, source,
         opened_at AS openedAt, closed_at AS closedAt, bytes_up AS bytesUp,
         bytes_down AS bytesDown, coalesce(result, 'open') AS result, detail FROM channels`,
      w,
      filter,
    );
  }

  /**
   * Authentication refusals, newest first.
   *
   * @throws {RangeError} for a `limit` out of range.
   */
  refusals(filter: RefusalFilter = {}): Page<RefusalRow> {
    const w = new Where();
    pagedRange(w, filter, "at", null);
    w.maybe(filter.kind, "kind = ?");
    w.maybe(filter.identity, "identity = ?");
    w.maybe(filter.source, "source = ?");
    return this.#page<RefusalRow>(
      "SELECT id, at, kind, identity, source, reason, count FROM auth_refusals",
      w,
      filter,
    );
  }

  /**
   * Agents that have a session on record, by name, each with its latest session.
   *
   * @throws {RangeError} for a `limit` out of range.
   */
  agents(filter: AgentFilter = {}): Page<AgentSummary, string> {
    const limit = pageSize(filter.limit);
    const w = new Where();
    w.maybe(filter.after, "agent > ?");
    if (filter.open !== undefined) w.add(`disconnected_at IS ${filter.open ? "" : "NOT "}NULL`);
    const rows = this.#db.prepare(
      `SELECT ${SESSION_COLUMNS}, last.n AS sessions FROM agent_sessions
       JOIN (SELECT max(id) AS last_id, count(*) AS n FROM agent_sessions GROUP BY agent) last
         ON id = last.last_id
       ${w.sql} ORDER BY agent LIMIT ?`,
    ).all(...w.params, limit + 1) as unknown as (SessionRow & { sessions: number })[];
    const items = rows.slice(0, limit).map(({ sessions, ...last }) => ({
      agent: last.agent,
      sessions,
      last: { ...last },
      open: last.disconnectedAt === null,
    }));
    return { items, next: rows.length > limit ? items[items.length - 1]!.agent : null };
  }

  #page<T extends { id: number }>(select: string, w: Where, paging: Paging): Page<T> {
    const limit = pageSize(paging.limit);
    const rows = this.#db.prepare(`${select} ${w.sql} ORDER BY id DESC LIMIT ?`)
      .all(...w.params, limit + 1) as unknown as T[];
    const items = rows.slice(0, limit).map((row) => ({ ...row }));
    return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
  }
}
