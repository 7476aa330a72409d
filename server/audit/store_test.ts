import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { AUDIT_FILE, AuditStore } from "./store.ts";
import { storeOptions, withTempDir } from "../../tests/helpers/audit_store.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { DAY } from "./retention.ts";

Deno.test("AuditStore makes its data folder, in WAL mode at the current schema", async () => {
  await withTempDir((dir) => {
    const dataDir = join(dir, "nested", "data");
    const store = AuditStore.open(storeOptions(dataDir));
    store.close();
    assert.equal(Deno.statSync(dataDir).mode! & 0o777, 0o700);
    const db = new DatabaseSync(join(dataDir, AUDIT_FILE));
    try {
      assert.equal(db.prepare("PRAGMA journal_mode").get()!.journal_mode, "wal");
      assert.equal(db.prepare("PRAGMA user_version").get()!.user_version, SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });
});

Deno.test("AuditStore writes N queued records in one transaction", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir));
    const session = store.sessionStarted({ agent: "db1", remote: "192.0.2.7:1", version: "0.2" });
    for (let i = 0; i < 98; i++) {
      store.authRefused({
        kind: "operator",
        identity: `op${i}`,
        source: "198.51.100.1",
        reason: "bad token",
      });
    }
    store.sessionEnded(session, { reason: "closed by agent" });
    assert.equal(store.stats.queued, 100);
    assert.equal(store.query.refusals().items.length, 0, "nothing written before the flush");
    assert.equal(store.flush(), 100);
    assert.equal(store.stats.batches, 1, "one transaction for the 100 records");
    assert.equal(store.query.refusals({ limit: 1000 }).items.length, 98);
    const [row] = store.query.sessions().items;
    assert.equal(row?.reason, "closed by agent");
    assert.equal(row?.version, "0.2");
  });
});

Deno.test("AuditStore drops records past its queue size and counts them", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir, { queueSize: 50, batchSize: 1000 }));
    for (let i = 0; i < 10_000; i++) store.authRefused({ kind: "agent", source: "x", reason: "r" });
    assert.equal(store.stats.queued, 50);
    assert.equal(store.stats.dropped, 9_950);
    store.flush();
    assert.equal(store.query.refusals({ limit: 1000 }).items.length, 50);
  });
});

Deno.test("AuditStore keeps history across a restart and never reuses an id", async () => {
  await withTempDir((dir) => {
    const first = AuditStore.open(storeOptions(dir));
    const a = first.sessionStarted({ agent: "db1", remote: "192.0.2.7:1", at: 1000 });
    first.sessionEnded(a, { reason: "closed by agent", at: 2000 });
    const c = first.channelOpened({
      operator: "alice",
      agent: "db1",
      kind: "forward",
      target: "127.0.0.1:5432",
      at: 1500,
    });
    first.channelClosed(c, { result: "ok", bytesUp: 10, bytesDown: 20, at: 1900 });
    first.close();

    using second = AuditStore.open(storeOptions(dir));
    const b = second.sessionStarted({ agent: "db1", remote: "192.0.2.7:2", at: 3000 });
    second.flush();
    assert.ok(b > a, "a new id after a restart");
    const sessions = second.query.sessions().items;
    assert.deepEqual(sessions.map((s) => s.id), [b, a]);
    assert.equal(sessions[1]!.disconnectedAt, 2000);
    const [channel] = second.query.channels().items;
    assert.deepEqual(
      [channel?.result, channel?.bytesUp, channel?.bytesDown, channel?.closedAt],
      ["ok", 10, 20, 1900],
    );
  });
});

Deno.test("AuditStore closes rows left open by the previous run, at the last time on record", async () => {
  await withTempDir((dir) => {
    const first = AuditStore.open(storeOptions(dir));
    first.sessionStarted({ agent: "db1", remote: "r", at: 1000 });
    first.channelOpened({ operator: "o", agent: "db1", kind: "socks", target: "t", at: 1200 });
    first.authRefused({ kind: "agent", source: "x", reason: "r", at: 1700 });
    // Closed without ending them, as after a kill (server/audit/crash_test.ts kills for real).
    first.close();
    using second = AuditStore.open(storeOptions(dir));
    const [session] = second.query.sessions().items;
    assert.equal(session?.disconnectedAt, 1700);
    assert.match(session?.reason ?? "", /without closing/);
    const [channel] = second.query.channels().items;
    assert.deepEqual([channel?.result, channel?.closedAt], ["failed", 1700]);
  });
});

Deno.test("AuditStore refuses a data folder another store holds", async () => {
  await withTempDir((dir) => {
    using _first = AuditStore.open(storeOptions(dir));
    assert.throws(() => AuditStore.open(storeOptions(dir)), {
      name: "AuditStoreError",
      code: "in-use",
    });
  });
});

Deno.test("AuditStore refuses a file from a newer Burrow", async () => {
  await withTempDir((dir) => {
    AuditStore.open(storeOptions(dir)).close();
    const db = new DatabaseSync(join(dir, AUDIT_FILE));
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => AuditStore.open(storeOptions(dir)), {
      name: "AuditStoreError",
      code: "open",
      message: /newer than this Burrow knows/,
    });
  });
});

Deno.test("AuditStore refuses a file that is not a database, and leaves it alone", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, AUDIT_FILE);
    await Deno.writeTextFile(file, "not sqlite ".repeat(500));
    assert.throws(() => AuditStore.open(storeOptions(dir)), {
      name: "AuditStoreError",
      code: "open",
      message: /Cannot open the audit database .*burrow\.db: file is not a database/,
    });
    assert.equal(await Deno.readTextFile(file), "not sqlite ".repeat(500));
  });
});

Deno.test("AuditStore retention deletes old finished rows, a bounded number per sweep", async () => {
  await withTempDir((dir) => {
    const now = 100 * DAY;
    using store = AuditStore.open(
      storeOptions(dir, { retentionDays: 30, sweepRows: 4, now: () => now }),
    );
    for (let i = 0; i < 6; i++) {
      store.authRefused({ kind: "agent", source: "x", reason: "old", at: now - 40 * DAY + i });
    }
    store.authRefused({ kind: "agent", source: "x", reason: "new", at: now - 10 * DAY });
    const old = store.sessionStarted({ agent: "a", remote: "r", at: now - 50 * DAY });
    store.sessionEnded(old, { reason: "x", at: now - 45 * DAY });
    store.sessionStarted({ agent: "open", remote: "r", at: now - 60 * DAY });
    const c = store.channelOpened({
      operator: "o",
      agent: "a",
      kind: "forward",
      target: "t",
      at: 0,
    });
    store.channelClosed(c, { result: "ok", at: now - 31 * DAY });
    store.flush();
    assert.deepEqual(store.sweep(), { sessions: 1, channels: 1, refusals: 4, more: true });
    assert.deepEqual(store.sweep(), { sessions: 0, channels: 0, refusals: 2, more: false });
    assert.deepEqual(store.query.refusals().items.map((r) => r.reason), ["new"]);
    assert.deepEqual(store.query.sessions().items.map((s) => s.agent), ["open"], "open rows stay");
    assert.equal(store.query.channels().items.length, 0);
  });
});

Deno.test("AuditStore with retention 0 keeps everything", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir, { retentionDays: 0 }));
    store.authRefused({ kind: "agent", source: "x", reason: "r", at: 0 });
    store.flush();
    assert.deepEqual(store.sweep(), { sessions: 0, channels: 0, refusals: 0, more: false });
    assert.equal(store.query.refusals().items.length, 1);
  });
});
