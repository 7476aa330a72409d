import assert from "node:assert/strict";
import { concat } from "../bytes.ts";
import { DatagramDecoder, DatagramError, encodeDatagram, MAX_DATAGRAM_SIZE } from "./datagram.ts";

function datagrams(): Uint8Array[] {
  const sizes = [0, 1, 2, 255, 256, 1500, 60_000, MAX_DATAGRAM_SIZE, 3];
  return sizes.map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff));
}

Deno.test("encodeDatagram() round-trips through the decoder, sizes 0 to 65,535", () => {
  for (const d of datagrams()) {
    const framed = encodeDatagram(d);
    assert.equal(framed.length, d.length + 2);
    assert.equal((framed[0]! << 8) | framed[1]!, d.length);
    assert.deepEqual([...new DatagramDecoder().push(framed)], [d]);
  }
});

Deno.test("encodeDatagram() rejects a datagram longer than 65,535 bytes", () => {
  assert.throws(() => encodeDatagram(new Uint8Array(MAX_DATAGRAM_SIZE + 1)), DatagramError);
});

Deno.test("DatagramDecoder yields whole datagrams from partial, multiple and random-sized chunks", () => {
  const all = datagrams();
  const wire = concat(all.map(encodeDatagram));
  for (const chunkSizes of [[1], [2], [3], [7, 1, 65_536], [wire.length], [0]]) {
    const decoder = new DatagramDecoder();
    const out: Uint8Array[] = [];
    let at = 0;
    for (let i = 0; at < wire.length; i++) {
      let size = chunkSizes[i % chunkSizes.length]!;
      if (size === 0) size = 1 + Math.floor(Math.random() * 70_000);
      // Copy: the decoder must not depend on the caller keeping chunk buffers.
      for (const d of decoder.push(wire.slice(at, at + size))) out.push(d.slice());
      at += size;
    }
    assert.equal(decoder.pending, 0);
    assert.deepEqual(out, all, `chunks of ${chunkSizes}`);
  }
});

Deno.test("DatagramDecoder.pending counts the bytes of an incomplete frame", () => {
  const decoder = new DatagramDecoder();
  assert.deepEqual([...decoder.push(new Uint8Array([0]))], []);
  assert.equal(decoder.pending, 1);
  assert.deepEqual([...decoder.push(new Uint8Array([3, 9]))], []);
  assert.equal(decoder.pending, 3);
  assert.deepEqual([...decoder.push(new Uint8Array([8, 7, 0, 0]))], [
    new Uint8Array([9, 8, 7]),
    new Uint8Array(0),
  ]);
  assert.equal(decoder.pending, 0);
});
