import assert from "node:assert/strict";
import { join } from "node:path";
import { parseServerConfig } from "../config.ts";
import { AUDIT, dataDirProblem } from "./config.ts";
import { withTempDir } from "../../tests/helpers/audit_store.ts";

const LISTEN = '"listen": [{ "address": "127.0.0.1:0", "selfSigned": true }]';

Deno.test("dataDir defaults to data beside the main file, audit keys to their defaults", () => {
  const config = parseServerConfig("/etc/burrow/server.jsonc", `{ "mode": "server", ${LISTEN} }`);
  assert.equal(config.dataDir, "/etc/burrow/data");
  assert.deepEqual(config.audit, {
    retentionDays: 90,
    flushInterval: 500,
    batchSize: 200,
    queueSize: 10_000,
    sessionGrace: 60_000,
  });
  assert.equal(config.audit.sessionGrace, AUDIT.sessionGrace.default);
});

Deno.test("dataDir and audit keys are read, relative paths against the file's folder", () => {
  const config = parseServerConfig(
    "/etc/burrow/server.jsonc",
    `{ "mode": "server", ${LISTEN}, "dataDir": "../../var/lib/burrow",
       "audit": { "retentionDays": 0, "flushInterval": "2s", "batchSize": 50,
                  "queueSize": 500, "sessionGrace": "5m" } }`,
  );
  assert.equal(config.dataDir, "/var/lib/burrow");
  assert.deepEqual(config.audit, {
    retentionDays: 0,
    flushInterval: 2000,
    batchSize: 50,
    queueSize: 500,
    sessionGrace: 300_000,
  });
});

Deno.test("audit keys out of range or unknown are errors at file:line:col", () => {
  const parse = (audit: string) =>
    parseServerConfig("s.jsonc", `{ "mode": "server", ${LISTEN},\n"audit": ${audit} }`);
  assert.throws(() => parse('{ "retentionDays": -1 }'), /s\.jsonc:2:29: audit\.retentionDays: /);
  assert.throws(() => parse('{ "flushInterval": "1ms" }'), /audit\.flushInterval: .*out of range/);
  assert.throws(() => parse('{ "sessionGrace": "2h" }'), /audit\.sessionGrace: .*out of range/);
  assert.throws(() => parse('{ "retention": 3 }'), /audit\.retention: unknown key/);
  assert.throws(
    () => parseServerConfig("s.jsonc", `{ "mode": "server", ${LISTEN}, "dataDir": "" }`),
    /dataDir/,
  );
});

Deno.test("dataDirProblem accepts a folder or one that can be made, and says what is wrong", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "file"), "x");
    assert.equal(dataDirProblem(dir), null);
    assert.equal(dataDirProblem(join(dir, "a", "b", "c")), null);
    assert.equal(dataDirProblem(join(dir, "file")), "exists and is not a folder");
    assert.equal(
      dataDirProblem(join(dir, "file", "data")),
      `cannot be made: ${JSON.stringify(join(dir, "file"))} is not a folder`,
    );
  });
});
