import assert from "node:assert/strict";
import { AuditStore } from "./store.ts";
import type { Page } from "./query.ts";
import { storeOptions, withTempDir } from "../../tests/helpers/audit_store.ts";

/** Every page of a listing, following `next`; `between` runs after each page. */
function pageAll<T extends { id: number }>(
  list: (before: number | undefined) => Page<T>,
  between: () => void = () => {},
): T[] {
  const all: T[] = [];
  let before: number | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = list(before);
    all.push(...page.items);
    between();
    if (page.next === null) return all;
    before = page.next;
  }
  throw new Error("paging did not end");
}

Deno.test("AuditQuery pages see each row once while rows are added and expire", async () => {
  await withTempDir((dir) => {
    const DAY = 24 * 60 * 60 * 1000;
    let now = DAY;
    using store = AuditStore.open(storeOptions(dir, { retentionDays: 1, now: () => now }));
    for (let i = 0; i < 95; i++) {
      store.authRefused({ kind: "operator", source: "x", reason: `r${i}`, at: i });
    }
    store.flush();
    const before = store.query.refusals({ limit: 1000 }).items.map((r) => r.id);
    let pages = 0;
    const seen = pageAll(
      (b) => store.query.refusals({ limit: 10, ...(b && { before: b }) }),
      () => {
        // Between pages: a new row (newer than any cursor), and the 3 oldest rows expire.
        store.authRefused({ kind: "operator", source: "x", reason: `new${pages}` });
        store.flush();
        now = DAY + 3 * ++pages;
        store.sweep();
      },
    );
    const ids = seen.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, "no row twice");
    assert.ok(ids.every((id, i) => i === 0 || id < ids[i - 1]!), "newest first");
    assert.ok(ids.every((id) => before.includes(id)), "only rows there when paging began");
    const left = store.query.refusals({ limit: 1000, before: before[0]! + 1 }).items;
    assert.ok(left.length < before.length, "some rows expired meanwhile");
    assert.ok(left.every((r) => ids.includes(r.id)), "every row still there was seen");
  });
});

Deno.test("AuditQuery filters sessions by agent, open state and time overlap", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir));
    const a1 = store.sessionStarted({ agent: "db1", remote: "r", at: 100 });
    store.sessionEnded(a1, { reason: "gone", at: 200 });
    const a2 = store.sessionStarted({ agent: "db1", remote: "r", at: 300 });
    const b1 = store.sessionStarted({ agent: "web", remote: "r", at: 150 });
    store.sessionEnded(b1, { reason: "gone", at: 400 });
    store.flush();
    const ids = (f: Parameters<typeof store.query.sessions>[0]) =>
      store.query.sessions(f).items.map((s) => s.id);
    assert.deepEqual(ids({ agent: "db1" }), [a2, a1]);
    assert.deepEqual(ids({ open: true }), [a2]);
    assert.deepEqual(ids({ open: false }), [b1, a1]);
    assert.deepEqual(ids({ from: 250 }), [b1, a2], "overlap: b1 ended at 400, a2 still open");
    assert.deepEqual(ids({ to: 150 }), [a1], "started before 150");
    assert.deepEqual(ids({ from: 201, to: 299 }), [b1]);
    assert.deepEqual(ids({ agent: "nobody" }), []);
  });
});

Deno.test("AuditQuery filters channels by operator, kind, result and agent", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir));
    const base = { agent: "db1", target: "127.0.0.1:5432", at: 10 } as const;
    const ok = store.channelOpened({ ...base, operator: "alice", kind: "forward" });
    store.channelClosed(ok, { result: "ok", bytesUp: 5, bytesDown: 7, at: 20 });
    const refused = store.channelOpened({ ...base, operator: "bob", kind: "socks" });
    store.channelClosed(refused, { result: "refused", detail: "refused by agent policy", at: 10 });
    const open = store.channelOpened({ ...base, operator: "alice", kind: "socks", agent: "web" });
    store.flush();
    const ids = (f: Parameters<typeof store.query.channels>[0]) =>
      store.query.channels(f).items.map((c) => c.id);
    assert.deepEqual(ids({ operator: "alice" }), [open, ok]);
    assert.deepEqual(ids({ kind: "socks" }), [open, refused]);
    assert.deepEqual(ids({ result: "refused" }), [refused]);
    assert.deepEqual(ids({ result: "open" }), [open]);
    assert.deepEqual(ids({ agent: "db1", operator: "alice" }), [ok]);
    const row = store.query.channels({ result: "refused" }).items[0]!;
    assert.equal(Object.getPrototypeOf(row), Object.prototype, "plain objects");
    assert.deepEqual(row, {
      id: refused,
      sessionId: null,
      operator: "bob",
      agent: "db1",
      kind: "socks",
      target: "127.0.0.1:5432",
      source: "",
      openedAt: 10,
      closedAt: 10,
      bytesUp: 0,
      bytesDown: 0,
      result: "refused",
      detail: "refused by agent policy",
    });
  });
});

Deno.test("AuditQuery filters refusals by kind, identity, source and time", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir));
    store.authRefused({ kind: "agent", identity: "db1", source: "a", reason: "x", at: 1 });
    store.authRefused({ kind: "operator", identity: "bob", source: "b", reason: "x", at: 2 });
    store.authRefused({
      kind: "operator",
      identity: "bob",
      source: "a",
      reason: "x",
      count: 9,
      at: 3,
    });
    store.flush();
    const at = (f: Parameters<typeof store.query.refusals>[0]) =>
      store.query.refusals(f).items.map((r) => r.at);
    assert.deepEqual(at({ kind: "operator" }), [3, 2]);
    assert.deepEqual(at({ identity: "db1" }), [1]);
    assert.deepEqual(at({ source: "a" }), [3, 1]);
    assert.deepEqual(at({ from: 2, to: 3 }), [2], "from inclusive, to exclusive");
    assert.equal(store.query.refusals({ source: "a" }).items[0]!.count, 9);
  });
});

Deno.test("AuditQuery lists agents by name with their latest session, paged by name", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir));
    for (const name of ["c", "a", "b"]) {
      const old = store.sessionStarted({ agent: name, remote: "old", at: 1 });
      store.sessionEnded(old, { reason: "gone", at: 2 });
      store.sessionStarted({ agent: name, remote: `${name}-now`, version: "0.2", at: 3 });
    }
    const last = store.query.sessions({ agent: "c" });
    store.flush();
    assert.deepEqual(last.items, [], "unflushed rows are not listed");
    const first = store.query.agents({ limit: 2 });
    assert.deepEqual(first.items.map((a) => [a.agent, a.sessions, a.open, a.last.remote]), [
      ["a", 2, true, "a-now"],
      ["b", 2, true, "b-now"],
    ]);
    assert.equal(first.next, "b");
    const second = store.query.agents({ limit: 2, after: first.next! });
    assert.deepEqual(second.items.map((a) => a.agent), ["c"]);
    assert.equal(second.next, null);
    assert.deepEqual(store.query.agents({ open: false }).items, []);
  });
});

Deno.test("AuditQuery refuses a page size out of range", async () => {
  await withTempDir((dir) => {
    using store = AuditStore.open(storeOptions(dir));
    assert.throws(() => store.query.sessions({ limit: 0 }), RangeError);
    assert.throws(() => store.query.channels({ limit: 1001 }), RangeError);
    assert.throws(() => store.query.agents({ limit: 1.5 }), RangeError);
  });
});
