import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { FakeServer, request } from "./testing/fake_server.ts";
import { CutProxy } from "./testing/cut_proxy.ts";
import {
  eventually,
  freePort,
  messages,
  records,
  startBackend,
  TEST_TUNING,
  testConfig,
  testDomain,
  testLogger,
  testTarget,
} from "./testing/helpers.ts";

const log = await testLogger();

Deno.test("after the server drops the session the agent redials and registers again", async () => {
  const backend = startBackend(() => new Response("back"));
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", server, { targets: [testTarget([backend.url])] })],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("registered", () => server.held("app.test").length === 1);
    await server.sessions[0]!.session.close();
    await server.until("second session", () => server.sessions.length === 2);
    await server.until(
      "registered again",
      () => server.held("app.test").some((r) => r.session.n === 2),
    );
    await eventually("agent sees it", () => agent.status()[0]!.registered);
    const r = await request(server.sessions[1]!.session, { domain: "app.test" });
    assert.deepEqual(r.ok && r.body, "back");
  } finally {
    await agent.close();
    await backend.close();
  }
});

Deno.test("the agent keeps redialling until the server comes up", async () => {
  // The first server only provides the CA file; the agent dials a port where nothing listens yet.
  await using ca = await FakeServer.start();
  const port = freePort();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", { remote: `127.0.0.1:${port}`, caFile: ca.caFile })],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await eventually("a dial failure", () => agent.status()[0]!.lastError !== null);
    const status = agent.status()[0]!;
    assert.equal(status.connected, false);
    assert.match(status.lastError!, /Cannot dial/);
    await using server = await FakeServer.start({ port });
    await server.until("registered", () => server.held("app.test").length === 1);
    await eventually("agent sees it", () => agent.status()[0]!.registered);
  } finally {
    await agent.close();
  }
});

Deno.test("a silent network cut is noticed by keepalive and healed by a new connection", async () => {
  records.length = 0;
  const backend = startBackend(() => new Response("healed"));
  await using server = await FakeServer.start();
  const proxy = new CutProxy(server.remote);
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", { remote: proxy.address, caFile: server.caFile }, {
      targets: [testTarget([backend.url])],
    })],
    log,
    tuning: { ...TEST_TUNING, keepAliveInterval: 50, pingTimeout: 100 },
  });
  try {
    await server.until("registered", () => server.held("app.test").length === 1);
    proxy.cut();
    await server.until(
      "registered over a new connection",
      () => server.held("app.test").some((r) => r.session.n === 2),
    );
    await eventually("agent sees it", () => agent.status()[0]!.registered);
    assert.ok(messages("warning").some((m) => /Disconnected: .*Keepalive failed/.test(m)));
    const r = await request(server.sessions[1]!.session, { domain: "app.test" });
    assert.deepEqual(r.ok && r.body, "healed");
  } finally {
    // The frozen socket's close handshake never ends; closing the relay ends it, as a real
    // network eventually does.
    await proxy.close();
    await agent.close();
    await backend.close();
  }
});

Deno.test("a registration the server revokes is retried on the same connection", async () => {
  records.length = 0;
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", server)],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("registered", () => server.held("app.test").length === 1);
    const [first] = server.held("app.test");
    first!.incoming.stream.reset();
    assert.equal(await first!.ended, "reset");
    await server.until(
      "registered again",
      () => server.held("app.test").length === 1 && server.held("app.test")[0] !== first,
    );
    assert.equal(server.sessions.length, 1, "no reconnect needed");
    assert.ok(messages("warning").some((m) => /registration ended by the server/.test(m)));
    await eventually("agent sees it", () => agent.status()[0]!.registered);
  } finally {
    await agent.close();
  }
});

Deno.test("a session the server ends with GoAway is redialled at once, whatever the backoff", async () => {
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", server)],
    log,
    // Any delay the backoff could pick would be seconds: only "at once" passes.
    tuning: { ...TEST_TUNING, backoffMin: 60_000, backoffMax: 60_000, backoffFastMax: 60_000 },
  });
  try {
    await server.until("registered", () => server.held("app.test").length === 1);
    // A GoAway from a session that just started could be a server refusing work: the
    // redial at once is for sessions that were up a while (1 s).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const closed = performance.now();
    await server.sessions[0]!.session.close(); // GoAway, then the end of the socket
    await server.until("second session", () => server.sessions.length === 2, 3000);
    const ms = performance.now() - closed;
    assert.ok(ms < 2000, `redialled after ${ms.toFixed(0)} ms`);
    await server.until("registered again", () => server.held("app.test").length === 1);
  } finally {
    await agent.close();
  }
});

Deno.test("an upgrade refused with 503 and Retry-After is not retried before that time", async () => {
  await using server = await FakeServer.start();
  server.refuse = (n) =>
    n === 1 ? new Response("busy\n", { status: 503, headers: { "retry-after": "1" } }) : null;
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", server)],
    log,
    tuning: TEST_TUNING, // backoff 20–100 ms: only Retry-After explains a 1 s wait
  });
  try {
    await server.until("registered", () => server.held("app.test").length === 1, 5000);
    const gap = server.dials[1]! - server.dials[0]!;
    assert.ok(gap >= 950 && gap < 1250 + 500, `second dial ${gap.toFixed(0)} ms after the 503`);
  } finally {
    await agent.close();
  }
});

Deno.test("during the first part of an outage redials stay within backoffFastMax of each other", async () => {
  await using server = await FakeServer.start();
  let refusing = true;
  server.refuse = () => refusing ? new Response("down\n", { status: 502 }) : null;
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", server)],
    log,
    // Without the fast phase, 12 failures would take the ceiling to 5 s.
    tuning: {
      ...TEST_TUNING,
      backoffMin: 50,
      backoffMax: 5000,
      backoffFastMax: 200,
      backoffFastFor: 60_000,
    },
  });
  try {
    await server.until("12 dials", () => server.dials.length >= 12, 8000);
    const gaps = server.dials.slice(1).map((t, i) => t - server.dials[i]!);
    // 200 ms at most, plus a dial's own time and timer slack on a loaded machine.
    assert.ok(Math.max(...gaps) < 200 + 250, `gaps ${gaps.map((g) => g.toFixed(0))}`);
    refusing = false;
    const back = performance.now();
    await server.until("registered", () => server.held("app.test").length === 1);
    assert.ok(performance.now() - back < 1500);
  } finally {
    await agent.close();
  }
});

Deno.test("a dial that gets stuck does not hold up the next one", async () => {
  await using server = await FakeServer.start();
  // The first connection is accepted and never answered; the dial deadline is far away.
  await using proxy = new CutProxy(server.remote, { stall: 1 });
  const started = performance.now();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", { remote: proxy.address, caFile: server.caFile })],
    log,
    tuning: { ...TEST_TUNING, dialTimeout: 8000, dialHedge: 300 },
  });
  try {
    await server.until("registered", () => server.held("app.test").length === 1, 6000);
    const ms = performance.now() - started;
    assert.ok(ms < 4000, `registered after ${ms.toFixed(0)} ms`);
  } finally {
    await agent.close();
  }
});

Deno.test("a connection that registered ends the outage: a restart right after gets fast redials again", async () => {
  await using server = await FakeServer.start();
  let refusing = false;
  server.refuse = () => refusing ? new Response("down\n", { status: 502 }) : null;
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", server)],
    log,
    // The fast phase is short and only a registration can end an outage (no reset by uptime).
    tuning: {
      ...TEST_TUNING,
      backoffMin: 50,
      backoffMax: 5000,
      backoffFastMax: 200,
      backoffFastFor: 600,
      backoffReset: 60_000,
    },
  });
  try {
    await server.until("registered", () => server.held("app.test").length === 1);
    // A first outage, past the fast phase.
    refusing = true;
    await server.sessions[0]!.session.close();
    await new Promise((resolve) => setTimeout(resolve, 900));
    refusing = false;
    await server.until("registered again", () => server.held("app.test").length === 1, 8000);
    // A second outage right after: its redials are fast again.
    const mark = server.dials.length;
    refusing = true;
    await server.sessions[1]!.session.close();
    await server.until("6 dials", () => server.dials.length >= mark + 6, 8000);
    const dials = server.dials.slice(mark);
    const gaps = dials.slice(1).map((t, i) => t - dials[i]!);
    assert.ok(Math.max(...gaps) < 200 + 250, `gaps ${gaps.map((g) => g.toFixed(0))}`);
    refusing = false;
  } finally {
    await agent.close();
  }
});
