/**
 * The operator client (`operator/`) against the real server and a real
 * identified agent: operator → wss → server → wss → agent → target, with
 * the forwarders, the SOCKS5 front end and the refusal lines a user sees.
 */

import assert from "node:assert/strict";
import { OperatorLink } from "../../operator/link.ts";
import { type OperatorSettings, operatorUrl } from "../../operator/settings.ts";
import { SocksServer } from "../../operator/socks_server.ts";
import { parseForwardSpec } from "../../operator/spec.ts";
import { TcpForwarder } from "../../operator/tcp_forward.ts";
import { UdpForwarder } from "../../operator/udp_forward.ts";
import { echo, tcpTarget, udpEcho } from "../forward/helpers.ts";
import { randomBytes, sha256, within } from "../helpers/streams.ts";
import { until, World } from "./world.ts";

/** A world with agent `db1` identified and connected, and operator alice's settings. */
async function worldWithAgent(
  spec: { agents?: string[]; kinds?: string[] } = {},
): Promise<{ world: World; settings: OperatorSettings }> {
  const world = await World.create();
  try {
    await world.agentFile("db1", { secret: "db1-secret" });
    await world.agent({ identity: { name: "db1", secret: "db1-secret" } });
    const token = await world.operator("alice", spec);
    const server = operatorUrl(`https://127.0.0.1:${world.port}`, "test");
    return { world, settings: { server, token, caFile: world.caFile, insecure: false } };
  } catch (e) {
    await world.close();
    throw e;
  }
}

/** Sends `data` through `port` and half-closes, while reading everything back. */
async function echoThrough(port: number, data: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const writing = (async () => {
      let at = 0;
      while (at < data.length) at += await conn.write(data.subarray(at, at + 65536));
      await conn.closeWrite();
    })();
    const out = new Uint8Array(data.length);
    const buf = new Uint8Array(65536);
    let got = 0;
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      assert.ok(got + n <= out.length, "more bytes back than sent");
      out.set(buf.subarray(0, n), got);
      got += n;
    }
    await writing;
    assert.equal(got, data.length);
    return sha256(out);
  } finally {
    conn.close();
  }
}

Deno.test("burrow forward through the real server: 100 MiB and 50 parallel connections intact, a refusal line", async () => {
  const { world, settings } = await worldWithAgent();
  await using target = tcpTarget(echo);
  const link = await OperatorLink.connect(settings);
  const lines: string[] = [];
  const forward = TcpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${target.port}`),
    report: (line) => lines.push(line),
  });
  const metadata = TcpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec("0:169.254.169.254:80"),
    report: (line) => lines.push(line),
  });
  try {
    const big = randomBytes(100 * 1024 * 1024);
    assert.equal(
      await within(60_000, "100 MiB echoed", echoThrough(forward.addr.port, big)),
      sha256(big),
    );
    const data = randomBytes(50 * 64 * 1024);
    await within(
      60_000,
      "50 parallel echoes",
      Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const part = data.subarray(i * 65536, (i + 1) * 65536);
        assert.equal(await echoThrough(forward.addr.port, part), sha256(part));
      })),
    );
    assert.equal(forward.stats.total, 51);
    await echoThrough(metadata.addr.port, new Uint8Array(0));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /^forward 127\.0\.0\.1:\d+ -> db1 169\.254\.169\.254:80: refused by agent policy: /,
    );
    world.server.audit!.store.flush();
    await until("audit rows of 52 channels", () => {
      world.server.audit!.store.flush();
      return world.server.audit!.store.query.channels({ limit: 100 }).items.length >= 52;
    });
  } finally {
    await Promise.all([forward.close(), metadata.close(), link.close()]);
    await world.close();
  }
});

Deno.test("burrow socks and forward --udp through the real server; an agent the operator may not use", async () => {
  const { world, settings } = await worldWithAgent({ agents: ["db1"] });
  await using target = tcpTarget(echo);
  await using udpTarget = await udpEcho();
  const link = await OperatorLink.connect(settings);
  const lines: string[] = [];
  const socks = SocksServer.listen({
    link,
    agent: "db1",
    spec: { bind: "127.0.0.1", port: 0 },
    report: (line) => lines.push(line),
  });
  const other = TcpForwarder.listen({
    link,
    agent: "db2",
    spec: parseForwardSpec(`0:127.0.0.1:${target.port}`),
    report: (line) => lines.push(line),
  });
  const udp = await UdpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${udpTarget.port}`),
    report: (line) => lines.push(line),
  });
  try {
    // SOCKS5 CONNECT to "localhost", a name the agent resolves.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: socks.addr.port });
    const name = new TextEncoder().encode("localhost");
    await conn.write(new Uint8Array([5, 1, 0]));
    await conn.write(
      new Uint8Array([5, 1, 0, 3, name.length, ...name, target.port >> 8, target.port & 0xff]),
    );
    const reply = new Uint8Array(12);
    let got = 0;
    while (got < 12) got += (await conn.read(reply.subarray(got))) ?? 12;
    assert.deepEqual([...reply.subarray(0, 4)], [5, 0, 5, 0], "no auth, then CONNECT succeeded");
    await conn.write(new TextEncoder().encode("socks"));
    const back = new Uint8Array(5);
    got = 0;
    while (got < 5) got += (await conn.read(back.subarray(got))) ?? 5;
    conn.close();
    assert.equal(new TextDecoder().decode(back), "socks");

    // An agent outside the operator's list: the server's own refusal, as one line.
    await echoThrough(other.addr.port, new Uint8Array(0));
    assert.match(
      lines.at(-1)!,
      /^forward 127\.0\.0\.1:\d+ -> db2 127\.0\.0\.1:\d+: agent db2 is not in operator alice.s agents$/,
    );

    // UDP: one datagram there and back.
    const { createSocket } = await import("node:dgram");
    const client = createSocket("udp4");
    const answer = new Promise<string>((resolve) =>
      client.once("message", (m) => resolve(m.toString()))
    );
    await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", () => resolve()));
    client.send("dgram", udp.addr.port, "127.0.0.1");
    assert.equal(await within(10_000, "datagram back", answer), "dgram");
    await new Promise<void>((resolve) => client.close(() => resolve()));
    // The server audited each channel by its kind: socks, the refused forward, udp.
    await until("audit rows of the socks, refused forward and udp channels", () => {
      world.server.audit!.store.flush();
      const rows = world.server.audit!.store.query.channels({ limit: 100 }).items;
      const kinds = rows.map((r) => `${r.kind}:${r.agent}`).sort();
      return JSON.stringify(kinds) === JSON.stringify(["forward:db2", "socks:db1", "udp:db1"]);
    });
  } finally {
    await Promise.all([socks.close(), other.close(), udp.close(), link.close()]);
    await world.close();
  }
});
