/**
 * A session facing a hand-driven peer: protocol violations, timeouts, limits.
 */
import assert from "node:assert/strict";
import { rawPeer } from "../helpers/raw_peer.ts";
import { Flag, FrameType, GoAwayCode, INITIAL_WINDOW } from "../../shared/frame/header.ts";
import { MuxError, ProtocolError } from "../../shared/mux/errors.ts";

async function expectProtocolError(
  frames: Parameters<ReturnType<typeof rawPeer>["send"]>[0],
  code: string,
  setup?: (peer: ReturnType<typeof rawPeer>) => Promise<void>,
) {
  const peer = rawPeer();
  try {
    await setup?.(peer);
    await peer.send(frames);
    const goAway = await peer.next((f) => f.type === FrameType.GoAway);
    assert.equal(goAway.length, GoAwayCode.ProtocolError);
    await peer.session.closed;
    const reason = peer.session.closeReason;
    assert.ok(reason instanceof ProtocolError, `expected ProtocolError, got ${reason}`);
    assert.equal(reason.code, code);
  } finally {
    await peer.close();
  }
}

Deno.test("bad version closes the session with GoAway(protocol error)", async () => {
  await expectProtocolError([{ type: FrameType.Ping, flags: Flag.SYN, version: 1 }], "bad-version");
});

Deno.test("unknown frame type closes the session with GoAway(protocol error)", async () => {
  await expectProtocolError([{ type: 7 as FrameType, streamId: 1 }], "bad-type");
});

Deno.test("unknown flag bits close the session with GoAway(protocol error)", async () => {
  await expectProtocolError([{ type: FrameType.Data, flags: 0x40, streamId: 1 }], "bad-flags");
});

Deno.test("duplicate SYN closes the session with GoAway(protocol error)", async () => {
  await expectProtocolError(
    [{ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1 }, {
      type: FrameType.WindowUpdate,
      flags: Flag.SYN,
      streamId: 1,
    }],
    "duplicate-syn",
  );
});

Deno.test("SYN with an id of the wrong parity closes the session", async () => {
  // The session is the server: the client must open odd ids.
  await expectProtocolError(
    [{ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 2 }],
    "bad-stream-id",
  );
});

Deno.test("data beyond the receive window closes the session", async () => {
  await expectProtocolError(
    [{
      type: FrameType.Data,
      flags: Flag.SYN,
      streamId: 1,
      payload: new Uint8Array(INITIAL_WINDOW + 1),
    }],
    "window-exceeded",
  );
});

Deno.test("data beyond the window across several frames closes the session", async () => {
  const half = new Uint8Array(INITIAL_WINDOW / 2);
  await expectProtocolError(
    [
      { type: FrameType.Data, flags: Flag.SYN, streamId: 1, payload: half },
      { type: FrameType.Data, streamId: 1, payload: half },
      { type: FrameType.Data, streamId: 1, payload: new Uint8Array(1) },
    ],
    "window-exceeded",
  );
});

Deno.test("Data frame larger than maxStreamWindow is refused before buffering", async () => {
  await expectProtocolError(
    [{ type: FrameType.Data, streamId: 1, length: 0x7fffffff }],
    "frame-too-large",
  );
});

Deno.test("ping from the peer is answered with the same opaque value", async () => {
  const peer = rawPeer();
  try {
    await peer.send([{ type: FrameType.Ping, flags: Flag.SYN, length: 0xdeadbeef }]);
    const pong = await peer.next((f) => f.type === FrameType.Ping);
    assert.equal(pong.flags, Flag.ACK);
    assert.equal(pong.length, 0xdeadbeef);
  } finally {
    await peer.close();
  }
});

Deno.test("keepalive closes a session whose peer never answers", async () => {
  const peer = rawPeer({ enableKeepAlive: true, keepAliveInterval: 30, pingTimeout: 60 });
  try {
    await peer.next((f) => f.type === FrameType.Ping && f.flags === Flag.SYN);
    await peer.session.closed;
    const reason = peer.session.closeReason;
    assert.ok(reason instanceof MuxError);
    assert.equal(reason.code, "timeout");
  } finally {
    await peer.close();
  }
});

Deno.test("an opened stream the peer never ACKs is reset after openTimeout", async () => {
  const peer = rawPeer({ openTimeout: 50 });
  try {
    const stream = await peer.session.open();
    const syn = await peer.next((f) => (f.flags & Flag.SYN) !== 0);
    assert.equal(syn.streamId, stream.id);
    const rst = await peer.next((f) => (f.flags & Flag.RST) !== 0);
    assert.equal(rst.streamId, stream.id);
    await assert.rejects(stream.readable.getReader().read(), (e: unknown) => {
      assert.ok(e instanceof MuxError);
      assert.equal(e.code, "timeout");
      return true;
    });
  } finally {
    await peer.close();
  }
});

Deno.test("inbound streams beyond the accept backlog are reset", async () => {
  const peer = rawPeer({ acceptBacklog: 2 });
  try {
    await peer.send([1, 3, 5].map((id) => ({
      type: FrameType.WindowUpdate,
      flags: Flag.SYN,
      streamId: id,
    })));
    const rst = await peer.next((f) => (f.flags & Flag.RST) !== 0);
    assert.equal(rst.streamId, 5);
    assert.equal((await peer.session.accept())?.id, 1);
    assert.equal((await peer.session.accept())?.id, 3);
  } finally {
    await peer.close();
  }
});

Deno.test("open() beyond maxStreams rejects with too-many-streams", async () => {
  const peer = rawPeer({ maxStreams: 2 });
  try {
    await peer.session.open();
    await peer.session.open();
    await assert.rejects(peer.session.open(), (e: unknown) => {
      assert.ok(e instanceof MuxError);
      assert.equal(e.code, "too-many-streams");
      return true;
    });
  } finally {
    await peer.close();
  }
});

Deno.test("after the peer's GoAway, open() rejects and existing streams go on", async () => {
  const peer = rawPeer();
  try {
    const stream = await peer.session.open();
    await peer.send([
      { type: FrameType.WindowUpdate, flags: Flag.ACK, streamId: stream.id },
      { type: FrameType.GoAway, length: GoAwayCode.Normal },
      { type: FrameType.Data, flags: Flag.FIN, streamId: stream.id, payload: new Uint8Array([7]) },
    ]);
    const reader = stream.readable.getReader();
    assert.deepEqual((await reader.read()).value, new Uint8Array([7]));
    assert.equal((await reader.read()).done, true);
    await assert.rejects(peer.session.open(), (e: unknown) => {
      assert.ok(e instanceof MuxError);
      assert.equal(e.code, "go-away");
      return true;
    });
    assert.equal(peer.session.isClosed, false);
  } finally {
    await peer.close();
  }
});

Deno.test("after a local goAway(), inbound SYNs are reset", async () => {
  const peer = rawPeer();
  try {
    peer.session.goAway();
    const goAway = await peer.next((f) => f.type === FrameType.GoAway);
    assert.equal(goAway.length, GoAwayCode.Normal);
    await peer.send([{ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1 }]);
    const rst = await peer.next((f) => (f.flags & Flag.RST) !== 0);
    assert.equal(rst.streamId, 1);
  } finally {
    await peer.close();
  }
});

Deno.test("GoAway(protocol error) from the peer closes the session with remote-error", async () => {
  const peer = rawPeer();
  try {
    await peer.send([{ type: FrameType.GoAway, length: GoAwayCode.ProtocolError }]);
    await peer.session.closed;
    const reason = peer.session.closeReason;
    assert.ok(reason instanceof MuxError);
    assert.equal(reason.code, "remote-error");
  } finally {
    await peer.close();
  }
});

Deno.test("frames for streams never opened are ignored", async () => {
  const peer = rawPeer();
  try {
    await peer.send([
      { type: FrameType.Data, streamId: 41, payload: new Uint8Array(10) },
      { type: FrameType.WindowUpdate, streamId: 43, length: 1000 },
      { type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 45 },
      { type: FrameType.Ping, flags: Flag.SYN, length: 1 },
    ]);
    await peer.next((f) => f.type === FrameType.Ping);
    assert.equal(peer.session.isClosed, false);
  } finally {
    await peer.close();
  }
});

Deno.test("frames for a finished stream are ignored", async () => {
  const peer = rawPeer();
  try {
    await peer.send([{
      type: FrameType.Data,
      flags: Flag.SYN | Flag.FIN,
      streamId: 1,
      payload: new Uint8Array([1, 2]),
    }]);
    const s = (await peer.session.accept())!;
    assert.deepEqual(await s.read(), new Uint8Array([1, 2]));
    assert.equal(await s.read(), null);
    s.closeWrite();
    await peer.next((f) => f.streamId === 1 && (f.flags & Flag.FIN) !== 0);
    await s.closed;
    assert.equal(peer.session.numStreams, 0, "both FINs: the session forgot the stream");
    await peer.send([
      { type: FrameType.Data, streamId: 1, payload: new Uint8Array(10) },
      { type: FrameType.Data, flags: Flag.FIN, streamId: 1 },
      { type: FrameType.WindowUpdate, streamId: 1, length: 1000 },
      { type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 1 },
      { type: FrameType.Ping, flags: Flag.SYN, length: 2 },
    ]);
    await peer.next((f) => f.type === FrameType.Ping && f.length === 2);
    assert.equal(peer.session.isClosed, false);
    assert.equal(peer.session.numStreams, 0);
    // And the session still serves new streams.
    await peer.send([{ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 3 }]);
    assert.equal((await peer.session.accept())?.id, 3);
  } finally {
    await peer.close();
  }
});

Deno.test("unread bytes do not hold the peer's big transport chunks alive", async () => {
  // Each transport chunk: 1 byte for stream 1 (unread, so queued) and 1 MiB for a stream
  // never opened (dropped). Queuing a view of the chunk would keep the whole MiB per byte
  // of window: a peer could make the session hold far more than the window it granted.
  const peer = rawPeer();
  try {
    const pad = new Uint8Array(1 << 20);
    for (let i = 0; i < 4; i++) {
      await peer.send([
        {
          type: FrameType.Data,
          flags: i === 0 ? Flag.SYN : 0,
          streamId: 1,
          payload: Uint8Array.of(i),
        },
        { type: FrameType.Data, streamId: 41, payload: pad },
      ]);
    }
    await peer.send([{ type: FrameType.Ping, flags: Flag.SYN, length: 7 }]);
    await peer.next((f) => f.type === FrameType.Ping && f.length === 7);
    const s = (await peer.session.accept())!;
    assert.equal(s.buffered, 4);
    const held = new Set<ArrayBufferLike>();
    const got: number[] = [];
    while (got.length < 4) {
      const chunk = (await s.read())!;
      got.push(...chunk);
      held.add(chunk.buffer);
    }
    assert.deepEqual(got, [0, 1, 2, 3]);
    const bytes = [...held].reduce((n, b) => n + b.byteLength, 0);
    assert.ok(bytes <= 8192, `4 queued bytes kept ${bytes} bytes of transport chunks alive`);
    s.reset();
  } finally {
    await peer.close();
  }
});

Deno.test("many tiny Data frames for an unread stream are held in few chunks", async () => {
  // Each queued chunk costs ~130 bytes of objects: 1-byte frames would make the session
  // hold ~130x the window the peer was granted.
  const peer = rawPeer();
  try {
    const n = 50_000;
    const frames = Array.from({ length: n }, (_, i) => ({
      type: FrameType.Data,
      flags: i === 0 ? Flag.SYN : 0,
      streamId: 1,
      payload: Uint8Array.of(i & 0xff),
    }));
    for (let i = 0; i < n; i += 1000) await peer.send(frames.slice(i, i + 1000));
    await peer.send([{ type: FrameType.Ping, flags: Flag.SYN, length: 7 }]);
    await peer.next((f) => f.type === FrameType.Ping && f.length === 7);
    const s = (await peer.session.accept())!;
    assert.equal(s.buffered, n);
    let reads = 0;
    for (let got = 0; got < n; reads++) {
      const chunk = (await s.read())!;
      for (let j = 0; j < chunk.length; j++) assert.equal(chunk[j], (got + j) & 0xff);
      got += chunk.length;
    }
    assert.ok(reads <= Math.ceil(n / 1024), `${n} queued bytes came in ${reads} chunks`);
    s.reset();
  } finally {
    await peer.close();
  }
});
