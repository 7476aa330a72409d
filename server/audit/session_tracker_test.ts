import assert from "node:assert/strict";
import { type SessionSink, SessionTracker } from "./session_tracker.ts";
import { AuditStore } from "./store.ts";
import { FakeClock } from "../../tests/helpers/fake_clock.ts";
import { storeOptions, withTempDir } from "../../tests/helpers/audit_store.ts";

/** A sink recording calls as lines. */
function recordingSink(): SessionSink & { calls: string[] } {
  let next = 1;
  const calls: string[] = [];
  return {
    calls,
    sessionStarted: (r) => {
      calls.push(`start ${next} ${r.agent} ${r.remote} @${r.at}`);
      return next++;
    },
    sessionResumed: (id, r) => void calls.push(`resume ${id} ${r.remote} @${r.at}`),
    sessionEnded: (id, r) => void calls.push(`end ${id} ${r.reason} @${r.at}`),
  };
}

const GRACE = 60_000;

Deno.test("SessionTracker: a reconnect inside the grace period continues the session", () => {
  const clock = new FakeClock(0);
  const sink = recordingSink();
  const tracker = new SessionTracker(sink, { grace: GRACE, clock });
  const first = tracker.connected("db1", { remote: "a:1" });
  assert.equal(first.resumed, false);
  clock.advance(1000);
  assert.equal(tracker.disconnected(first, "connection lost"), true);
  assert.deepEqual(tracker.get("db1"), {
    agent: "db1",
    sessionId: 1,
    since: 0,
    connected: false,
    disconnectedAt: 1000,
  });
  clock.advance(GRACE - 1);
  const second = tracker.connected("db1", { remote: "a:2" });
  assert.deepEqual(second, { agent: "db1", sessionId: 1, resumed: true });
  assert.equal(clock.pending, 0, "the grace timer is cancelled");
  clock.advance(10 * GRACE);
  assert.deepEqual(sink.calls, ["start 1 db1 a:1 @0", "resume 1 a:2 @60999"]);
  tracker.close();
});

Deno.test("SessionTracker: the session ends when the grace period runs out, at the disconnect time", () => {
  const clock = new FakeClock(0);
  const sink = recordingSink();
  const tracker = new SessionTracker(sink, { grace: GRACE, clock });
  const lease = tracker.connected("db1", { remote: "a:1" });
  clock.advance(5000);
  tracker.disconnected(lease, "connection lost");
  clock.advance(GRACE);
  assert.equal(tracker.get("db1"), undefined);
  assert.equal(tracker.size, 0);
  const next = tracker.connected("db1", { remote: "a:3" });
  assert.deepEqual(next, { agent: "db1", sessionId: 2, resumed: false });
  assert.deepEqual(sink.calls, [
    "start 1 db1 a:1 @0",
    "end 1 connection lost @5000",
    "start 2 db1 a:3 @65000",
  ]);
  tracker.close();
});

Deno.test("SessionTracker: a newer connection takes the session over; the older one's disconnect is ignored", () => {
  const clock = new FakeClock(0);
  const sink = recordingSink();
  const tracker = new SessionTracker(sink, { grace: GRACE, clock });
  const older = tracker.connected("db1", { remote: "a:1" });
  const newer = tracker.connected("db1", { remote: "b:1" });
  assert.equal(newer.sessionId, older.sessionId);
  assert.equal(tracker.disconnected(older, "GoAway: replaced"), false);
  assert.equal(tracker.get("db1")?.connected, true);
  assert.equal(clock.pending, 0);
  assert.equal(tracker.disconnected(newer, "closed"), true);
  assert.equal(tracker.disconnected(newer, "closed"), false, "a lease counts once");
  tracker.close();
  assert.deepEqual(sink.calls, ["start 1 db1 a:1 @0", "resume 1 b:1 @0", "end 1 closed @0"]);
});

Deno.test("SessionTracker: close ends every session and later connects throw", () => {
  const clock = new FakeClock(0);
  const sink = recordingSink();
  const tracker = new SessionTracker(sink, { grace: GRACE, clock });
  const a = tracker.connected("a", { remote: "a:1" });
  tracker.connected("b", { remote: "b:1" });
  clock.advance(100);
  tracker.disconnected(a, "lost");
  clock.advance(100);
  tracker.close();
  tracker.close();
  assert.equal(clock.pending, 0, "no timer left behind");
  assert.deepEqual(sink.calls.slice(2), ["end 1 lost @100", "end 2 server stopped @200"]);
  assert.throws(() => tracker.connected("c", { remote: "c:1" }), /closed/);
});

Deno.test("SessionTracker: grace 0 ends a session at its disconnect", () => {
  const clock = new FakeClock(0);
  const sink = recordingSink();
  const tracker = new SessionTracker(sink, { grace: 0, clock });
  tracker.disconnected(tracker.connected("a", { remote: "r" }), "bye");
  assert.equal(tracker.size, 0);
  assert.deepEqual(sink.calls, ["start 1 a r @0", "end 1 bye @0"]);
  assert.throws(() => new SessionTracker(sink, { grace: -1 }), RangeError);
});

Deno.test("SessionTracker writes one session row per grace-joined run to the store", async () => {
  await withTempDir((dir) => {
    const clock = new FakeClock(1_000);
    using store = AuditStore.open(storeOptions(dir, { now: () => clock.now() }));
    const tracker = new SessionTracker(store, { grace: GRACE, clock });
    const first = tracker.connected("db1", { remote: "a:1", version: "0.2.0", host: "db1.lan" });
    clock.advance(1000);
    tracker.disconnected(first, "connection lost");
    clock.advance(GRACE / 2);
    const second = tracker.connected("db1", { remote: "a:2" });
    clock.advance(1000);
    tracker.disconnected(second, "closed by agent");
    clock.advance(GRACE);
    store.flush();
    const rows = store.query.sessions().items;
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0], {
      id: first.sessionId,
      agent: "db1",
      remote: "a:2",
      version: "0.2.0",
      os: "",
      host: "db1.lan",
      connectedAt: 1_000,
      disconnectedAt: 1_000 + 1000 + GRACE / 2 + 1000,
      reason: "closed by agent",
      reconnects: 1,
    });
    tracker.close();
  });
});
