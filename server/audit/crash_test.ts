import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { AUDIT_FILE, AuditStore } from "./store.ts";
import { storeOptions, withTempDir } from "../../tests/helpers/audit_store.ts";
import { BATCH } from "../../tests/helpers/audit_writer_child.ts";

// A path, not a URL's pathname: that one is %-encoded (a space is %20).
const CHILD = fileURLToPath(new URL("../../tests/helpers/audit_writer_child.ts", import.meta.url));

/** Batches the child must report before it is killed. */
const BEFORE_KILL = 20;

/** Runs the writer child on `dataDir`, kills it with SIGKILL mid-writing; resolves to the last batch it reported. */
async function writeThenKill(dataDir: string): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dataDir],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let last = -1;
  let killed = false;
  let buffered = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) last = Math.max(last, Number(line.match(/^committed (\d+)$/)![1]));
    if (!killed && last >= BEFORE_KILL) {
      child.kill("SIGKILL");
      killed = true;
    }
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", "the child was killed, it did not finish");
  return last;
}

Deno.test("audit rows committed before a SIGKILL survive it, and the file is not corrupt", async () => {
  await withTempDir(async (dir) => {
    const last = await writeThenKill(dir);
    const db = new DatabaseSync(join(dir, AUDIT_FILE));
    try {
      assert.equal(db.prepare("PRAGMA integrity_check").get()!.integrity_check, "ok");
      const rows = Number(db.prepare("SELECT count(*) AS n FROM auth_refusals").get()!.n);
      // Every reported batch is there; at most one more (killed between COMMIT and the report).
      assert.ok(rows >= (last + 1) * BATCH, `${rows} rows for ${last + 1} reported batches`);
      assert.ok(rows <= (last + 2) * BATCH, `${rows} rows for ${last + 1} reported batches`);
      assert.equal(rows % BATCH, 0, "a batch is all there or not at all");
      const batches = db.prepare(
        "SELECT reason, count(*) AS n FROM auth_refusals GROUP BY reason HAVING n != ?",
      ).all(BATCH);
      assert.deepEqual(batches, []);
    } finally {
      db.close();
    }
    // The store opens it again and closes the sessions the dead process left open.
    using store = AuditStore.open(storeOptions(dir));
    const open = store.query.sessions({ open: true });
    assert.deepEqual(open.items, []);
    assert.ok(store.query.sessions({ limit: 1000 }).items.length >= last + 1);
  });
});
