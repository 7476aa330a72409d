import assert from "node:assert/strict";
import { WriteQueue, type WriteQueueOptions } from "./write_queue.ts";

/** A queue recording its batches and drop events; `written` resolves at each write. */
function recorder(options: Partial<WriteQueueOptions<number>> = {}) {
  const batches: number[][] = [];
  const drops: unknown[] = [];
  let wrote = Promise.withResolvers<void>();
  const queue = new WriteQueue<number>({
    capacity: 100,
    batchSize: 10,
    interval: 60_000,
    write: (batch) => {
      batches.push(batch);
      wrote.resolve();
      wrote = Promise.withResolvers<void>();
    },
    onDrops: (e) => drops.push(e),
    ...options,
  });
  return { queue, batches, drops, nextWrite: () => wrote.promise };
}

Deno.test("WriteQueue writes pushes made within an interval as one batch", async () => {
  const { queue, batches, nextWrite } = recorder({ interval: 20 });
  const written = nextWrite();
  for (let i = 0; i < 7; i++) assert.equal(queue.push(i), true);
  assert.deepEqual(batches, [], "push never writes on the caller's path");
  await written;
  assert.deepEqual(batches, [[0, 1, 2, 3, 4, 5, 6]]);
  assert.deepEqual(queue.stats, { queued: 0, written: 7, dropped: 0, failed: 0, batches: 1 });
  queue.close();
});

Deno.test("WriteQueue writes a full batch without waiting for the interval", async () => {
  // The interval is a minute: only the full-batch path can write before the test ends.
  const { queue, batches, nextWrite } = recorder({ batchSize: 10 });
  const written = nextWrite();
  for (let i = 0; i < 25; i++) queue.push(i);
  await written;
  assert.deepEqual(batches[0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const second = nextWrite();
  await second;
  assert.equal(batches.length, 2, "one batch per macrotask");
  assert.equal(queue.stats.queued, 5, "a partial batch waits for the interval");
  queue.close();
  assert.deepEqual(batches.map((b) => b.length), [10, 10, 5], "close writes the rest");
});

Deno.test("WriteQueue drops when full, counts every drop and reports once per episode", () => {
  const { queue, drops } = recorder({ capacity: 5, batchSize: 100 });
  for (let i = 0; i < 5; i++) assert.equal(queue.push(i), true);
  for (let i = 0; i < 1000; i++) assert.equal(queue.push(i), false);
  assert.deepEqual(drops, [{ phase: "start", capacity: 5 }], "one report while dropping");
  assert.equal(queue.stats.dropped, 1000);
  assert.equal(queue.flush(), 5);
  assert.deepEqual(drops[1], { phase: "end", dropped: 1000 }, "one report with the total");
  assert.equal(queue.push(1), true, "accepts again once drained");
  queue.push(2);
  queue.flush();
  assert.equal(drops.length, 2);
  queue.close();
  assert.equal(queue.push(3), false, "closed: dropped");
  assert.equal(queue.stats.dropped, 1001);
});

Deno.test("WriteQueue counts failed batches as lost, reports once per episode, and goes on", () => {
  const events: unknown[] = [];
  let fail = true;
  const ok: number[][] = [];
  const queue = new WriteQueue<number>({
    capacity: 10,
    batchSize: 2,
    interval: 60_000,
    write: (batch) => {
      if (fail) throw new Error("disk full");
      ok.push(batch);
    },
    onFailures: (e) => events.push(e.phase === "start" ? (e.error as Error).message : e),
  });
  queue.push(1);
  queue.push(2);
  queue.push(3);
  assert.equal(queue.flush(), 0);
  assert.deepEqual(events, ["disk full"], "two failed batches, one report");
  assert.equal(queue.stats.failed, 3);
  fail = false;
  queue.push(4);
  queue.close();
  assert.deepEqual(ok, [[4]]);
  assert.deepEqual(events, ["disk full", { phase: "end", lost: 3 }]);
  assert.deepEqual(queue.stats, { queued: 0, written: 1, dropped: 0, failed: 3, batches: 1 });
});

Deno.test("WriteQueue refuses a capacity, batch size or interval out of range", () => {
  const write = () => {};
  assert.throws(
    () => new WriteQueue({ capacity: 0, batchSize: 1, interval: 1, write }),
    RangeError,
  );
  assert.throws(
    () => new WriteQueue({ capacity: 1, batchSize: 0, interval: 1, write }),
    RangeError,
  );
  assert.throws(
    () => new WriteQueue({ capacity: 1, batchSize: 1, interval: -1, write }),
    RangeError,
  );
});
