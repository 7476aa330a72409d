/**
 * Session behaviour over every connection type (in-memory, loopback TCP,
 * loopback wss): hashicorp's testConnTypes idea.
 */
import assert from "node:assert/strict";
import { withConnTypes } from "../helpers/conn_types.ts";
import { sessions } from "../helpers/sessions.ts";
import { randomBytes, readAll, sha256, within, writeAll } from "../helpers/streams.ts";
import { MuxError, type MuxStream, Session } from "../../shared/mux/mod.ts";

/** Echoes every accepted stream: reads to FIN, then writes it back and closes. */
async function echoServer(server: Session): Promise<void> {
  const tasks: Promise<void>[] = [];
  for (let s = await server.accept(); s; s = await server.accept()) {
    const stream: MuxStream = s;
    tasks.push(stream.readable.pipeTo(stream.writable).catch(() => {}));
  }
  await Promise.all(tasks);
}

function isCode(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof MuxError, `expected MuxError, got ${e}`);
    assert.equal(e.code, code);
    return true;
  };
}

withConnTypes("send and receive small and large payloads both ways", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const echo = echoServer(server);
    for (const size of [0, 1, 100, 65536, 1 << 20, 3_000_001]) {
      const data = randomBytes(size);
      const stream = await client.open();
      const [, back] = await Promise.all([
        writeAll(stream.writable, data),
        readAll(stream.readable),
      ]);
      assert.equal(back.length, size);
      assert.equal(sha256(back), sha256(data));
    }
    await client.close();
    await echo;
  });
});

withConnTypes("half-close: the side that sent FIN still reads", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const request = randomBytes(200_000);
    const response = randomBytes(700_000);
    const serverSide = (async () => {
      const s = (await server.accept())!;
      const got = await readAll(s.readable); // ends at the client's FIN
      assert.equal(sha256(got), sha256(request));
      // The client has half-closed; this side writes after that, then FINs.
      await writeAll(s.writable, response);
    })();
    const stream = await client.open();
    await writeAll(stream.writable, request); // FIN sent here
    const back = await readAll(stream.readable);
    assert.equal(sha256(back), sha256(response));
    await serverSide;
    assert.equal(client.numStreams, 0);
    assert.equal(server.numStreams, 0);
  });
});

withConnTypes("half-close: the accepting side FINs first and still reads", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const serverSide = (async () => {
      const s = (await server.accept())!;
      await writeAll(s.writable, new TextEncoder().encode("greeting")); // server FIN first
      return new TextDecoder().decode(await readAll(s.readable));
    })();
    const stream = await client.open();
    const reader = stream.readable.getReader();
    let greeting = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      greeting += new TextDecoder().decode(r.value);
    }
    assert.equal(greeting, "greeting");
    await writeAll(stream.writable, new TextEncoder().encode("reply after your FIN"));
    assert.equal(await serverSide, "reply after your FIN");
  });
});

withConnTypes("reset: RST errors the peer's readable and writable", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const stream = await client.open();
    const writer = stream.writable.getWriter();
    await writer.write(new Uint8Array([1, 2, 3]));
    const s = (await server.accept())!;
    const reader = s.readable.getReader();
    assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
    stream.reset();
    await assert.rejects(reader.read(), isCode("stream-reset"));
    await assert.rejects(s.writable.getWriter().write(new Uint8Array(1)), isCode("stream-reset"));
    await assert.rejects(writer.write(new Uint8Array(1)), isCode("stream-reset"));
  });
});

withConnTypes("cancelling a readable resets the stream for the peer", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const stream = await client.open();
    const writer = stream.writable.getWriter();
    await writer.write(new Uint8Array(10));
    const s = (await server.accept())!;
    await s.readable.cancel();
    // The writer keeps writing until the RST arrives, then fails.
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 10_000; i++) await writer.write(new Uint8Array(1024));
      })(),
      isCode("stream-reset"),
    );
  });
});

withConnTypes("GoAway: no new streams, existing ones finish", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const stream = await client.open();
    const s = (await server.accept())!;
    server.goAway();
    // Wait until the client has seen the GoAway.
    await within(
      5000,
      "GoAway to arrive",
      (async () => {
        while (true) {
          try {
            (await client.open()).reset();
          } catch (e) {
            isCode("go-away")(e);
            return;
          }
          await client.ping();
        }
      })(),
    );
    const [, back] = await Promise.all([
      writeAll(stream.writable, new TextEncoder().encode("still here")),
      readAll(stream.readable),
      s.readable.pipeTo(s.writable),
    ]);
    assert.equal(new TextDecoder().decode(back), "still here");
  });
});

withConnTypes("ping measures a round trip both ways", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const rtt1 = await client.ping();
    const rtt2 = await server.ping();
    assert.ok(rtt1 >= 0 && rtt1 < 5000);
    assert.ok(rtt2 >= 0 && rtt2 < 5000);
    assert.ok(client.rtt > 0);
  });
});

withConnTypes("1,000 concurrent streams with random sizes arrive intact", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const echo = echoServer(server);
    const results = await Promise.all(Array.from({ length: 1000 }, async () => {
      const data = randomBytes(Math.floor(Math.random() * 64 * 1024));
      const stream = await client.open();
      const [, back] = await Promise.all([
        writeAll(stream.writable, data, { chunk: 16 * 1024 }),
        readAll(stream.readable),
      ]);
      return sha256(back) === sha256(data) && back.length === data.length;
    }));
    assert.equal(results.filter((ok) => ok).length, 1000);
    assert.equal(client.numStreams, 0);
    await client.close();
    await echo;
  });
});

withConnTypes("closing the session ends every stream and pending call", async ({ a, b }) => {
  const client = new Session(a, { client: true });
  const server = new Session(b, { client: false });
  const stream = await client.open();
  const writer = stream.writable.getWriter();
  await writer.write(new Uint8Array(100));
  const s = (await server.accept())!;
  const pendingAccept = client.accept();
  const pendingRead = stream.readable.getReader().read();
  const serverRead = s.readable.getReader();
  await serverRead.read();
  const serverPending = serverRead.read();
  // Handlers go on before the close, as a real caller awaiting these would have them.
  const readFails = assert.rejects(pendingRead, isCode("session-closed"));
  const serverReadFails = assert.rejects(serverPending, isCode("session-closed"));
  await client.close();
  assert.equal(await pendingAccept, null);
  await readFails;
  await assert.rejects(writer.write(new Uint8Array(1)), isCode("session-closed"));
  await assert.rejects(client.open(), isCode("session-closed"));
  // The server sees the connection go away and cleans up by itself.
  await within(5000, "server to notice", server.closed);
  await serverReadFails;
  assert.equal(server.closeReason, null); // GoAway(normal) then EOF is a clean close
  assert.equal(await server.accept(), null);
  assert.equal(client.numStreams + server.numStreams, 0);
});
