import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { AgentGate, WindowLog } from "./agent_gate.ts";

/** A logger that keeps its warnings' properties. */
function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = { warn: (_: string, props: Record<string, unknown>) => lines.push(props) };
  return { log: log as unknown as Logger, lines };
}

Deno.test("AgentGate caps connections per address and in all, answering 503 with Retry-After", async () => {
  const { log } = capture();
  const gate = new AgentGate(
    { maxConnections: 3, maxPerAddress: 2, maxPending: 10, retryAfter: 1500 },
    log,
  );
  assert.equal(gate.admit("10.0.0.1"), null);
  assert.equal(gate.admit("10.0.0.1"), null);
  const perAddress = gate.admit("10.0.0.1")!;
  assert.equal(perAddress.status, 503);
  assert.equal(perAddress.headers.get("retry-after"), "2");
  await perAddress.body?.cancel();
  assert.equal(gate.admit("10.0.0.2"), null);
  const total = gate.admit("10.0.0.3")!;
  assert.equal(total.status, 503);
  await total.body?.cancel();
  gate.release("10.0.0.1", false);
  assert.equal(gate.admit("10.0.0.3"), null, "a released slot is free again");
  assert.equal(gate.size, 3);
});

Deno.test("AgentGate counts an IPv6 /64 as one address, and an IPv4-mapped address as its IPv4", async () => {
  const { log } = capture();
  const gate = new AgentGate(
    { maxConnections: 100, maxPerAddress: 2, maxPending: 100, retryAfter: 1000 },
    log,
  );
  assert.equal(gate.admit("2001:db8:1:2::1"), null);
  assert.equal(gate.admit("2001:db8:1:2:ffff::9"), null);
  const churn = gate.admit("2001:db8:1:2:abcd::42");
  assert.equal(churn?.status, 503, "a host rotating through its /64 is one address");
  await churn?.body?.cancel();
  assert.equal(gate.admit("2001:db8:1:3::1"), null, "another /64 is another address");
  assert.equal(gate.admit("192.0.2.7"), null);
  assert.equal(gate.admit("::ffff:192.0.2.7"), null);
  const mapped = gate.admit("::ffff:192.0.2.7");
  assert.equal(mapped?.status, 503, "an IPv4-mapped address is its IPv4 address");
  await mapped?.body?.cancel();
  gate.release("2001:db8:1:2:ffff::9", false);
  assert.equal(gate.admit("2001:db8:1:2::77"), null, "a slot released in the /64 is free again");
});

Deno.test("AgentGate caps connections that have not registered yet; registered ones do not count", async () => {
  const { log } = capture();
  const gate = new AgentGate(
    { maxConnections: 100, maxPerAddress: 100, maxPending: 2, retryAfter: 1000 },
    log,
  );
  assert.equal(gate.admit("10.0.0.1"), null);
  assert.equal(gate.admit("10.0.0.2"), null);
  const stampede = gate.admit("10.0.0.3")!;
  assert.equal(stampede.status, 503);
  await stampede.body?.cancel();
  gate.registered();
  assert.equal(gate.admit("10.0.0.3"), null, "one registered: a pending slot is free");
  gate.release("10.0.0.1", true);
  gate.release("10.0.0.2", false);
  assert.equal(gate.admit("10.0.0.4"), null);
  assert.equal(gate.size, 2);
});

Deno.test("AgentGate logs a flood of refusals once per window, with the count", async () => {
  const { log, lines } = capture();
  const gate = new AgentGate(
    { maxConnections: 1, maxPerAddress: 1, maxPending: 1, retryAfter: 1000 },
    log,
  );
  assert.equal(gate.admit("10.0.0.1"), null);
  for (let i = 0; i < 1000; i++) await gate.admit(`10.0.${i >> 8}.${i & 255}`)!.body?.cancel();
  assert.equal(lines.length, 1, "one line for 1000 refusals in a minute");
});

Deno.test("WindowLog writes the first event of a window and sums up the rest in the next line", () => {
  const { log, lines } = capture();
  let now = 0;
  const events = new WindowLog(log, "things", { windowMs: 1000, now: () => now });
  events.note("first");
  for (let i = 0; i < 5; i++) events.note("again");
  now = 1500;
  events.note("later");
  assert.deepEqual(lines.map((l) => [l.message, l.held ?? 0]), [["first", 0], ["later", 5]]);
});
