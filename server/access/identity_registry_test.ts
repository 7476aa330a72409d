import assert from "node:assert/strict";
import { IdentityRegistry } from "./identity_registry.ts";

/** A stand-in for the server's agent session. */
interface Conn {
  id: string;
}

Deno.test("IdentityRegistry: the newer connection wins, the older is handed back to close", () => {
  const registry = new IdentityRegistry<Conn>();
  const a = { id: "a" }, b = { id: "b" }, c = { id: "c" };
  // step, expected displaced, expected holder after
  const steps: [() => unknown, unknown, Conn | undefined][] = [
    [() => registry.claim("db1", a).displaced, undefined, a],
    [() => registry.claim("db1", a).displaced, undefined, a], // the same one again: nobody displaced
    [() => registry.claim("db1", b).displaced, a, b], // b takes over: a gets GoAway
    [() => registry.release("db1", a), false, b], // a closing late leaves b in place
    [() => registry.claim("db1", c).displaced, b, c],
    [() => registry.release("db1", c), true, undefined],
    [() => registry.release("db1", c), false, undefined],
    [() => registry.claim("db1", a).displaced, undefined, a],
  ];
  for (const [i, [step, expected, holder]] of steps.entries()) {
    assert.equal(step(), expected, `step ${i}`);
    assert.equal(registry.holder("db1"), holder, `step ${i} holder`);
  }
});

Deno.test("IdentityRegistry keeps names apart; releaseAll frees only what a connection holds", () => {
  const registry = new IdentityRegistry<Conn>();
  const a = { id: "a" }, b = { id: "b" };
  registry.claim("db1", a);
  registry.claim("db2", a);
  registry.claim("web", b);
  registry.claim("db2", b); // a loses db2 to b
  assert.equal(registry.size, 3);
  assert.deepEqual(registry.releaseAll(a), ["db1"]);
  assert.deepEqual([...registry.entries()].map(([n, s]) => [n, s.id]), [["db2", "b"], [
    "web",
    "b",
  ]]);
  assert.deepEqual(registry.releaseAll(b).sort(), ["db2", "web"]);
  assert.equal(registry.size, 0);
});
