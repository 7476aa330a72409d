import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { OperatorLink } from "../../operator/link.ts";
import { parseForwardSpec } from "../../operator/spec.ts";
import { UdpForwarder } from "../../operator/udp_forward.ts";
import { udpEcho } from "../forward/helpers.ts";
import { within } from "../helpers/streams.ts";
import { TestOperatorServer } from "./server.ts";

/** A local UDP client on 127.0.0.1 whose received datagrams queue up for `next()`. */
async function client(): Promise<
  { socket: Socket; next(): Promise<Uint8Array> } & AsyncDisposable
> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const got: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  socket.on("message", (m: Uint8Array) => {
    got.push(m);
    wake?.();
  });
  return {
    socket,
    async next() {
      while (got.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return got.shift()!;
    },
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function send(socket: Socket, port: number, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(data, port, "127.0.0.1", (e) => (e ? reject(e) : resolve()))
  );
}

/** Resolves once `predicate` holds, checking every 20 ms; rejects after `ms`. */
async function until(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > ms) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("UdpForwarder keeps two local sources apart and carries a 60 KB datagram", async () => {
  await using server = await TestOperatorServer.start();
  await using target = await udpEcho();
  const link = await OperatorLink.connect(server.settings());
  const lines: string[] = [];
  const forwarder = await UdpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${target.port}`),
    report: (line) => lines.push(line),
  });
  try {
    await using a = await client();
    await using b = await client();
    const port = forwarder.addr.port;
    const text = (d: Uint8Array) => new TextDecoder().decode(d);
    await send(a.socket, port, "a1");
    await send(b.socket, port, "b1");
    assert.equal(text(await within(5000, "a1 back", a.next())), "a1");
    assert.equal(text(await within(5000, "b1 back", b.next())), "b1");
    await send(b.socket, port, "b2");
    await send(a.socket, port, "a2");
    assert.equal(text(await within(5000, "a2 back", a.next())), "a2");
    assert.equal(text(await within(5000, "b2 back", b.next())), "b2");
    const big = Uint8Array.from({ length: 60_000 }, (_, i) => (i * 31) & 0xff);
    await send(a.socket, port, big);
    assert.deepEqual(new Uint8Array(await within(5000, "60 KB back", a.next())), big);
    assert.equal(forwarder.flows, 2, "one flow per local source");
    assert.equal(server.opened.length, 2);
    assert.deepEqual(server.opened[0], { agent: "db1", host: "127.0.0.1", port: target.port });
    assert.equal(forwarder.stats.up, 2 + 2 + 2 + 2 + 60_000);
    assert.deepEqual(lines, []);
  } finally {
    await Promise.all([forwarder.close(), link.close()]);
  }
  assert.equal(forwarder.stats.open, 0);
});

Deno.test("UdpForwarder closes a flow idle for --udp-idle; the next datagram opens a new one", async () => {
  await using server = await TestOperatorServer.start();
  await using target = await udpEcho();
  const link = await OperatorLink.connect(server.settings());
  const forwarder = await UdpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${target.port}`),
    report: () => {},
    idleTimeout: 300,
  });
  try {
    await using a = await client();
    await send(a.socket, forwarder.addr.port, "x");
    await within(5000, "x back", a.next());
    assert.equal(forwarder.stats.open, 1);
    // The flow's FIN reaches the agent, whose relay closes its socket and ends its side.
    await until("the idle flow is closed on both sides", () => forwarder.stats.open === 0);
    assert.equal(forwarder.flows, 0);
    await send(a.socket, forwarder.addr.port, "y");
    assert.equal(new TextDecoder().decode(await within(5000, "y back", a.next())), "y");
    assert.equal(forwarder.stats.total, 2);
    assert.equal(server.opened.length, 2);
  } finally {
    await Promise.all([forwarder.close(), link.close()]);
  }
});

Deno.test("UdpForwarder drops datagrams from sources beyond maxFlows and says so once", async () => {
  await using server = await TestOperatorServer.start();
  await using target = await udpEcho();
  const link = await OperatorLink.connect(server.settings());
  const lines: string[] = [];
  const forwarder = await UdpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${target.port}`),
    report: (line) => lines.push(line),
    maxFlows: 1,
  });
  try {
    await using a = await client();
    await using b = await client();
    await send(a.socket, forwarder.addr.port, "a");
    await within(5000, "a back", a.next());
    await send(b.socket, forwarder.addr.port, "b1");
    await send(b.socket, forwarder.addr.port, "b2");
    await until("both datagrams of b dropped", () => forwarder.dropped === 2);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^udp 127\.0\.0\.1:\d+ -> db1 127\.0\.0\.1:\d+: 1 flows open, dropping datagrams from new sources like 127\.0\.0\.1:\d+$/,
    );
    assert.equal(server.opened.length, 1);
  } finally {
    await Promise.all([forwarder.close(), link.close()]);
  }
});

/** A DNS server on 127.0.0.1 answering every A question with `address` (one answer, TTL 60). */
async function dnsServer(
  address: number[],
): Promise<{ port: number; queries: number } & AsyncDisposable> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const server = {
    port: socket.address().port,
    queries: 0,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on("message", (query: Uint8Array, from: { address: string; port: number }) => {
    server.queries++;
    let end = 12; // header; then the question's name, its labels up to the empty one
    while (query[end] !== 0) end += query[end]! + 1;
    end += 1 + 4; // the root label, QTYPE and QCLASS
    const header = [query[0]!, query[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    const answer = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...address];
    const reply = new Uint8Array([...header, ...query.subarray(12, end), ...answer]);
    socket.send(reply, from.port, from.address);
  });
  return server;
}

Deno.test("UdpForwarder carries DNS: a resolver pointed at the local port gets the answer", async () => {
  await using server = await TestOperatorServer.start();
  await using dns = await dnsServer([10, 1, 2, 3]);
  const link = await OperatorLink.connect(server.settings());
  const forwarder = await UdpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${dns.port}`),
    report: () => {},
  });
  try {
    // What `dig @127.0.0.1 -p PORT db.internal` does, through Deno's own resolver.
    const answer = await within(
      10_000,
      "the DNS answer",
      Deno.resolveDns("db.internal", "A", {
        nameServer: { ipAddr: "127.0.0.1", port: forwarder.addr.port },
      }),
    );
    assert.deepEqual(answer, ["10.1.2.3"]);
    assert.ok(dns.queries >= 1, "the query reached the DNS server through the agent");
  } finally {
    await Promise.all([forwarder.close(), link.close()]);
  }
});

Deno.test("UdpForwarder resets a closed flow whose agent never answers its FIN", async () => {
  // A misbehaving agent: accepts, reads to our FIN, and never ends its side.
  const held: Promise<void>[] = [];
  await using server = await TestOperatorServer.start({
    udpHandler: async (incoming) => {
      await incoming.accept({ address: "127.0.0.1", port: 9 });
      const done = (async () => {
        try {
          while ((await incoming.stream.read()) !== null) {
            // dropped
          }
          await incoming.stream.closed;
        } catch {
          // Reset by the operator: what the test waits for.
        }
      })();
      held.push(done);
      await done;
    },
  });
  const link = await OperatorLink.connect(server.settings());
  const forwarder = await UdpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec("0:127.0.0.1:9"),
    report: () => {},
    idleTimeout: 200,
  });
  try {
    await using a = await client();
    await send(a.socket, forwarder.addr.port, "x");
    await until("the flow opened", () => forwarder.stats.total === 1);
    await until("the flow expired", () => forwarder.flows === 0);
    await until("the unanswered flow is gone", () => forwarder.stats.open === 0);
    await within(5000, "the agent's side sees the reset", Promise.all(held));
  } finally {
    await Promise.all([forwarder.close(), link.close()]);
  }
});
