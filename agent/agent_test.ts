import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { startAgent } from "./agent.ts";
import {
  encodeCloseFrame,
  encodeRelayFrame,
  RelayFrameDecoder,
  RelayFrameType,
} from "../shared/http/relay_frame.ts";
import { FakeServer, openHttp, request } from "./testing/fake_server.ts";
import { decodeResponseHead } from "../shared/http/head_codec.ts";
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

Deno.test("agent registers several domains over one connection and proxies GET and POST", async () => {
  records.length = 0;
  const backend = startBackend((req, seen) => {
    if (req.method === "POST") {
      const headers = new Headers({ "x-echo": "yes" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response(`echo:${seen.body}`, { status: 201, headers });
    }
    return new Response("hello");
  });
  await using server = await FakeServer.start();
  // "late.test" is refused twice before the server lets it in.
  server.policy = (params, attempt) =>
    params.domain === "late.test" && attempt < 3
      ? { code: "refused", message: "Domain not available" }
      : true;
  const target = testTarget([`${backend.url}/base?user=johndoe`], { host: "backend.test" });
  const agent = await startAgent(testConfig(), {
    domains: [
      testDomain("app.test", server, { targets: [target] }),
      testDomain("late.test", server, { targets: [target] }),
    ],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("both domains held", () => server.held("late.test").length === 1);
    await server.until("app held", () => server.held("app.test").length === 1);
    assert.equal(server.sessions.length, 1, "one connection carries both domains");
    const late = server.registrations.filter((r) => r.params.domain === "late.test");
    assert.deepEqual(late.map((r) => r.accepted), [false, false, true]);
    assert.deepEqual(server.held("app.test")[0]!.params, {
      domain: "app.test",
      secret: "secret-of-app.test",
      agent: late[0]!.params.agent,
    });
    const who = late[0]!.params.agent as Record<string, string>;
    assert.equal(who.id, agent.id);
    assert.equal(who.version, "0.1.0");
    assert.ok(messages("warning").some((m) => m.includes("Domain not available")));
    await eventually(
      "agent sees both registered",
      () => agent.status().every((s) => s.connected && s.registered && s.lastError === null),
    );

    const session = server.sessions[0]!.session;
    const get = await request(session, {
      domain: "app.test",
      target: "/hello?x=1",
      headers: [["accept", "text/plain"], ["x-forwarded-for", "203.0.113.7"]],
    });
    assert.deepEqual(get.ok && [get.status, get.body], [200, "hello"]);
    const seenGet = backend.seen.at(-1)!;
    assert.equal(seenGet.method, "GET");
    assert.equal(seenGet.target, "/base/hello?user=johndoe&x=1");
    assert.equal(seenGet.headers.get("host"), "backend.test");
    assert.equal(seenGet.headers.get("x-forwarded-for"), "203.0.113.7");
    assert.equal(seenGet.headers.get("accept-encoding"), null, "none asked, none added");

    const post = await request(session, {
      domain: "late.test",
      method: "POST",
      target: "/echo",
      headers: [["content-type", "text/plain"]],
    }, "ping");
    assert.ok(post.ok, JSON.stringify(post));
    assert.equal(post.status, 201);
    assert.equal(post.body, "echo:ping");
    assert.deepEqual(post.headers.filter(([n]) => n === "set-cookie"), [
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
    ]);
    assert.ok(post.headers.some(([n, v]) => n === "x-echo" && v === "yes"));
    assert.equal(backend.seen.at(-1)!.body, "ping");
  } finally {
    await agent.close();
    await backend.close();
  }
});

Deno.test("a backend that refuses connections is failed over, then answered with bad-gateway", async () => {
  const backend = startBackend(() => new Response("alive"));
  const dead = `http://127.0.0.1:${freePort()}`;
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig(), {
    domains: [
      testDomain("mixed.test", server, { targets: [testTarget([dead, backend.url])] }),
      testDomain("dead.test", server, { targets: [testTarget([dead])] }),
    ],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("registered", () => server.held("dead.test").length === 1);
    const session = server.sessions[0]!.session;
    for (let i = 0; i < 3; i++) {
      const r = await request(session, { domain: "mixed.test", target: `/${i}` });
      assert.deepEqual(r.ok && r.body, "alive", `request ${i} failed over to the live URL`);
    }
    const get = await request(session, { domain: "dead.test" });
    assert.equal(!get.ok && get.code, "bad-gateway");
    assert.match(!get.ok ? get.message : "", /refused/i);
    // A request with a body is not retried, but a dead backend still answers bad-gateway.
    const post = await request(session, { domain: "dead.test", method: "POST" }, "data");
    assert.equal(!post.ok && post.code, "bad-gateway");
  } finally {
    await agent.close();
    await backend.close();
  }
});

Deno.test("over its concurrency a domain answers busy; a server reset aborts the backend request", async () => {
  const arrived = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  const backend = startBackend((req) => {
    if (new URL(req.url).pathname !== "/slow") return new Response("quick");
    arrived.resolve();
    return new Promise<Response>((resolve) => {
      req.signal.addEventListener("abort", () => {
        aborted.resolve();
        resolve(new Response("too late"));
      });
    });
  });
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("one.test", server, {
      concurrency: 1,
      targets: [testTarget([backend.url])],
    })],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("registered", () => server.held("one.test").length === 1);
    const session = server.sessions[0]!.session;
    const slow = await openHttp(session, { domain: "one.test", target: "/slow" });
    await arrived.promise;
    const busy = await request(session, { domain: "one.test", target: "/quick" });
    assert.equal(!busy.ok && busy.code, "busy");
    slow.stream.reset();
    await aborted.promise;
    // The aborted exchange gives its slot back as it unwinds, a moment after the abort.
    let quick = await request(session, { domain: "one.test", target: "/quick" });
    for (let i = 0; !quick.ok && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 10));
      quick = await request(session, { domain: "one.test", target: "/quick" });
    }
    assert.deepEqual(quick.ok && quick.body, "quick");
  } finally {
    await agent.close();
    await backend.close();
  }
});

Deno.test("no matching target answers no-route, an unknown domain unknown-domain, a slow backend timeout", async () => {
  const aborted = Promise.withResolvers<void>();
  const backend = startBackend((req) =>
    new Promise<Response>((resolve) => {
      req.signal.addEventListener("abort", () => {
        aborted.resolve();
        resolve(new Response("too late"));
      });
    })
  );
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig({ connectTimeout: 100, readTimeout: 200 }), {
    domains: [testDomain("api.test", server, {
      targets: [testTarget([backend.url], { path: /^\/api\// })],
    })],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("registered", () => server.held("api.test").length === 1);
    const session = server.sessions[0]!.session;
    const other = await request(session, { domain: "api.test", target: "/other" });
    assert.equal(!other.ok && other.code, "no-route");
    const unknown = await request(session, { domain: "nope.test", target: "/api/x" });
    assert.equal(!unknown.ok && unknown.code, "unknown-domain");
    const start = performance.now();
    const slow = await request(session, { domain: "api.test", target: "/api/slow" });
    assert.equal(!slow.ok && slow.code, "timeout");
    assert.ok(performance.now() - start < 2000, "answered after connect + read timeouts");
    await aborted.promise;
  } finally {
    await agent.close();
    await backend.close();
  }
});

Deno.test("reload() touches only the domains that changed", async () => {
  const one = startBackend(() => new Response("one"));
  const two = startBackend(() => new Response("two"));
  await using server = await FakeServer.start();
  const a = testDomain("a.test", server, { targets: [testTarget([one.url])] });
  const b = testDomain("b.test", server, { targets: [testTarget([one.url])] });
  const c = testDomain("c.test", server, { targets: [testTarget([one.url])] });
  const agent = await startAgent(testConfig(), { domains: [a, b, c], log, tuning: TEST_TUNING });
  try {
    await server.until(
      "three held",
      () => ["a.test", "b.test", "c.test"].every((d) => server.held(d).length === 1),
    );
    const [regA] = server.held("a.test");
    const [regB] = server.held("b.test");
    const [regC] = server.held("c.test");
    await agent.reload([
      { ...a, targets: [testTarget([two.url])] }, // routing change only
      { ...b, secret: "new-secret" }, // registers again
      // c removed
      testDomain("d.test", server, { targets: [testTarget([one.url])] }), // added
      testDomain("e.test", server, { active: false }), // inactive: ignored
    ]);
    assert.equal(await regC!.ended, "fin", "removed domain ends its registration with FIN");
    assert.equal(await regB!.ended, "fin");
    await server.until(
      "b again and d",
      () => server.held("b.test").length === 1 && server.held("d.test").length === 1,
    );
    assert.equal(server.held("b.test")[0]!.params.secret, "new-secret");
    assert.deepEqual(server.held("a.test"), [regA], "a kept its registration");
    assert.equal(server.registrations.filter((r) => r.params.domain === "a.test").length, 1);
    assert.equal(server.registrations.some((r) => r.params.domain === "e.test"), false);
    assert.equal(server.sessions.length, 1);
    const r = await request(server.sessions[0]!.session, { domain: "a.test" });
    assert.deepEqual(r.ok && r.body, "two", "a's new target is in use");
    const gone = await request(server.sessions[0]!.session, { domain: "c.test" });
    assert.equal(!gone.ok && gone.code, "unknown-domain");
    assert.deepEqual(agent.status().map((s) => s.domain).sort(), ["a.test", "b.test", "d.test"]);
  } finally {
    await agent.close();
    await one.close();
    await two.close();
  }
});

Deno.test("the agent refuses a server that answers without its subprotocol", async () => {
  records.length = 0;
  await using server = await FakeServer.start({ subprotocol: null });
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("app.test", server)],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await eventually("a refusal", () => agent.status()[0]!.lastError !== null);
    const status = agent.status()[0]!;
    assert.equal(status.registered, false);
    assert.match(status.lastError!, /burrow\.v1/);
    assert.ok(messages("warning").some((m) => /subprotocol.*burrow\.v1/.test(m)));
    assert.equal(server.registrations.length, 0);
  } finally {
    await agent.close();
  }
});

Deno.test("insecure: true logs a loud warning once per domain and still connects", async () => {
  records.length = 0;
  await using server = await FakeServer.start();
  const domain = testDomain("lax.test", server, { insecure: true, caFile: null });
  const agent = await startAgent(testConfig(), { domains: [domain], log, tuning: TEST_TUNING });
  try {
    await server.until("registered", () => server.held("lax.test").length === 1);
    await agent.reload([{ ...domain }]);
    const loud = messages("warning").filter((m) => m.startsWith("INSECURE"));
    assert.equal(loud.length, 1);
    assert.match(loud[0]!, /lax\.test/);
  } finally {
    await agent.close();
  }
});

Deno.test("a WebSocket upgrade is relayed to the backend with the client's subprotocol offers", async () => {
  const backend = startBackend((req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "chat" });
    socket.onmessage = (e) => socket.send(`echo:${e.data}`);
    return response;
  });
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("ws.test", server, { targets: [testTarget([backend.url])] })],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("registered", () => server.held("ws.test").length === 1);
    const { stream, reply } = await openHttp(server.sessions[0]!.session, {
      domain: "ws.test",
      target: "/chat?room=1",
      ws: true,
      headers: [["sec-websocket-protocol", "chat, other"], ["cookie", "a=b"]],
    });
    const answer = await reply;
    assert.ok(answer.value.ok);
    assert.deepEqual(decodeResponseHead(answer.value.text), {
      status: 101,
      headers: [],
      protocol: "chat",
    });
    const seen = backend.seen.at(-1)!;
    assert.equal(seen.target, "/chat?room=1");
    assert.equal(seen.headers.get("cookie"), "a=b");
    assert.equal(seen.headers.get("sec-websocket-protocol"), "chat, other");

    const writer = stream.writable.getWriter();
    const frames = new RelayFrameDecoder(1 << 20);
    const reader = answer.readable.getReader();
    const next = async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return null;
        for (const frame of frames.decode(value)) return frame;
      }
    };
    await writer.write(encodeRelayFrame(RelayFrameType.Text, new TextEncoder().encode("hi")));
    const echo = await next();
    assert.equal(echo?.type, RelayFrameType.Text);
    assert.equal(new TextDecoder().decode(echo!.payload), "echo:hi");
    await writer.write(encodeCloseFrame(1000, "bye"));
    await writer.close();
    const close = await next();
    assert.equal(close?.type, RelayFrameType.Close);
    assert.equal(await next(), null, "the agent ends its side after the close");
  } finally {
    await agent.close();
    await backend.close();
  }
});

Deno.test("responses pass through as the backend sent them: redirects unfollowed, compressed bodies intact", async () => {
  const gzipped = new Uint8Array(gzipSync("hello ".repeat(100)));
  const backend = startBackend((req) => {
    if (new URL(req.url).pathname === "/moved") {
      return new Response(null, { status: 302, headers: { location: "/elsewhere" } });
    }
    // A backend that compresses whatever the client asked for.
    return new Response(gzipped, { headers: { "content-encoding": "gzip" } });
  });
  await using server = await FakeServer.start();
  const agent = await startAgent(testConfig(), {
    domains: [testDomain("raw.test", server, { targets: [testTarget([backend.url])] })],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await server.until("registered", () => server.held("raw.test").length === 1);
    const session = server.sessions[0]!.session;
    const moved = await request(session, { domain: "raw.test", target: "/moved" });
    assert.ok(moved.ok);
    assert.equal(moved.status, 302);
    assert.deepEqual(moved.headers.filter(([n]) => n === "location"), [["location", "/elsewhere"]]);

    const zipped = await request(session, {
      domain: "raw.test",
      target: "/page",
      headers: [["accept-encoding", "gzip, br"]],
    });
    assert.ok(zipped.ok);
    // http: backends get the client's Accept-Encoding as it was: bytes pass through untouched.
    assert.equal(backend.seen.at(-1)!.headers.get("accept-encoding"), "gzip, br");
    assert.ok(zipped.headers.some(([n, v]) => n === "content-encoding" && v === "gzip"));
    assert.deepEqual(zipped.bytes, gzipped, "the body is not decoded on the way");
  } finally {
    await agent.close();
    await backend.close();
  }
});
