/**
 * Agent identities by client certificate (`agentCertificates`): an agent
 * with a certificate signed by the configured CA is identified by its CN
 * and carries operator channels; a certificate from another CA fails the
 * handshake; a CN without an agent file is refused and audited; removing
 * the agent file ends the identity and its connection.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { type ClientCa, makeClientCa, makeClientCert } from "../helpers/client_certs.ts";
import { dialOperator } from "../helpers/operator_client.ts";
import { until, World } from "./world.ts";

/** A world whose server has an agent-certificate listener trusting `ca`. */
async function mtlsWorld(ca: ClientCa): Promise<World> {
  return await World.create({
    agentCertificates: { listen: "127.0.0.1:0", ca: ca.cert, cert: "cert.pem", key: "key.pem" },
  });
}

/** Starts an agent identifying with `cert` on the world's certificate listener. */
function certAgent(world: World, name: string, cert: { cert: string; key: string }, wait = true) {
  const port = world.server.agentTlsAddr!.port;
  return world.agent({
    identity: { name, certFile: cert.cert, keyFile: cert.key, remote: `127.0.0.1:${port}` },
  }, wait);
}

Deno.test("mTLS: an agent with a CA-signed certificate CN=db1 is identified and carries a forward", async () => {
  const ca = await makeClientCa();
  const world = await mtlsWorld(ca);
  await using target = tcpTarget(echo);
  try {
    await world.agentFile("db1", { groups: ["ops"] });
    const agent = await certAgent(world, "db1", await makeClientCert(ca, "db1"));
    const listed = world.server.directory.get("db1");
    assert.ok(listed, "db1 is identified");
    assert.deepEqual(listed.groups, ["ops"]);
    assert.equal(listed.address, "127.0.0.1");
    assert.equal(agent.identity()?.identified, true);
    // The agent's process, told on its Identify stream without a secret (the certificate is the proof).
    assert.equal(world.server.directory.get("db1")!.agent.os, Deno.build.os);
    assert.match(world.server.directory.get("db1")!.agent.version, /^\d+\.\d+\.\d+/);
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    const opened = await op.forward("db1", "127.0.0.1", target.port);
    await opened.stream.write(new TextEncoder().encode("hello over mTLS"));
    opened.stream.closeWrite();
    let text = "";
    for (let c = await opened.stream.read(); c !== null; c = await opened.stream.read()) {
      text += new TextDecoder().decode(c);
    }
    assert.equal(text, "hello over mTLS");
    world.server.audit.store.flush();
    const sessions = world.server.audit.store.query.sessions({ agent: "db1" }).items;
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.id, listed.sessionId);
    assert.equal(sessions[0]!.os, Deno.build.os, "the audit session has the agent's OS");
    assert.notEqual(sessions[0]!.version, "");
  } finally {
    await world.close();
    await Deno.remove(ca.dir, { recursive: true });
  }
});

Deno.test("mTLS: a certificate from another CA fails the handshake: no session", async () => {
  const ca = await makeClientCa();
  const other = await makeClientCa("Another CA");
  const world = await mtlsWorld(ca);
  try {
    await world.agentFile("db1", { secret: "unused-with-a-certificate" });
    const agent = await certAgent(world, "db1", await makeClientCert(other, "db1"), false);
    await until("a dial failure", () => agent.identity()?.lastError != null);
    assert.equal(agent.identity()?.identified, false);
    assert.equal(world.server.directory.get("db1"), undefined);
    assert.equal(world.server.agents.size, 0);
    world.server.audit.store.flush();
    assert.equal(world.server.audit.store.query.sessions({ agent: "db1" }).items.length, 0);
  } finally {
    await world.close();
    await Deno.remove(ca.dir, { recursive: true });
    await Deno.remove(other.dir, { recursive: true });
  }
});

Deno.test("mTLS: a CN without an agent file is refused, with a certificate refusal in the audit", async () => {
  const ca = await makeClientCa();
  const world = await mtlsWorld(ca);
  try {
    await certAgent(world, "db2", await makeClientCert(ca, "db2"), false);
    const refusals = () => {
      world.server.audit.refusals.flush();
      world.server.audit.store.flush();
      return world.server.audit.store.query.refusals({ kind: "certificate" }).items;
    };
    await until("a certificate refusal row", () => refusals().length > 0);
    const [row] = refusals();
    assert.equal(row!.identity, "db2");
    assert.equal(row!.source, "127.0.0.1");
    assert.equal(row!.reason, "unknown-agent");
    assert.equal(world.server.directory.get("db2"), undefined);
  } finally {
    await world.close();
    await Deno.remove(ca.dir, { recursive: true });
  }
});

Deno.test("mTLS: removing the agent file ends the certificate identity and its connection", async () => {
  const ca = await makeClientCa();
  const world = await mtlsWorld(ca);
  try {
    await world.agentFile("db1", { secret: "unused-with-a-certificate" });
    await certAgent(world, "db1", await makeClientCert(ca, "db1"));
    const held = world.server.directory.get("db1")!;
    await Deno.remove(join(world.dir, "agents.d", "db1.jsonc"));
    await until("db1 no longer identified", () => world.server.directory.get("db1") === undefined);
    await until("its session closed", () => held.session.isClosed);
    assert.equal(held.ended?.aborted, true);
    // Its redial is refused now: no agent file.
    await until("the redial refused", () => {
      world.server.audit.refusals.flush();
      world.server.audit.store.flush();
      return world.server.audit.store.query.refusals({ kind: "certificate" }).items.length > 0;
    });
    assert.equal(world.server.directory.get("db1"), undefined);
  } finally {
    await world.close();
    await Deno.remove(ca.dir, { recursive: true });
  }
});

Deno.test("mTLS: the agent file's networks are checked against the peer; a newer connection wins", async () => {
  const ca = await makeClientCa();
  const world = await mtlsWorld(ca);
  try {
    await world.agentFile("db3", { secret: "unused", networks: ["192.0.2.0/24"] });
    await certAgent(world, "db3", await makeClientCert(ca, "db3"), false);
    await until("a network refusal row", () => {
      world.server.audit.refusals.flush();
      world.server.audit.store.flush();
      const rows = world.server.audit.store.query.refusals({ kind: "certificate" }).items;
      return rows.some((r) => r.identity === "db3" && r.reason === "network");
    });
    assert.equal(world.server.directory.get("db3"), undefined);

    await world.agentFile("db1", { secret: "unused" });
    const cert = await makeClientCert(ca, "db1");
    const older = await certAgent(world, "db1", cert);
    const before = world.server.directory.get("db1")!;
    const newer = await certAgent(world, "db1", cert);
    await until("the older session to close", () => before.session.isClosed);
    // The older agent only got GoAway: it would redial and take the name back after its backoff.
    await older.close();
    await until("the newer agent to hold db1", () => {
      const now = world.server.directory.get("db1");
      return now !== undefined && !now.session.isClosed && newer.identity()?.identified === true;
    });
    const after = world.server.directory.get("db1")!;
    assert.notEqual(after.session, before.session);
    assert.equal(after.sessionId, before.sessionId, "one audit session for the name");
  } finally {
    await world.close();
    await Deno.remove(ca.dir, { recursive: true });
  }
});

Deno.test("mTLS: a CN that is not an agent name is refused; the agent gate's caps apply", async () => {
  const ca = await makeClientCa();
  const world = await World.create({
    agents: { maxPerAddress: 1 },
    agentCertificates: { listen: "127.0.0.1:0", ca: ca.cert, cert: "cert.pem", key: "key.pem" },
  });
  try {
    await certAgent(world, "db1", await makeClientCert(ca, "not a name"), false);
    await until("an invalid-CN refusal row", () => {
      world.server.audit.refusals.flush();
      world.server.audit.store.flush();
      const rows = world.server.audit.store.query.refusals({ kind: "certificate" }).items;
      return rows.some((r) => /is not a valid agent name/.test(r.reason));
    });
    assert.equal(world.server.directory.get("db1"), undefined);
    await world.close();
  } catch (e) {
    await world.close();
    throw e;
  }
  const capped = await World.create({
    agents: { maxPerAddress: 1 },
    agentCertificates: { listen: "127.0.0.1:0", ca: ca.cert, cert: "cert.pem", key: "key.pem" },
  });
  try {
    await capped.agentFile("db1", { secret: "unused" });
    await capped.agentFile("db2", { secret: "unused" });
    await certAgent(capped, "db1", await makeClientCert(ca, "db1"));
    // One connection from 127.0.0.1 already: db2's is closed by the gate, never identified.
    const db2 = await certAgent(capped, "db2", await makeClientCert(ca, "db2"), false);
    await until(
      "db2's connection closed",
      () => /Disconnected/.test(db2.identity()?.lastError ?? ""),
    );
    assert.equal(capped.server.directory.get("db2"), undefined);
    assert.equal(capped.server.agents.size, 1);
  } finally {
    await capped.close();
    await Deno.remove(ca.dir, { recursive: true });
  }
});

Deno.test("mTLS: connections stuck in their TLS handshake are bounded by agents.maxPending", async () => {
  const ca = await makeClientCa();
  const world = await World.create({
    agents: { maxPending: 2 },
    agentCertificates: { listen: "127.0.0.1:0", ca: ca.cert, cert: "cert.pem", key: "key.pem" },
  });
  const stuck: Deno.TcpConn[] = [];
  try {
    await world.agentFile("db1", { secret: "unused" });
    const port = world.server.agentTlsAddr!.port;
    // Two peers that never start their handshake hold the two slots.
    for (let i = 0; i < 2; i++) stuck.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await new Promise((r) => setTimeout(r, 200));
    // A third is dropped at once: its read ends instead of waiting for the 10 s handshake timeout.
    const third = await Deno.connect({ hostname: "127.0.0.1", port });
    const start = performance.now();
    const ended = await third.read(new Uint8Array(16)).catch(() => null);
    assert.equal(ended, null);
    assert.ok(performance.now() - start < 5000, "dropped, not timed out");
    third.close();
    // Slots freed: a real agent gets in.
    for (const c of stuck.splice(0)) c.close();
    await certAgent(world, "db1", await makeClientCert(ca, "db1"));
    assert.ok(world.server.directory.get("db1"));
  } finally {
    for (const c of stuck) c.close();
    await world.close();
    await Deno.remove(ca.dir, { recursive: true });
  }
});
