/**
 * Flags on frames that go out anyway (`foldFlags`, like hashicorp/yamux's
 * `sendFlags`): what a session puts on the wire when streams open, answer and
 * half-close, and what it accepts from a peer that folds flags the same way.
 */
import assert from "node:assert/strict";
import { type ConnPair, withConnTypes } from "../helpers/conn_types.ts";
import { encodeFrames, rawPeer } from "../helpers/raw_peer.ts";
import { randomBytes, within } from "../helpers/streams.ts";
import { tapWrites, type WireTap } from "../helpers/wire_tap.ts";
import { type MuxStream, Session, type SessionOptions } from "../../shared/mux/mod.ts";
import { MuxError } from "../../shared/mux/errors.ts";
import { Flag, type Frame, FrameType } from "../../shared/frame/header.ts";
import { concat } from "../../shared/bytes.ts";

const WAIT_MS = 5_000;
const text = (s: string) => new TextEncoder().encode(s);

/** A frame as the tests compare it: type, flags, and length or payload. */
function shape(f: Frame): { type: FrameType; flags: number; length: number; payload: number[] } {
  return { type: f.type, flags: f.flags, length: f.length, payload: [...f.payload] };
}

function data(flags: number, payload: Uint8Array) {
  return { type: FrameType.Data, flags, length: payload.length, payload: [...payload] };
}

function update(flags: number) {
  return { type: FrameType.WindowUpdate, flags, length: 0, payload: [] };
}

/** Reads with `read()` until the peer's FIN. */
async function readToEnd(stream: MuxStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let c = await stream.read(); c !== null; c = await stream.read()) parts.push(c.slice());
  return concat(parts);
}

interface Tapped {
  client: Session;
  server: Session;
  clientWire: WireTap;
  serverWire: WireTap;
}

/**
 * Runs a client and a server session over `pair`, each with its writes
 * recorded, folding flags unless `options` say otherwise. No keepalive: a
 * writer is idle until a test gives it frames.
 */
async function tapped(
  pair: ConnPair,
  body: (t: Tapped) => Promise<void>,
  options: Partial<SessionOptions> = {},
): Promise<void> {
  const clientWire = tapWrites(pair.a);
  const serverWire = tapWrites(pair.b);
  const common = { enableKeepAlive: false, foldFlags: true, ...options };
  const client = new Session(clientWire.conn, { ...common, client: true });
  const server = new Session(serverWire.conn, { ...common, client: false });
  try {
    await within(30_000, "test body", body({ client, server, clientWire, serverWire }));
  } finally {
    await client.close();
    await server.close();
  }
}

withConnTypes(
  "open, write and closeWrite in one tick send one Data frame with SYN|FIN",
  async (pair) => {
    await tapped(pair, async ({ client, server, clientWire }) => {
      const request = text("GET / HTTP/1.1\r\nhost: example.test\r\n\r\n");
      const stream = await client.open();
      await stream.write(request);
      stream.closeWrite();
      const s = (await server.accept())!;
      assert.deepEqual(await readToEnd(s), request);
      s.closeWrite();
      await within(WAIT_MS, "both FINs", stream.closed);
      assert.deepEqual(clientWire.frames(stream.id).map(shape), [
        data(Flag.SYN | Flag.FIN, request),
      ]);
    });
  },
);

withConnTypes(
  "accept, write and closeWrite in one tick send one Data frame with ACK|FIN",
  async (pair) => {
    await tapped(pair, async ({ client, server, serverWire }) => {
      const reply = text("HTTP/1.1 204 No Content\r\n\r\n");
      const accepted = server.accept();
      const stream = await client.open();
      stream.closeWrite();
      const s = (await accepted)!;
      await s.write(reply);
      s.closeWrite();
      assert.deepEqual(await readToEnd(stream), reply);
      await within(WAIT_MS, "both FINs", s.closed);
      assert.deepEqual(serverWire.frames(s.id).map(shape), [data(Flag.ACK | Flag.FIN, reply)]);
    });
  },
);

withConnTypes(
  "open() with nothing written sends WindowUpdate|SYN in the next batch, accept() its ACK",
  async (pair) => {
    await tapped(pair, async ({ client, server, clientWire, serverWire }) => {
      const stream = await client.open();
      const syn = await within(
        WAIT_MS,
        "the SYN",
        clientWire.batchWith((f) => f.streamId === stream.id),
      );
      assert.deepEqual(clientWire.batches, [syn], "the SYN went in the first batch");
      assert.deepEqual(syn.map(shape), [update(Flag.SYN)]);
      const s = (await server.accept())!;
      const ack = await within(
        WAIT_MS,
        "the ACK",
        serverWire.batchWith((f) => f.streamId === s.id),
      );
      assert.deepEqual(ack.map(shape), [update(Flag.ACK)]);
    });
  },
);

withConnTypes(
  "a FIN after a frame already written goes as its own WindowUpdate|FIN",
  async (pair) => {
    await tapped(pair, async ({ client, server, clientWire }) => {
      const payload = randomBytes(3000);
      const stream = await client.open();
      await stream.write(payload);
      // Over memory the batch is copied out of a buffer that keeps filling: the FIN must not land there.
      await within(
        WAIT_MS,
        "the Data frame",
        clientWire.batchWith((f) => f.streamId === stream.id),
      );
      stream.closeWrite();
      const s = (await server.accept())!;
      assert.deepEqual(await readToEnd(s), payload);
      assert.deepEqual(clientWire.frames(stream.id).map(shape), [
        data(Flag.SYN, payload),
        update(Flag.FIN),
      ]);
    });
  },
);

withConnTypes(
  "a reply written in pieces carries the ACK on its first frame and the FIN on its last",
  async (pair) => {
    await tapped(pair, async ({ client, server, serverWire }) => {
      const head = text("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
      const body = text("hello");
      const accepted = server.accept();
      const stream = await client.open();
      stream.closeWrite();
      const s = (await accepted)!;
      await s.write(head);
      await s.write(body);
      s.closeWrite();
      assert.deepEqual(await readToEnd(stream), concat([head, body]));
      assert.deepEqual(serverWire.frames(s.id).map(shape), [
        data(Flag.ACK, head),
        data(Flag.FIN, body),
      ]);
    });
  },
);

withConnTypes(
  "a proxied request and a reply that waits for its backend cost four frames",
  async (pair) => {
    await tapped(pair, async ({ client, server, clientWire, serverWire }) => {
      const request = text("GET /slow HTTP/1.1\r\n\r\n");
      const reply = [text("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"), text("ok")];
      const serving = (async () => {
        const s = (await server.accept())!;
        await readToEnd(s);
        // The backend answers after the ACK went out alone: the writer is idle again.
        await serverWire.written((f) => f.streamId === s.id);
        for (const part of reply) await s.write(part);
        s.closeWrite();
        return s.id;
      })();
      const stream = await client.open();
      await stream.write(request);
      stream.closeWrite();
      assert.deepEqual(await readToEnd(stream), concat(reply));
      const id = await serving;
      assert.deepEqual(clientWire.frames(id).map(shape), [data(Flag.SYN | Flag.FIN, request)]);
      assert.deepEqual(serverWire.frames(id).map(shape), [
        update(Flag.ACK),
        data(0, reply[0]!),
        data(Flag.FIN, reply[1]!),
      ]);
    });
  },
);

withConnTypes(
  "by default (no foldFlags), SYN, ACK and FIN go as WindowUpdates of their own",
  async (pair) => {
    await tapped(pair, async ({ client, server, clientWire, serverWire }) => {
      const request = text("ping");
      const accepted = server.accept();
      const stream = await client.open();
      await stream.write(request);
      stream.closeWrite();
      const s = (await accepted)!;
      await s.write(request);
      s.closeWrite();
      assert.deepEqual(await readToEnd(s), request);
      assert.deepEqual(await readToEnd(stream), request);
      assert.deepEqual(clientWire.frames(stream.id).map(shape), [
        update(Flag.SYN),
        data(0, request),
        update(Flag.FIN),
      ]);
      assert.deepEqual(serverWire.frames(s.id).map(shape), [
        update(Flag.ACK),
        data(0, request),
        update(Flag.FIN),
      ]);
    }, { foldFlags: undefined }); // the session's default
  },
);

withConnTypes(
  "1,000 concurrent short and long streams arrive intact with flags folded",
  async ({ a, b }) => {
    const options = { enableKeepAlive: false, foldFlags: true };
    const client = new Session(a, { ...options, client: true });
    const server = new Session(b, { ...options, client: false });
    try {
      const echo = (async () => {
        const tasks: Promise<void>[] = [];
        for (let s = await server.accept(); s; s = await server.accept()) {
          const stream = s;
          tasks.push((async () => {
            const got = await readToEnd(stream);
            await stream.write(got);
            stream.closeWrite();
          })());
        }
        await Promise.all(tasks);
      })();
      const results = await within(
        30_000,
        "1,000 echoes",
        Promise.all(Array.from({ length: 1000 }, async (_, i) => {
          // Mostly one-frame requests (SYN|FIN), some spanning several frames and batches.
          const data = randomBytes(i % 10 === 0 ? Math.floor(Math.random() * 300_000) : i % 200);
          const stream = await client.open();
          await stream.write(data);
          stream.closeWrite();
          const back = await readToEnd(stream);
          return back.length === data.length && back.every((v, j) => v === data[j]);
        })),
      );
      assert.equal(results.filter((ok) => ok).length, 1000);
      assert.equal(client.numStreams, 0);
      await client.close();
      await echo;
    } finally {
      await client.close();
      await server.close();
    }
  },
);

// ---- A hand-driven peer ------------------------------------------------

Deno.test("a SYN|FIN Data frame opens a stream holding its payload, then ends it", async () => {
  const peer = rawPeer();
  try {
    const payload = text("whole request");
    await peer.send([{ type: FrameType.Data, flags: Flag.SYN | Flag.FIN, streamId: 1, payload }]);
    const s = (await peer.session.accept())!;
    assert.equal(s.id, 1);
    assert.deepEqual(await readToEnd(s), payload);
  } finally {
    await peer.close();
  }
});

Deno.test("a SYN Data frame split across transport chunks lands whole in the new stream", async () => {
  const peer = rawPeer();
  try {
    const payload = randomBytes(5000);
    const bytes = encodeFrames([
      { type: FrameType.Data, flags: Flag.SYN, streamId: 1, payload },
      { type: FrameType.Data, flags: Flag.FIN, streamId: 1, payload: payload.subarray(0, 10) },
    ]);
    // Cut inside the first header, then twice inside the first payload.
    const cuts = [0, 7, 2000, 4000, bytes.length];
    for (let i = 1; i < cuts.length; i++) await peer.send(bytes.subarray(cuts[i - 1], cuts[i]));
    const s = (await peer.session.accept())!;
    assert.deepEqual(await readToEnd(s), concat([payload, payload.subarray(0, 10)]));
  } finally {
    await peer.close();
  }
});

Deno.test("a FIN on a Data frame ends a waiting read after its payload", async () => {
  const peer = rawPeer();
  try {
    await peer.send([{ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1 }]);
    const s = (await peer.session.accept())!;
    const first = s.read();
    await peer.send([{ type: FrameType.Data, flags: Flag.FIN, streamId: 1, payload: text("end") }]);
    assert.deepEqual(await first, text("end"));
    assert.equal(await s.read(), null);
  } finally {
    await peer.close();
  }
});

Deno.test("an ACK on a Data frame acknowledges the opened stream", async () => {
  // With a backlog of one, a second open() waits until the first stream is acknowledged.
  const peer = rawPeer({ acceptBacklog: 1 });
  try {
    const stream = await peer.session.open();
    const second = peer.session.open();
    await peer.send([{
      type: FrameType.Data,
      flags: Flag.ACK,
      streamId: stream.id,
      payload: text("hi"),
    }]);
    await within(WAIT_MS, "the second open()", second);
    assert.deepEqual(await stream.read(), text("hi"));
  } finally {
    await peer.close();
  }
});

Deno.test("a stream written at once and never ACKed is still reset after openTimeout", async () => {
  const peer = rawPeer({ openTimeout: 50, foldFlags: true });
  try {
    const stream = await peer.session.open();
    await stream.write(text("request"));
    const syn = await peer.next((f) => f.streamId === stream.id);
    assert.deepEqual(shape(syn), data(Flag.SYN, text("request")));
    const rst = await peer.next((f) => f.streamId === stream.id);
    assert.deepEqual(shape(rst), update(Flag.RST));
    await assert.rejects(stream.read(), (e) => e instanceof MuxError && e.code === "timeout");
    assert.equal(peer.session.numStreams, 0);
  } finally {
    await peer.close();
  }
});

Deno.test("open() and reset() in one tick send one WindowUpdate with SYN|RST", async () => {
  const peer = rawPeer({ foldFlags: true });
  try {
    const stream = await peer.session.open();
    stream.reset();
    const frame = await peer.next((f) => f.streamId === stream.id);
    assert.deepEqual(shape(frame), update(Flag.SYN | Flag.RST));
    assert.equal(peer.session.numStreams, 0);
  } finally {
    await peer.close();
  }
});

Deno.test("a SYN|RST from the peer opens nothing", async () => {
  const peer = rawPeer();
  try {
    await peer.send([
      { type: FrameType.WindowUpdate, flags: Flag.SYN | Flag.RST, streamId: 1 },
      { type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 3 },
    ]);
    assert.equal((await peer.session.accept())?.id, 3);
    assert.equal(peer.session.numStreams, 1);
  } finally {
    await peer.close();
  }
});
