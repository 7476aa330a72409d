import assert from "node:assert/strict";
import { watchGone } from "./stream_watch.ts";
import { Session } from "../shared/mux/session.ts";
import { memoryPair } from "../shared/transport/memory.ts";

async function pair() {
  const [a, b] = memoryPair();
  const near = new Session(a, { client: true, enableKeepAlive: false });
  const far = new Session(b, { client: false, enableKeepAlive: false });
  const mine = await near.open();
  const theirs = (await far.accept())!;
  return {
    mine,
    theirs,
    async [Symbol.asyncDispose]() {
      await near.close();
      await far.close();
    },
  };
}

Deno.test("watchGone() calls back once when the peer resets the stream", async () => {
  await using p = await pair();
  const gone = Promise.withResolvers<void>();
  let calls = 0;
  watchGone(p.mine, () => {
    calls++;
    gone.resolve();
  });
  p.theirs.reset();
  await gone.promise;
  await p.mine.closed;
  assert.equal(calls, 1);
  // The writable is not locked by the watch.
  assert.equal(p.mine.writable.locked, false);
});

Deno.test("watchGone() stays silent after release(), even when FINs complete the stream", async () => {
  await using p = await pair();
  let calls = 0;
  const watch = watchGone(p.mine, () => calls++);
  watch.release();
  watch.release();
  await p.theirs.writable.close();
  await p.mine.writable.close();
  await p.mine.closed;
  assert.equal(calls, 0);
});

Deno.test("watchGone() calls back when the session ends", async () => {
  const [a, b] = memoryPair();
  const near = new Session(a, { client: true, enableKeepAlive: false });
  const far = new Session(b, { client: false, enableKeepAlive: false });
  const mine = await near.open();
  await far.accept();
  const gone = Promise.withResolvers<void>();
  watchGone(mine, () => gone.resolve());
  await near.close();
  await gone.promise;
  await far.close();
});
