/**
 * The reverse proxy end to end: client → server (TLS) → wss → agent →
 * backend, on loopback, with real sockets.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { until, World } from "./world.ts";
import type { AgentHandle } from "../../agent/agent.ts";
import { within } from "../helpers/streams.ts";
import { rawBackend, rawRequest, readResponse } from "./raw_http.ts";
import { configure, type LogRecord, reset } from "@logtape/logtape";

const SECRET = "e2e-secret-0123456789";

/** A world with one domain served by one agent whose target is `backend`. */
async function withDomain(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  body: (world: World, agent: AgentHandle) => Promise<void>,
  domain: Record<string, unknown> = {},
) {
  const world = await World.create();
  try {
    const backend = world.backend(handler);
    await world.domain("app.test", { active: true, secret: SECRET, ...domain });
    const agent = await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    await within(60_000, "test body", body(world, agent));
  } finally {
    await world.close();
  }
}

Deno.test("GET and POST go through the tunnel with method, path, query and headers", async () => {
  await withDomain(async (req) => {
    const url = new URL(req.url);
    return Response.json({
      method: req.method,
      path: url.pathname + url.search,
      xff: req.headers.get("x-forwarded-for"),
      proto: req.headers.get("x-forwarded-proto"),
      host: req.headers.get("x-forwarded-host"),
      tid: req.headers.get("x-transaction-id"),
      custom: req.headers.get("x-custom"),
      body: req.body ? await req.text() : null,
    }, { headers: { "set-cookie": "a=1", "x-backend": "yes" } });
  }, async (world) => {
    const get = await world.fetch("app.test", "/a/b?c=d&e=f", { headers: { "x-custom": "42" } });
    assert.equal(get.status, 200);
    const tid = get.headers.get("x-transaction-id");
    assert.ok(tid && tid.length > 10);
    assert.equal(get.headers.get("x-backend"), "yes");
    const seen = await get.json();
    assert.deepEqual(seen, {
      method: "GET",
      path: "/a/b?c=d&e=f",
      xff: "127.0.0.1",
      proto: "https",
      host: "app.test",
      tid,
      custom: "42",
      body: null,
    });
    const post = await world.fetch("app.test", "/submit", { method: "POST", body: "hello body" });
    assert.equal(post.status, 200);
    const posted = await post.json();
    assert.equal(posted.method, "POST");
    assert.equal(posted.body, "hello body");
    const entry = world.lastAccess("app.test")!;
    assert.equal(entry.method, "POST");
    assert.equal(entry.status, 200);
    assert.equal(entry.bytesIn, "hello body".length);
    assert.ok(entry.bytesOut > 0);
    assert.ok(entry.agent);
  });
});

Deno.test("small, HEAD and 304 responses keep their Content-Length, headers and body", async () => {
  await withDomain((req) => {
    if (req.headers.get("if-none-match") === "v1") {
      return new Response(null, { status: 304, headers: { etag: "v1" } });
    }
    return new Response("x".repeat(1234), {
      headers: { "content-type": "text/plain", "x-backend": "yes", etag: "v1" },
    });
  }, async (world) => {
    const get = await world.fetch("app.test", "/small");
    assert.equal(get.headers.get("content-length"), "1234");
    assert.equal(get.headers.get("content-type"), "text/plain");
    assert.equal(get.headers.get("x-backend"), "yes");
    assert.ok(get.headers.get("x-transaction-id"));
    assert.equal(await get.text(), "x".repeat(1234));
    assert.equal(world.lastAccess("app.test")!.bytesOut, 1234);
    const head = await world.fetch("app.test", "/small", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "1234", "HEAD: the backend's length");
    assert.equal(await head.text(), "");
    const cached = await world.fetch("app.test", "/small", { headers: { "if-none-match": "v1" } });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get("etag"), "v1");
    await cached.body?.cancel();
  });
});

/** Deterministic bytes: chunk `i` of a stream, 64 KiB each. */
function chunkOf(i: number): Uint8Array {
  const c = new Uint8Array(65536);
  new DataView(c.buffer).setUint32(0, i);
  c.fill(i & 0xff, 4);
  return c;
}

const HUNDRED_MIB = 100 * 1024 * 1024;

Deno.test("100 MiB upload and download stream through with SHA-256 intact and bounded memory", async () => {
  const sent = createHash("sha256");
  for (let i = 0; i < HUNDRED_MIB / 65536; i++) sent.update(chunkOf(i));
  const expected = sent.digest("hex");
  // JavaScript heap plus ArrayBuffer memory of this test's isolate: unlike RSS,
  // not shared with test files that run in parallel in other workers of the process.
  const held = () => {
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external;
  };
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, held());
  };
  await withDomain(async (req) => {
    const url = new URL(req.url);
    if (req.method === "POST") {
      const h = createHash("sha256");
      let n = 0;
      for await (const chunk of req.body!) {
        h.update(chunk);
        n += chunk.length;
      }
      return Response.json({ n, sha: h.digest("hex") });
    }
    if (url.pathname === "/download") {
      let i = 0;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (i === HUNDRED_MIB / 65536) c.close();
            else c.enqueue(chunkOf(i++));
          },
        }, { highWaterMark: 0 }),
      );
    }
    return new Response("?", { status: 400 });
  }, async (world) => {
    const base = held();
    const timer = setInterval(sample, 20);
    try {
      let i = 0;
      const upload = new ReadableStream<Uint8Array>({
        pull(c) {
          if (i === HUNDRED_MIB / 65536) c.close();
          else c.enqueue(chunkOf(i++));
        },
      }, { highWaterMark: 0 });
      const up = await world.fetch("app.test", "/upload", { method: "POST", body: upload });
      assert.equal(up.status, 200);
      assert.deepEqual(await up.json(), { n: HUNDRED_MIB, sha: expected });

      const down = await world.fetch("app.test", "/download");
      assert.equal(down.status, 200);
      const got = createHash("sha256");
      let n = 0;
      for await (const chunk of down.body!) {
        got.update(chunk);
        n += chunk.length;
      }
      assert.equal(n, HUNDRED_MIB);
      assert.equal(got.digest("hex"), expected);
    } finally {
      clearInterval(timer);
    }
    // Client, server, agent and backend share this process: 200 MiB moved, far less held.
    const grown = (peak - base) / (1024 * 1024);
    console.log(`peak heap+buffer growth while streaming 2 × 100 MiB: ${grown.toFixed(1)} MiB`);
    assert.ok(grown < 96, `memory grew by ${grown.toFixed(0)} MiB while streaming 2 × 100 MiB`);
  }, { bodySize: "1GB" });
});

Deno.test("a WebSocket echoes through the tunnel, text and binary, and closes cleanly", async () => {
  await withDomain((req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "echo.v1" });
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  }, async (world) => {
    const ws = new WebSocket(`wss://127.0.0.1:${world.port}/ws`, {
      protocols: ["echo.v1"],
      headers: { host: "app.test" },
      client: world.client,
    });
    const messages: (string | ArrayBuffer)[] = [];
    const got = Promise.withResolvers<void>();
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      messages.push(e.data);
      if (messages.length === 2) got.resolve();
    };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = (e) => reject(new Error(`WebSocket failed: ${(e as ErrorEvent).message}`));
    });
    assert.equal(ws.protocol, "echo.v1");
    ws.send("hello tunnel");
    ws.send(new Uint8Array([1, 2, 3, 250]));
    await got.promise;
    assert.equal(messages[0], "hello tunnel");
    assert.deepEqual(new Uint8Array(messages[1] as ArrayBuffer), new Uint8Array([1, 2, 3, 250]));
    const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
    ws.close(1000, "bye");
    const ev = await closed;
    assert.equal(ev.code, 1000);
  });
});

Deno.test("Server-Sent Events arrive as they happen, not when the stream ends", async () => {
  const next = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  await withDomain(() => {
    const enc = new TextEncoder();
    let i = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          if (i === 3) {
            c.close();
            return;
          }
          // Event i+1 is sent only after the client saw event i: a buffering proxy deadlocks.
          if (i > 0) await next[i - 1]!.promise;
          c.enqueue(enc.encode(`data: event ${i++}\n\n`));
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  }, async (world) => {
    const res = await world.fetch("app.test", "/events");
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    for (let seen = 0; seen < 3;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const count = text.split("\n\n").length - 1;
      while (seen < count) {
        if (seen < 2) next[seen]!.resolve();
        seen++;
      }
    }
    assert.equal(text, "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n");
    await reader.cancel();
  });
});

Deno.test("a client that disconnects mid-response frees the stream on both sides", async () => {
  const backendAborted = Promise.withResolvers<void>();
  await withDomain(() => {
    let timer: ReturnType<typeof setInterval>;
    return new Response(
      new ReadableStream({
        start(c) {
          timer = setInterval(() => c.enqueue(new Uint8Array(1024)), 5);
        },
        cancel() {
          clearInterval(timer);
          backendAborted.resolve();
        },
      }),
    );
  }, async (world, agent) => {
    const abort = new AbortController();
    const res = await world.fetch("app.test", "/slow", { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    assert.equal(agent.serving(), 1);
    abort.abort();
    await reader.cancel().catch(() => {});
    await within(5000, "backend to see the abort", backendAborted.promise);
    const agents = world.server.agents;
    await until("server-side streams to close", () => agents.openStreams() === 0);
    await until("agent-side streams to close", () => agent.serving() === 0);
    // The tunnel still serves: nothing was left holding the domain's one request slot.
    const again = await world.fetch("app.test", "/slow");
    await again.body?.cancel();
    assert.equal(again.status, 200);
  }, { concurrency: 1 });
});

Deno.test("200 concurrent requests across 2 agents and 3 domains are all answered correctly", async () => {
  const world = await World.create();
  try {
    const domains = ["a.test", "b.test", "c.test"];
    const backends = domains.map((d) =>
      world.backend((req) => new Response(`${d} ${new URL(req.url).pathname}`))
    );
    for (const d of domains) {
      await world.domain(d, { active: true, secret: SECRET, concurrency: 500 });
    }
    const spec = (ds: string[]) => ({
      domains: Object.fromEntries(
        ds.map((d) => [d, {
          secret: SECRET,
          concurrency: 500,
          targets: [{ target: backends[domains.indexOf(d)]!.url }],
        }]),
      ),
    });
    await world.agent(spec(["a.test", "b.test"]));
    await world.agent(spec(["b.test", "c.test"]));
    const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const d = domains[i % 3]!;
      const res = await world.fetch(d, `/r${i}`);
      return res.status === 200 && (await res.text()) === `${d} /r${i}`;
    }));
    assert.equal(results.filter(Boolean).length, 200);
    const agentsUsed = new Set(
      world.access.filter((e) => e.domain === "b.test").map((e) => e.agent),
    );
    assert.equal(agentsUsed.size, 2, "b.test is spread over both agents");
  } finally {
    await world.close();
  }
});

/** A world whose one domain is served by an agent in front of a backend recording raw bytes. */
async function withRawBackend(
  body: (world: World, backend: ReturnType<typeof rawBackend>) => Promise<void>,
  server: Record<string, unknown> = {},
) {
  const world = await World.create(server);
  const backend = rawBackend();
  try {
    await world.domain("app.test", { active: true, secret: SECRET });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    await within(60_000, "test body", body(world, backend));
  } finally {
    await world.close();
    await backend.close();
  }
}

/** The head a raw backend got for `request` (a request line and headers, connection: close added). */
async function forwarded(
  world: World,
  backend: ReturnType<typeof rawBackend>,
  request: string,
  body = "",
): Promise<{ status: number; head: string; body: string }> {
  const [line, ...headers] = request.split("\n");
  const text = [`${line} HTTP/1.1`, "host: app.test", ...headers, "connection: close", "", body]
    .join("\r\n");
  const next = backend.next();
  const res = await rawRequest(world.port, world.caCert, text);
  assert.equal(res.status, 200, `${line}: ${res.text.slice(0, 80)}`);
  const got = await next;
  return { status: res.status, head: got.head, body: got.body };
}

Deno.test("GET and HEAD bodies reach the backend as the client framed them", async () => {
  await withRawBackend(async (world, backend) => {
    for (const method of ["GET", "HEAD"]) {
      const sized = await forwarded(world, backend, `${method} /s\ncontent-length: 5`, "hello");
      assert.match(sized.head, new RegExp(`^${method} /s HTTP/1.1\r\n`));
      assert.match(sized.head, /\r\ncontent-length: 5\r\n/);
      assert.equal(sized.body, "hello");
    }
    const chunked = await forwarded(
      world,
      backend,
      "GET /c\ntransfer-encoding: chunked",
      "5\r\nhello\r\n0\r\n\r\n",
    );
    assert.match(chunked.head, /\r\ntransfer-encoding: chunked\r\n/);
    assert.equal(chunked.body, "5\r\nhello\r\n0\r\n\r\n");
    assert.equal(world.lastAccess("app.test")!.bytesIn, 5);
  });
});

Deno.test("bodyless requests reach the backend without chunked framing; OPTIONS * stays asterisk-form", async () => {
  await withRawBackend(async (world, backend) => {
    // Methods that anticipate a body get content-length: 0 (as fetch sends them); others no framing.
    const cases: [string, string][] = [
      ["DELETE /d", ""],
      ["OPTIONS /o", ""],
      ["POST /p", "content-length: 0"],
      ["PUT /u", "content-length: 0"],
      ["POST /p0\ncontent-length: 0", "content-length: 0"],
      ["DELETE /d0\ncontent-length: 0", "content-length: 0"],
    ];
    for (const [request, framing] of cases) {
      const got = await forwarded(world, backend, request);
      assert.doesNotMatch(got.head, /transfer-encoding/i, request);
      assert.equal(got.body, "", request);
      const lengths = got.head.match(/\r\ncontent-length: [0-9]+/gi) ?? [];
      assert.deepEqual(lengths, framing === "" ? [] : [`\r\n${framing}`], request);
    }
    const star = await forwarded(world, backend, "OPTIONS *");
    assert.match(star.head, /^OPTIONS \* HTTP\/1.1\r\n/);
    assert.equal(world.lastAccess("app.test")!.path, "*");
  });
});

Deno.test("CONNECT is refused with 501, the reason in the access log, nothing sent to the backend", async () => {
  await withRawBackend(async (world, backend) => {
    const res = await rawRequest(
      world.port,
      world.caCert,
      "CONNECT app.test:443 HTTP/1.1\r\nhost: app.test\r\nconnection: close\r\n\r\n",
    );
    assert.equal(res.status, 501);
    const entry = world.lastAccess("app.test")!;
    assert.equal(entry.status, 501);
    assert.match(entry.reason ?? "", /CONNECT/);
    assert.equal(backend.requests.length, 0);
  });
});

Deno.test("a response body the backend breaks off is cut for the client and logged as the access reason, not as an error", async () => {
  const errors: LogRecord[] = [];
  await configure({
    sinks: { memory: (record: LogRecord) => errors.push(record) },
    loggers: [
      { category: ["burrow-test"], sinks: ["memory"], lowestLevel: "error" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  try {
    await withDomain(() => {
      let sent = 0;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (sent++ < 3) c.enqueue(new Uint8Array(100_000));
            else c.error(new Error("backend broke off"));
          },
        }),
      );
    }, async (world) => {
      const res = await world.fetch("app.test", "/broken");
      assert.equal(res.status, 200);
      await assert.rejects(res.arrayBuffer(), "the client sees the body cut, not complete");
      await until("the access entry", () => world.lastAccess("app.test") !== undefined);
      const entry = world.lastAccess("app.test")!;
      assert.match(entry.reason ?? "", /^response aborted: /);
    });
    assert.deepEqual(errors.map((r) => r.message.join("")), []);
  } finally {
    await reset();
  }
});

Deno.test("uploads slower than limits.bodyMinRate are cut with 408 and free their concurrency slots", async () => {
  const world = await World.create({ limits: { readTimeout: "1s", bodyMinRate: "1kB" } });
  const backend = rawBackend();
  const conns: Deno.TlsConn[] = [];
  try {
    await world.domain("app.test", { active: true, secret: SECRET, concurrency: 3 });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    const head = "POST /up HTTP/1.1\r\nhost: app.test\r\ncontent-length: 100000\r\n\r\n";
    const encoder = new TextEncoder();
    // Three clients holding the domain's three slots, each sending 10 bytes every 100 ms
    // (100 B/s): never silent for readTimeout, far under the minimum rate.
    const slow = Array.from({ length: 3 }, async () => {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: world.port,
        caCerts: [world.caCert],
      });
      conns.push(conn);
      await conn.write(encoder.encode(head));
      const response = readResponse(conn);
      let answered = false;
      response.finally(() => answered = true);
      for (let i = 0; i < 100 && !answered; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await conn.write(new Uint8Array(10)).catch(() => {});
      }
      return response;
    });
    const started = performance.now();
    const results = await within(10_000, "the slow uploads to be cut", Promise.all(slow));
    const took = performance.now() - started;
    assert.deepEqual(results.map((r) => r.status), [408, 408, 408]);
    // Cut once 1 s of grace plus what 1 kB/s allows for the bytes sent has passed (≈ 1.1 s).
    assert.ok(took < 8000, `cut after ${took.toFixed(0)} ms`);
    const cut = world.access.filter((e) => e.status === 408);
    assert.equal(cut.length, 3);
    for (const e of cut) assert.match(e.reason ?? "", /request body too slow/);
    assert.equal(backend.requests.length, 0, "no cut body reached the backend as complete");
    // The slots are free again: a normal upload goes through.
    const ok = await world.fetch("app.test", "/up", { method: "POST", body: "x".repeat(5000) });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // Closed by the server.
      }
    }
    await world.close();
    await backend.close();
  }
});

Deno.test("a head within limits.headerSize in bytes but over it in the tunnel's UTF-8 gets 431, not 502", async () => {
  await withRawBackend(async (world, backend) => {
    const encoder = new TextEncoder();
    const before = encoder.encode(
      "GET /ff HTTP/1.1\r\nhost: app.test\r\nconnection: close\r\nx-ff: ",
    );
    const after = encoder.encode("\r\n\r\n");
    // 61,000 bytes of 0xFF: under 64 KiB as sent, 122,000 bytes as UTF-8 in the tunnel.
    const request = new Uint8Array(before.length + 61_000 + after.length);
    request.set(before);
    request.fill(0xff, before.length, before.length + 61_000);
    request.set(after, before.length + 61_000);
    const res = await rawRequest(world.port, world.caCert, request);
    assert.equal(res.status, 431);
    assert.equal(world.lastAccess("app.test")!.reason, "request head too large");
    // Under the limit either way, the same bytes go through as they came.
    const next = backend.next();
    const small = new Uint8Array(before.length + 1000 + after.length);
    small.set(before);
    small.fill(0xff, before.length, before.length + 1000);
    small.set(after, before.length + 1000);
    assert.equal((await rawRequest(world.port, world.caCert, small)).status, 200);
    assert.match((await next).head, new RegExp(`\r\nx-ff: \xff{1000}\r\n`));
  });
});

Deno.test("an HTTP/2 (h2c) body sent without Content-Length still reaches the backend; a bodyless one goes without framing", async () => {
  const world = await World.create({
    listen: [{ address: "127.0.0.1:0", sni: true }, { address: "127.0.0.1:0", plain: true }],
  });
  const backend = rawBackend();
  const client = Deno.createHttpClient({ http2: true, http1: false, allowHost: true });
  try {
    await world.domain("app.test", { active: true, secret: SECRET });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i++ < 2) c.enqueue(new TextEncoder().encode("ab"));
        else c.close();
      },
    });
    const url = `http://127.0.0.1:${world.server.addrs[1]!.port}/h2`;
    const headers = { host: "app.test" };
    let next = backend.next();
    const res = await fetch(url, { method: "PUT", body, headers, client });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const got = await next;
    assert.match(got.head, /\r\ntransfer-encoding: chunked\r\n/);
    // Chunked, however the pieces fell: size lines at even places, data at odd ones.
    assert.ok(got.body.endsWith("0\r\n\r\n"));
    assert.equal(got.body.split("\r\n").filter((_, i) => i % 2 === 1).join(""), "abab");
    next = backend.next();
    const empty = await fetch(url, { method: "DELETE", headers, client });
    assert.equal(empty.status, 200);
    await empty.body?.cancel();
    const bare = await next;
    assert.doesNotMatch(bare.head, /transfer-encoding/i);
    assert.equal(bare.body, "");
  } finally {
    client.close();
    await world.close();
    await backend.close();
  }
});
