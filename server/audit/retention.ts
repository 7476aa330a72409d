/**
 * Retention: deleting audit rows older than the configured number of days,
 * a bounded number per table and sweep so one sweep never holds the event
 * loop for long (1,000 rows per table: a few milliseconds). Only finished
 * rows go: a session still open or a channel still running is kept
 * whatever its age.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** Milliseconds in a day. */
export const DAY = 24 * 60 * 60 * 1000;

/** Rows one sweep deleted, per table. */
export interface SweepResult {
  /** Agent sessions deleted (ended before the cutoff). */
  sessions: number;
  /** Channels deleted (closed before the cutoff). */
  channels: number;
  /** Auth refusals deleted (before the cutoff). */
  refusals: number;
  /** True when some table had more to delete than `limit`: sweep again soon. */
  more: boolean;
}

/** Table, the time column that ages a row, and whether only rows with that time set may go. */
const TABLES = [
  ["sessions", "agent_sessions", "disconnected_at"],
  ["channels", "channels", "closed_at"],
  ["refusals", "auth_refusals", "at"],
] as const;

/**
 * Deletes up to `limit` rows per table whose time is before `cutoff` (ms
 * since the epoch), oldest first, in one transaction.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { migrate } from "./schema.ts";
 * import { DAY, sweepExpired } from "./retention.ts";
 * const db = new DatabaseSync(":memory:");
 * migrate(db);
 * sweepExpired(db, Date.now() - 90 * DAY, 1000); // { sessions: 0, …, more: false }
 * db.close();
 * ```
 */
export function sweepExpired(db: DatabaseSync, cutoff: number, limit: number): SweepResult {
  const result: SweepResult = { sessions: 0, channels: 0, refusals: 0, more: false };
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const [key, table, column] of TABLES) {
      // NULL < cutoff is not true: open sessions and channels are never selected.
      const { changes } = db.prepare(
        `DELETE FROM ${table} WHERE id IN
           (SELECT id FROM ${table} WHERE ${column} < ? ORDER BY ${column} LIMIT ?)`,
      ).run(cutoff, limit);
      result[key] = Number(changes);
      if (result[key] >= limit) result.more = true;
    }
    db.exec("COMMIT");
  } catch (e) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw e;
  }
  return result;
}
