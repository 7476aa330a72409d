import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CONN_TYPES, withConnTypes } from "../helpers/conn_types.ts";
import { randomBytes, settled } from "../helpers/streams.ts";
import { concat } from "../../shared/bytes.ts";
import { ForwardError, openTcpForward } from "../../shared/forward/mod.ts";
import { echo, tcpTarget, withForwardSessions } from "./helpers.ts";

const MiB = 1024 * 1024;

/** Writes `data` through `writable` in 64 KiB chunks and closes it (FIN). */
async function send(writable: WritableStream<Uint8Array>, data: Uint8Array): Promise<void> {
  const writer = writable.getWriter();
  for (let at = 0; at < data.length; at += 64 * 1024) {
    await writer.write(data.subarray(at, at + 64 * 1024));
  }
  await writer.close();
}

/** SHA-256 and length of everything `readable` yields. */
async function digest(readable: ReadableStream<Uint8Array>): Promise<[string, number]> {
  const hash = createHash("sha256");
  let n = 0;
  for await (const chunk of readable) {
    hash.update(chunk);
    n += chunk.length;
  }
  return [hash.digest("hex"), n];
}

/** Sends `size` random bytes through a forward to an echo target; returns both hashes. */
async function echoThrough(
  opener: Parameters<typeof openTcpForward>[0],
  port: number,
  data: Uint8Array,
): Promise<void> {
  const forward = await openTcpForward(opener, "127.0.0.1", port);
  assert.deepEqual(forward.target, { address: "127.0.0.1", port });
  const [, [got, n]] = await Promise.all([send(forward.writable, data), digest(forward.readable)]);
  assert.equal(n, data.length);
  assert.equal(got, createHash("sha256").update(data).digest("hex"));
}

withConnTypes("TcpForward echoes 100 MiB of random data intact both ways", async ({ a, b }) => {
  await using target = tcpTarget(echo);
  await withForwardSessions(a, b, {}, async ({ opener }) => {
    await echoThrough(opener, target.port, randomBytes(100 * MiB));
  });
});

withConnTypes("TcpForward carries 50 parallel connections intact", async ({ a, b }) => {
  await using target = tcpTarget(echo);
  await withForwardSessions(a, b, {}, async ({ opener }) => {
    const data = randomBytes(50 * 256 * 1024);
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          echoThrough(opener, target.port, data.subarray(i * 256 * 1024, (i + 1) * 256 * 1024)),
      ),
    );
  });
});

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** Reads `readable` to its end (FIN). */
async function readToEnd(readable: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of readable) chunks.push(c);
  return str(concat(chunks));
}

/** Reads a socket to EOF with `read()` (its `readable` would close the socket at EOF). */
async function readConnToEnd(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(1024);
  const chunks: Uint8Array[] = [];
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    chunks.push(buf.slice(0, n));
  }
  return str(concat(chunks));
}

withConnTypes(
  "TcpForward half-close: the operator's FIN reaches the target, which still answers",
  async ({ a, b }) => {
    // The target reads to EOF first, then answers: only works if the FIN came through alone.
    await using target = tcpTarget(async (conn) => {
      const got = await readConnToEnd(conn);
      await conn.write(text(`got ${got.length} bytes: ${got}`));
      await conn.closeWrite();
    });
    await withForwardSessions(a, b, {}, async ({ opener }) => {
      const forward = await openTcpForward(opener, "127.0.0.1", target.port);
      const writer = forward.writable.getWriter();
      await writer.write(text("hello"));
      await writer.close();
      assert.equal(await readToEnd(forward.readable), "got 5 bytes: hello");
    });
  },
);

withConnTypes(
  "TcpForward half-close: the target's FIN reaches the operator, who still writes",
  async ({ a, b }) => {
    const received = Promise.withResolvers<string>();
    await using target = tcpTarget(async (conn) => {
      await conn.write(text("banner"));
      await conn.closeWrite();
      received.resolve(await readConnToEnd(conn));
    });
    await withForwardSessions(a, b, {}, async ({ opener }) => {
      const forward = await openTcpForward(opener, "127.0.0.1", target.port);
      assert.equal(await readToEnd(forward.readable), "banner");
      const writer = forward.writable.getWriter();
      await writer.write(text("written after the target's FIN"));
      await writer.close();
      assert.equal(await received.promise, "written after the target's FIN");
    });
  },
);

withConnTypes(
  "TcpForward to a target that never reads: the agent's buffer stays within its window",
  async ({ a, b }) => {
    const accepted = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    await using target = tcpTarget(async () => {
      accepted.resolve();
      await release.promise; // never reads; closed on dispose
    });
    const maxStreamWindow = 1 * MiB;
    await withForwardSessions(a, b, { agentSession: { maxStreamWindow } }, async (fx) => {
      const forward = await openTcpForward(fx.opener, "127.0.0.1", target.port);
      await accepted.promise;
      const total = 256 * MiB;
      let written = 0;
      const writer = forward.writable.getWriter();
      const chunk = new Uint8Array(64 * 1024);
      const writing = (async () => {
        try {
          while (written < total) {
            await writer.write(chunk);
            written += chunk.length;
          }
        } catch {
          // Reset at the end of the test.
        }
      })();
      // Writes stall once the kernel's socket buffers and the stream window are full.
      const stalled = await settled(() => written, 300, 20_000);
      const agentStream = fx.agentStreams[0]!;
      assert.ok(stalled < total, `the writer never stalled (${stalled} bytes written)`);
      assert.ok(agentStream.receiveWindow <= maxStreamWindow);
      assert.ok(
        agentStream.buffered > 0 && agentStream.buffered <= agentStream.receiveWindow,
        `agent buffers ${agentStream.buffered} bytes, window ${agentStream.receiveWindow}`,
      );
      forward.stream.reset();
      release.resolve();
      await writing;
    });
  },
);

/** Opens a forward expected to be refused; returns the error. */
async function refused(promise: Promise<unknown>): Promise<ForwardError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ForwardError, String(e));
    return e;
  }
  assert.fail("the forward was not refused");
}

withConnTypes("TcpForward refusals come back as clear errors", async ({ a, b }) => {
  const closedPort = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    l.close();
    return l.addr.port;
  })();
  let lookups = 0;
  const lookup = (name: string) => {
    lookups++;
    if (name === "meta.example") return Promise.resolve(["169.254.169.254"]);
    if (name === "db.example") return Promise.resolve(["127.0.0.1"]);
    return Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
  };
  await withForwardSessions(
    a,
    b,
    { lookup, allow: ["localhost", "meta.example:80"] },
    async ({ opener }) => {
      const cases: [string, number, string, string][] = [
        [
          "10.0.0.1",
          22,
          "policy",
          "refused by agent policy: 10.0.0.1:22 is not in the agent's allowlist",
        ],
        [
          "169.254.169.254",
          80,
          "policy",
          "refused by agent policy: 169.254.169.254:80 is cloud metadata",
        ],
        [
          "fd00:ec2::254",
          80,
          "policy",
          "refused by agent policy: [fd00:ec2::254]:80 is cloud metadata",
        ],
        [
          "meta.example",
          80,
          "policy",
          "refused by agent policy: meta.example:80 (169.254.169.254) is cloud metadata",
        ],
        [
          "127.0.0.1",
          closedPort,
          "connection-refused",
          `connection refused by 127.0.0.1:${closedPort}`,
        ],
        [
          "db.example",
          closedPort,
          "connection-refused",
          `connection refused by 127.0.0.1:${closedPort}`,
        ],
        ["nowhere.example", 80, "dns", "cannot resolve nowhere.example on the agent (ENOTFOUND)"],
        [
          "not a host",
          80,
          "bad-params",
          'Forward host "not a host" is neither an IP address nor a host name',
        ],
      ];
      for (const [host, port, code, message] of cases) {
        const e = await refused(openTcpForward(opener, host, port));
        assert.equal(e.code, code, `${host}:${port}`);
        assert.equal(e.message, message);
      }
      assert.equal(lookups, 3, "each name is resolved once");
    },
  );
});

withConnTypes(
  "TcpForward: a reset by the operator closes the target connection",
  async ({ a, b }) => {
    const ended = Promise.withResolvers<string>();
    const open = Promise.withResolvers<void>();
    await using target = tcpTarget(async (conn) => {
      open.resolve();
      try {
        ended.resolve((await conn.read(new Uint8Array(16))) === null ? "EOF" : "data");
      } catch (e) {
        ended.resolve((e as Error).name);
      }
    });
    await withForwardSessions(a, b, {}, async ({ opener }) => {
      const forward = await openTcpForward(opener, "127.0.0.1", target.port);
      await open.promise;
      forward.stream.reset();
      assert.equal(await ended.promise, "EOF");
    });
  },
);

withConnTypes("TcpForward: the target closing ends the operator's stream", async ({ a, b }) => {
  await using target = tcpTarget(async (conn) => {
    await conn.write(text("bye"));
    conn.close();
  });
  await withForwardSessions(a, b, {}, async ({ opener }) => {
    const forward = await openTcpForward(opener, "127.0.0.1", target.port);
    assert.equal(await readToEnd(forward.readable), "bye");
    await forward.writable.close();
    await forward.stream.closed;
  });
});

withConnTypes(
  "TcpForward to an opener that never reads: the target is slowed, nothing piles up",
  async ({ a, b }) => {
    const total = 256 * MiB;
    let written = 0;
    await using target = tcpTarget(async (conn) => {
      const chunk = new Uint8Array(64 * 1024);
      while (written < total) {
        written += await conn.write(chunk);
      }
    });
    await withForwardSessions(a, b, {}, async ({ opener, agentStreams }) => {
      const forward = await openTcpForward(opener, "127.0.0.1", target.port);
      const stalled = await settled(() => written, 300, 20_000);
      assert.ok(stalled < total, `the target never stalled (${stalled} bytes written)`);
      // The opener holds at most the window it granted; the agent holds nothing extra.
      assert.ok(forward.stream.buffered <= forward.stream.receiveWindow);
      assert.equal(agentStreams[0]!.buffered, 0);
      forward.stream.reset();
    });
  },
);

withConnTypes(
  "TcpForward: a name lookup that hangs is refused at the connect timeout",
  async ({ a, b }) => {
    const lookup = () => new Promise<string[]>(() => {});
    await withForwardSessions(a, b, { lookup, connectTimeout: 100 }, async ({ opener }) => {
      const e = await refused(openTcpForward(opener, "slow.example", 22));
      assert.equal(e.code, "timeout");
      assert.equal(e.message, "Resolving slow.example timed out after 100 ms");
    });
  },
  { except: ["wss"] },
);

Deno.test("openTcpForward makes the stream's Web Streams only when asked (splices never ask)", async () => {
  await using target = tcpTarget(echo);
  const pair = await CONN_TYPES[0]!.make();
  try {
    await withForwardSessions(pair.a, pair.b, {}, async ({ opener }) => {
      const Readable = globalThis.ReadableStream;
      const Writable = globalThis.WritableStream;
      let made = 0;
      globalThis.ReadableStream = class extends Readable<unknown> {
        constructor(...args: ConstructorParameters<typeof ReadableStream<unknown>>) {
          super(...args);
          made++;
        }
      } as typeof ReadableStream;
      globalThis.WritableStream = class extends Writable<unknown> {
        constructor(...args: ConstructorParameters<typeof WritableStream<unknown>>) {
          super(...args);
          made++;
        }
      } as typeof WritableStream;
      let forward;
      try {
        forward = await openTcpForward(opener, "127.0.0.1", target.port);
      } finally {
        globalThis.ReadableStream = Readable;
        globalThis.WritableStream = Writable;
      }
      assert.equal(made, 0);
      // Asked for, they work.
      const [, [got]] = await Promise.all([
        send(forward.writable, new Uint8Array([1, 2, 3])),
        digest(forward.readable),
      ]);
      assert.equal(got, createHash("sha256").update(new Uint8Array([1, 2, 3])).digest("hex"));
    });
  } finally {
    await pair.close();
  }
});
