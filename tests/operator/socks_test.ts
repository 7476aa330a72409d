import assert from "node:assert/strict";
import { OperatorLink } from "../../operator/link.ts";
import { SocksServer } from "../../operator/socks_server.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { within } from "../helpers/streams.ts";
import { TestOperatorServer } from "./server.ts";
import { HAS_IPV6_LOOPBACK } from "../helpers/ipv6.ts";

type Target = { name: string } | { ipv4: string } | { ipv6: string };

/** Reads exactly `n` bytes (fails at EOF). */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += r;
  }
  return out;
}

/**
 * A tiny SOCKS5 client: greets with "no auth", sends `command` (1 CONNECT)
 * for `target`, and returns the reply code with the connection.
 */
async function socksConnect(
  port: number,
  target: Target,
  targetPort: number,
  command = 1,
): Promise<{ reply: number; conn: Deno.TcpConn }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new Uint8Array([5, 1, 0]));
  assert.deepEqual(await readExactly(conn, 2), new Uint8Array([5, 0]));
  let address: number[];
  if ("name" in target) {
    const bytes = new TextEncoder().encode(target.name);
    address = [3, bytes.length, ...bytes];
  } else if ("ipv4" in target) address = [1, ...target.ipv4.split(".").map(Number)];
  else address = [4, ...new Uint8Array(16).fill(0, 0, 15).fill(1, 15)]; // ::1
  await conn.write(new Uint8Array([5, command, 0, ...address, targetPort >> 8, targetPort & 0xff]));
  const head = await readExactly(conn, 10);
  assert.equal(head[0], 5);
  return { reply: head[1]!, conn };
}

async function echoThrough(conn: Deno.TcpConn, text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  await conn.write(bytes);
  return new TextDecoder().decode(await readExactly(conn, bytes.length));
}

Deno.test("burrow socks: CONNECT by name (resolved by the agent), by IPv4 and IPv6 address", async () => {
  const asked: string[] = [];
  await using server = await TestOperatorServer.start({
    lookup: (name) => {
      asked.push(name);
      return Promise.resolve(name === "echo.internal" ? ["127.0.0.1"] : []);
    },
  });
  await using target = tcpTarget(echo);
  const link = await OperatorLink.connect(server.settings());
  const lines: string[] = [];
  const socks = SocksServer.listen({
    link,
    agent: "db1",
    spec: { bind: "127.0.0.1", port: 0 },
    report: (line) => lines.push(line),
  });
  try {
    const byName = await socksConnect(socks.addr.port, { name: "echo.internal" }, target.port);
    const byV4 = await socksConnect(socks.addr.port, { ipv4: "127.0.0.1" }, target.port);
    try {
      assert.equal(byName.reply, 0);
      assert.equal(byV4.reply, 0);
      assert.equal(await echoThrough(byName.conn, "by name"), "by name");
      assert.equal(await echoThrough(byV4.conn, "by address"), "by address");
    } finally {
      byName.conn.close();
      byV4.conn.close();
    }
    assert.deepEqual(asked, ["echo.internal"], "the name was resolved on the agent, once");
    assert.deepEqual(server.opened.slice(0, 2), [
      { agent: "db1", kind: "socks", host: "echo.internal", port: target.port },
      { agent: "db1", kind: "socks", host: "127.0.0.1", port: target.port },
    ]);
    // ::1 reaches the agent as an address; nothing listens there on that port: refused
    // (0x05). Without an IPv6 loopback the agent cannot dial it at all: general failure (0x01).
    const v6 = await socksConnect(socks.addr.port, { ipv6: "::1" }, target.port);
    v6.conn.close();
    assert.equal(server.opened[2]?.host, "::1");
    const replies = HAS_IPV6_LOOPBACK ? [0x05, 0x00] : [0x01];
    assert.ok(replies.includes(v6.reply), `reply ${v6.reply}`);
    assert.equal(socks.stats.total, 3);
  } finally {
    await Promise.all([socks.close(), link.close()]);
  }
});

Deno.test("burrow socks: refusals map to SOCKS reply codes with one line each", async () => {
  await using server = await TestOperatorServer.start({ lookup: () => Promise.resolve([]) });
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = probe.addr.port;
  probe.close();
  const link = await OperatorLink.connect(server.settings());
  const lines: string[] = [];
  const socks = SocksServer.listen({
    link,
    agent: "db1",
    spec: { bind: "127.0.0.1", port: 0 },
    report: (line) => lines.push(line),
    handshakeTimeout: 300,
  });
  const cases: [string, Target, number, number, RegExp][] = [
    ["policy", { ipv4: "192.0.2.1" }, 80, 0x02, /refused by agent policy/],
    ["refused", { ipv4: "127.0.0.1" }, closedPort, 0x05, /connection refused by 127\.0\.0\.1/],
    ["dns", { name: "nowhere.internal" }, 80, 0x04, /nowhere\.internal/],
  ];
  try {
    for (const [what, target, port, code, line] of cases) {
      const { reply, conn } = await socksConnect(socks.addr.port, target, port);
      const rest = await conn.read(new Uint8Array(1));
      conn.close();
      assert.equal(reply, code, what);
      assert.equal(rest, null, `${what}: closed after the reply`);
      assert.match(lines.at(-1)!, line, what);
      assert.match(lines.at(-1)!, /^socks 127\.0\.0\.1:\d+ -> db1 /);
    }
    // BIND: reply 0x07, and no stream opened.
    const opened = server.opened.length;
    const bind = await socksConnect(socks.addr.port, { ipv4: "127.0.0.1" }, 80, 2);
    bind.conn.close();
    assert.equal(bind.reply, 0x07);
    assert.match(lines.at(-1)!, /BIND is not supported, only CONNECT/);
    assert.equal(server.opened.length, opened);
    // A client that never sends its request is cut after the handshake timeout.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: socks.addr.port });
    const end = await within(5_000, "silent client cut", silent.read(new Uint8Array(8)));
    silent.close();
    assert.equal(end, null);
    assert.match(lines.at(-1)!, /a client sent no SOCKS5 request within 300 ms/);
  } finally {
    await Promise.all([socks.close(), link.close()]);
  }
});
