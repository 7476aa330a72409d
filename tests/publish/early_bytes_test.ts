/**
 * The first bytes of a connection travel right behind the open request,
 * before the agent's answer, on the published port and on `burrow forward`:
 * a round trip to the agent less before a client that speaks first (HTTP,
 * a TLS ClientHello) is heard. The agent here answers only once it has seen
 * them (or after a grace period, so the old behaviour fails the check
 * instead of hanging).
 */
import assert from "node:assert/strict";
import { parseHostPort } from "../../shared/net/address.ts";
import { memoryPair } from "../../shared/transport/memory.ts";
import type { Conn } from "../../shared/transport/conn.ts";
import { Session } from "../../shared/mux/mod.ts";
import { serveStream, type StreamHandler, StreamKind } from "../../shared/open/mod.ts";
import { ForwardError, openTcpForward } from "../../shared/forward/mod.ts";
import { formatAddress, PublishedPorts } from "../../server/publish/mod.ts";
import type { OpenChannel } from "../../server/agent_directory.ts";
import { TcpForwarder } from "../../operator/tcp_forward.ts";
import { operatorHandlers } from "../../server/operator/channel_handlers.ts";
import { parseAgentSelector } from "../../server/access/selector.ts";
import { concat } from "../../shared/bytes.ts";
import { connectTo, readToEnd, str, text, withPublishFixture, writeFull } from "./helpers.ts";

/** How long the agent waits for early bytes before it answers anyway. */
const GRACE_MS = 2000;

/** What the agent saw of each stream: did bytes come before its answer? */
interface Seen {
  early: boolean[];
}

/**
 * An agent handler that waits for the opener's first bytes before answering
 * (at most GRACE_MS), then answers OK (or `refuse`), echoes what it read and ends.
 */
function answerAfterFirstBytes(seen: Seen, refuse = false): StreamHandler {
  return async (incoming) => {
    const first = incoming.stream.read();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), GRACE_MS));
    seen.early.push((await Promise.race([first, late])) !== "late");
    clearTimeout(timer);
    if (refuse) {
      await incoming.refuse("policy", "refused by agent policy: test");
      await first.catch(() => {});
      return;
    }
    await incoming.accept({ address: "127.0.0.1", port: 9 });
    const chunk = await first;
    if (chunk !== null) await incoming.stream.write(chunk);
    await incoming.stream.closeWrite();
  };
}

/** An opener session to an agent session serving `handler` for TcpForward. */
async function withAgent(
  handler: StreamHandler,
  body: (opener: Session) => Promise<void>,
  pair: () => [Conn, Conn] = memoryPair,
): Promise<void> {
  const [a, b] = pair();
  const agent = new Session(a, { client: true });
  const opener = new Session(b, { client: false });
  const handlers = new Map([[StreamKind.TcpForward, handler]]);
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for (let s = await agent.accept(); s !== null; s = await agent.accept()) {
      served.push(serveStream(s, handlers));
    }
  })();
  try {
    await body(opener);
  } finally {
    await opener.close();
    await agent.close();
    await accepting;
    await Promise.all(served);
  }
}

/** An OpenChannel through `opener` (TcpForward to 127.0.0.1:9), recording refusals. */
function openChannelThrough(
  opener: Session,
  ends: string[],
  ended?: PromiseWithResolvers<void>,
): OpenChannel {
  return async (request, _signal, onOpen) => {
    try {
      const forward = await openTcpForward(opener, request.host, request.port, {
        ...(onOpen === undefined ? {} : { onOpen }),
      });
      return {
        ok: true,
        stream: forward.stream,
        target: forward.target,
        end: (result) => {
          ends.push(result);
          ended?.resolve();
        },
      };
    } catch (e) {
      if (!(e instanceof ForwardError)) throw e;
      ends.push(`refused: ${e.message}`);
      return { ok: false, code: e.code, message: e.message };
    }
  };
}

function publishEntry() {
  const at = parseHostPort("127.0.0.1:0", { allowZero: true });
  return {
    key: formatAddress(at),
    listen: at,
    agent: "db1",
    target: { hostname: "127.0.0.1", port: 9 },
    clients: null,
    maxConnections: 16,
  };
}

Deno.test("a published port sends the client's first bytes before the agent's answer", async () => {
  const seen: Seen = { early: [] };
  await withAgent(answerAfterFirstBytes(seen), async (opener) => {
    await withPublishFixture(async (f) => {
      const ends: string[] = [];
      const ended = Promise.withResolvers<void>();
      const ports = new PublishedPorts({
        openChannel: openChannelThrough(opener, ends, ended),
        log: f.log,
      });
      try {
        await ports.start([publishEntry()]);
        const conn = await connectTo(ports.get("127.0.0.1:0")!.addr);
        await writeFull(conn, text("hello"));
        await conn.closeWrite();
        assert.equal(str(await readToEnd(conn)), "hello");
        conn.close();
        await ended.promise;
        assert.deepEqual(seen.early, [true]);
      } finally {
        await ports.close();
      }
      assert.deepEqual(ends, ["ok"]);
    });
  });
});

Deno.test("a published port whose agent refuses after the first bytes closes the client and records the refusal", async () => {
  const seen: Seen = { early: [] };
  await withAgent(answerAfterFirstBytes(seen, true), async (opener) => {
    await withPublishFixture(async (f) => {
      const ends: string[] = [];
      const ports = new PublishedPorts({
        openChannel: openChannelThrough(opener, ends),
        log: f.log,
      });
      try {
        await ports.start([publishEntry()]);
        const conn = await connectTo(ports.get("127.0.0.1:0")!.addr);
        await writeFull(conn, text("hello"));
        const back = await readToEnd(conn);
        conn.close();
        assert.ok(back === null || back.length === 0, "nothing comes back");
        assert.deepEqual(seen.early, [true]);
        const stats = ports.get("127.0.0.1:0")!.stats;
        assert.equal(stats.failed, 1);
        assert.equal(stats.carried, 0);
      } finally {
        await ports.close();
      }
      assert.deepEqual(ends, ["refused: refused by agent policy: test"]);
    });
  });
});

Deno.test("burrow forward sends the local connection's first bytes before the answer", async () => {
  const seen: Seen = { early: [] };
  await withAgent(answerAfterFirstBytes(seen), async (opener) => {
    const lines: string[] = [];
    const forwarder = TcpForwarder.listen({
      link: { session: () => Promise.resolve(opener) },
      agent: "db1",
      spec: { bind: "127.0.0.1", port: 0, host: "127.0.0.1", targetPort: 9, text: "0:127.0.0.1:9" },
      report: (line) => lines.push(line),
    });
    try {
      const conn = await connectTo(forwarder.addr);
      await writeFull(conn, text("hello"));
      assert.equal(str(await readToEnd(conn)), "hello");
      conn.close();
      assert.deepEqual(seen.early, [true]);
      assert.deepEqual(lines, []);
    } finally {
      await forwarder.close();
    }
  });
});

Deno.test("the server passes an operator's first bytes on to the agent before the agent's answer", async () => {
  const seen: Seen = { early: [] };
  await withAgent(answerAfterFirstBytes(seen), async (agentOpener) => {
    await withPublishFixture(async (f) => {
      const ends: string[] = [];
      const ended = Promise.withResolvers<void>();
      const handlers = operatorHandlers({
        access: {
          operator: (name) => ({
            name,
            file: `/${name}.jsonc`,
            token: "",
            agents: [parseAgentSelector("*")],
            kinds: ["forward"],
            networks: null,
          }),
          agent: () => undefined,
        },
        openChannel: openChannelThrough(agentOpener, ends, ended),
        audit: null,
        log: f.log,
      }, { operator: "alice", address: "127.0.0.1", source: "127.0.0.1:1", maxStreams: 8 });
      // The operator's session to the server, whose end serves the operator handlers.
      await withAgent(
        (incoming) => (handlers.get(StreamKind.TcpForward) as StreamHandler)(incoming),
        async (operator) => {
          const forward = await openTcpForward(operator, "127.0.0.1", 9, {
            params: { agent: "db1" },
            onOpen: (stream) => {
              stream.write(text("hello")).then(() => stream.closeWrite());
            },
          });
          assert.equal(str(await readAll(forward.stream)), "hello");
          await ended.promise;
          assert.deepEqual(seen.early, [true]);
          assert.deepEqual(ends, ["ok"]);
        },
      );
    });
  });
});

/** Everything `stream` yields until its end. */
async function readAll(stream: { read(): Promise<Uint8Array | null> }): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let c = await stream.read(); c !== null; c = await stream.read()) chunks.push(c.slice());
  return concat(chunks);
}

Deno.test("the server's relay answers an operator that keeps sending before the answer (echo target, no deadlock)", async () => {
  // An echo target stops reading while its echo cannot be written. The relay
  // passes on only what the operator had sent when the agent's stream opened:
  // it used to go on while more kept coming, never reading the agent's echo
  // back, and the three of them waited on each other for good.
  const echo: StreamHandler = async (incoming) => {
    await incoming.accept({ address: "127.0.0.1", port: 9 });
    const stream = incoming.stream;
    for (let c = await stream.read(); c !== null; c = await stream.read()) await stream.write(c);
    await stream.closeWrite();
  };
  const total = 8 * 1024 * 1024;
  await withAgent(echo, async (agentOpener) => {
    await withPublishFixture(async (f) => {
      const ends: string[] = [];
      const handlers = operatorHandlers({
        access: {
          operator: (name) => ({
            name,
            file: `/${name}.jsonc`,
            token: "",
            agents: [parseAgentSelector("*")],
            kinds: ["forward"],
            networks: null,
          }),
          agent: () => undefined,
        },
        openChannel: openChannelThrough(agentOpener, ends),
        audit: null,
        log: f.log,
      }, { operator: "alice", address: "127.0.0.1", source: "127.0.0.1:1", maxStreams: 8 });
      await withAgent(
        (incoming) => (handlers.get(StreamKind.TcpForward) as StreamHandler)(incoming),
        (operator) =>
          (async () => {
            let sending: Promise<void> = Promise.resolve();
            const forward = await openTcpForward(operator, "127.0.0.1", 9, {
              params: { agent: "db1" },
              timeout: 5_000,
              onOpen: (stream) => {
                sending = (async () => {
                  const chunk = new Uint8Array(64 * 1024).fill(7);
                  for (let sent = 0; sent < total; sent += chunk.length) await stream.write(chunk);
                  await stream.closeWrite();
                })();
                sending.catch(() => {}); // a failed open resets the stream: the open's error tells
              },
            });
            const back = await readAll(forward.stream);
            await sending;
            assert.equal(back.length, total);
          })().catch(async (e) => {
            // A stuck relay waits on the agent's stream: end it, or the cleanup waits too.
            await agentOpener.close();
            throw e;
          }),
      );
    });
  }, busyAgentLink);
});

/**
 * A memory pair whose opener → agent direction takes a timer turn per write,
 * as a busy agent link does: the opener's writes wait for its session's queue.
 */
function busyAgentLink(): [Conn, Conn] {
  const [agent, opener] = memoryPair();
  const slow = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, out) =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          out.enqueue(chunk);
          resolve();
        }, 1)
      ),
  });
  slow.readable.pipeTo(opener.writable).catch(() => {});
  return [agent, { readable: opener.readable, writable: slow.writable }];
}
