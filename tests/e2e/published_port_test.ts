/**
 * A published port end to end: a client on a port the server publishes
 * (`publish` in its main file, started by `startServer`), the server's
 * `OpenChannel` (agent directory, audit), an agent connected over wss with
 * its own identity, the agent's forward handlers and allowlist, a target.
 *
 * @module
 */

import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { World } from "./world.ts";
import { randomBytes, sha256, within } from "../helpers/streams.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { connectTo, readToEnd, writeFull } from "../publish/helpers.ts";

Deno.test("a published port reaches a target through an agent connected with its identity, audited", async () => {
  await using target = tcpTarget(echo);
  const world = await World.create({
    publish: [
      { listen: "127.0.0.1:0", agent: "db1", target: `127.0.0.1:${target.port}` },
      // Outside the agent's default allowlist (its own loopback only).
      { listen: "127.0.0.2:0", agent: "db1", target: "192.0.2.1:22" },
      { listen: "127.0.0.3:0", agent: "db2", target: `127.0.0.1:${target.port}` },
    ],
  });
  const secret = "db1-secret-for-the-published-port-test";
  const { ports } = world.server.publishing;
  try {
    await world.agentFile("db1", { secret });
    await world.agent({ identity: { name: "db1", secret } });
    const addr = (key: string) => ports.get(key)!.addr;

    const conn = await connectTo(addr("127.0.0.1:0"));
    const data = randomBytes(4 * 1024 * 1024);
    const [, back] = await Promise.all([
      writeFull(conn, data).then(() => conn.closeWrite()),
      within(30_000, "echo through the agent", readToEnd(conn)),
    ]);
    conn.close();
    assert.equal(sha256(back!), sha256(data));

    // Refused by the agent's policy, and an agent that is not connected: closed at once.
    for (const key of ["127.0.0.2:0", "127.0.0.3:0"]) {
      const refused = await connectTo(addr(key));
      const got = await within(10_000, `${key} closed`, readToEnd(refused));
      assert.ok(got === null || got.length === 0, key);
      refused.close();
      assert.equal(ports.get(key)?.stats.failed, 1, key);
    }
    // Closed ports have ended every channel: its row is closed.
    await world.server.publishing.close();
    const audit = world.server.audit;
    audit.store.flush();
    const rows = audit.store.query.channels({ kind: "published", limit: 100 }).items
      .reverse();
    assert.deepEqual(
      rows.map((r) => [r.operator, r.agent, r.target, r.result, r.bytesUp, r.bytesDown]),
      [
        ["", "db1", `127.0.0.1:${target.port}`, "ok", data.length, data.length],
        ["", "db1", "192.0.2.1:22", "refused", 0, 0],
        ["", "db2", `127.0.0.1:${target.port}`, "failed", 0, 0],
      ],
    );
    assert.match(rows[0]!.source, /^127\.0\.0\.1:\d+$/);
  } finally {
    await world.close();
  }
});

Deno.test("stopping the server closes its published ports and their connections", async () => {
  await using target = tcpTarget(echo);
  const world = await World.create({
    publish: [{ listen: "127.0.0.1:0", agent: "db1", target: `127.0.0.1:${target.port}` }],
  });
  try {
    const secret = "db1-secret-for-the-published-port-test";
    await world.agentFile("db1", { secret });
    await world.agent({ identity: { name: "db1", secret } });
    const addr = world.server.publishing.ports.get("127.0.0.1:0")!.addr;
    const conn = await connectTo(addr);
    await writeFull(conn, new Uint8Array([1]));
    assert.equal(await within(10_000, "echo", conn.read(new Uint8Array(1))), 1);
    await world.stopServer();
    const got = await within(10_000, "connection closed", readToEnd(conn));
    assert.ok(got === null || got.length === 0);
    conn.close();
    await assert.rejects(connectTo(addr), Deno.errors.ConnectionRefused);
  } finally {
    await world.close();
  }
});

Deno.test("clients of a published port whose agent is offline are logged once per window, not each", async () => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["burrow-test", "server"], sinks: ["memory"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  const world = await World.create({
    publish: [{ listen: "127.0.0.1:0", agent: "db2", target: "127.0.0.1:22" }],
  });
  try {
    const addr = world.server.publishing.ports.get("127.0.0.1:0")!.addr;
    for (let i = 0; i < 5; i++) {
      const conn = await connectTo(addr);
      const got = await within(10_000, "closed at once", readToEnd(conn));
      assert.ok(got === null || got.length === 0);
      conn.close();
    }
    const lines = records.map((r) => r.message.map(String).join(""))
      .filter((m) => m.includes("not connected"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0]!, /agent db2 is not connected/);
  } finally {
    await world.close();
    await reset();
  }
});
