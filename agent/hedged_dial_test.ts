import assert from "node:assert/strict";
import { hedgedDial } from "./hedged_dial.ts";

/** An attempt that settles when the test says so. */
function pending<T>() {
  return Promise.withResolvers<T>();
}

Deno.test("hedgedDial() returns a quick first attempt without a second one", async () => {
  let calls = 0;
  const value = await hedgedDial(() => Promise.resolve(++calls), {
    hedgeAfter: 1000,
    discard: () => assert.fail("nothing to discard"),
  });
  assert.deepEqual([value, calls], [1, 1]);
});

Deno.test("hedgedDial() starts a second attempt beside a stuck one and discards the late winner", async () => {
  const attempts = [pending<string>(), pending<string>()];
  let calls = 0;
  const discarded: string[] = [];
  const dialed = hedgedDial(() => attempts[calls++]!.promise, {
    hedgeAfter: 20,
    discard: (late) => discarded.push(late),
  });
  while (calls < 2) await new Promise((r) => setTimeout(r, 5));
  attempts[1]!.resolve("second");
  assert.equal(await dialed, "second");
  attempts[0]!.resolve("first, late");
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(discarded, ["first, late"]);
});

Deno.test("hedgedDial() rejects with the last error when both attempts fail", async () => {
  const attempts = [pending<string>(), pending<string>()];
  let calls = 0;
  const dialed = hedgedDial(() => attempts[calls++]!.promise, { hedgeAfter: 10, discard() {} });
  while (calls < 2) await new Promise((r) => setTimeout(r, 5));
  attempts[0]!.reject(new Error("first"));
  attempts[1]!.reject(new Error("second"));
  await assert.rejects(dialed, /second/);
});
