import assert from "node:assert/strict";
import { FrameDecoder } from "./decoder.ts";
import { encodeHeader, Flag, type Frame, FrameType, HEADER_SIZE } from "./header.ts";
import { ProtocolError } from "./errors.ts";

/** Encodes frames back to back, as a session writer does. */
function encode(
  frames: {
    type: FrameType;
    flags: number;
    streamId: number;
    payload: Uint8Array;
    length?: number;
  }[],
): Uint8Array {
  const size = frames.reduce((n, f) => n + HEADER_SIZE + f.payload.length, 0);
  const buf = new Uint8Array(size);
  let off = 0;
  for (const f of frames) {
    const length = f.type === FrameType.Data ? f.payload.length : f.length ?? 0;
    encodeHeader(buf, off, { type: f.type, flags: f.flags, streamId: f.streamId, length });
    buf.set(f.payload, off + HEADER_SIZE);
    off += HEADER_SIZE + f.payload.length;
  }
  return buf;
}

function sample() {
  const payload = (n: number, seed: number) =>
    Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  return [
    {
      type: FrameType.WindowUpdate,
      flags: Flag.SYN,
      streamId: 1,
      payload: new Uint8Array(0),
      length: 0,
    },
    { type: FrameType.Data, flags: 0, streamId: 1, payload: payload(1000, 1) },
    { type: FrameType.Ping, flags: Flag.SYN, streamId: 0, payload: new Uint8Array(0), length: 99 },
    { type: FrameType.Data, flags: Flag.FIN, streamId: 3, payload: payload(5, 2) },
    { type: FrameType.Data, flags: 0, streamId: 5, payload: new Uint8Array(0) },
    { type: FrameType.Data, flags: 0, streamId: 5, payload: payload(70_000, 3) },
    { type: FrameType.GoAway, flags: 0, streamId: 0, payload: new Uint8Array(0), length: 0 },
  ];
}

/** Decodes chunks and joins the pieces of split Data frames, checking their first/last marks. */
function collect(decoder: FrameDecoder, chunks: Uint8Array[]): Frame[] {
  const out: Frame[] = [];
  let open = false;
  for (const c of chunks) {
    for (const f of decoder.decode(c)) {
      assert.equal(f.first, !open, "first piece marked wrongly");
      if (f.first) out.push({ ...f, payload: f.payload.slice() });
      else {
        const prev = out[out.length - 1]!;
        assert.equal(prev.streamId, f.streamId);
        const joined = new Uint8Array(prev.payload.length + f.payload.length);
        joined.set(prev.payload);
        joined.set(f.payload, prev.payload.length);
        prev.payload = joined;
      }
      open = !f.last;
    }
  }
  assert.equal(open, false, "a frame was left unfinished");
  return out;
}

function check(frames: Frame[]) {
  const want = sample();
  assert.equal(frames.length, want.length);
  frames.forEach((f, i) => {
    const w = want[i]!;
    assert.equal(f.type, w.type);
    assert.equal(f.flags, w.flags);
    assert.equal(f.streamId, w.streamId);
    assert.deepEqual(f.payload, w.payload);
    if (w.type !== FrameType.Data) assert.equal(f.length, w.length);
  });
}

Deno.test("decoder yields frames from one chunk holding several frames", () => {
  check(collect(new FrameDecoder(1 << 20), [encode(sample())]));
});

Deno.test("decoder reassembles frames split at every byte boundary", () => {
  const bytes = encode(sample());
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  check(collect(new FrameDecoder(1 << 20), chunks));
});

Deno.test("decoder handles random-sized chunks", () => {
  const bytes = encode(sample());
  for (let round = 0; round < 200; round++) {
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < bytes.length;) {
      const n = 1 + Math.floor(Math.random() * (Math.random() < 0.5 ? 20 : 5000));
      chunks.push(bytes.subarray(off, off + n));
      off += n;
    }
    check(collect(new FrameDecoder(1 << 20), chunks));
  }
});

Deno.test("decoder hands out views of the received chunks, whole or split, never copies", () => {
  const bytes = encode(sample());
  const frames = [...new FrameDecoder(1 << 20).decode(bytes)];
  assert.equal(frames[1]!.payload.buffer, bytes.buffer);
  const decoder = new FrameDecoder(1 << 20);
  const a = bytes.slice(0, 500);
  const b = bytes.slice(500);
  const pieces = [...decoder.decode(a), ...decoder.decode(b)].filter((f) => f.streamId === 1);
  assert.equal(pieces[1]!.payload.buffer, a.buffer);
  assert.equal(pieces[2]!.payload.buffer, b.buffer);
  assert.deepEqual([pieces[1]!.first, pieces[1]!.last, pieces[2]!.first, pieces[2]!.last], [
    true,
    false,
    false,
    true,
  ]);
});

Deno.test("decoder rejects a Data frame over the limit before buffering it", () => {
  const decoder = new FrameDecoder(1024);
  const header = new Uint8Array(HEADER_SIZE);
  encodeHeader(header, 0, { type: FrameType.Data, flags: 0, streamId: 1, length: 1025 });
  assert.throws(() => [...decoder.decode(header)], (e: unknown) => {
    assert.ok(e instanceof ProtocolError);
    assert.equal(e.code, "frame-too-large");
    return true;
  });
  assert.equal(decoder.buffered, 0);
});

Deno.test("decoder does not treat a large WindowUpdate or Ping length as a payload", () => {
  const decoder = new FrameDecoder(16);
  const bytes = encode([
    {
      type: FrameType.WindowUpdate,
      flags: 0,
      streamId: 1,
      payload: new Uint8Array(0),
      length: 0xffffffff,
    },
    {
      type: FrameType.Ping,
      flags: Flag.ACK,
      streamId: 0,
      payload: new Uint8Array(0),
      length: 0xfffffff0,
    },
  ]);
  const frames = [...decoder.decode(bytes)];
  assert.equal(frames.length, 2);
  assert.equal(frames[0]!.length, 0xffffffff);
});
