import { type ConnPair, withConnTypes } from "./conn_types.ts";
import type { Conn } from "../../shared/transport/conn.ts";
import assert from "node:assert/strict";

const TOTAL = 1024 * 1024;
/** Chunk sizes cycled through while writing: tiny, odd, and larger than one TCP segment. */
const CHUNK_SIZES = [1, 7, 1000, 4096, 16_383, 65_536, 100_000];

/** `TOTAL` bytes in chunks of `CHUNK_SIZES`, each byte a function of its offset and `seed`. */
function chunks(seed: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; offset < TOTAL; i++) {
    const size = Math.min(CHUNK_SIZES[i % CHUNK_SIZES.length]!, TOTAL - offset);
    out.push(Uint8Array.from({ length: size }, (_, j) => byteAt(offset + j, seed)));
    offset += size;
  }
  return out;
}

function byteAt(offset: number, seed: number): number {
  return (offset * 131 + (offset >>> 9) + seed) & 0xff;
}

async function send(conn: Conn, data: Uint8Array[]): Promise<void> {
  const writer = conn.writable.getWriter();
  for (const chunk of data) await writer.write(chunk);
  writer.releaseLock();
}

/** Reads exactly `n` bytes and checks each against `byteAt(offset, seed)`. */
async function receive(conn: Conn, n: number, seed: number): Promise<void> {
  const reader = conn.readable.getReader();
  let offset = 0;
  while (offset < n) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`EOF after ${offset} of ${n} bytes`);
    for (let j = 0; j < value.length; j++) {
      if (value[j] !== byteAt(offset + j, seed)) {
        throw new Error(`Byte ${offset + j} is ${value[j]}, expected ${byteAt(offset + j, seed)}`);
      }
    }
    offset += value.length;
  }
  assert.equal(offset, n, "no bytes beyond those sent");
  reader.releaseLock();
}

/** Closes `from`'s writable and checks that `to`'s readable ends. */
async function closeAndExpectEof(from: Conn, to: Conn): Promise<void> {
  const reader = to.readable.getReader();
  const eof = reader.read();
  await from.writable.close();
  assert.deepEqual(await eof, { value: undefined, done: true });
  reader.releaseLock();
}

/**
 * Finishes a pair whose `from` end closed its writable and whose `to` end saw
 * EOF, as a session would: `to` closes its writable, `from` cancels its
 * readable. Over TCP and wss closing one writable closes the whole
 * connection; over TCP the closer's own readable then fails with BadResource.
 */
async function finish(pair: ConnPair, from: Conn, to: Conn): Promise<void> {
  await to.writable.close();
  await from.readable.cancel().catch((e) => {
    if (!(pair.name === "tcp" && e instanceof Deno.errors.BadResource)) throw e;
  });
  await pair.close();
}

withConnTypes("a pair carries 1 MiB each way at once, in chunks, intact", async (pair) => {
  const { a, b } = pair;
  await Promise.all([
    send(a, chunks(1)),
    receive(b, TOTAL, 1),
    send(b, chunks(2)),
    receive(a, TOTAL, 2),
  ]);
  await closeAndExpectEof(a, b);
  await finish(pair, a, b);
});

withConnTypes("a pair carries 1 MiB a→b, then 1 MiB b→a", async (pair) => {
  const { a, b } = pair;
  await Promise.all([send(a, chunks(3)), receive(b, TOTAL, 3)]);
  await Promise.all([send(b, chunks(4)), receive(a, TOTAL, 4)]);
  await closeAndExpectEof(b, a);
  await finish(pair, b, a);
});

withConnTypes("close() releases a pair nobody used", async (pair) => {
  await pair.close();
});

// Not over memory: close() there releases nothing, and a pending read is the test's own.
withConnTypes("close() settles a read left pending", async (pair) => {
  const read = pair.b.readable.getReader().read();
  await pair.close();
  // Over wss the readable ends; over TCP the read is interrupted.
  await read.then((r) => assert.equal(r.done, true), (e) => assert.ok(e instanceof Error));
}, { except: ["memory"] });

withConnTypes("close() may be called again", async (pair) => {
  await pair.close();
  await pair.close();
});
