import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeOpen, StreamKind } from "../../shared/open/mod.ts";
import { concat } from "../../shared/bytes.ts";
import { DatagramDecoder, encodeDatagram } from "../../shared/forward/mod.ts";
import { echo, tcpTarget, udpEcho } from "../forward/helpers.ts";
import { randomBytes, settled, within } from "../helpers/streams.ts";
import { AGENT, openForward, withOperatorChannels } from "./fixture.ts";

const MiB = 1024 * 1024;
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** Reads a socket to EOF with `read()`. */
async function readConnToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const buf = new Uint8Array(64 * 1024);
  const chunks: Uint8Array[] = [];
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    chunks.push(buf.slice(0, n));
  }
  return concat(chunks);
}

/** Everything a readable yields, with its SHA-256. */
async function digest(readable: ReadableStream<Uint8Array>): Promise<[string, number]> {
  const hash = createHash("sha256");
  let n = 0;
  for await (const chunk of readable) {
    hash.update(chunk);
    n += chunk.length;
  }
  return [hash.digest("hex"), n];
}

Deno.test("operator TcpForward reaches the agent's target: echo intact, OK names the address, audit row ok with bytes", async () => {
  await using target = tcpTarget(echo);
  await withOperatorChannels({}, async ({ operator, channels }) => {
    const data = randomBytes(4 * 1024 * 1024);
    const opened = await openForward(operator, {
      agent: AGENT,
      host: "127.0.0.1",
      port: target.port,
    });
    assert.deepEqual(opened.data, { address: "127.0.0.1", port: target.port });
    const writer = opened.writable.getWriter();
    const sending = (async () => {
      for (let at = 0; at < data.length; at += 64 * 1024) {
        await writer.write(data.subarray(at, at + 64 * 1024));
      }
      await writer.close();
    })();
    const [, [got, n]] = await Promise.all([sending, digest(opened.readable)]);
    assert.equal(n, data.length);
    assert.equal(got, createHash("sha256").update(data).digest("hex"));
    await opened.stream.closed;
    await within(
      5000,
      "the channel row to close",
      (async () => {
        while (channels()[0]?.result !== "ok") await new Promise((r) => setTimeout(r, 10));
      })(),
    );
    const [row] = channels();
    assert.equal(row!.operator, "alice");
    assert.equal(row!.agent, AGENT);
    assert.equal(row!.kind, "forward");
    assert.equal(row!.target, `127.0.0.1:${target.port}`);
    assert.equal(row!.source, "127.0.0.1:40000");
    assert.equal(row!.bytesUp, data.length);
    assert.equal(row!.bytesDown, data.length);
  });
});

Deno.test("operator TcpForward half-close: the operator's FIN reaches the target, which still answers", async () => {
  await using target = tcpTarget(async (conn) => {
    const got = await readConnToEnd(conn);
    await conn.write(text(`got ${got.length} bytes: ${str(got)}`));
    await conn.closeWrite();
  });
  await withOperatorChannels({}, async ({ operator }) => {
    const opened = await openForward(operator, {
      agent: AGENT,
      host: "127.0.0.1",
      port: target.port,
    });
    const writer = opened.writable.getWriter();
    await writer.write(text("hello"));
    await writer.close();
    assert.equal(str(concat(await Array.fromAsync(opened.readable))), "got 5 bytes: hello");
  });
});

Deno.test("operator TcpForward half-close: the target's FIN reaches the operator, who still writes", async () => {
  const received = Promise.withResolvers<string>();
  await using target = tcpTarget(async (conn) => {
    await conn.write(text("banner"));
    await conn.closeWrite();
    received.resolve(str(await readConnToEnd(conn)));
  });
  await withOperatorChannels({}, async ({ operator }) => {
    const opened = await openForward(operator, {
      agent: AGENT,
      host: "127.0.0.1",
      port: target.port,
    });
    assert.equal(str(concat(await Array.fromAsync(opened.readable))), "banner");
    const writer = opened.writable.getWriter();
    await writer.write(text("after the target's FIN"));
    await writer.close();
    assert.equal(await received.promise, "after the target's FIN");
  });
});

Deno.test("an operator's reset ends the target's connection; the target's close ends the operator's stream", async () => {
  const closedByOperator = Promise.withResolvers<void>();
  let first = true;
  await using target = tcpTarget(async (conn) => {
    if (first) {
      first = false;
      await readConnToEnd(conn).catch(() => {});
      closedByOperator.resolve();
      return;
    }
    conn.close(); // the second connection: the target hangs up at once
  });
  await withOperatorChannels({}, async ({ operator, channels }) => {
    const a = await openForward(operator, { agent: AGENT, host: "127.0.0.1", port: target.port });
    a.stream.reset();
    await within(5000, "the target to see the operator's reset", closedByOperator.promise);
    const b = await openForward(operator, { agent: AGENT, host: "127.0.0.1", port: target.port });
    assert.equal((await Array.fromAsync(b.readable)).length, 0);
    b.stream.closeWrite();
    await within(
      5000,
      "both channel rows to close",
      (async () => {
        while (channels().some((c) => c.result === "open") || channels().length < 2) {
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
    );
    assert.equal(channels()[0]!.result, "failed");
  });
});

Deno.test("operator UdpForward carries datagrams both ways with their boundaries", async () => {
  await using udp = await udpEcho();
  await withOperatorChannels({}, async ({ operator }) => {
    const opened = await openForward(
      operator,
      { agent: AGENT, host: "127.0.0.1", port: udp.port },
      true,
    );
    const big = randomBytes(60_000);
    await opened.stream.write(concat([encodeDatagram(text("one")), encodeDatagram(big)]));
    const decoder = new DatagramDecoder();
    const got: Uint8Array[] = [];
    while (got.length < 2) {
      const chunk = await opened.stream.read();
      assert.notEqual(chunk, null);
      for (const d of decoder.push(chunk!)) got.push(d);
    }
    assert.equal(str(got[0]!), "one");
    assert.deepEqual(got[1], big);
    opened.stream.closeWrite();
    assert.equal(await opened.stream.read(), null);
  });
});

Deno.test("a target that never reads bounds memory on the server and the agent: the operator's writes stall", async () => {
  const stop = Promise.withResolvers<void>();
  await using target = tcpTarget(async () => await stop.promise);
  await withOperatorChannels({}, async (f) => {
    const opened = await openForward(f.operator, {
      agent: AGENT,
      host: "127.0.0.1",
      port: target.port,
    });
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
    const stalled = await settled(() => written, 500, 20_000);
    const server = f.operatorStreams[0]!;
    const agent = f.agentStreams[0]!;
    // Each hop holds at most its receive window (16 MiB at most, auto-tuned); nothing else grows.
    assert.ok(
      stalled < 64 * MiB,
      `operator wrote ${stalled} bytes into a target that reads nothing`,
    );
    assert.ok(server.buffered <= server.receiveWindow, `server holds ${server.buffered}`);
    assert.ok(server.buffered <= 16 * MiB);
    assert.ok(agent.buffered <= agent.receiveWindow, `agent holds ${agent.buffered}`);
    assert.ok(agent.buffered <= 16 * MiB);
    for (const s of [f.fromOperator, f.toAgent]) {
      assert.ok(s.queuedBytes < 1 * MiB, `a session queues ${s.queuedBytes} bytes`);
    }
    opened.stream.reset();
    stop.resolve();
    await writing;
  });
});

Deno.test("an agent session that ends resets the operator's channel", async () => {
  await using target = tcpTarget(echo);
  await withOperatorChannels({}, async ({ operator, toAgent, channels }) => {
    const opened = await openForward(operator, {
      agent: AGENT,
      host: "127.0.0.1",
      port: target.port,
    });
    await toAgent.close();
    await assert.rejects(opened.stream.read());
    await within(
      5000,
      "the channel row to close",
      (async () => {
        while (channels()[0]?.result !== "failed") await new Promise((r) => setTimeout(r, 10));
      })(),
    );
  });
});

Deno.test("an operator that resets its stream while the agent is still connecting gives the channel up", async () => {
  const lookupStarted = Promise.withResolvers<void>();
  const release = Promise.withResolvers<string[]>();
  await withOperatorChannels({
    lookup: () => {
      lookupStarted.resolve();
      return release.promise;
    },
    connectTimeout: 60_000,
    allow: ["0.0.0.0/0:*"],
  }, async ({ operator, channels, agentStreams }) => {
    const stream = await operator.open();
    await stream.write(
      encodeOpen({
        kind: StreamKind.TcpForward,
        params: { agent: AGENT, host: "slow.test", port: 22 },
      }),
    );
    await within(5000, "the agent to start resolving", lookupStarted.promise);
    stream.reset();
    await within(
      5000,
      "the channel row to say it was given up",
      (async () => {
        while (channels()[0]?.result !== "failed") await new Promise((r) => setTimeout(r, 10));
      })(),
    );
    assert.equal(channels()[0]!.detail, "the channel was given up before it opened");
    // The agent's answer comes later; its stream is reset then, not left open.
    release.resolve(["127.0.0.1"]);
    await within(5000, "the agent's stream to end", agentStreams[0]!.closed);
  });
});

Deno.test("an operator that never reads bounds memory the other way: the target's writes stall", async () => {
  let sent = 0;
  const stop = Promise.withResolvers<void>();
  await using target = tcpTarget(async (conn) => {
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (sent < 512 * MiB) {
        const n = await Promise.race([conn.write(chunk), stop.promise.then(() => 0)]);
        if (n === 0) return;
        sent += n;
      }
    } catch {
      // Reset below.
    }
  });
  await withOperatorChannels({}, async (f) => {
    const opened = await openForward(f.operator, {
      agent: AGENT,
      host: "127.0.0.1",
      port: target.port,
    });
    const stalled = await settled(() => sent, 500, 20_000);
    assert.ok(
      stalled < 64 * MiB,
      `the target wrote ${stalled} bytes to an operator that reads nothing`,
    );
    for (const s of [f.fromOperator, f.toAgent]) {
      assert.ok(s.queuedBytes < 1 * MiB, `a session queues ${s.queuedBytes} bytes`);
    }
    assert.ok(opened.stream.buffered <= opened.stream.receiveWindow);
    stop.resolve();
    opened.stream.reset();
  });
});
