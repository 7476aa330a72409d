import assert from "node:assert/strict";
import { MaskBuffer } from "./ws_mask.ts";
import { maskInPlace } from "./ws_frame.ts";

Deno.test("MaskBuffer is available in Deno and sized in whole pages", () => {
  const buffer = MaskBuffer.create(100_000);
  assert.ok(buffer, "WebAssembly SIMD is available");
  assert.equal(buffer.bytes.length, 2 * 65536);
});

Deno.test("MaskBuffer masks like maskInPlace at every offset and length", () => {
  const buffer = MaskBuffer.create(65536)!;
  const mask = Uint8Array.from([0x12, 0x34, 0x56, 0x78]);
  for (let off = 0; off < 20; off++) {
    for (const len of [0, 1, 3, 15, 16, 17, 31, 32, 33, 100, 1001, 65536 - 20]) {
      const data = crypto.getRandomValues(new Uint8Array(Math.min(len, 65536)));
      const view = buffer.bytes.subarray(off, off + len);
      view.set(data);
      const before = buffer.bytes.slice(0, off);
      const want = data.slice();
      maskInPlace(want, mask);
      buffer.mask(view, mask);
      assert.deepEqual(view, want, `offset ${off}, length ${len}`);
      assert.deepEqual(buffer.bytes.subarray(0, off), before, "bytes before the view untouched");
    }
  }
});

Deno.test("MaskBuffer leaves the bytes after the view untouched and refuses other buffers", () => {
  const buffer = MaskBuffer.create(1024)!;
  buffer.bytes.fill(7);
  buffer.mask(buffer.bytes.subarray(3, 3 + 21), Uint8Array.from([1, 2, 3, 4]));
  assert.ok(buffer.bytes.subarray(24).every((b) => b === 7));
  assert.throws(() => buffer.mask(new Uint8Array(16), Uint8Array.from([1, 2, 3, 4])), RangeError);
});
