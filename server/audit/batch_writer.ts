/**
 * Writes a batch of audit operations into the database in one transaction,
 * with statements prepared once. Inserts carry ids chosen by the store
 * beforehand, so an update queued right after its insert finds its row;
 * an update whose row is gone (never written, or removed by retention)
 * changes nothing.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { WriteOp } from "./records.ts";

/** Prepared statements for each operation, on one database. */
export class BatchWriter {
  readonly #db: DatabaseSync;
  readonly #run: { [K in WriteOp["op"]]: (op: Extract<WriteOp, { op: K }>) => void };

  /** Prepares the statements on `db` (which must be at the current schema). */
  constructor(db: DatabaseSync) {
    this.#db = db;
    const sessionStart = db.prepare(
      `INSERT INTO agent_sessions (id, agent, remote, version, os, host, connected_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const sessionResume = db.prepare(
      `UPDATE agent_sessions SET remote = ?, reconnects = reconnects + 1 WHERE id = ?`,
    );
    const sessionInfo = db.prepare(
      `UPDATE agent_sessions SET version = ?, os = ?, host = ? WHERE id = ?`,
    );
    const sessionEnd = db.prepare(
      `UPDATE agent_sessions SET disconnected_at = ?, reason = ?
       WHERE id = ? AND disconnected_at IS NULL`,
    );
    const channelStart = db.prepare(
      `INSERT INTO channels (id, session_id, operator, agent, kind, target, source, opened_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const channelEnd = db.prepare(
      `UPDATE channels SET closed_at = ?, result = ?, detail = ?, bytes_up = ?, bytes_down = ?
       WHERE id = ? AND closed_at IS NULL`,
    );
    const refusal = db.prepare(
      `INSERT INTO auth_refusals (id, at, kind, identity, source, reason, count)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const run = (statement: StatementSync, ...values: (string | number | null)[]) => {
      statement.run(...values);
    };
    this.#run = {
      "session-start": ({ id, at, record: r }) =>
        run(sessionStart, id, r.agent, r.remote, r.version ?? "", r.os ?? "", r.host ?? "", at),
      "session-resume": ({ id, record: r }) => run(sessionResume, r.remote, id),
      "session-info": ({ id, record: r }) => run(sessionInfo, r.version, r.os, r.host, id),
      "session-end": ({ id, at, record: r }) => run(sessionEnd, at, r.reason, id),
      "channel-start": ({ id, at, record: r }) =>
        run(
          channelStart,
          id,
          r.sessionId ?? null,
          r.operator,
          r.agent,
          r.kind,
          r.target,
          r.source ?? "",
          at,
        ),
      "channel-end": ({ id, at, record: r }) =>
        run(channelEnd, at, r.result, r.detail ?? "", r.bytesUp ?? 0, r.bytesDown ?? 0, id),
      "refusal": ({ id, at, record: r }) =>
        run(refusal, id, at, r.kind, r.identity ?? "", r.source, r.reason, r.count ?? 1),
    };
  }

  /**
   * Applies `batch` in one transaction: all of it or, when a statement fails,
   * none of it (rolled back, then the error is thrown).
   */
  write(batch: readonly WriteOp[]): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const op of batch) (this.#run[op.op] as (op: WriteOp) => void)(op);
      this.#db.exec("COMMIT");
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
  }
}
