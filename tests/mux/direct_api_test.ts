/**
 * The direct stream calls (`read`, `unread`, `cancelRead`, `write`,
 * `closeWrite`) that the proxy's per-request path uses instead of Web
 * Streams, over every connection type.
 */
import assert from "node:assert/strict";
import { withConnTypes } from "../helpers/conn_types.ts";
import { sessions } from "../helpers/sessions.ts";
import { randomBytes, settled, sha256 } from "../helpers/streams.ts";
import { MuxError, type MuxStream } from "../../shared/mux/mod.ts";
import { concat } from "../../shared/bytes.ts";

/** Reads with `read()` until null. */
async function readToEnd(stream: MuxStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let c = await stream.read(); c !== null; c = await stream.read()) parts.push(c.slice());
  return concat(parts);
}

withConnTypes("direct read/write move large payloads both ways with FIN", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const data = randomBytes(5_000_001);
    const echo = (async () => {
      const s = (await server.accept())!;
      const got = await readToEnd(s);
      await s.write(got);
      s.closeWrite();
    })();
    const stream = await client.open();
    const [, back] = await Promise.all([
      stream.write(data).then(() => stream.closeWrite()),
      readToEnd(stream),
    ]);
    await echo;
    assert.equal(sha256(back), sha256(data));
    await stream.closed;
    assert.equal(client.numStreams, 0);
    assert.equal(await stream.read(), null, "reads after the end keep returning null");
  });
});

withConnTypes(
  "unread puts bytes back in front of the stream, one chunk at a time",
  async ({ a, b }) => {
    await sessions(a, b, async (client, server) => {
      const stream = await client.open();
      const data = randomBytes(1 << 20);
      const writing = stream.write(data).then(() => stream.closeWrite());
      const s = (await server.accept())!;
      const first = (await s.read())!;
      s.unread(first.subarray(3));
      assert.throws(() => s.unread(new Uint8Array(1)), TypeError);
      const rest = await readToEnd(s);
      await writing;
      assert.equal(3 + rest.length, data.length);
      assert.equal(sha256(concat([first.subarray(0, 3), rest])), sha256(data));
    });
  },
);

withConnTypes("unread bytes are credited to the peer once, when first read", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const stream = await client.open();
    // More than the largest window (16 MiB) beyond what is read before the check.
    const data = randomBytes(24 << 20);
    const writing = stream.write(data).then(() => stream.closeWrite());
    const s = (await server.accept())!;
    const first = (await s.read())!;
    assert.ok(first.length > 1);
    s.unread(first.subarray(1));
    // Read past the initial window, so that window updates go out after the re-read.
    const parts = [first.subarray(0, 1)];
    let read = 1;
    while (read < 1 << 20) {
      const chunk = (await s.read())!.slice();
      parts.push(chunk);
      read += chunk.length;
    }
    // Stop reading: the writer spends all its credit, which must fit the window.
    await settled(() => s.buffered, 200, 10_000);
    assert.ok(s.buffered <= s.receiveWindow, `${s.buffered} buffered > ${s.receiveWindow}`);
    assert.ok(s.buffered >= s.receiveWindow / 2, `only ${s.buffered} arrived`);
    parts.push(await readToEnd(s));
    await writing;
    assert.equal(sha256(concat(parts)), sha256(data));
  });
});

withConnTypes("a reset reaches a pending read and a waiting write", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const stream = await client.open();
    await stream.write(new Uint8Array([1]));
    const s = (await server.accept())!;
    assert.deepEqual(await s.read(), new Uint8Array([1]));
    const pending = s.read();
    // More than the initial 256 KiB window: the write waits for credit nobody grants.
    const writing = stream.write(new Uint8Array(1 << 20));
    s.reset();
    await assert.rejects(pending, (e) => e instanceof MuxError && e.code === "stream-reset");
    await assert.rejects(writing, (e) => e instanceof MuxError && e.code === "stream-reset");
    await assert.rejects(stream.read(), (e) => e instanceof MuxError);
    assert.doesNotThrow(() => stream.closeWrite(), "closeWrite on a dead stream is a no-op");
  });
});

withConnTypes("cancelRead before the peer's FIN resets; after it, just stops", async ({ a, b }) => {
  await sessions(a, b, async (client, server) => {
    const one = await client.open();
    await one.write(new Uint8Array([1, 2]));
    const s1 = (await server.accept())!;
    s1.cancelRead();
    assert.equal(await s1.read(), null);
    await assert.rejects(one.read(), (e) => e instanceof MuxError && e.code === "stream-reset");

    const two = await client.open();
    await two.write(new Uint8Array([3]));
    two.closeWrite();
    const s2 = (await server.accept())!;
    assert.deepEqual(await s2.read(), new Uint8Array([3]));
    s2.cancelRead();
    await s2.write(new Uint8Array([4]));
    s2.closeWrite();
    assert.deepEqual(await readToEnd(two), new Uint8Array([4]));
    await s2.closed;
  });
});

withConnTypes(
  "write after closeWrite and a second concurrent read are refused",
  async ({ a, b }) => {
    await sessions(a, b, async (client, server) => {
      const stream = await client.open();
      const s = (await server.accept())!;
      const first = s.read();
      await assert.rejects(s.read(), TypeError);
      stream.closeWrite();
      await assert.rejects(stream.write(new Uint8Array([1])), TypeError);
      assert.equal(await first, null);
    });
  },
);

withConnTypes(
  "readable and writable made late continue where direct calls left off",
  async ({ a, b }) => {
    await sessions(a, b, async (client, server) => {
      const stream = await client.open();
      await stream.write(new Uint8Array([1, 2, 3, 4]));
      const w = stream.writable.getWriter();
      await w.write(new Uint8Array([5]));
      await w.close();
      const s = (await server.accept())!;
      const head = (await s.read())!;
      s.unread(head.subarray(2));
      const parts: number[] = [];
      for await (const c of s.readable) parts.push(...c);
      assert.deepEqual([...head.subarray(0, 2), ...parts], [1, 2, 3, 4, 5]);
    });
  },
);

withConnTypes(
  "closeWrite() right after a write() still waiting for window sends FIN after the data",
  async ({ a, b }) => {
    await sessions(a, b, async (client, server) => {
      // Four times the initial window: the write waits for the peer's updates.
      const data = randomBytes(1 << 20);
      const stream = await client.open();
      const writing = stream.write(data);
      stream.closeWrite();
      await assert.rejects(stream.write(data), TypeError, "no write after closeWrite()");
      const s = (await server.accept())!;
      const [got] = await Promise.all([readToEnd(s), writing.catch((e) => e)]);
      assert.equal(got.length, data.length, "every byte arrives before the end");
      assert.equal(sha256(got), sha256(data));
      s.closeWrite();
      await stream.closed;
    });
  },
);
