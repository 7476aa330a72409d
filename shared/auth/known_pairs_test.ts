import assert from "node:assert/strict";
import { KnownPairs } from "./known_pairs.ts";

Deno.test("KnownPairs remembers successes for ttl, bounded, least recently seen out first", () => {
  const clock = { now: 0 };
  const known = new KnownPairs({ capacity: 2, ttl: 1000, now: () => clock.now });
  known.add("a", "x");
  assert.equal(known.has("a", "x"), true);
  assert.equal(known.has("a", "y"), false);
  assert.equal(known.has("b", "x"), false);
  known.add("b", "x");
  known.add("c", "x");
  assert.equal(known.size, 2);
  assert.equal(known.has("a", "x"), false, "the oldest went first");
  clock.now = 1000;
  assert.equal(known.has("b", "x"), false, "expired");
  known.add("c", "x");
  known.delete("c", "x");
  assert.equal(known.has("c", "x"), false);
});
