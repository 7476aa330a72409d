/**
 * The audit store: one SQLite file (`burrow.db` in the server's `dataDir`,
 * through `node:sqlite`) recording agent sessions, channels and
 * authentication refusals, with writes kept off the caller's path.
 *
 * - Callers enqueue: `sessionStarted()`, `channelOpened()`, … return at
 *   once (the ids are chosen in memory), the {@link WriteQueue} writes a
 *   batch per transaction `flushInterval` ms later, or as soon as
 *   `batchSize` records wait. A full queue drops and counts, logged once.
 * - Measured (`bench/audit_bench.ts`, 2-core VM loaded by other jobs, load
 *   average 6.4): enqueueing costs the caller about 1.4 µs a record; a
 *   transaction of 200 records holds the event loop about 0.64 ms (3.2 µs a
 *   record, 0.09× the per-record cost of one-record transactions, 37 µs),
 *   one of 1,000 2.6–4.5 ms; a retention sweep of 3 × 1,000 rows 2.5 ms.
 *   Hence batches of 200 by default: no flush holds the loop for more than
 *   about a millisecond. Figures in `docs/benchmarks.md`.
 * - WAL journal, `synchronous = NORMAL`: a transaction committed is in the
 *   WAL file before `COMMIT` returns, so it survives the process being
 *   killed (checked with SIGKILL); a power cut may lose the last
 *   transactions, never the file's consistency.
 * - Exclusive locking: the file is held for the store's life, so a second
 *   server on the same `dataDir` fails at start instead of interleaving ids.
 * - Rows left open by a server that did not close them (crash, kill) are
 *   closed when the file is next opened, at the last time the file recorded.
 *
 * @module
 */

import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Logger } from "@logtape/logtape";
import { migrate } from "./schema.ts";
import { BatchWriter } from "./batch_writer.ts";
import { WriteQueue, type WriteQueueStats } from "./write_queue.ts";
import { DAY, sweepExpired, type SweepResult } from "./retention.ts";
import { AuditQuery } from "./query.ts";
import type {
  AuthRefusal,
  ChannelEnd,
  ChannelStart,
  SessionEnd,
  SessionInfo,
  SessionResume,
  SessionStart,
  WriteOp,
} from "./records.ts";

/** The database file's name in `dataDir`. */
export const AUDIT_FILE = "burrow.db";

/** A store that cannot open: file in use, unreadable, or from a newer Burrow. */
export class AuditStoreError extends Error {
  /** Always `"AuditStoreError"`. */
  override name = "AuditStoreError";
  /** `"in-use"` when another process holds the file, `"open"` for any other failure. */
  readonly code: "in-use" | "open";

  /** An error with `code` and `message`. */
  constructor(code: "in-use" | "open", message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Where the store lives and how it writes. */
export interface AuditStoreOptions {
  /** Folder of the database file; made (mode 0700) when missing. */
  dataDir: string;
  /** Days a finished row is kept; 0 keeps everything. */
  retentionDays: number;
  /** Longest a record waits in the queue, ms. */
  flushInterval: number;
  /** Most records per transaction. */
  batchSize: number;
  /** Most records waiting; more are dropped (counted, logged once). */
  queueSize: number;
  /** Log for drops, failures and sweeps. */
  log: Logger;
  /** Milliseconds between retention sweeps. Default 1 h. */
  sweepInterval?: number;
  /** Most rows per table one sweep deletes. Default 1,000. */
  sweepRows?: number;
  /** The clock records take their time from. Default `Date.now`. */
  now?: () => number;
}

/** The largest time the file holds, or null when it is empty. */
function lastRecorded(db: DatabaseSync): number | null {
  const row = db.prepare(
    `SELECT max(
       (SELECT max(max(connected_at), coalesce(max(disconnected_at), 0)) FROM agent_sessions),
       (SELECT max(max(opened_at), coalesce(max(closed_at), 0)) FROM channels),
       (SELECT max(at) FROM auth_refusals)) AS t`,
  ).get() as { t: number | null };
  return row.t;
}

/** The next id a table hands out (AUTOINCREMENT's sequence, so ids never repeat). */
function nextId(db: DatabaseSync, table: string): number {
  const row = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = ?").get(table) as
    | { seq: number }
    | undefined;
  return (row?.seq ?? 0) + 1;
}

/** Opens the file, takes its lock, migrates, and closes rows a previous run left open. */
function openDatabase(path: string, now: number): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { timeout: 0 });
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    migrate(db);
    db.exec("BEGIN IMMEDIATE"); // takes the write lock, held until close (exclusive mode)
    // Only a run that did not end its rows leaves any open (the indexes find them without a scan).
    const open = db.prepare(
      `SELECT EXISTS (SELECT 1 FROM agent_sessions WHERE disconnected_at IS NULL)
           OR EXISTS (SELECT 1 FROM channels WHERE closed_at IS NULL) AS open`,
    ).get() as { open: number };
    const last = open.open === 0 ? now : lastRecorded(db) ?? now;
    db.prepare(
      `UPDATE agent_sessions SET disconnected_at = max(connected_at, ?),
         reason = 'server stopped without closing the session' WHERE disconnected_at IS NULL`,
    ).run(last);
    db.prepare(
      `UPDATE channels SET closed_at = max(opened_at, ?), result = 'failed',
         detail = 'server stopped without closing the channel' WHERE closed_at IS NULL`,
    ).run(last);
    db.exec("COMMIT");
    return db;
  } catch (e) {
    db?.close();
    // SQLITE_BUSY: `errcode` 5 from statements, only the message from `exec()`.
    const busy = (e as { errcode?: number }).errcode === 5 ||
      /database is locked/.test((e as Error).message);
    throw new AuditStoreError(
      busy ? "in-use" : "open",
      busy
        ? `Audit database ${path} is in use by another process (another server on the same dataDir?)`
        : `Cannot open the audit database ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** The audit database of a server. */
export class AuditStore {
  readonly #db: DatabaseSync;
  readonly #options: AuditStoreOptions;
  readonly #now: () => number;
  readonly #queue: WriteQueue<WriteOp>;
  readonly #ids: { session: number; channel: number; refusal: number };
  readonly #query: AuditQuery;
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  private constructor(db: DatabaseSync, options: AuditStoreOptions) {
    this.#db = db;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#ids = {
      session: nextId(db, "agent_sessions"),
      channel: nextId(db, "channels"),
      refusal: nextId(db, "auth_refusals"),
    };
    const writer = new BatchWriter(db);
    const log = options.log;
    this.#queue = new WriteQueue<WriteOp>({
      capacity: options.queueSize,
      batchSize: options.batchSize,
      interval: options.flushInterval,
      write: (batch) => writer.write(batch),
      onDrops: (e) =>
        e.phase === "start"
          ? log.warn("Audit queue full ({capacity} records): dropping records until it drains", {
            capacity: e.capacity,
          })
          : log.warn("Audit queue drained: {dropped} record(s) were dropped", {
            dropped: e.dropped,
          }),
      onFailures: (e) =>
        e.phase === "start"
          ? log.error("Audit writes fail, records are lost until they work again: {error}", {
            error: (e.error as Error).message,
          })
          : log.warn("Audit writes work again: {lost} record(s) were lost", { lost: e.lost }),
    });
    this.#query = new AuditQuery(db);
    if (options.retentionDays > 0) this.#armSweep(options.sweepInterval ?? 60 * 60 * 1000);
  }

  /**
   * Opens (or creates) `burrow.db` in `options.dataDir`.
   *
   * @throws {AuditStoreError} `in-use` when another process holds the file,
   *   `open` when it cannot be made, read or migrated (a file from a newer Burrow).
   * @example
   * ```ts
   * import { getLogger } from "@logtape/logtape";
   * import { AuditStore } from "./store.ts";
   * const store = AuditStore.open({
   *   dataDir: await Deno.makeTempDir(), retentionDays: 90, flushInterval: 500,
   *   batchSize: 200, queueSize: 10_000, log: getLogger(["burrow"]),
   * });
   * const id = store.sessionStarted({ agent: "db1", remote: "192.0.2.7:50123" });
   * store.sessionEnded(id, { reason: "closed by agent" });
   * store.close();
   * ```
   */
  static open(options: AuditStoreOptions): AuditStore {
    try {
      Deno.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new AuditStoreError(
        "open",
        `Cannot make the data folder ${options.dataDir}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const db = openDatabase(join(options.dataDir, AUDIT_FILE), (options.now ?? Date.now)());
    return new AuditStore(db, options);
  }

  /** Queue and write counters: `batches` counts transactions. */
  get stats(): WriteQueueStats {
    return this.#queue.stats;
  }

  /** Listings for the admin API. They see written rows: {@link flush} first to include the queue. */
  get query(): AuditQuery {
    return this.#query;
  }

  /** Records an agent session's start; returns its id at once. */
  sessionStarted(record: SessionStart): number {
    const id = this.#ids.session++;
    this.#queue.push({ op: "session-start", id, at: record.at ?? this.#now(), record });
    return id;
  }

  /** Records that session `id` goes on with a new connection (inside its grace period). */
  sessionResumed(id: number, record: SessionResume): void {
    this.#queue.push({ op: "session-resume", id, at: record.at ?? this.#now(), record });
  }

  /** Records the version, OS and host an agent reported after its session `id` started. */
  sessionInfo(id: number, record: SessionInfo): void {
    this.#queue.push({ op: "session-info", id, at: this.#now(), record });
  }

  /** Records the end of session `id`. */
  sessionEnded(id: number, record: SessionEnd): void {
    this.#queue.push({ op: "session-end", id, at: record.at ?? this.#now(), record });
  }

  /** Records a channel opening; returns its id at once. */
  channelOpened(record: ChannelStart): number {
    const id = this.#ids.channel++;
    this.#queue.push({ op: "channel-start", id, at: record.at ?? this.#now(), record });
    return id;
  }

  /** Records the end of channel `id`, with its result and byte counts. */
  channelClosed(id: number, record: ChannelEnd): void {
    this.#queue.push({ op: "channel-end", id, at: record.at ?? this.#now(), record });
  }

  /** Records an authentication refusal (or a window's worth, with `count`). */
  authRefused(record: AuthRefusal): void {
    const id = this.#ids.refusal++;
    this.#queue.push({ op: "refusal", id, at: record.at ?? this.#now(), record });
  }

  /** Writes everything queued now; returns the number of records written. */
  flush(): number {
    return this.#queue.flush();
  }

  /** Deletes up to `sweepRows` expired rows per table now (nothing when retention is 0). */
  sweep(): SweepResult {
    const days = this.#options.retentionDays;
    if (days <= 0) return { sessions: 0, channels: 0, refusals: 0, more: false };
    const result = sweepExpired(
      this.#db,
      this.#now() - days * DAY,
      this.#options.sweepRows ?? 1000,
    );
    const total = result.sessions + result.channels + result.refusals;
    if (total > 0) {
      this.#options.log.info("Audit retention: deleted {total} row(s) older than {days} day(s)", {
        total,
        days,
      });
    }
    return result;
  }

  /** Writes what is queued, stops the timers and closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#sweepTimer);
    try {
      this.#queue.close();
    } finally {
      this.#db.close();
    }
  }

  /** Closes the store at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #armSweep(interval: number): void {
    const run = (delay: number) => {
      this.#sweepTimer = setTimeout(() => {
        let more = false;
        try {
          more = this.sweep().more;
        } catch (e) {
          this.#options.log.error("Audit retention sweep failed: {error}", {
            error: (e as Error).message,
          });
        }
        // A backlog is worked through a bounded slice at a time, a flush interval apart.
        run(more ? this.#options.flushInterval : interval);
      }, delay);
    };
    run(Math.min(interval, 60_000));
  }
}
