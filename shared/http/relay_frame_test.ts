import assert from "node:assert/strict";
import { concat } from "../bytes.ts";
import { ProtocolError } from "../frame/errors.ts";
import {
  decodeClosePayload,
  encodeCloseFrame,
  encodeRelayFrame,
  NO_STATUS,
  type RelayFrame,
  RelayFrameDecoder,
  RelayFrameType,
  truncateUtf8,
} from "./relay_frame.ts";

const enc = new TextEncoder();

function frames(): RelayFrame[] {
  const big = new Uint8Array(70_000).map((_, i) => i % 251);
  return [
    { type: RelayFrameType.Text, payload: enc.encode("hello") },
    { type: RelayFrameType.Binary, payload: new Uint8Array(0) },
    { type: RelayFrameType.Text, payload: enc.encode("") },
    { type: RelayFrameType.Binary, payload: big },
    { type: RelayFrameType.Text, payload: enc.encode("żółw 🐢") },
    { type: RelayFrameType.Close, payload: new Uint8Array([0x03, 0xe8, 0x6f, 0x6b]) },
  ];
}

/** Feeds `bytes` to a fresh decoder in chunks cut at `cuts`, copying what it yields. */
function decodeIn(bytes: Uint8Array, sizes: () => number): RelayFrame[] {
  const decoder = new RelayFrameDecoder(1 << 20);
  const out: RelayFrame[] = [];
  for (let off = 0; off < bytes.length;) {
    const n = Math.max(1, sizes());
    for (const f of decoder.decode(bytes.subarray(off, off + n))) {
      out.push({ type: f.type, payload: f.payload.slice() });
    }
    off += n;
  }
  assert.ok(decoder.idle, "no partial frame left");
  return out;
}

Deno.test("encodeRelayFrame() writes type, big-endian length, payload", () => {
  assert.deepEqual(
    [...encodeRelayFrame(RelayFrameType.Text, enc.encode("hi"))],
    [1, 0, 0, 0, 2, 104, 105],
  );
  assert.deepEqual([...encodeRelayFrame(RelayFrameType.Binary, new Uint8Array(0))], [
    2,
    0,
    0,
    0,
    0,
  ]);
  const long = encodeRelayFrame(RelayFrameType.Binary, new Uint8Array(0x010203));
  assert.deepEqual([...long.subarray(0, 5)], [2, 0, 1, 2, 3]);
});

Deno.test("RelayFrameDecoder round-trips frames fed whole, byte by byte and in random chunks", () => {
  const want = frames();
  const bytes = concat(want.map((f) => encodeRelayFrame(f.type, f.payload)));
  const feeds: [string, () => number][] = [
    ["one chunk", () => bytes.length],
    ["byte by byte", () => 1],
    ["3-byte chunks (headers split)", () => 3],
    ["random chunks", () => Math.floor(Math.random() * 9000)],
  ];
  for (const [name, sizes] of feeds) {
    assert.deepEqual(decodeIn(bytes, sizes), want, name);
  }
});

Deno.test("RelayFrameDecoder yields views into the chunk when a frame fits in it", () => {
  const chunk = concat([
    encodeRelayFrame(RelayFrameType.Text, enc.encode("a")),
    encodeRelayFrame(RelayFrameType.Binary, new Uint8Array([9])),
  ]);
  const got = [...new RelayFrameDecoder(16).decode(chunk)];
  assert.equal(got.length, 2);
  for (const f of got) assert.equal(f.payload.buffer, chunk.buffer);
});

Deno.test("RelayFrameDecoder rejects bad frames at their header", () => {
  const cases: [string, number[], string][] = [
    ["unknown type", [3, 0, 0, 0, 0], "bad-type"],
    ["ping is not relayed", [9, 0, 0, 0, 0], "bad-type"],
    ["message over the limit", [2, 0, 0, 0, 17], "frame-too-large"],
    ["text over the limit", [1, 0xff, 0xff, 0xff, 0xff], "frame-too-large"],
    ["close of 1 byte", [8, 0, 0, 0, 1], "bad-message"],
    ["close over 125 bytes", [8, 0, 0, 0, 126], "bad-message"],
  ];
  for (const [name, header, code] of cases) {
    const decoder = new RelayFrameDecoder(16);
    assert.throws(
      () => [...decoder.decode(new Uint8Array(header))],
      (err) => err instanceof ProtocolError && err.code === code,
      name,
    );
  }
  // At the limit is fine.
  const ok = [...new RelayFrameDecoder(16).decode(encodeRelayFrame(2, new Uint8Array(16)))];
  assert.equal(ok[0]!.payload.length, 16);
});

Deno.test("RelayFrameDecoder is not idle inside a frame", () => {
  const decoder = new RelayFrameDecoder(16);
  assert.deepEqual([...decoder.decode(new Uint8Array([1, 0]))], []);
  assert.equal(decoder.idle, false);
  assert.deepEqual([...decoder.decode(new Uint8Array([0, 0, 1]))], []);
  assert.equal(decoder.idle, false);
  assert.equal([...decoder.decode(new Uint8Array([65]))].length, 1);
  assert.equal(decoder.idle, true);
});

Deno.test("Close frames carry code and reason; 1005 is an empty payload", () => {
  const cases: [number, string, { code: number; reason: string }][] = [
    [1000, "", { code: 1000, reason: "" }],
    [4001, "done", { code: 4001, reason: "done" }],
    [1009, "ß".repeat(100), { code: 1009, reason: "ß".repeat(61) }],
    [NO_STATUS, "ignored", { code: NO_STATUS, reason: "" }],
    [1006, "abnormal", { code: 1006, reason: "abnormal" }],
  ];
  for (const [code, reason, want] of cases) {
    const frame = encodeCloseFrame(code, reason);
    assert.equal(frame[0], RelayFrameType.Close);
    const [decoded] = [...new RelayFrameDecoder(0).decode(frame)];
    assert.deepEqual(decodeClosePayload(decoded!.payload), want, `${code}`);
    assert.ok(frame.length <= 5 + 125);
  }
  assert.deepEqual([...encodeCloseFrame(4001, "x")], [8, 0, 0, 0, 3, 0x0f, 0xa1, 0x78]);
  assert.throws(() => encodeCloseFrame(70000), RangeError);
  assert.throws(
    () => decodeClosePayload(new Uint8Array([0x03, 0xe8, 0xff])),
    (e) => e instanceof ProtocolError && e.code === "bad-message",
  );
});

Deno.test("truncateUtf8() never splits a character", () => {
  assert.equal(new TextDecoder().decode(truncateUtf8("a🐢b", 4)), "a");
  assert.equal(new TextDecoder().decode(truncateUtf8("a🐢b", 5)), "a🐢");
  assert.equal(truncateUtf8("", 10).length, 0);
});
