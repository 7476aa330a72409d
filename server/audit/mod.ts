/**
 * Sessions and audit, embedded: what the server records of agent sessions,
 * channels and authentication refusals, in SQLite (`node:sqlite`) under its
 * `dataDir`, and the listings the admin API serves. {@link openAudit} is the
 * one call the server makes at start; the returned {@link Audit} is closed
 * at shutdown, after the agent registry (so the sessions still connected end
 * with "server stopped").
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Clock } from "../../shared/time/clock.ts";
import type { AuditConfig } from "./config.ts";
import { AuditStore } from "./store.ts";
import { SessionTracker } from "./session_tracker.ts";
import { RefusalFolder } from "./refusal_folder.ts";

export {
  AUDIT,
  type AuditConfig,
  dataDirProblem,
  DEFAULT_DATA_DIR,
  parseAuditConfig,
} from "./config.ts";
export { AUDIT_FILE, AuditStore, AuditStoreError, type AuditStoreOptions } from "./store.ts";
export type * from "./query.ts";
export {
  agentFilter,
  type AgentListFilter,
  agentListFilter,
  channelFilter,
  QueryParamError,
  refusalFilter,
  sessionFilter,
} from "./query_params.ts";
export type { SweepResult } from "./retention.ts";
export type { WriteQueueStats } from "./write_queue.ts";
export type { Clock } from "../../shared/time/clock.ts";
export type * from "./records.ts";
export { RefusalFolder, type RefusalFolderOptions } from "./refusal_folder.ts";
export {
  type AgentConnectionInfo,
  type SessionLease,
  SessionTracker,
  type TrackedSession,
} from "./session_tracker.ts";

/** The audit store and what writes to it. */
export interface Audit {
  /** The store: records, listings (`store.query`), counters. */
  store: AuditStore;
  /** Agent sessions with their grace period (`audit.sessionGrace`). */
  sessions: SessionTracker;
  /** Auth refusals, folded per `limits.authFailures.window` (one row per key, plus a count). */
  refusals: RefusalFolder;
  /**
   * Ends the sessions still held ("server stopped"), writes the refusal
   * counts and what is queued, closes the file. Idempotent.
   */
  close(): void;
}

/**
 * Opens the audit database of a server configured by `config` (its
 * `dataDir` and `audit` keys; refusals fold over `limits.authFailures.window`).
 *
 * @throws {AuditStoreError} when the file is in use, cannot be made, or is from a newer Burrow.
 * @example
 * ```ts ignore
 * const audit = openAudit(config, log);
 * const lease = audit.sessions.connected("db1", { remote: "192.0.2.7:50123" });
 * audit.sessions.disconnected(lease, "connection lost");
 * audit.close();
 * ```
 */
export function openAudit(
  config: { dataDir: string; audit: AuditConfig; limits: { authFailures: { window: number } } },
  log: Logger,
  clock?: Clock,
): Audit {
  const store = AuditStore.open({
    dataDir: config.dataDir,
    retentionDays: config.audit.retentionDays,
    flushInterval: config.audit.flushInterval,
    batchSize: config.audit.batchSize,
    queueSize: config.audit.queueSize,
    log,
    ...(clock && { now: () => clock.now() }),
  });
  const sessions = new SessionTracker(store, {
    grace: config.audit.sessionGrace,
    ...(clock && { clock }),
  });
  const refusals = new RefusalFolder(store, {
    window: config.limits.authFailures.window,
    ...(clock && { clock }),
  });
  return {
    store,
    sessions,
    refusals,
    close() {
      try {
        sessions.close();
        refusals.close();
      } finally {
        store.close();
      }
    },
  };
}
