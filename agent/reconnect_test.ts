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
