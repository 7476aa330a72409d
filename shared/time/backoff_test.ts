import assert from "node:assert/strict";
import { Backoff, RETRY_AFTER_MAX_MS, retryAfterDelay, sleep } from "./backoff.ts";

Deno.test("Backoff doubles its ceiling from min up to max, with full jitter below it", () => {
  const top = new Backoff({ min: 500, max: 30_000, random: () => 0.999999 });
  const ceilings = Array.from({ length: 9 }, () => top.next() + 1);
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  const bottom = new Backoff({ min: 500, max: 30_000, random: () => 0 });
  assert.deepEqual([bottom.next(), bottom.next()], [0, 0], "full jitter reaches down to 0");
});

Deno.test("Backoff.reset() starts over from the smallest delay", () => {
  const backoff = new Backoff({ min: 100, max: 1000, random: () => 0.5 });
  for (let i = 0; i < 5; i++) backoff.next();
  assert.equal(backoff.ceiling, 1000);
  backoff.reset();
  assert.equal(backoff.attempts, 0);
  assert.equal(backoff.next(), 50);
});

Deno.test("Backoff rejects min <= 0 and max < min", () => {
  assert.throws(() => new Backoff({ min: 0 }), RangeError);
  assert.throws(() => new Backoff({ min: 10, max: 5 }), RangeError);
});

Deno.test("sleep() resolves true after the delay and false at once when aborted", async () => {
  assert.equal(await sleep(1, new AbortController().signal), true);
  const stop = new AbortController();
  const slept = sleep(60_000, stop.signal);
  stop.abort();
  assert.equal(await slept, false, "no 60 s timer left behind (the sanitizer checks)");
  assert.equal(await sleep(60_000, stop.signal), false, "already aborted");
});

Deno.test("Backoff holds fastMax for fastFor ms of failures, then doubles from there to max", () => {
  let now = 0;
  const backoff = new Backoff({
    min: 250,
    max: 30_000,
    fastMax: 1000,
    fastFor: 60_000,
    random: () => 0.999999,
    now: () => now,
  });
  const ceilings: number[] = [];
  // One failure a second for a minute and a half.
  for (; now < 90_000; now += 1000) ceilings.push(backoff.next() + 1);
  assert.deepEqual(ceilings.slice(0, 4), [250, 500, 1000, 1000]);
  assert.ok(ceilings.slice(0, 60).every((c) => c <= 1000), "a minute within 1 s");
  assert.deepEqual(ceilings.slice(60, 66), [2000, 4000, 8000, 16000, 30000, 30000]);
  backoff.reset();
  assert.equal(backoff.next() + 1, 250, "a reset starts a new fast phase");
});

Deno.test("retryAfterDelay() honours Retry-After, spread by up to a quarter, capped", () => {
  assert.equal(retryAfterDelay(10_000, () => 0), 10_000);
  assert.equal(retryAfterDelay(10_000, () => 0.999999), 12_499);
  assert.equal(retryAfterDelay(86_400_000, () => 0), RETRY_AFTER_MAX_MS);
  assert.equal(retryAfterDelay(-5, () => 0), 0);
});
