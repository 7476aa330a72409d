import assert from "node:assert/strict";
import { RefusalFolder } from "./refusal_folder.ts";
import type { AuthRefusal } from "./records.ts";
import { AuditStore } from "./store.ts";
import { FakeClock } from "../../tests/helpers/fake_clock.ts";
import { storeOptions, withTempDir } from "../../tests/helpers/audit_store.ts";

/** A sink keeping the rows it is given. */
function rows(): { authRefused(r: AuthRefusal): void; list: AuthRefusal[] } {
  const list: AuthRefusal[] = [];
  return { list, authRefused: (r) => void list.push(r) };
}

const BOB = {
  kind: "operator",
  identity: "bob",
  source: "192.0.2.9",
  reason: "wrong token",
} as const;

Deno.test("RefusalFolder writes the first refusal at once and its repeats as one row at the window's end", () => {
  const clock = new FakeClock(0);
  const sink = rows();
  const folder = new RefusalFolder(sink, { window: 60_000, clock });
  for (let i = 0; i < 10_000; i++) {
    folder.refused(BOB);
    clock.advance(1);
  }
  assert.deepEqual(sink.list, [{ ...BOB, at: 0 }]);
  assert.equal(folder.size, 1, "memory does not grow with the attempts");
  clock.advance(60_000);
  assert.deepEqual(sink.list[1], { ...BOB, count: 9_999, at: 9_999 });
  assert.equal(folder.size, 0);
  assert.equal(clock.pending, 0, "no timer while nothing is folded");
  folder.refused(BOB);
  assert.equal(sink.list.length, 3, "a new window writes its first refusal at once");
  folder.close();
  assert.equal(sink.list.length, 3, "nothing repeated: nothing more to write");
});

Deno.test("RefusalFolder keeps keys apart and bounds how many it folds", () => {
  const clock = new FakeClock(0);
  const sink = rows();
  const folder = new RefusalFolder(sink, { window: 1000, maxKeys: 2, clock });
  for (const source of ["a", "b", "c", "c", "a"]) folder.refused({ ...BOB, source });
  assert.deepEqual(sink.list.map((r) => r.source), ["a", "b", "c", "c"], "c is past maxKeys");
  assert.equal(folder.size, 2);
  folder.refused({ ...BOB, reason: "locked out" });
  assert.equal(sink.list.length, 5, "another reason is another key (unfolded here: table full)");
  folder.close();
  assert.deepEqual(sink.list.slice(5), [{ ...BOB, source: "a", count: 1, at: 0 }]);
  folder.refused(BOB);
  assert.equal(sink.list.length, 7, "after close, written one by one");
  assert.equal(clock.pending, 0);
  assert.throws(() => new RefusalFolder(sink, { window: 0 }), RangeError);
});

Deno.test("RefusalFolder rows land in the store with their counts", async () => {
  await withTempDir((dir) => {
    const clock = new FakeClock(1_000);
    using store = AuditStore.open(storeOptions(dir));
    const folder = new RefusalFolder(store, { window: 60_000, clock });
    for (let i = 0; i < 500; i++) folder.refused(BOB);
    folder.close();
    store.flush();
    const list = store.query.refusals().items.map((r) => [r.identity, r.count, r.at]);
    assert.deepEqual(list, [["bob", 499, 1_000], ["bob", 1, 1_000]]);
  });
});
