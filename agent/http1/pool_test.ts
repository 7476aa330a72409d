import assert from "node:assert/strict";
import { within } from "../../tests/helpers/streams.ts";
import { type AbortHook, Http1Error, Http1Pool } from "./pool.ts";
import { helloServer, rawServer, readText, request, sourceOf, utf8 } from "./testing.ts";

const decoder = new TextDecoder();

Deno.test("Http1Pool reuses one keep-alive connection for sequential requests", async () => {
  await using server = helloServer();
  await using pool = new Http1Pool();
  for (let i = 0; i < 5; i++) {
    const res = await within(5000, "GET", pool.request(request(server.port)));
    assert.equal(res.status, 200);
    assert.equal(res.statusText, "OK");
    assert.equal(res.version, "1.1");
    assert.equal(await readText(res.body), "hello");
  }
  assert.equal(server.accepted, 1);
});

Deno.test("Http1Pool opens a connection per concurrent request and keeps them idle", async () => {
  await using server = helloServer();
  await using pool = new Http1Pool({ maxIdlePerOrigin: 2 });
  const responses = await within(
    5000,
    "3 GETs",
    Promise.all([0, 1, 2].map(() => pool.request(request(server.port)))),
  );
  for (const res of responses) assert.equal(await readText(res.body), "hello");
  assert.equal(server.accepted, 3);
  // Only 2 were kept: 2 more concurrent requests need no new connection.
  const more = await Promise.all([0, 1].map(() => pool.request(request(server.port))));
  for (const res of more) assert.equal(await readText(res.body), "hello");
  assert.equal(server.accepted, 3);
});

Deno.test("Http1Pool reuses an HTTP/1.0 connection only with keep-alive", async () => {
  await using server = rawServer(async (c) => {
    let head: string | null;
    while ((head = await c.reader.head()) !== null) {
      const keep = head.includes("/keep") ? "Connection: Keep-Alive\r\n" : "";
      await c.send(`HTTP/1.0 200 OK\r\n${keep}Content-Length: 2\r\n\r\nok`);
      if (keep === "") return;
    }
  });
  await using pool = new Http1Pool();
  for (const target of ["/keep", "/keep", "/close", "/keep"]) {
    const res = await within(5000, target, pool.request(request(server.port, { target })));
    assert.equal(res.version, "1.0");
    assert.equal(await readText(res.body), "ok");
  }
  assert.equal(server.accepted, 2);
});

Deno.test("Http1Pool rejects with connect-refused when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using pool = new Http1Pool();
  const error = await within(5000, "GET", pool.request(request(port)).catch((e) => e));
  assert.ok(error instanceof Http1Error);
  assert.equal(error.code, "connect-refused");
  assert.ok(error.message.includes(`http://127.0.0.1:${port}`), error.message);
});

Deno.test("Http1Pool aborts mid-body with the signal's reason and drops the connection", async () => {
  await using server = rawServer(async (c) => {
    while (await c.reader.head() !== null) {
      await c.send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst");
    }
  });
  await using pool = new Http1Pool();
  const controller = new AbortController();
  const req = request(server.port, { signal: controller.signal });
  const res = await within(5000, "GET", pool.request(req));
  assert.equal(new TextDecoder().decode((await res.body!.read())!), "first");
  const pending = res.body!.read();
  const reason = new Error("stop");
  controller.abort(reason);
  await within(5000, "read", assert.rejects(pending, (e) => e === reason));
  await assert.rejects(res.body!.read(), (e) => e === reason);
  // The next request needs a new connection.
  const next = await within(5000, "GET", pool.request(request(server.port)));
  next.body!.cancel();
  assert.equal(server.accepted, 2);
});

Deno.test("Http1Pool rejects a pending request when its signal aborts", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.reader.eof();
  });
  await using pool = new Http1Pool();
  const controller = new AbortController();
  const pending = pool.request(request(server.port, { signal: controller.signal }));
  const reason = new DOMException("too slow", "TimeoutError");
  setTimeout(() => controller.abort(reason), 20);
  await within(5000, "GET", assert.rejects(pending, (e) => e === reason));
  await assert.rejects(
    pool.request(request(server.port, { signal: controller.signal })),
    (e) => e === reason,
  );
});

Deno.test("Http1Pool aborts through an AbortHook as through a signal, and lets go of it", async () => {
  await using server = rawServer(async (c) => {
    while (await c.reader.head() !== null) {
      await c.send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst");
    }
  });
  await using pool = new Http1Pool();
  const hook: AbortHook = { aborted: false, reason: undefined, listener: null };
  const abort = (reason: unknown) => {
    Object.assign(hook, { aborted: true, reason });
    hook.listener?.handleEvent();
  };
  const res = await within(5000, "GET", pool.request(request(server.port, { signal: hook })));
  assert.equal(new TextDecoder().decode((await res.body!.read())!), "first");
  assert.notEqual(hook.listener, null);
  const pending = res.body!.read();
  const reason = new Error("stop");
  abort(reason);
  await within(5000, "read", assert.rejects(pending, (e) => e === reason));
  assert.equal(hook.listener, null);
  await assert.rejects(pool.request(request(server.port, { signal: hook })), (e) => e === reason);
  assert.equal(server.accepted, 1);
});

Deno.test("Http1Pool drops an idle connection the backend closed, before reusing it", async () => {
  await using server = rawServer(async (c) => {
    const head = await c.reader.head();
    if (head?.startsWith("POST ")) assert.equal(decoder.decode(await c.reader.bytes(4)), "once");
    await c.send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    // The backend's keep-alive timeout: it closes the connection right away.
  });
  await using pool = new Http1Pool();
  for (let i = 0; i < 3; i++) {
    // After the first, streamed bodies: not replayable, so a request sent on the
    // closed connection would fail (see below), not be retried on a new one.
    const req = i === 0 ? request(server.port) : request(server.port, {
      method: "POST",
      headers: [["host", `127.0.0.1:${server.port}`], ["content-length", "4"]],
      body: sourceOf(utf8("once")),
    });
    const res = await within(5000, req.method, pool.request(req));
    assert.equal(await readText(res.body), "hello");
    // Let the FIN arrive, as a backend's keep-alive timeout would.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(server.accepted, 3);
});

Deno.test("Http1Pool never takes bytes a backend sent on an idle connection for a response", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send(`HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nconn${c.index}`);
    if (c.index > 0) return;
    // An answer nobody asked for on the idle connection, which stays open: a client that
    // took it for the next response would hand the wrong status to the wrong request.
    await new Promise((resolve) => setTimeout(resolve, 10));
    await c.send("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n");
    await c.reader.eof();
  });
  await using pool = new Http1Pool();
  const first = await within(5000, "GET", pool.request(request(server.port)));
  assert.equal(await readText(first.body), "conn0");
  await new Promise((resolve) => setTimeout(resolve, 40));
  const second = await within(5000, "GET", pool.request(request(server.port)));
  assert.equal(second.status, 200);
  assert.equal(await readText(second.body), "conn1");
});

/**
 * A backend whose first connection answers one request, then reads the next
 * request's head and closes without a word: a keep-alive close that raced
 * the request. Later connections answer normally.
 */
function racingCloseServer() {
  return rawServer(async (c) => {
    await c.reader.head();
    await c.send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    if (c.index > 0) return;
    await c.reader.head();
  });
}

Deno.test("Http1Pool retries a replayable request whose reused connection closed under it", async () => {
  for (const method of ["GET", "POST"]) {
    await using server = racingCloseServer();
    await using pool = new Http1Pool();
    const res = await within(5000, "first", pool.request(request(server.port)));
    assert.equal(await readText(res.body), "hello");
    const body = method === "POST" ? utf8("replayable") : null;
    const again = await within(
      5000,
      method,
      pool.request(request(server.port, { method, body })),
    );
    assert.equal(await readText(again.body), "hello");
    assert.equal(server.accepted, 2);
  }
});

Deno.test("Http1Pool does not retry a streamed body on a connection that closed under it", async () => {
  await using server = racingCloseServer();
  await using pool = new Http1Pool();
  const res = await within(5000, "GET", pool.request(request(server.port)));
  assert.equal(await readText(res.body), "hello");
  const req = request(server.port, { method: "POST", body: sourceOf(utf8("once")) });
  const error = await within(5000, "POST", pool.request(req).catch((e) => e));
  assert.ok(error instanceof Http1Error && error.code === "closed", String(error));
  assert.equal(server.accepted, 1);
});

Deno.test("Http1Pool.close() aborts active requests and refuses new ones", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
    await c.reader.eof();
  });
  const pool = new Http1Pool();
  const idle = new Http1Pool();
  await using hello = helloServer();
  try {
    const res = await within(5000, "GET", pool.request(request(server.port)));
    const pending = res.body!.read();
    await readText((await idle.request(request(hello.port))).body);
    await pool.close();
    await idle.close();
    const error = await within(5000, "read", pending.catch((e) => e));
    assert.ok(error instanceof Http1Error && error.code === "aborted", String(error));
    await assert.rejects(
      pool.request(request(server.port)),
      (e) => e instanceof Http1Error && e.code === "aborted",
    );
  } finally {
    await pool.close();
    await idle.close();
  }
});

Deno.test("Http1Pool closes connections idle for longer than idleTimeout", async () => {
  const { promise: closed, resolve } = Promise.withResolvers<boolean>();
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    resolve(await c.reader.eof());
  });
  await using pool = new Http1Pool({ idleTimeout: 50 });
  const res = await within(5000, "GET", pool.request(request(server.port)));
  assert.equal(await readText(res.body), "hello");
  assert.equal(await within(2000, "idle close", closed), true);
});

Deno.test("Http1Pool closes the connection after a response with connection: close", async () => {
  await using server = rawServer(async (c) => {
    while (await c.reader.head() !== null) {
      await c.send("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok");
    }
  });
  await using pool = new Http1Pool();
  for (let i = 0; i < 2; i++) {
    const res = await within(5000, "GET", pool.request(request(server.port)));
    assert.equal(await readText(res.body), "ok");
  }
  assert.equal(server.accepted, 2);
});
