import assert from "node:assert/strict";
import { randomBytes, sha256, within } from "../helpers/streams.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { parseHostPort } from "../../shared/net/address.ts";
import { CidrSet } from "../../shared/net/cidr.ts";
import { formatAddress, PublishedPorts, type PublishEntry } from "../../server/publish/mod.ts";
import { connectTo, readToEnd, str, text, withPublishFixture, writeFull } from "./helpers.ts";
import { needsIpv6Loopback } from "../helpers/ipv6.ts";

const MiB = 1024 * 1024;

/** An entry publishing `listen` to 127.0.0.1:`targetPort` through agent db1. */
function entry(
  listen: string,
  targetPort: number,
  more: Partial<Omit<PublishEntry, "clients">> & { clients?: string[] } = {},
): PublishEntry {
  const at = parseHostPort(listen, { allowZero: true });
  const { clients, ...rest } = more;
  return {
    key: formatAddress(at),
    listen: at,
    agent: "db1",
    target: { hostname: "127.0.0.1", port: targetPort },
    clients: clients === undefined ? null : new CidrSet(clients),
    maxConnections: 256,
    ...rest,
  };
}

/** The bound address of the port published at `key`. */
function addrOf(ports: PublishedPorts, key: string): Deno.NetAddr {
  const port = ports.get(key);
  assert.ok(port !== undefined, `${key} is published`);
  return port.addr;
}

Deno.test("a published port carries 10 MiB both ways intact (SHA-256) and records the bytes", async () => {
  await using target = tcpTarget(echo);
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    try {
      await ports.start([entry("127.0.0.1:0", target.port)]);
      const conn = await connectTo(addrOf(ports, "127.0.0.1:0"));
      const data = randomBytes(10 * MiB);
      const [, back] = await Promise.all([
        writeFull(conn, data).then(() => conn.closeWrite()),
        readToEnd(conn),
      ]);
      conn.close();
      assert.equal(back?.length, data.length);
      assert.equal(sha256(back!), sha256(data));
      assert.deepEqual(await within(10_000, "channel end", f.endNumber(1)), {
        result: "ok",
        up: data.length,
        down: data.length,
        detail: undefined,
      });
      const [request] = f.requests;
      assert.equal(request?.kind, "published");
      assert.equal(request?.agent, "db1");
      assert.equal(request?.operator, "");
      assert.equal(`${request?.host}:${request?.port}`, `127.0.0.1:${target.port}`);
      assert.match(request?.source ?? "", /^127\.0\.0\.1:\d+$/);
      assert.equal(ports.get("127.0.0.1:0")?.stats.carried, 1);
    } finally {
      await ports.close();
    }
  });
});

Deno.test("a published port passes half-close on both ways", async () => {
  // The target reads to EOF before it answers: only works if the client's FIN came alone.
  await using target = tcpTarget(async (conn) => {
    const got = str(await readToEnd(conn));
    await writeFull(conn, text(`got ${got}`));
    await conn.closeWrite();
  });
  // The banner target sends a FIN first, then reads what the client still writes.
  const afterFin = Promise.withResolvers<string>();
  await using banner = tcpTarget(async (conn) => {
    await writeFull(conn, text("banner"));
    await conn.closeWrite();
    afterFin.resolve(str(await readToEnd(conn)));
  });
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    try {
      await ports.start([entry("127.0.0.1:0", target.port), entry("127.0.0.2:0", banner.port)]);
      // Client FIN first: the target still answers.
      const one = await connectTo(addrOf(ports, "127.0.0.1:0"));
      await writeFull(one, text("hello"));
      await one.closeWrite();
      assert.equal(str(await within(10_000, "answer", readToEnd(one))), "got hello");
      one.close();
      // Target FIN first: the client still writes, and the target reads it.
      const two = await connectTo(addrOf(ports, "127.0.0.2:0"));
      assert.equal(str(await within(10_000, "banner", readToEnd(two))), "banner");
      await writeFull(two, text("written after the target's FIN"));
      await two.closeWrite();
      const got = await within(10_000, "target reads", afterFin.promise);
      two.close();
      assert.equal(got, "written after the target's FIN");
      await within(10_000, "both ends", f.endNumber(2));
      assert.deepEqual(f.ends.map((e) => e.result), ["ok", "ok"]);
    } finally {
      await ports.close();
    }
  });
});

Deno.test("a client outside clients is closed at once, counted, and logged once per window", async () => {
  await using target = tcpTarget(echo);
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    try {
      await ports.start([
        entry("127.0.0.1:0", target.port, { clients: ["10.0.0.0/8", "::1"] }),
        entry("127.0.0.2:0", target.port, { clients: ["127.0.0.0/8"] }),
      ]);
      for (let i = 0; i < 3; i++) {
        const conn = await connectTo(addrOf(ports, "127.0.0.1:0"));
        const got = await within(10_000, "refused client closed", readToEnd(conn));
        assert.ok(got === null || got.length === 0, "no byte reaches a refused client");
        conn.close();
      }
      assert.equal(ports.get("127.0.0.1:0")?.stats.refusedClients, 3);
      assert.equal(f.requests.length, 0, "no channel is opened for a refused client");
      const refusals = f.messages("warning").filter((m) => m.includes("outside clients"));
      assert.equal(refusals.length, 1, refusals.join("\n"));
      assert.match(refusals[0]!, /Published port 127\.0\.0\.1:0: client 127\.0\.0\.1:\d+ refused/);
      // A client inside the networks of the other entry gets through.
      const ok = await connectTo(addrOf(ports, "127.0.0.2:0"));
      await writeFull(ok, text("ping"));
      await ok.closeWrite();
      assert.equal(str(await within(10_000, "echo", readToEnd(ok))), "ping");
      ok.close();
    } finally {
      await ports.close();
    }
  });
});

Deno.test("an offline agent or a refused target closes the client at once, logged once per port", async () => {
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    try {
      await ports.start([
        entry("127.0.0.1:0", 9, { agent: "db9" }),
        // Outside the agent's default allowlist (loopback only): refused by policy.
        { ...entry("127.0.0.2:0", 22), target: { hostname: "192.0.2.1", port: 22 } },
      ]);
      for (const key of ["127.0.0.1:0", "127.0.0.1:0", "127.0.0.2:0"]) {
        const conn = await connectTo(addrOf(ports, key));
        const got = await within(10_000, `${key} closed`, readToEnd(conn));
        assert.ok(got === null || got.length === 0);
        conn.close();
      }
      assert.equal(ports.get("127.0.0.1:0")?.stats.failed, 2);
      assert.equal(ports.get("127.0.0.2:0")?.stats.failed, 1);
      const warnings = f.messages("warning");
      const offline = warnings.filter((m) => m.includes("agent db9 is not connected"));
      assert.equal(offline.length, 1, warnings.join("\n"));
      assert.match(offline[0]!, /Published port 127\.0\.0\.1:0: client .* closed: .*agent-offline/);
      assert.equal(warnings.filter((m) => m.includes("(policy)")).length, 1, warnings.join("\n"));
      assert.equal(f.ends.length, 0, "no channel end without an open channel");
    } finally {
      await ports.close();
    }
  });
});

Deno.test("maxConnections: a client over the limit is closed at once; a freed slot is reused", async () => {
  await using target = tcpTarget(echo);
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    try {
      await ports.start([entry("127.0.0.1:0", target.port, { maxConnections: 2 })]);
      const addr = addrOf(ports, "127.0.0.1:0");
      const held: Deno.TcpConn[] = [];
      for (let i = 0; i < 2; i++) {
        const conn = await connectTo(addr);
        await writeFull(conn, text("x"));
        const buf = new Uint8Array(1);
        assert.equal(await within(10_000, "echo through", conn.read(buf)), 1);
        held.push(conn);
      }
      const over = await connectTo(addr);
      const got = await within(10_000, "over the limit closed", readToEnd(over));
      assert.ok(got === null || got.length === 0);
      over.close();
      assert.equal(ports.get("127.0.0.1:0")?.stats.refusedLimit, 1);
      assert.equal(ports.get("127.0.0.1:0")?.stats.live, 2);
      assert.equal(f.messages("warning").filter((m) => m.includes("maxConnections")).length, 1);
      // Free one slot: the next client is carried.
      await held[0]!.closeWrite();
      await readToEnd(held[0]!);
      held[0]!.close();
      await within(10_000, "first channel ends", f.endNumber(1));
      const next = await connectTo(addr);
      await writeFull(next, text("again"));
      await next.closeWrite();
      assert.equal(str(await within(10_000, "echo", readToEnd(next))), "again");
      next.close();
      held[1]!.close();
    } finally {
      await ports.close();
    }
  });
});

Deno.test("close() stops listening, closes live connections and awaits them", async () => {
  await using target = tcpTarget(echo);
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    await ports.start([entry("127.0.0.1:0", target.port), entry("127.0.0.2:0", target.port)]);
    const addrs = [addrOf(ports, "127.0.0.1:0"), addrOf(ports, "127.0.0.2:0")];
    const conns = await Promise.all(addrs.map(connectTo));
    for (const conn of conns) {
      await writeFull(conn, text("x"));
      assert.equal(await within(10_000, "echo through", conn.read(new Uint8Array(1))), 1);
    }
    await within(10_000, "close()", ports.close());
    for (const conn of conns) {
      const got = await within(10_000, "client sees the end", readToEnd(conn));
      assert.ok(got === null || got.length === 0);
      conn.close();
    }
    await assert.rejects(connectTo(addrs[0]!), Deno.errors.ConnectionRefused);
    await within(10_000, "both ends", f.endNumber(2));
    assert.deepEqual(f.ends.map((e) => [e.result, e.detail]), [
      ["failed", "server closing"],
      ["failed", "server closing"],
    ]);
    assert.deepEqual(ports.list(), []);
  });
});

Deno.test("start() fails on a taken address and leaves nothing listening", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    await assert.rejects(
      ports.start([entry("127.0.0.2:0", 9), entry(`127.0.0.1:${taken.addr.port}`, 9)]),
      new RegExp(`Cannot publish 127\\.0\\.0\\.1:${taken.addr.port}`),
    );
    assert.deepEqual(ports.list(), []);
  });
});

Deno.test("backpressure: a client writing to a target that never reads is held back, no buffer grows", async () => {
  const accepted = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  await using target = tcpTarget(async () => {
    accepted.resolve();
    await release.promise; // never reads
  });
  await withPublishFixture(async (f) => {
    const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
    try {
      await ports.start([entry("127.0.0.1:0", target.port)]);
      const conn = await connectTo(addrOf(ports, "127.0.0.1:0"));
      await within(10_000, "target reached", accepted.promise);
      // Socket buffers on both sides of the agent plus one mux window hold a few MiB;
      // with no backpressure the writes would never stall.
      const bound = 48 * MiB;
      const chunk = new Uint8Array(MiB);
      let written = 0;
      let pending: Promise<void> | null = null;
      while (written < bound) {
        pending = writeFull(conn, chunk);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = await Promise.race([
          pending.then(() => false),
          new Promise<boolean>((r) => timer = setTimeout(() => r(true), 1000)),
        ]);
        clearTimeout(timer);
        if (stalled) break;
        written += chunk.length;
        pending = null;
      }
      assert.ok(written < bound, `${written} bytes went in before the writes stalled`);
      conn.close();
      await pending?.catch(() => {});
      release.resolve();
    } finally {
      release.resolve();
      await ports.close();
    }
  });
});

Deno.test({
  name: "a reply written in two pieces reaches the client without waiting for a delayed ACK",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // The target answers each byte with "a", then "b" a moment later: with Nagle on the
    // server's client socket, "b" waits for the client's delayed ACK of "a" (~40 ms).
    await using target = tcpTarget(async (conn) => {
      conn.setNoDelay(true); // the target's own socket is not under test
      const buf = new Uint8Array(1);
      while (await conn.read(buf) !== null) {
        await writeFull(conn, text("a"));
        await new Promise((r) => setTimeout(r, 1));
        await writeFull(conn, text("b"));
      }
    });
    await withPublishFixture(async (f) => {
      const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
      try {
        await ports.start([entry("127.0.0.1:0", target.port)]);
        const conn = await connectTo(addrOf(ports, "127.0.0.1:0"));
        conn.setNoDelay(true);
        const times: number[] = [];
        const buf = new Uint8Array(2);
        for (let i = 0; i < 20; i++) {
          const started = performance.now();
          await writeFull(conn, text("q"));
          let got = 0;
          while (got < 2) got += (await within(10_000, "reply", conn.read(buf.subarray(got))))!;
          assert.equal(str(buf), "ab");
          times.push(performance.now() - started);
        }
        conn.close();
        // As in server/listen_test.ts: the quick-ACK start may let one or two through, and
        // load only adds time, so the third fastest tells Nagle apart.
        const third = times.toSorted((a, b) => a - b)[2]!;
        assert.ok(third < 20, `third fastest ${third.toFixed(1)} ms: ${times.map(Math.round)}`);
      } finally {
        await ports.close();
      }
    });
  },
});

Deno.test(
  "an IPv6 published port carries its clients and names them in brackets",
  needsIpv6Loopback,
  async () => {
    await using target = tcpTarget(echo);
    await withPublishFixture(async (f) => {
      const ports = new PublishedPorts({ openChannel: f.openChannel, log: f.log });
      try {
        await ports.start([entry("[::1]:0", target.port, { clients: ["::1/128"] })]);
        const addr = addrOf(ports, "[::1]:0");
        assert.equal(addr.hostname, "::1");
        const conn = await connectTo(addr);
        await writeFull(conn, text("v6"));
        await conn.closeWrite();
        assert.equal(str(await within(10_000, "echo", readToEnd(conn))), "v6");
        conn.close();
        assert.match(f.requests[0]?.source ?? "", /^\[::1\]:\d+$/);
      } finally {
        await ports.close();
      }
    });
  },
);
