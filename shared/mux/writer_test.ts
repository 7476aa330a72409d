import assert from "node:assert/strict";
import { FrameWriter } from "./writer.ts";
import { streamTx } from "./stream_tx.ts";
import type { ConnSink } from "../transport/conn.ts";
import { Flag, FrameType } from "../frame/header.ts";
import { FrameDecoder } from "../frame/decoder.ts";

/** A frame as these tests compare it: [type, flags, stream id, length]. */
type Brief = [FrameType, number, number, number];

/**
 * A transport that records each write as its frames. While `held`, writes
 * stay pending until `release()`.
 */
function recordingSink(held = false) {
  const writes: Brief[][] = [];
  const decoder = new FrameDecoder(1 << 30);
  let pending: (() => void)[] = [];
  let arrived: (() => void) | null = null;
  const sink: ConnSink = {
    write(chunk) {
      writes.push([...decoder.decode(chunk)].map((f) => [f.type, f.flags, f.streamId, f.length]));
      arrived?.();
      if (!held) return Promise.resolve();
      return new Promise((resolve) => pending.push(resolve));
    },
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
  return {
    sink,
    writes,
    /** Resolves once `n` writes arrived. */
    async reach(n: number): Promise<void> {
      while (writes.length < n) await new Promise<void>((resolve) => arrived = resolve);
      arrived = null;
    },
    /** Completes the pending writes and every later one at once. */
    release(): void {
      held = false;
      for (const resolve of pending) resolve();
      pending = [];
    },
  };
}

const bytes = (n: number) => new Uint8Array(n).fill(7);
const { Data, WindowUpdate } = FrameType;

Deno.test("a FIN is folded into its stream's last frame while the batch fills", async () => {
  const rec = recordingSink();
  const writer = new FrameWriter(rec.sink, 1024, { fold: true });
  const running = writer.run();
  const a = streamTx(1);
  const b = streamTx(3);
  writer.data(a, bytes(10));
  writer.data(b, bytes(20));
  writer.fin(a); // behind b's frame, but a's own last frame is still in the batch
  writer.fin(b);
  await rec.reach(1);
  assert.deepEqual(rec.writes, [[[Data, Flag.FIN, 1, 10], [Data, Flag.FIN, 3, 20]]]);
  writer.finish();
  await running;
});

Deno.test("owed flags ride on the first frame, else on a WindowUpdate as the batch goes", async () => {
  const rec = recordingSink();
  const writer = new FrameWriter(rec.sink, 1024, { fold: true });
  const running = writer.run();
  const opened = streamTx(1);
  const accepted = streamTx(2);
  opened.owed = Flag.SYN;
  writer.owe(opened);
  accepted.owed = Flag.ACK;
  writer.owe(accepted);
  writer.data(opened, bytes(5));
  await rec.reach(1);
  assert.deepEqual(rec.writes[0], [[Data, Flag.SYN, 1, 5], [WindowUpdate, Flag.ACK, 2, 0]]);
  // Owed flags alone wake an idle writer, as a queued control frame does.
  const lone = streamTx(3);
  lone.owed = Flag.SYN;
  writer.owe(lone);
  await rec.reach(2);
  assert.deepEqual(rec.writes[1], [[WindowUpdate, Flag.SYN, 3, 0]]);
  writer.finish();
  await running;
});

Deno.test("no FIN is folded into a batch copied out of a buffer that keeps filling", async () => {
  const rec = recordingSink(true);
  // No buffer reuse: a small batch is copied out and its buffer filled again from offset 0.
  const writer = new FrameWriter(rec.sink, 1024, { fold: true });
  const running = writer.run();
  const a = streamTx(1);
  const b = streamTx(3);
  writer.data(a, bytes(10));
  await rec.reach(1); // handed out; the write is pending
  writer.data(b, bytes(10)); // where a's header was
  writer.fin(a);
  rec.release();
  await rec.reach(2);
  assert.deepEqual(rec.writes, [
    [[Data, 0, 1, 10]],
    [[Data, 0, 3, 10], [WindowUpdate, Flag.FIN, 1, 0]],
  ]);
  writer.finish();
  await running;
});

Deno.test("a FIN is not folded into a Data frame waiting for room", async () => {
  const rec = recordingSink();
  const writer = new FrameWriter(rec.sink, 100, { fold: true });
  const running = writer.run();
  const a = streamTx(1);
  const b = streamTx(3);
  writer.data(b, bytes(80));
  const waiting = writer.data(a, bytes(50)); // does not fit: waits
  assert.ok(waiting !== undefined);
  writer.fin(a);
  await waiting;
  await rec.reach(2);
  const frames = rec.writes.flat();
  assert.deepEqual(frames.filter((f) => f[2] === 1 && f[0] === Data), [[Data, 0, 1, 50]]);
  assert.deepEqual(frames.filter((f) => f[2] === 1 && f[0] === WindowUpdate), [
    [WindowUpdate, Flag.FIN, 1, 0],
  ]);
  writer.finish();
  await running;
});

Deno.test("by default, owed flags and FIN go as WindowUpdates of their own", async () => {
  const rec = recordingSink();
  const writer = new FrameWriter(rec.sink, 1024);
  const running = writer.run();
  const a = streamTx(1);
  a.owed = Flag.SYN;
  writer.owe(a);
  writer.data(a, bytes(5));
  writer.fin(a);
  await rec.reach(1);
  assert.deepEqual(rec.writes[0], [
    [WindowUpdate, Flag.SYN, 1, 0],
    [Data, 0, 1, 5],
    [WindowUpdate, Flag.FIN, 1, 0],
  ]);
  writer.finish();
  await running;
});

/** Queues control frames until the batch (cap + 4 KiB of slack) has no room left. */
function fillBatch(writer: FrameWriter): void {
  for (let i = 0; writer.heldFrames === 0; i++) writer.control(FrameType.Ping, Flag.ACK, 0, i);
}

Deno.test("WindowUpdates of one stream held while the transport is busy merge into one frame", async () => {
  const rec = recordingSink(true);
  const writer = new FrameWriter(rec.sink, 100);
  const running = writer.run();
  const a = streamTx(1);
  writer.data(a, bytes(10));
  await rec.reach(1); // the transport is busy from here on
  fillBatch(writer); // the last ping is held
  writer.update(a, 0, 1000);
  writer.update(a, 0, 24);
  writer.update(a, Flag.FIN, 0);
  writer.update(streamTx(3), 0, 7);
  assert.equal(writer.heldFrames, 3);
  rec.release();
  writer.finish();
  await running;
  const later = rec.writes.slice(1).flat().filter((f) => f[0] === WindowUpdate);
  assert.deepEqual(later, [[WindowUpdate, Flag.FIN, 1, 1024], [WindowUpdate, 0, 3, 7]]);
});

Deno.test("past maxHeld, control frames are dropped and onFlood is called once; GoAway still goes", async () => {
  const rec = recordingSink(true);
  let floods = 0;
  const writer = new FrameWriter(rec.sink, 100, { maxHeld: 16, onFlood: () => floods++ });
  const running = writer.run();
  writer.control(FrameType.Ping, Flag.SYN, 0, 1);
  await rec.reach(1);
  fillBatch(writer);
  const before = writer.queuedBytes;
  for (let i = 0; i < 1000; i++) writer.control(FrameType.Ping, Flag.ACK, 0, i);
  for (let i = 0; i < 1000; i++) writer.update(streamTx(2 * i + 1), Flag.RST, 0);
  assert.equal(writer.heldFrames, 16);
  assert.equal(writer.queuedBytes, before + 15 * 12);
  writer.control(FrameType.GoAway, 0, 0, 1);
  assert.equal(writer.heldFrames, 17);
  await Promise.resolve(); // onFlood runs in a microtask
  assert.equal(floods, 1);
  rec.release();
  writer.finish();
  await running;
  assert.deepEqual(rec.writes.flat().at(-1), [FrameType.GoAway, 0, 0, 1]);
  assert.equal(writer.queuedBytes, 0);
});

Deno.test("with fold, flags owed while the transport is busy stay within maxHeld", async () => {
  const rec = recordingSink(true);
  let floods = 0;
  const writer = new FrameWriter(rec.sink, 100, {
    fold: true,
    maxHeld: 16,
    onFlood: () => floods++,
  });
  const running = writer.run();
  writer.control(FrameType.Ping, Flag.SYN, 0, 1);
  await rec.reach(1);
  fillBatch(writer);
  // Streams accepted one after another while nothing drains: each owes an ACK.
  for (let i = 0; i < 1000; i++) {
    const tx = streamTx(2 * i + 2);
    tx.owed = Flag.ACK;
    writer.owe(tx);
  }
  assert.equal(writer.heldFrames, 16);
  await Promise.resolve();
  assert.equal(floods, 1);
  rec.release();
  writer.finish();
  await running;
});
