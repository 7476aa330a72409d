/**
 * The admin API's listing parameters: a URL's query string read into the
 * filters of {@link AuditQuery}, each value checked, so a handler is
 * `store.query.sessions(sessionFilter(url.searchParams))` and a mistake is a
 * 400 naming the parameter.
 *
 * | parameter | listings | value |
 * | --- | --- | --- |
 * | `limit` | all | 1 to 1000 rows (default 100) |
 * | `before` | sessions, channels, refusals | the `next` of the previous page |
 * | `after` | agents | the `next` of the previous page (an agent name) |
 * | `from`, `to` | sessions, channels, refusals | ISO 8601 time with a zone, or ms since the epoch |
 * | `agent` | sessions, channels | agent name |
 * | `open` | agents, sessions | `true` or `false` |
 * | `operator`, `kind`, `result`, `session` | channels | operator, channel kind, `ok`/`refused`/`failed`/`open`, session id |
 * | `kind`, `identity`, `source` | refusals | refusal kind, identity, source address |
 * | `limit`, `after`, `connected`, `group` | the admin API's agents | as above; `true`/`false`; a group name |
 *
 * @module
 */

import {
  type AgentFilter,
  type ChannelFilter,
  MAX_PAGE,
  type Paging,
  type RefusalFilter,
  type SessionFilter,
} from "./query.ts";
import type { ChannelKind, RefusalKind } from "./records.ts";

/** Every channel kind a row may have (the reserved ones included), for `kind=`. */
const CHANNEL_KINDS = [
  "forward",
  "udp",
  "socks",
  "published",
  "admin",
  "shell",
  "services",
  "diagnostics",
] as const satisfies readonly ChannelKind[];

/** Every refusal kind, for `kind=`. */
const REFUSAL_KINDS = [
  "agent",
  "domain",
  "operator",
  "basic-auth",
  "admin",
  "certificate",
] as const satisfies readonly RefusalKind[];

/** A query parameter the listing does not take, or a value it cannot use. */
export class QueryParamError extends Error {
  /** Always `"QueryParamError"`. */
  override name = "QueryParamError";
  /** The parameter at fault. */
  readonly param: string;

  /** An error about `param`: `message` says what is wrong. */
  constructor(param: string, message: string) {
    super(message);
    this.param = param;
  }
}

/** Longest text value accepted (names, addresses). */
const MAX_TEXT = 256;

/** Reads the parameters of one listing, each at most once; `finish()` refuses the rest. */
class ParamReader {
  readonly #params: URLSearchParams;
  readonly #known = new Set<string>();

  constructor(params: URLSearchParams) {
    this.#params = params;
  }

  text(name: string): string | undefined {
    this.#known.add(name);
    const values = this.#params.getAll(name);
    if (values.length === 0) return undefined;
    if (values.length > 1) throw new QueryParamError(name, `Parameter ${name} is given twice`);
    const value = values[0]!;
    if (value.length > MAX_TEXT) {
      throw new QueryParamError(name, `Parameter ${name} is longer than ${MAX_TEXT} characters`);
    }
    return value;
  }

  integer(name: string, min: number, max: number): number | undefined {
    const text = this.text(name);
    if (text === undefined) return undefined;
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new QueryParamError(
        name,
        `Parameter ${name}=${JSON.stringify(text)} is not an integer from ${min} to ${max}`,
      );
    }
    return n;
  }

  time(name: string): number | undefined {
    const text = this.text(name);
    if (text === undefined) return undefined;
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
    const ms = /^\d+$/.test(text) ? Number(text) : iso.test(text) ? Date.parse(text) : NaN;
    if (!Number.isSafeInteger(ms)) {
      throw new QueryParamError(
        name,
        `Parameter ${name}=${JSON.stringify(text)} is not a time: ` +
          "ISO 8601 with a zone (2026-12-05T10:00:00Z) or milliseconds since the epoch",
      );
    }
    return ms;
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const text = this.text(name);
    if (text === undefined || (values as readonly string[]).includes(text)) {
      return text as T | undefined;
    }
    throw new QueryParamError(
      name,
      `Parameter ${name}=${JSON.stringify(text)} is not one of ${values.join(", ")}`,
    );
  }

  flag(name: string): boolean | undefined {
    const value = this.oneOf(name, ["true", "false"] as const);
    return value === undefined ? undefined : value === "true";
  }

  finish(): void {
    for (const name of this.#params.keys()) {
      if (!this.#known.has(name)) {
        throw new QueryParamError(
          name,
          `Unknown parameter ${name}; this listing takes ${[...this.#known].join(", ")}`,
        );
      }
    }
  }
}

/** Drops the keys whose value is undefined (the filters use optional keys, not undefined values). */
function defined<T extends object>(filter: T): T {
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as T;
}

/** `limit`, `before`, `from`, `to`. */
function paging(r: ParamReader): Paging {
  return {
    limit: r.integer("limit", 1, MAX_PAGE),
    before: r.integer("before", 1, Number.MAX_SAFE_INTEGER),
    from: r.time("from"),
    to: r.time("to"),
  };
}

/**
 * The filter of a sessions listing.
 *
 * @throws {QueryParamError} for an unknown parameter or a bad value.
 * @example
 * ```ts
 * import { sessionFilter } from "./query_params.ts";
 * sessionFilter(new URLSearchParams("agent=db1&open=true&limit=20"));
 * // { limit: 20, agent: "db1", open: true }
 * ```
 */
export function sessionFilter(params: URLSearchParams): SessionFilter {
  const r = new ParamReader(params);
  const filter = { ...paging(r), agent: r.text("agent"), open: r.flag("open") };
  r.finish();
  return defined(filter);
}

/**
 * The filter of a channels listing.
 *
 * @throws {QueryParamError} for an unknown parameter or a bad value.
 */
export function channelFilter(params: URLSearchParams): ChannelFilter {
  const r = new ParamReader(params);
  const filter = {
    ...paging(r),
    agent: r.text("agent"),
    operator: r.text("operator"),
    kind: r.oneOf("kind", CHANNEL_KINDS),
    result: r.oneOf("result", ["ok", "refused", "failed", "open"] as const),
    sessionId: r.integer("session", 1, Number.MAX_SAFE_INTEGER),
  };
  r.finish();
  return defined(filter);
}

/**
 * The filter of an auth refusals listing.
 *
 * @throws {QueryParamError} for an unknown parameter or a bad value.
 */
export function refusalFilter(params: URLSearchParams): RefusalFilter {
  const r = new ParamReader(params);
  const filter = {
    ...paging(r),
    kind: r.oneOf("kind", REFUSAL_KINDS),
    identity: r.text("identity"),
    source: r.text("source"),
  };
  r.finish();
  return defined(filter);
}

/**
 * The filter of an agents listing.
 *
 * @throws {QueryParamError} for an unknown parameter or a bad value.
 */
export function agentFilter(params: URLSearchParams): AgentFilter {
  const r = new ParamReader(params);
  const filter = {
    limit: r.integer("limit", 1, MAX_PAGE),
    after: r.text("after"),
    open: r.flag("open"),
  };
  r.finish();
  return defined(filter);
}

/** Filters of the admin API's agent listing (connected agents, agent files and the audit's agents). */
export interface AgentListFilter {
  /** Agents per page, 1 to {@link MAX_PAGE}. Default 100. */
  limit?: number;
  /** Only agents named after this one: the `next` of the previous page. */
  after?: string;
  /** Only agents connected now (true) or not (false). */
  connected?: boolean;
  /** Only agents in this group (from their `agents.d` file). */
  group?: string;
}

/**
 * The filter of the admin API's agents listing.
 *
 * @throws {QueryParamError} for an unknown parameter or a bad value.
 * @example
 * ```ts
 * import { agentListFilter } from "./query_params.ts";
 * agentListFilter(new URLSearchParams("connected=false&group=ops"));
 * // { connected: false, group: "ops" }
 * ```
 */
export function agentListFilter(params: URLSearchParams): AgentListFilter {
  const r = new ParamReader(params);
  const filter = {
    limit: r.integer("limit", 1, MAX_PAGE),
    after: r.text("after"),
    connected: r.flag("connected"),
    group: r.text("group"),
  };
  r.finish();
  return defined(filter);
}
