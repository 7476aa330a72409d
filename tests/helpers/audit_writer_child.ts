/**
 * A process that writes to an audit store until it is killed, for
 * `server/audit/crash_test.ts`: batch after batch of 50 refusals (reason
 * `batch N`) and one session, each flushed in one transaction, then
 * `committed N` on standard output. Stops by itself after 30 s.
 *
 * Usage: `deno run -A tests/helpers/audit_writer_child.ts DATA_DIR`
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { AuditStore } from "../../server/audit/store.ts";

/** Refusals per batch. */
export const BATCH = 50;

if (import.meta.main) {
  const dataDir = Deno.args[0]!;
  const store = AuditStore.open({
    dataDir,
    retentionDays: 0,
    flushInterval: 60_000,
    batchSize: 1000,
    queueSize: 10_000,
    log: getLogger(["burrow", "audit-child"]),
  });
  const out = new TextEncoder();
  const deadline = Date.now() + 30_000;
  for (let n = 0; Date.now() < deadline; n++) {
    store.sessionStarted({ agent: `agent${n}`, remote: "192.0.2.1:1" });
    for (let i = 0; i < BATCH; i++) {
      store.authRefused({ kind: "agent", source: "192.0.2.1", reason: `batch ${n}` });
    }
    store.flush();
    Deno.stdout.writeSync(out.encode(`committed ${n}\n`));
  }
  store.close();
}
