import assert from "node:assert/strict";
import { FailureLimiter, type FailureLimiterOptions } from "./failure_limiter.ts";

const MINUTE = 60_000;

/** A limiter on a clock the test moves. */
function limiter(options: Partial<FailureLimiterOptions> = {}) {
  const clock = { now: 1_000_000 };
  const l = new FailureLimiter({
    max: 3,
    window: MINUTE,
    lockout: MINUTE,
    maxLockout: 8 * MINUTE,
    capacity: 1000,
    now: () => clock.now,
    ...options,
  });
  return { l, clock };
}

Deno.test("FailureLimiter locks a key out after max failures in a window, until the lockout ends", () => {
  const { l, clock } = limiter();
  assert.deepEqual(l.fail("a"), { failures: 1, first: true, lockout: 0 });
  assert.deepEqual(l.fail("a"), { failures: 2, first: false, lockout: 0 });
  assert.equal(l.locked("a"), null);
  assert.deepEqual(l.fail("a"), { failures: 3, first: false, lockout: MINUTE });
  assert.deepEqual(l.locked("a"), { until: clock.now + MINUTE, refused: 1 });
  assert.deepEqual(l.locked("a"), { until: clock.now + MINUTE, refused: 2 });
  assert.equal(l.locked("b"), null, "other keys are not affected");
  clock.now += MINUTE - 1;
  assert.notEqual(l.locked("a"), null, "refused attempts do not extend the lockout");
  clock.now += 1;
  assert.equal(l.locked("a"), null, "the lockout has ended");
  assert.deepEqual(l.fail("a"), { failures: 1, first: true, lockout: 0 }, "counting starts over");
});

Deno.test("FailureLimiter forgets failures older than the window", () => {
  const { l, clock } = limiter();
  l.fail("a");
  l.fail("a");
  clock.now += MINUTE;
  assert.deepEqual(l.fail("a"), { failures: 1, first: true, lockout: 0 });
  l.fail("a");
  assert.equal(l.locked("a"), null);
});

Deno.test("FailureLimiter doubles repeated lockouts up to maxLockout, and starts over after quiet", () => {
  const { l, clock } = limiter();
  const lockouts: number[] = [];
  for (let round = 0; round < 6; round++) {
    let outcome;
    do outcome = l.fail("a"); while (outcome.lockout === 0);
    lockouts.push(outcome.lockout / MINUTE);
    clock.now = l.locked("a")!.until;
  }
  assert.deepEqual(lockouts, [1, 2, 4, 8, 8, 8]);
  clock.now += 8 * MINUTE + 1;
  l.fail("a");
  l.fail("a");
  assert.equal(l.fail("a").lockout, MINUTE, "quiet for maxLockout: back to the first lockout");
});

Deno.test("FailureLimiter with max 0 counts but never locks out", () => {
  const { l } = limiter({ max: 0 });
  for (let i = 0; i < 100; i++) assert.equal(l.fail("a").lockout, 0);
  assert.equal(l.locked("a"), null);
});

Deno.test("FailureLimiter memory stays bounded under 100k distinct addresses", () => {
  const { l } = limiter({ capacity: 1000 });
  for (let i = 0; i < 3; i++) l.fail("victim-account");
  for (let i = 0; i < 100_000; i++) {
    l.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 100 === 0) l.locked("victim-account"); // the account keeps being tried
  }
  assert.equal(l.size, 1000);
  assert.notEqual(l.locked("victim-account"), null, "a key in use is not evicted");
  assert.equal(l.locked("10.0.0.0"), null, "the oldest addresses were forgotten");
});

Deno.test("FailureLimiter refuses a capacity below 1", () => {
  assert.throws(() => limiter({ capacity: 0 }), RangeError);
});
