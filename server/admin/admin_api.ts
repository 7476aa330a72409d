/**
 * The admin API: JSON over HTTPS under {@link ADMIN_PATH} on every listener,
 * for operators whose token grants the kind `admin` (`docs/admin.md`).
 *
 * | path | what | needs the audit |
 * | --- | --- | --- |
 * | `/agents` | agents connected, configured, or on record | no |
 * | `/sessions` | agent sessions | yes |
 * | `/channels` | operator channels and published-port connections | yes |
 * | `/audit` | authentication refusals | yes |
 *
 * Every answer is one JSON document: a page `{ "items": [...], "next" }`, or
 * `{ "error": { "code", "message" } }`. The request is authenticated first,
 * so without a good token every path and method gets the same 401. The
 * audit's queue is written before a listing reads it, so a listing shows
 * what happened up to the request (a full queue, 10,000 records by
 * default, takes tens of milliseconds to write).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { ADMIN_PATH } from "../../shared/protocol.ts";
import type { AgentDirectory } from "../agent_directory.ts";
import type { AccessFolders } from "../access/access_folders.ts";
import type { AuthGuard } from "../auth_guard.ts";
import {
  agentListFilter,
  type Audit,
  channelFilter,
  type Page,
  QueryParamError,
  refusalFilter,
  sessionFilter,
} from "../audit/mod.ts";
import { authenticateAdmin } from "./admin_auth.ts";
import { listAgents } from "./agent_listing.ts";
import { errorAnswer, jsonAnswer } from "./answers.ts";

/** What the admin API reads. */
export interface AdminApiDeps {
  /** Operator files (tokens) and agent files. */
  access: Pick<AccessFolders, "operatorByToken" | "agents">;
  /** Identified agents connected now. */
  directory: AgentDirectory;
  /** The audit (its store's listings, its refusals); null when it is off. */
  audit: Pick<Audit, "store" | "refusals"> | null;
  /** Token failure limits. */
  auth: AuthGuard;
  /** System log: one INFO line per admin request. */
  log: Logger;
}

/** A listing: reads its query parameters and answers a page. */
interface Listing {
  /** What it lists, when it reads the audit database (for the 503 without it); else null. */
  audit: string | null;
  /** The page for `params`; throws {@link QueryParamError} for a bad one. */
  list(params: URLSearchParams, deps: AdminApiDeps): Page<unknown, unknown>;
}

/** The listings by path (after {@link ADMIN_PATH}). */
const LISTINGS: ReadonlyMap<string, Listing> = new Map<string, Listing>([
  ["/agents", {
    audit: null,
    list: (params, deps) =>
      listAgents({
        directory: deps.directory,
        files: () => deps.access.agents,
        audit: deps.audit === null ? null : deps.audit.store.query,
      }, agentListFilter(params)),
  }],
  ["/sessions", {
    audit: "agent sessions",
    list: (params, deps) => deps.audit!.store.query.sessions(sessionFilter(params)),
  }],
  ["/channels", {
    audit: "channels",
    list: (params, deps) => deps.audit!.store.query.channels(channelFilter(params)),
  }],
  ["/audit", {
    audit: "authentication refusals",
    list: (params, deps) => deps.audit!.store.query.refusals(refusalFilter(params)),
  }],
]);

/** Whether `pathname` is the admin API's (the prefix itself, or below it). */
export function isAdminPath(pathname: string): boolean {
  return pathname === ADMIN_PATH || pathname.startsWith(`${ADMIN_PATH}/`);
}

/**
 * The admin API's request handler.
 *
 * @example
 * ```ts ignore
 * const admin = new AdminApi({ access, directory, audit, auth, log });
 * // in the listener's handler:
 * if (isAdminPath(new URL(req.url).pathname)) return admin.handle(req, info.remoteAddr.hostname);
 * ```
 */
export class AdminApi {
  readonly #deps: AdminApiDeps;

  /** An API over `deps`. */
  constructor(deps: AdminApiDeps) {
    this.#deps = deps;
  }

  /** Answers `req`, which came from `address` (IP) and has an admin path. */
  async handle(req: Request, address: string): Promise<Response> {
    const deps = this.#deps;
    const auth = await authenticateAdmin(req.headers.get("authorization"), address, {
      access: deps.access,
      auth: deps.auth,
      refusals: deps.audit?.refusals ?? null,
    });
    if (!auth.ok) return auth.response;
    const url = new URL(req.url);
    const response = this.#answer(req.method, url);
    deps.log.info("Admin API: {operator} from {address}: {method} {path} -> {status}", {
      operator: auth.operator.name,
      address,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      status: response.status,
    });
    return response;
  }

  #answer(method: string, url: URL): Response {
    if (method !== "GET" && method !== "HEAD") {
      return errorAnswer(405, "method-not-allowed", `Method ${method} not allowed: use GET`, {
        headers: { allow: "GET, HEAD" },
      });
    }
    const name = url.pathname.slice(ADMIN_PATH.length);
    const listing = LISTINGS.get(name);
    if (listing === undefined) {
      const known = [...LISTINGS.keys()].map((k) => ADMIN_PATH + k).join(", ");
      return errorAnswer(404, "not-found", `No listing ${url.pathname}; there are ${known}`);
    }
    const audit = this.#deps.audit;
    if (listing.audit !== null && audit === null) {
      return errorAnswer(
        503,
        "audit-off",
        `The audit is off on this server: ${listing.audit} are not recorded`,
      );
    }
    try {
      audit?.store.flush();
      return jsonAnswer(200, listing.list(url.searchParams, this.#deps));
    } catch (e) {
      if (e instanceof QueryParamError) {
        return errorAnswer(400, "bad-param", e.message, { extra: { param: e.param } });
      }
      this.#deps.log.error("Admin API: {path} failed: {error}", {
        path: url.pathname,
        error: e instanceof Error ? e.stack ?? e.message : String(e),
      });
      return errorAnswer(500, "internal", `The listing failed: ${(e as Error).message}`);
    }
  }
}
