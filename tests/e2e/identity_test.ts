/**
 * Agent identities end to end: an agent with only an identity stays
 * connected and is listed; two agents with one name (the newer wins); a
 * refusal in the audit; the audit session surviving a reconnect inside the
 * grace period while a request made in the gap is held and answered; the
 * audit file keeping its history across a server restart.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { until, World } from "./world.ts";
import { childEnv } from "../helpers/burrow.ts";

const SECRET = "db1-identity-secret";

Deno.test("an agent with only an identity stays connected past registerTimeout and is listed with its session", async () => {
  const world = await World.create({ agents: { registerTimeout: "300ms" } });
  try {
    await world.agentFile("db1", { secret: SECRET, groups: ["ops"] });
    const agent = await world.agent({ identity: { name: "db1", secret: SECRET } });
    const first = world.server.directory.get("db1")!.session;
    await new Promise((r) => setTimeout(r, 600));
    const listed = world.server.directory.get("db1");
    assert.ok(listed, "db1 is in the directory");
    // The same connection, not one redialled after registerTimeout closed the first.
    assert.equal(listed.session, first);
    assert.equal(first.isClosed, false);
    assert.deepEqual(listed.groups, ["ops"]);
    assert.equal(listed.address, "127.0.0.1");
    assert.equal(listed.agent.os, Deno.build.os);
    assert.equal(agent.identity()?.identified, true, "not closed for registering no domain");
    assert.deepEqual(world.server.directory.list().map((a) => a.name), ["db1"]);
    world.server.audit.store.flush();
    const sessions = world.server.audit.store.query.sessions({ agent: "db1" }).items;
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.id, listed.sessionId);
    assert.equal(sessions[0]!.disconnectedAt, null);
    assert.equal(sessions[0]!.os, Deno.build.os);
  } finally {
    await world.close();
  }
});

Deno.test("a wrong identity secret is refused and recorded; the agent keeps retrying", async () => {
  const world = await World.create();
  try {
    await world.agentFile("db1", { secret: SECRET });
    const agent = await world.agent({ identity: { name: "db1", secret: "wrong" } }, false);
    await until("a refusal", () => agent.identity()?.lastError !== null);
    assert.match(agent.identity()!.lastError!, /identity refused/);
    assert.equal(world.server.directory.get("db1"), undefined);
    world.server.audit.refusals.flush();
    world.server.audit.store.flush();
    const rows = world.server.audit.store.query.refusals({ kind: "agent" }).items;
    assert.ok(rows.length >= 1, "a refusal row");
    assert.equal(rows[0]!.identity, "db1");
    assert.equal(rows[0]!.reason, "bad-secret");
  } finally {
    await world.close();
  }
});

Deno.test("two agents with one name: the newer wins, the older is told and closed; the session goes on", async () => {
  const world = await World.create();
  try {
    await world.agentFile("db1", { secret: SECRET });
    const older = await world.agent({ identity: { name: "db1", secret: SECRET } });
    const before = world.server.directory.get("db1")!;
    const newer = await world.agent({ identity: { name: "db1", secret: SECRET } });
    await until(
      "the older to be replaced",
      () => /replaced/.test(older.identity()?.lastError ?? ""),
    );
    const after = world.server.directory.get("db1")!;
    assert.notEqual(after.session, before.session);
    assert.equal(after.agent.id, newer.id);
    assert.equal(after.sessionId, before.sessionId, "one audit session for the name");
    await until("the older session to close", () => before.session.isClosed);
    assert.equal(newer.identity()?.identified, true);
  } finally {
    await world.close();
  }
});

Deno.test("an agent reconnecting inside the grace period keeps its session, and a request in the gap is answered", async () => {
  const world = await World.create({ audit: { sessionGrace: "30s" } });
  try {
    const backend = world.backend(() => new Response("back"));
    await world.domain("app.test", { secret: "s", active: true });
    await world.agentFile("db1", { secret: SECRET });
    await world.agent({
      identity: { name: "db1", secret: SECRET },
      domains: { "app.test": { secret: "s", targets: [{ target: backend.url }] } },
    });
    const first = world.server.directory.get("db1")!;
    // The link drops (the server ends the session): the agent redials at once.
    await first.session.close();
    await until("the registration to go", () => !world.server.agents.has("app.test"));
    const answer = await world.fetch("app.test", "/");
    assert.equal(answer.status, 200, "held until the agent was back");
    assert.equal(await answer.text(), "back");
    await until("db1 back", () => {
      const now = world.server.directory.get("db1");
      return now !== undefined && now.session !== first.session;
    });
    const second = world.server.directory.get("db1")!;
    assert.equal(second.sessionId, first.sessionId, "the same audit session");
    world.server.audit.store.flush();
    const [row] = world.server.audit.store.query.sessions({ agent: "db1" }).items;
    assert.equal(row!.reconnects, 1);
    assert.equal(row!.disconnectedAt, null);
  } finally {
    await world.close();
  }
});

Deno.test("the audit file keeps its history across a server restart", async () => {
  const world = await World.create({ audit: { sessionGrace: 0 } });
  try {
    await world.agentFile("db1", { secret: SECRET });
    const agent = await world.agent({ identity: { name: "db1", secret: SECRET } });
    const id = world.server.directory.get("db1")!.sessionId;
    await world.stopServer();
    await world.startServer();
    world.server.audit.store.flush();
    const rows = world.server.audit.store.query.sessions({ agent: "db1" }).items;
    const old = rows.find((r) => r.id === id);
    assert.ok(old, "the session of before the restart is still there");
    assert.equal(old.reason, "server stopped");
    assert.notEqual(old.disconnectedAt, null);
    await until("db1 back", () => agent.identity()?.identified === true);
  } finally {
    await world.close();
  }
});

Deno.test("burrow agent runs with only an identity in its main file (no domain folder)", async () => {
  const world = await World.create();
  const main = fileURLToPath(new URL("../../main.ts", import.meta.url));
  try {
    await world.agentFile("db1", { secret: SECRET });
    const file = `${world.dir}/identity-agent.jsonc`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        mode: "agent",
        name: "db1",
        secret: SECRET,
        remote: `127.0.0.1:${world.port}`,
        caFile: world.caFile,
      }),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", main, "agent", "--config", file],
      env: childEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    try {
      await until("db1 identified", () => world.server.directory.get("db1") !== undefined, 20_000);
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      assert.equal(status.code, 0, await stderr);
    }
  } finally {
    await world.close();
  }
});
