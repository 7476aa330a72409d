import assert from "node:assert/strict";
import { ReconnectHold } from "./reconnect_hold.ts";

Deno.test("a request for a domain nobody served waits for nothing", async () => {
  const hold = new ReconnectHold(5000);
  assert.equal(await hold.wait("app.test"), false);
  assert.equal(hold.waiting, 0);
});

Deno.test("a request for a domain whose agent just went away waits for it to register again", async () => {
  const hold = new ReconnectHold(5000);
  hold.lost("app.test");
  const waiting = hold.wait("app.test");
  assert.equal(hold.waiting, 1);
  hold.arrived("app.test");
  assert.equal(await waiting, true);
  assert.equal(hold.waiting, 0);
  // Once it is back, a later gap-free request does not wait.
  assert.equal(await hold.wait("app.test"), false);
});

Deno.test("the wait ends at the hold time, counted from when the agent went away", async () => {
  let now = 0;
  const hold = new ReconnectHold(100, () => now);
  hold.lost("app.test");
  now = 60;
  const start = performance.now();
  assert.equal(await hold.wait("app.test"), false);
  const took = performance.now() - start;
  assert.ok(took >= 30 && took < 2000, `waited ${took} ms for the 40 ms left`);
  now = 200;
  assert.equal(await hold.wait("app.test"), false, "past the hold time: no wait at all");
});

Deno.test("an aborted request and close() end their waits", async () => {
  const hold = new ReconnectHold(60_000);
  hold.lost("a.test");
  const abort = new AbortController();
  const a = hold.wait("a.test", abort.signal);
  const b = hold.wait("a.test");
  abort.abort();
  assert.equal(await a, false);
  assert.equal(hold.waiting, 1);
  hold.close();
  assert.equal(await b, false);
  assert.equal(hold.waiting, 0);
});

Deno.test("holdTime 0 turns the hold off", async () => {
  const hold = new ReconnectHold(0);
  hold.lost("app.test");
  assert.equal(await hold.wait("app.test"), false);
});
