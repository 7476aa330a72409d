import assert from "node:assert/strict";
import {
  decodeHeader,
  encodeHeader,
  Flag,
  FrameType,
  type Header,
  HEADER_SIZE,
  readU32,
  writeU32,
} from "./header.ts";
import { ProtocolError } from "./errors.ts";

const cases: Header[] = [
  { type: FrameType.Data, flags: 0, streamId: 1, length: 0 },
  { type: FrameType.Data, flags: Flag.SYN | Flag.FIN, streamId: 0xffffffff, length: 0xffffffff },
  { type: FrameType.WindowUpdate, flags: Flag.ACK, streamId: 2, length: 262144 },
  { type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 7, length: 0 },
  { type: FrameType.Ping, flags: Flag.SYN, streamId: 0, length: 0x80000001 },
  { type: FrameType.GoAway, flags: 0, streamId: 0, length: 2 },
];

Deno.test("header codec round-trips every type and flag combination", () => {
  for (const h of cases) {
    const buf = new Uint8Array(HEADER_SIZE + 3);
    encodeHeader(buf, 3, h);
    const { payload, first, last, ...decoded } = decodeHeader(buf, 3);
    assert.deepEqual(decoded, h);
    assert.equal(payload.length, 0);
    assert.ok(first && last);
  }
});

Deno.test("header codec matches the hashicorp byte layout", () => {
  const buf = new Uint8Array(HEADER_SIZE);
  encodeHeader(buf, 0, {
    type: FrameType.WindowUpdate,
    flags: Flag.ACK | Flag.RST,
    streamId: 1234,
    length: 4321,
  });
  // The same header as hashicorp/yamux const_test.go TestEncodeDecode.
  assert.deepEqual([...buf], [0, 1, 0, 10, 0, 0, 4, 210, 0, 0, 16, 225]);
});

Deno.test("header decoder rejects a bad version, unknown type and unknown flags", () => {
  const bad: [number[], string][] = [
    [[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], "bad-version"],
    [[0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], "bad-type"],
    [[0, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], "bad-type"],
    [[0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 0], "bad-flags"],
    [[0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0], "bad-flags"],
  ];
  for (const [bytes, code] of bad) {
    assert.throws(() => decodeHeader(new Uint8Array(bytes)), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.code, code);
      return true;
    });
  }
});

Deno.test("u32 helpers cover the full unsigned range", () => {
  const buf = new Uint8Array(4);
  for (const v of [0, 1, 255, 256, 65535, 0x7fffffff, 0x80000000, 0xffffffff]) {
    writeU32(buf, 0, v);
    assert.equal(readU32(buf, 0), v);
  }
});
