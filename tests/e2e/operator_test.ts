/**
 * The operator path end to end: operator → wss → server → wss → agent →
 * target, with real TLS, a real identified agent and the audit database.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { OpenedStream } from "../../shared/open/mod.ts";
import { OpenError } from "../../shared/open/mod.ts";
import { DialError } from "../../shared/transport/dial.ts";
import { echo, tcpTarget, udpEcho } from "../forward/helpers.ts";
import { concat } from "../../shared/bytes.ts";
import { DatagramDecoder, encodeDatagram } from "../../shared/forward/mod.ts";
import { dialOperator } from "../helpers/operator_client.ts";
import { randomBytes, settled, within } from "../helpers/streams.ts";
import { until, World } from "./world.ts";

const MiB = 1024 * 1024;

/** A world with agent `db1` identified and connected. */
async function worldWithAgent(server: Record<string, unknown> = {}): Promise<World> {
  const world = await World.create(server);
  try {
    await world.agentFile("db1", { secret: "db1-secret" });
    await world.agent({ identity: { name: "db1", secret: "db1-secret" } });
    return world;
  } catch (e) {
    await world.close();
    throw e;
  }
}

/** Sends `data` in 64 KiB writes then FIN, while hashing what comes back. */
async function echoThrough(opened: OpenedStream, data: Uint8Array): Promise<void> {
  const sending = (async () => {
    for (let at = 0; at < data.length; at += 64 * 1024) {
      await opened.stream.write(data.subarray(at, at + 64 * 1024));
    }
    opened.stream.closeWrite();
  })();
  const hash = createHash("sha256");
  let n = 0;
  for (let c = await opened.stream.read(); c !== null; c = await opened.stream.read()) {
    hash.update(c);
    n += c.length;
  }
  await sending;
  assert.equal(n, data.length);
  assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
}

/** Channel rows of the server's audit, oldest first. */
function channelRows(world: World) {
  world.server.audit.store.flush();
  return world.server.audit.store.query.channels({ limit: 1000 }).items.reverse();
}

/** Waits until every channel row is closed, then returns them. */
async function closedRows(world: World, count: number) {
  await until(`${count} closed channel rows`, () => {
    const rows = channelRows(world);
    return rows.length >= count && rows.every((r) => r.result !== "open");
  });
  return channelRows(world);
}

/** An OpenError refusal with `code` whose message contains `text`. */
function refused(code: string, text: string) {
  return (e: unknown) => {
    assert.ok(e instanceof OpenError, `expected OpenError, got ${e}`);
    assert.equal(e.remoteCode, code, e.message);
    assert.ok(e.message.includes(text), e.message);
    return true;
  };
}

Deno.test("operator forward: 100 MiB of random data intact both ways through server and agent", async () => {
  const world = await worldWithAgent();
  await using target = tcpTarget(echo);
  try {
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    const opened = await op.forward("db1", "127.0.0.1", target.port);
    assert.deepEqual(opened.data, { address: "127.0.0.1", port: target.port });
    await within(60_000, "100 MiB echoed", echoThrough(opened, randomBytes(100 * MiB)));
    const [row] = await closedRows(world, 1);
    assert.deepEqual(
      [row!.operator, row!.agent, row!.kind, row!.result, row!.bytesUp, row!.bytesDown],
      ["alice", "db1", "forward", "ok", 100 * MiB, 100 * MiB],
    );
  } finally {
    await world.close();
  }
});

Deno.test("operator forward: 50 parallel connections intact, each its own audit row", async () => {
  const world = await worldWithAgent();
  await using target = tcpTarget(echo);
  try {
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    const data = randomBytes(50 * 256 * 1024);
    await within(
      60_000,
      "50 parallel echoes",
      Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const opened = await op.forward("db1", "127.0.0.1", target.port);
        await echoThrough(opened, data.subarray(i * 256 * 1024, (i + 1) * 256 * 1024));
      })),
    );
    const rows = await closedRows(world, 50);
    assert.equal(rows.length, 50);
    assert.ok(rows.every((r) => r.result === "ok" && r.bytesUp === 256 * 1024));
  } finally {
    await world.close();
  }
});

Deno.test("operator UDP forward: datagrams (one of 60 KB) echoed with their boundaries through server and agent", async () => {
  const world = await worldWithAgent();
  await using udp = await udpEcho();
  try {
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    const flow = await op.forward("db1", "127.0.0.1", udp.port, { udp: true });
    const big = randomBytes(60_000);
    await flow.stream.write(
      concat([encodeDatagram(new TextEncoder().encode("ping")), encodeDatagram(big)]),
    );
    const decoder = new DatagramDecoder();
    const got: Uint8Array[] = [];
    while (got.length < 2) {
      const chunk = await within(10_000, "echoed datagrams", flow.stream.read());
      assert.ok(chunk !== null, "the flow ended early");
      got.push(...decoder.push(chunk));
    }
    assert.equal(new TextDecoder().decode(got[0]!), "ping");
    assert.deepEqual(got[1], big);
    flow.stream.closeWrite();
    assert.equal(await flow.stream.read(), null);
    const [row] = await closedRows(world, 1);
    assert.deepEqual([row!.kind, row!.result], ["udp", "ok"]);
  } finally {
    await world.close();
  }
});

Deno.test("operator refusals each give a clear error and an audit row", async () => {
  const world = await worldWithAgent();
  try {
    const forwardOnly = await world.operator("alice", { kinds: ["forward"], agents: ["db1"] });
    const otherAgents = await world.operator("bob", { agents: ["web-*"] });
    // A bad token: 401, and an operator refusal row.
    await assert.rejects(
      dialOperator(world.port, "burrow_not-a-token", world.caCert),
      (e: unknown) => e instanceof DialError && e.status === 401,
    );
    await using alice = await dialOperator(world.port, forwardOnly, world.caCert);
    await using bob = await dialOperator(world.port, otherAgents, world.caCert);
    await assert.rejects(
      alice.forward("db1", "127.0.0.1", 53, { udp: true }),
      refused("unauthorized", "operator alice may not use kind udp"),
    );
    await assert.rejects(
      bob.forward("db1", "127.0.0.1", 22),
      refused("unauthorized", "agent db1 is not in operator bob's agents"),
    );
    await assert.rejects(
      alice.forward("db1", "10.20.30.40", 5432),
      refused("policy", "refused by agent policy"),
    );
    await assert.rejects(
      alice.forward("db1", "169.254.169.254", 80),
      refused("policy", "refused by agent policy: 169.254.169.254:80 is cloud metadata"),
    );
    await assert.rejects(
      alice.forward("db2", "127.0.0.1", 22),
      refused("unauthorized", "agent db2 is not in operator alice's agents"),
    );
    const rows = (await closedRows(world, 5)).map((r) => [r.operator, r.kind, r.result, r.detail]);
    assert.deepEqual(rows.slice(0, 2), [
      ["alice", "udp", "refused", "operator alice may not use kind udp"],
      ["bob", "forward", "refused", "agent db1 is not in operator bob's agents"],
    ]);
    assert.deepEqual(rows[2]!.slice(0, 3), ["alice", "forward", "refused"]);
    assert.match(String(rows[2]![3]), /^refused by agent policy: 10\.20\.30\.40:5432/);
    assert.deepEqual(rows[3], [
      "alice",
      "forward",
      "refused",
      "refused by agent policy: 169.254.169.254:80 is cloud metadata",
    ]);
    world.server.audit.refusals.close();
    world.server.audit.store.flush();
    const refusals = world.server.audit.store.query.refusals({ kind: "operator" }).items;
    assert.deepEqual(refusals.map((r) => [r.identity, r.reason]), [["", "wrong token"]]);
  } finally {
    await world.close();
  }
});

Deno.test("operator rate limiting: wrong tokens lock the address out, then the lockout expires", async () => {
  const world = await World.create({
    limits: { authFailures: { perAddress: 3, window: "1s", lockout: "1s", maxLockout: "1s" } },
  });
  try {
    const token = await world.operator("alice");
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        dialOperator(world.port, `burrow_wrong${i}`, world.caCert),
        (e: unknown) => e instanceof DialError && e.status === 401,
      );
    }
    // Locked out: the right token gets the same 401.
    await assert.rejects(
      dialOperator(world.port, token, world.caCert),
      (e: unknown) => e instanceof DialError && e.status === 401,
    );
    // The lockout ends (1 s): the right token works again.
    let op: Awaited<ReturnType<typeof dialOperator>> | null = null;
    const start = performance.now();
    while (op === null && performance.now() - start < 15_000) {
      op = await dialOperator(world.port, token, world.caCert).catch(() => null);
      if (op === null) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(op !== null, "the right token works once the lockout ended");
    await op[Symbol.asyncDispose]();
  } finally {
    await world.close();
  }
});

Deno.test("operator forward to a target that never reads: the operator's writes stall, buffers stay bounded", async () => {
  const world = await worldWithAgent();
  const stop = Promise.withResolvers<void>();
  await using target = tcpTarget(async () => await stop.promise);
  try {
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    const opened = await op.forward("db1", "127.0.0.1", target.port);
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    const writing = (async () => {
      try {
        while (written < 512 * MiB) {
          await opened.stream.write(chunk);
          written += chunk.length;
        }
      } catch {
        // Reset below.
      }
    })();
    const stalled = await settled(() => written, 500, 30_000);
    // Two mux windows (16 MiB each at most) plus the kernel's socket buffers.
    assert.ok(
      stalled < 64 * MiB,
      `operator wrote ${stalled} bytes into a target that reads nothing`,
    );
    const toAgent = world.server.directory.get("db1")!.session;
    assert.ok(toAgent.queuedBytes < MiB, `server queues ${toAgent.queuedBytes} bytes to the agent`);
    opened.stream.reset();
    stop.resolve();
    await writing;
  } finally {
    await world.close();
  }
});

Deno.test("an operator channel asked for while its agent redials waits for it (agents.holdTime)", async () => {
  const world = await worldWithAgent();
  await using target = tcpTarget(echo);
  try {
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    const first = world.server.directory.get("db1")!;
    await first.session.close(); // the link drops; the agent redials at once
    await until("db1 gone", () => world.server.directory.get("db1") === undefined);
    const opened = await op.forward("db1", "127.0.0.1", target.port);
    await echoThrough(opened, randomBytes(1000));
    assert.notEqual(world.server.directory.get("db1")!.session, first.session);
  } finally {
    await world.close();
  }
});

Deno.test("an operator channel to an agent that stopped (its FIN) is refused at once, not held", async () => {
  const world = await World.create();
  try {
    await world.agentFile("db1", { secret: "db1-secret" });
    const agent = await world.agent({ identity: { name: "db1", secret: "db1-secret" } });
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    await agent.close();
    await until("db1 gone", () => world.server.directory.get("db1") === undefined);
    const start = performance.now();
    await assert.rejects(op.forward("db1", "127.0.0.1", 9), refused("agent-offline", "db1"));
    assert.ok(performance.now() - start < 2000, "answered without waiting the hold time");
  } finally {
    await world.close();
  }
});

Deno.test("an agent identity revoked (its secret changed) resets the channels open through it", async () => {
  const world = await worldWithAgent();
  await using target = tcpTarget(echo);
  try {
    const token = await world.operator("alice");
    await using op = await dialOperator(world.port, token, world.caCert);
    const opened = await op.forward("db1", "127.0.0.1", target.port);
    await opened.stream.write(new TextEncoder().encode("before"));
    assert.equal(new TextDecoder().decode((await opened.stream.read())!), "before");
    // A stolen secret is rotated: the agent holding it must not keep carrying channels.
    await world.agentFile("db1", { secret: "rotated-secret" });
    await until("db1 revoked", () => world.server.directory.get("db1") === undefined);
    const ended = await within(
      10_000,
      "the channel to end",
      opened.stream.read().then((c) => (c === null ? "fin" : "data"), () => "reset"),
    );
    assert.equal(ended, "reset", "the channel was reset, not left open");
    const rows = await closedRows(world, 1);
    assert.equal(rows[0]!.result, "failed");
  } finally {
    await world.close();
  }
});
