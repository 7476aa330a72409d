import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { parseServerConfig } from "../config.ts";
import { openAudit } from "./mod.ts";
import { FakeClock } from "../../tests/helpers/fake_clock.ts";
import { withTempDir } from "../../tests/helpers/audit_store.ts";

Deno.test("openAudit uses the config's dataDir and grace; close ends held sessions and writes refusal counts", async () => {
  await withTempDir((dir) => {
    const config = parseServerConfig(
      join(dir, "server.jsonc"),
      `{ "mode": "server", "listen": [{ "address": "127.0.0.1:0", "selfSigned": true }],
         "audit": { "sessionGrace": "10s" } }`,
    );
    const clock = new FakeClock(5_000);
    const log = getLogger(["burrow", "test", "audit"]);
    const audit = openAudit(config, log, clock);
    const gone = audit.sessions.connected("gone", { remote: "a:1" });
    audit.sessions.connected("stays", { remote: "b:1" });
    for (let i = 0; i < 3; i++) {
      audit.refusals.refused({ kind: "agent", identity: "x", source: "c", reason: "wrong secret" });
    }
    clock.advance(1_000);
    audit.sessions.disconnected(gone, "connection lost");
    clock.advance(9_999);
    assert.equal(audit.sessions.get("gone")?.connected, false, "still inside its 10 s grace");
    clock.advance(1);
    assert.equal(audit.sessions.get("gone"), undefined);
    audit.close();
    audit.close();

    const again = openAudit(config, log, clock);
    try {
      const rows = again.store.query.sessions().items.map((s) => [s.agent, s.reason]);
      assert.deepEqual(rows, [["stays", "server stopped"], ["gone", "connection lost"]]);
      const counts = again.store.query.refusals().items.map((r) => r.count);
      assert.deepEqual(counts, [2, 1], "the folded repeats are written at close");
      assert.ok(Deno.statSync(join(dir, "data", "burrow.db")).isFile, "data/ beside the file");
    } finally {
      again.close();
    }
  });
});
