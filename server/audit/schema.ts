/**
 * The audit database's tables and how a file reaches the current schema.
 * The schema version is SQLite's `user_version`: 0 in a new file, then the
 * number of migrations applied. Each migration runs in its own transaction
 * together with the `user_version` it leads to, so a crash leaves the file
 * at one version or the next, never between. A file written by a newer
 * Burrow (a higher version than this code knows) is refused, not guessed at.
 *
 * Times are integers, milliseconds since the Unix epoch (UTC). Ids are
 * `AUTOINCREMENT`, so an id is never handed out twice, even after retention
 * deleted every row of a table: a paging cursor stays meaningful.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** A file this code cannot use: newer schema, or a migration that failed. */
export class SchemaError extends Error {
  /** Always `"SchemaError"`. */
  override name = "SchemaError";
  /** `"too-new"` for a file from a newer Burrow, `"migration"` for a failed step. */
  readonly code: "too-new" | "migration";

  /** An error with `code` and `message`. */
  constructor(code: "too-new" | "migration", message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** One step of the schema: the SQL that takes version `i` to `i + 1` (index `i`). */
export type Migration = string;

/**
 * The migrations, in order: `MIGRATIONS[i]` takes a file from version `i` to
 * `i + 1`. Never edit a released step; append a new one.
 */
export const MIGRATIONS: readonly Migration[] = [
  // 1: agent sessions, channels, auth refusals.
  `
  CREATE TABLE agent_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent TEXT NOT NULL,
    remote TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    connected_at INTEGER NOT NULL,
    disconnected_at INTEGER,
    reason TEXT,
    reconnects INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX agent_sessions_agent ON agent_sessions (agent, id);
  CREATE INDEX agent_sessions_disconnected ON agent_sessions (disconnected_at);

  CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER,
    operator TEXT NOT NULL,
    agent TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    opened_at INTEGER NOT NULL,
    closed_at INTEGER,
    bytes_up INTEGER NOT NULL DEFAULT 0,
    bytes_down INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    detail TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX channels_agent ON channels (agent, id);
  CREATE INDEX channels_operator ON channels (operator, id);
  CREATE INDEX channels_closed ON channels (closed_at);

  CREATE TABLE auth_refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX auth_refusals_at ON auth_refusals (at);
  `,
];

/** The schema version this code writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The file's schema version (`PRAGMA user_version`). */
export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

/**
 * Brings `db` to the last version of `migrations` (default {@link MIGRATIONS}),
 * one transaction per step; resolves to the versions it went from and to.
 *
 * @throws {SchemaError} `too-new` when the file is at a higher version than
 *   `migrations` reach, `migration` when a step fails (that step is rolled back;
 *   the steps before it stay).
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { migrate, SCHEMA_VERSION } from "./schema.ts";
 * const db = new DatabaseSync(":memory:");
 * migrate(db); // { from: 0, to: SCHEMA_VERSION }
 * db.close();
 * ```
 */
export function migrate(
  db: DatabaseSync,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  const from = schemaVersion(db);
  if (from > migrations.length) {
    throw new SchemaError(
      "too-new",
      `Audit database is at schema version ${from}, newer than this Burrow knows (${migrations.length}): ` +
        "run a newer Burrow, or move the file aside",
    );
  }
  for (let version = from; version < migrations.length; version++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(migrations[version]!);
      // PRAGMA takes no bound parameters; the value is a number we computed.
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw new SchemaError(
        "migration",
        `Cannot migrate the audit database from schema version ${version} to ${version + 1}: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
  }
  return { from, to: migrations.length };
}
