import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { migrate, MIGRATIONS, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { withTempDir } from "../../tests/helpers/audit_store.ts";

Deno.test("migrate takes a new file to the current schema, then does nothing", () => {
  const db = new DatabaseSync(":memory:");
  try {
    assert.deepEqual(migrate(db), { from: 0, to: SCHEMA_VERSION });
    assert.equal(schemaVersion(db), MIGRATIONS.length);
    assert.deepEqual(migrate(db), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    const tables = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    ).all().map((r) => r.name);
    assert.deepEqual(tables, ["agent_sessions", "auth_refusals", "channels"]);
  } finally {
    db.close();
  }
});

Deno.test("migrate applies only the steps a file lacks, keeping its rows", async () => {
  await withTempDir((dir) => {
    const file = join(dir, "m.db");
    const v1 = ["CREATE TABLE t (a TEXT)"];
    const v2 = [...v1, "ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 7"];
    let db = new DatabaseSync(file);
    migrate(db, v1);
    db.exec("INSERT INTO t (a) VALUES ('kept')");
    db.close();
    db = new DatabaseSync(file);
    try {
      assert.deepEqual(migrate(db, v2), { from: 1, to: 2 });
      assert.deepEqual({ ...db.prepare("SELECT a, b FROM t").get() }, { a: "kept", b: 7 });
    } finally {
      db.close();
    }
  });
});

Deno.test("migrate rolls a failing step back and keeps the steps before it", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const steps = ["CREATE TABLE t (a TEXT)", "CREATE TABLE u (x); CREATE TABLE t (b)"];
    assert.throws(() => migrate(db, steps), { name: "SchemaError", code: "migration" });
    assert.equal(schemaVersion(db), 1);
    const u = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'u'").get();
    assert.equal(u!.n, 0, "the failed step left nothing behind");
  } finally {
    db.close();
  }
});

Deno.test("migrate refuses a file at a newer version than it knows", () => {
  const db = new DatabaseSync(":memory:");
  try {
    db.exec("PRAGMA user_version = 5");
    assert.throws(() => migrate(db, ["CREATE TABLE t (a)"]), {
      name: "SchemaError",
      code: "too-new",
    });
  } finally {
    db.close();
  }
});
