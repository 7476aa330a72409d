import assert from "node:assert/strict";
import { Watchdog } from "./watchdog.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The sweeping timer does not keep the process alive; in production open sockets do, here this. */
function keepAlive(): Disposable {
  const timer = setTimeout(() => {}, 60_000);
  return { [Symbol.dispose]: () => clearTimeout(timer) };
}

Deno.test("Watchdog calls back a silent transfer after its timeout, never before", async () => {
  using _alive = keepAlive();
  const watchdog = new Watchdog(10);
  const fired = Promise.withResolvers<number>();
  const start = performance.now();
  watchdog.watch(50, () => fired.resolve(performance.now()));
  const at = await fired.promise;
  assert.ok(at - start >= 50, `fired after ${at - start} ms`);
  assert.equal(watchdog.size, 0, "a fired deadline is forgotten");
});

Deno.test("Watchdog: touch() postpones the deadline, pause() suspends it until the next touch()", async () => {
  using _alive = keepAlive();
  const watchdog = new Watchdog(10);
  const fired = Promise.withResolvers<number>();
  let count = 0;
  // The deadline is 20 times the touch interval: a loaded host (the suite runs
  // with --parallel on 2 cores) has stalled a 25 ms timer past 60 ms.
  const watched = watchdog.watch(500, () => {
    count++;
    fired.resolve(performance.now());
  });
  for (let i = 0; i < 5; i++) {
    await delay(25);
    watched.touch();
  }
  assert.equal(count, 0, "progress every 25 ms keeps a 500 ms deadline alive");
  watched.pause();
  await delay(700);
  assert.equal(count, 0, "a paused deadline does not fire");
  watched.touch();
  const start = performance.now();
  assert.ok(await fired.promise - start >= 500, "the deadline restarts at touch()");
  assert.equal(count, 1);
});

Deno.test("Watchdog: done() stops watching and the timer stops with the last transfer", async () => {
  const watchdog = new Watchdog(10);
  let fired = 0;
  const a = watchdog.watch(20, () => fired++);
  const b = watchdog.watch(20, () => fired++);
  a.done();
  a.done();
  assert.equal(watchdog.size, 1);
  b.done();
  assert.equal(watchdog.size, 0);
  await delay(50);
  assert.equal(fired, 0);
  // The op sanitizer fails this test if the sweeping interval were left running.
});

Deno.test("Watchdog.close() forgets every transfer without calling it back", async () => {
  const watchdog = new Watchdog(10);
  let fired = 0;
  watchdog.watch(20, () => fired++);
  watchdog.close();
  assert.equal(watchdog.size, 0);
  await delay(50);
  assert.equal(fired, 0);
});

Deno.test("Watchdog.intervalFor() sweeps at an eighth of the shortest timeout, within 10 ms to 1 s", () => {
  assert.equal(Watchdog.intervalFor(300), 37);
  assert.equal(Watchdog.intervalFor(40), 10);
  assert.equal(Watchdog.intervalFor(60_000), 1000);
});

Deno.test("a lingering watchdog keeps its timer across transfers, then stops on an empty sweep", async () => {
  const dog = new Watchdog(10, { linger: true });
  const fired = Promise.withResolvers<void>();
  dog.watch(1000, () => {}).done();
  // No timer churn: the next transfer finds the timer still running, and deadlines still fire.
  dog.watch(15, () => fired.resolve());
  // The timer is unreferenced; hold the event loop while waiting.
  const alive = setInterval(() => {}, 1000);
  try {
    await fired.promise;
    assert.equal(dog.size, 0);
    // An empty sweep stops the timer; the ops sanitizer fails this test if it kept running.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    clearInterval(alive);
  }
});

Deno.test("Watchdog calls a shared callback with its context as this, and marks timedOut", async () => {
  using _alive = keepAlive();
  const watchdog = new Watchdog(10);
  const fired = Promise.withResolvers<string>();
  function onTimeout(this: { name: string }) {
    fired.resolve(this.name);
  }
  const slow = watchdog.watch(30, onTimeout, { name: "slow" });
  const quick = watchdog.watch(30, onTimeout, { name: "quick" });
  quick.done();
  assert.equal(slow.timedOut, false);
  assert.equal(await fired.promise, "slow");
  assert.equal(slow.timedOut, true);
  assert.equal(quick.timedOut, false, "a transfer done in time never times out");
});
