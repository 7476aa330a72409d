import assert from "node:assert/strict";
import { concat } from "../bytes.ts";
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  FrameEncoder,
  maskInPlace,
  Opcode,
  WebSocketProtocolError,
  type WsFrame,
} from "./ws_frame.ts";
import { MessageAssembler, WsFrameDecoder } from "./ws_frame_decode.ts";

const hex = (s: string) => Uint8Array.from(s.split(" "), (b) => parseInt(b, 16));
const text = (s: string) => new TextEncoder().encode(s);
const bytes = (n: number, seed = 0) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** Decodes all chunks and copies every payload (views may point into the chunks). */
function decodeAll(decoder: WsFrameDecoder, chunks: Uint8Array[]): WsFrame[] {
  const out: WsFrame[] = [];
  for (const c of chunks) {
    for (const f of decoder.decode(c)) out.push({ ...f, payload: f.payload.slice() });
  }
  return out;
}

function split(data: Uint8Array, sizes: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length;) {
    const n = Math.max(1, sizes());
    out.push(data.slice(off, off + n));
    off += n;
  }
  return out;
}

Deno.test("encodeFrame matches the examples of RFC 6455 §5.7", () => {
  assert.deepEqual(encodeFrame(Opcode.Text, text("Hello")), hex("81 05 48 65 6c 6c 6f"));
  assert.deepEqual(
    encodeFrame(Opcode.Text, text("Hello"), { mask: hex("37 fa 21 3d") }),
    hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
  );
  assert.deepEqual(encodeFrame(Opcode.Text, text("Hel"), { more: true }), hex("01 03 48 65 6c"));
  assert.deepEqual(encodeFrame(Opcode.Continuation, text("lo")), hex("80 02 6c 6f"));
  assert.deepEqual(encodeFrame(Opcode.Ping, text("Hello")), hex("89 05 48 65 6c 6c 6f"));
  assert.deepEqual(encodeFrame(Opcode.Binary, bytes(256)).subarray(0, 4), hex("82 7e 01 00"));
  assert.deepEqual(
    encodeFrame(Opcode.Binary, bytes(65536)).subarray(0, 10),
    hex("82 7f 00 00 00 00 00 01 00 00"),
  );
});

Deno.test("decoder reads the masked example of RFC 6455 §5.7", () => {
  const frames = decodeAll(new WsFrameDecoder({ maxPayload: 1000, masked: true }), [
    hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
  ]);
  assert.deepEqual(frames, [{ fin: true, opcode: Opcode.Text, payload: text("Hello") }]);
});

Deno.test("frames round-trip at every length encoding, masked and not", () => {
  for (const masked of [false, true]) {
    for (const n of [0, 1, 125, 126, 127, 65535, 65536, 70_001]) {
      const payload = bytes(n, n);
      const mask = masked ? crypto.getRandomValues(new Uint8Array(4)) : undefined;
      const wire = encodeFrame(Opcode.Binary, payload, mask ? { mask } : {});
      const decoder = new WsFrameDecoder({ maxPayload: 1 << 20, masked });
      const frames = decodeAll(decoder, [wire]);
      assert.equal(frames.length, 1, `length ${n}`);
      assert.deepEqual(frames[0], { fin: true, opcode: Opcode.Binary, payload });
      assert.equal(decoder.buffered, 0);
    }
  }
});

Deno.test("encodeFrame copies the payload and leaves it unmasked", () => {
  const payload = bytes(1000);
  const before = payload.slice();
  encodeFrame(Opcode.Binary, payload, { mask: hex("01 02 03 04") });
  assert.deepEqual(payload, before);
});

Deno.test("decoder yields the same frames from partial, single-byte and random chunks", () => {
  const sample: [Opcode, Uint8Array, boolean][] = [
    [Opcode.Binary, bytes(10), false],
    [Opcode.Text, text("frag"), true],
    [Opcode.Ping, text("ping"), false],
    [Opcode.Continuation, text("ment"), false],
    [Opcode.Binary, new Uint8Array(0), false],
    [Opcode.Binary, bytes(300, 1), false],
    [Opcode.Binary, bytes(70_000, 2), false],
    [Opcode.Close, encodeClosePayload(1000, "bye"), false],
  ];
  const expected = sample.map(([opcode, payload, more]) => ({ fin: !more, opcode, payload }));
  for (const masked of [false, true]) {
    const wire = concat(sample.map(([opcode, payload, more]) =>
      encodeFrame(opcode, payload, {
        more,
        ...(masked ? { mask: crypto.getRandomValues(new Uint8Array(4)) } : {}),
      })
    ));
    const options = { maxPayload: 1 << 20, masked };
    assert.deepEqual(decodeAll(new WsFrameDecoder(options), [wire]), expected);
    assert.deepEqual(decodeAll(new WsFrameDecoder(options), split(wire, () => 1)), expected);
    // Two chunks, cut at each offset of the first 400 bytes (every header and small payload).
    for (let cut = 1; cut < 400; cut++) {
      const chunks = [wire.subarray(0, cut), wire.subarray(cut)];
      assert.deepEqual(decodeAll(new WsFrameDecoder(options), chunks), expected, `cut ${cut}`);
    }
    for (let round = 0; round < 50; round++) {
      const chunks = split(wire, () => Math.floor(Math.random() * 3000));
      assert.deepEqual(decodeAll(new WsFrameDecoder(options), chunks), expected);
    }
  }
});

Deno.test("decoder leaves the caller's chunk unchanged when it unmasks", () => {
  const wire = encodeFrame(Opcode.Binary, bytes(100), { mask: hex("aa bb cc dd") });
  const copy = wire.slice();
  decodeAll(new WsFrameDecoder({ maxPayload: 1000, masked: true }), [wire]);
  assert.deepEqual(wire, copy);
});

Deno.test("decoder rejects frames that break RFC 6455", () => {
  const cases: [string, Uint8Array, boolean, string][] = [
    ["RSV1 set", hex("c2 00"), false, "bad-frame"],
    ["opcode 0x3", hex("83 00"), false, "bad-opcode"],
    ["opcode 0xb", hex("8b 00"), false, "bad-opcode"],
    ["masked server frame", hex("82 80 00 00 00 00"), false, "bad-mask"],
    ["unmasked client frame", hex("82 00"), true, "bad-mask"],
    ["fragmented ping", hex("09 00"), false, "bad-frame"],
    ["close of 126 bytes", hex("88 7e 00 7e"), false, "bad-frame"],
    ["64-bit length with MSB set", hex("82 7f 80 00 00 00 00 00 00 00"), false, "bad-frame"],
  ];
  for (const [name, wire, masked, code] of cases) {
    const decoder = new WsFrameDecoder({ maxPayload: 1 << 20, masked });
    assert.throws(() => decodeAll(decoder, [wire]), (e: unknown) => {
      assert.ok(e instanceof WebSocketProtocolError, name);
      assert.equal(e.code, code, name);
      assert.equal(e.closeCode, CloseCode.ProtocolError, name);
      return true;
    });
  }
});

Deno.test("decoder rejects an oversized frame at its header, before the payload", () => {
  const decoder = new WsFrameDecoder({ maxPayload: 1000, masked: false });
  // Header only: 1001 bytes announced, none sent.
  assert.throws(() => decodeAll(decoder, [hex("82 7e 03 e9")]), (e: unknown) => {
    assert.ok(e instanceof WebSocketProtocolError);
    assert.equal(e.code, "too-large");
    assert.equal(e.closeCode, CloseCode.MessageTooBig);
    assert.match(e.message, /1001 bytes exceeds the limit of 1000/);
    return true;
  });
});

Deno.test("MessageAssembler joins fragments and passes single frames without a copy", () => {
  const assembler = new MessageAssembler(100);
  const single = bytes(10);
  const whole = assembler.push({ fin: true, opcode: Opcode.Binary, payload: single });
  assert.equal(whole?.data, single);
  assert.equal(assembler.push({ fin: false, opcode: Opcode.Binary, payload: text("ab") }), null);
  assert.equal(
    assembler.push({ fin: false, opcode: Opcode.Continuation, payload: text("") }),
    null,
  );
  const joined = assembler.push({ fin: true, opcode: Opcode.Continuation, payload: text("cd") });
  assert.deepEqual(joined, { opcode: Opcode.Binary, data: text("abcd") });
});

Deno.test("MessageAssembler rejects bad fragment order and oversized messages", () => {
  const bad = (code: string) => (e: unknown) => {
    assert.ok(e instanceof WebSocketProtocolError);
    assert.equal(e.code, code);
    return true;
  };
  assert.throws(
    () =>
      new MessageAssembler(100).push({
        fin: true,
        opcode: Opcode.Continuation,
        payload: bytes(1),
      }),
    bad("bad-frame"),
  );
  const a = new MessageAssembler(100);
  a.push({ fin: false, opcode: Opcode.Binary, payload: bytes(1) });
  assert.throws(
    () => a.push({ fin: true, opcode: Opcode.Binary, payload: bytes(1) }),
    bad("bad-frame"),
  );
  const b = new MessageAssembler(100);
  b.push({ fin: false, opcode: Opcode.Binary, payload: bytes(60) });
  assert.throws(
    () => b.push({ fin: true, opcode: Opcode.Continuation, payload: bytes(41) }),
    bad("too-large"),
  );
});

Deno.test("close payloads round-trip and invalid ones are rejected", () => {
  assert.deepEqual(decodeClosePayload(encodeClosePayload(1000, "bye")), {
    code: 1000,
    reason: "bye",
  });
  assert.deepEqual(decodeClosePayload(new Uint8Array(0)), { code: 1005, reason: "" });
  const long = encodeClosePayload(4000, "é".repeat(100));
  assert.ok(long.length <= 125);
  assert.equal(decodeClosePayload(long).reason, "é".repeat(61));
  for (const payload of [hex("03"), hex("03 ed"), hex("03 ee"), hex("0b b8 ff")]) {
    assert.throws(() => decodeClosePayload(payload), WebSocketProtocolError);
  }
});

Deno.test("maskInPlace gives the same bytes aligned and unaligned, and undoes itself", () => {
  const mask = hex("12 34 56 78");
  const data = bytes(1031);
  const aligned = data.slice();
  const unaligned = new Uint8Array(1032).subarray(1);
  unaligned.set(data);
  maskInPlace(aligned, mask);
  maskInPlace(unaligned, mask);
  assert.deepEqual(aligned, unaligned);
  assert.equal(aligned[5], data[5]! ^ mask[1]!);
  maskInPlace(aligned, mask);
  assert.deepEqual(aligned, data);
});

Deno.test("encodeFrame refuses oversized control frames and bad masks", () => {
  assert.throws(() => encodeFrame(Opcode.Ping, bytes(126)), RangeError);
  assert.throws(() => encodeFrame(Opcode.Close, bytes(2), { more: true }), RangeError);
  assert.throws(() => encodeFrame(Opcode.Binary, bytes(2), { mask: bytes(3) }), RangeError);
});

Deno.test("maskInPlace masks payloads at every alignment and length like the byte loop", () => {
  const mask = Uint8Array.from([0x12, 0x34, 0x56, 0x78]);
  for (let off = 0; off < 8; off++) {
    for (const len of [0, 1, 3, 15, 16, 17, 31, 100, 1001]) {
      const buf = new Uint8Array(len + off + 8);
      crypto.getRandomValues(buf);
      const view = buf.subarray(off, off + len);
      const want = view.map((b, i) => b ^ mask[i & 3]!);
      maskInPlace(view, mask);
      assert.deepEqual(view, want, `offset ${off}, length ${len}`);
    }
  }
});

Deno.test("FrameEncoder encodes like encodeFrame, reusing one buffer", () => {
  const encoder = new FrameEncoder();
  const mask = hex("12 34 56 78");
  let previous: Uint8Array | null = null;
  for (const n of [0, 1, 125, 126, 65535, 65536, 131_072 + 4096]) {
    const payload = bytes(n, n);
    for (const options of [{}, { mask }, { mask, more: true }]) {
      const frame = encoder.encode(Opcode.Binary, payload, options);
      assert.deepEqual(frame, encodeFrame(Opcode.Binary, payload, options), `length ${n}`);
      assert.deepEqual(payload, bytes(n, n), "payload left as it was");
      if (previous && "mask" in options && n > 0) {
        assert.equal(frame.buffer, previous.buffer, `length ${n}: same buffer`);
      }
      if ("mask" in options) previous = frame;
    }
  }
  // Control frames follow the same rules as encodeFrame's.
  assert.throws(() => encoder.encode(Opcode.Ping, bytes(126)), RangeError);
  assert.throws(() => encoder.encode(Opcode.Binary, bytes(2), { mask: bytes(3) }), RangeError);
});

Deno.test("FrameEncoder gives a frame bigger than maxKept a buffer of its own", () => {
  const encoder = new FrameEncoder(64 * 1024);
  const mask = hex("01 02 03 04");
  const small = encoder.encode(Opcode.Binary, bytes(1000), { mask });
  const big = encoder.encode(Opcode.Binary, bytes(100_000), { mask });
  assert.deepEqual(big, encodeFrame(Opcode.Binary, bytes(100_000), { mask }));
  assert.notEqual(big.buffer, small.buffer);
  // The big frame stays valid: the next small one goes to the kept buffer.
  const again = encoder.encode(Opcode.Binary, bytes(10), { mask });
  assert.equal(again.buffer, small.buffer);
  assert.deepEqual(big, encodeFrame(Opcode.Binary, bytes(100_000), { mask }));
});

Deno.test("decoder with copyPayloads never yields a view into the chunk", () => {
  const wire = concat([encodeFrame(Opcode.Binary, bytes(10)), encodeFrame(Opcode.Ping, text("p"))]);
  const decoder = new WsFrameDecoder({ maxPayload: 1000, masked: false, copyPayloads: true });
  const frames = [...decoder.decode(wire)];
  assert.equal(frames.length, 2);
  for (const f of frames) assert.notEqual(f.payload.buffer, wire.buffer);
  assert.deepEqual(frames[0]!.payload, bytes(10));
  // Without the option, a whole payload is a view.
  const views = [...new WsFrameDecoder({ maxPayload: 1000, masked: false }).decode(wire)];
  assert.equal(views[0]!.payload.buffer, wire.buffer);
});

Deno.test("a pending payload can be filled directly, then decoding goes on", () => {
  for (const masked of [false, true]) {
    const mask = masked ? { mask: hex("aa bb cc dd") } : {};
    const payload = bytes(50_000, 3);
    const wire = concat([
      encodeFrame(Opcode.Binary, payload, mask),
      encodeFrame(Opcode.Binary, text("next"), mask),
    ]);
    const decoder = new WsFrameDecoder({ maxPayload: 1 << 20, masked });
    const none = decoder.pendingPayload; // (asserting on the getter would narrow it for good)
    assert.equal(none, null);
    assert.deepEqual([...decoder.decode(wire.subarray(0, 1000))], []);
    const headerSize = masked ? 8 : 4;
    let off = 1000;
    let pending: Uint8Array | null;
    for (let step = 0; (pending = decoder.pendingPayload) !== null; step++) {
      const n = Math.min(pending.length, 7000);
      pending.set(wire.subarray(off, off + n));
      off += n;
      const frame = decoder.filled(n);
      if (off < headerSize + payload.length) assert.equal(frame, null, `step ${step}`);
      else assert.deepEqual(frame, { fin: true, opcode: Opcode.Binary, payload });
    }
    assert.equal(off, headerSize + payload.length);
    assert.throws(() => decoder.filled(1), RangeError);
    assert.deepEqual(decodeAll(decoder, [wire.subarray(off)]), [
      { fin: true, opcode: Opcode.Binary, payload: text("next") },
    ]);
  }
});
