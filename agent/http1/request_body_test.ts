import assert from "node:assert/strict";
import { randomBytes, sha256, within } from "../../tests/helpers/streams.ts";
import { Http1Pool } from "./pool.ts";
import { rawServer, readBody, readText, request, serve, sha256Body, sourceOf } from "./testing.ts";
import type { ByteSource } from "./types.ts";

Deno.test("Http1Pool talks to Deno.serve: headers lower-cased, body and status", async () => {
  await using server = serve((req) =>
    new Response(`${req.method} ${new URL(req.url).pathname}${new URL(req.url).search}`, {
      status: 201,
      headers: { "X-Echo": req.headers.get("x-test") ?? "" },
    })
  );
  await using pool = new Http1Pool();
  const port = server.addr.port;
  const headers: [string, string][] = [["host", `127.0.0.1:${port}`], ["x-test", "  a b "]];
  const res = await within(
    5000,
    "GET",
    pool.request(request(port, { target: "/p?q=1", headers })),
  );
  assert.equal(res.status, 201);
  assert.deepEqual(res.headers.find(([n]) => n === "x-echo"), ["x-echo", "a b"]);
  assert.equal(await readText(res.body), "GET /p?q=1");
});

Deno.test("Http1Pool sends a Uint8Array body, small and large, with content-length", async () => {
  await using server = serve(async (req) =>
    new Response(`${req.headers.get("content-length")} ${await sha256Body(req)}`)
  );
  await using pool = new Http1Pool();
  for (const size of [0, 10, 16 * 1024, 3 * 1024 * 1024 + 7]) {
    const data = randomBytes(size);
    const req = request(server.addr.port, { method: "POST", body: data });
    const res = await within(10_000, `POST ${size}`, pool.request(req));
    assert.equal(await readText(res.body), `${size} ${sha256(data)}`);
  }
});

Deno.test("Http1Pool streams a ByteSource body chunked, and by content-length", async () => {
  await using server = serve(async (req) =>
    new Response(
      `${req.headers.get("transfer-encoding")} ${
        req.headers.get("content-length")
      } ${await sha256Body(
        req,
      )}`,
    )
  );
  await using pool = new Http1Pool();
  const data = randomBytes(10 * 1024 * 1024);
  const port = server.addr.port;
  // Large chunks (framed by separate writes) and small ones (copied next to their framing).
  for (const chunk of [65536, 1000]) {
    const req = request(port, { method: "PUT", body: sourceOf(data, chunk) });
    const res = await within(20_000, "chunked PUT", pool.request(req));
    assert.equal(await readText(res.body), `chunked null ${sha256(data)}`);
  }
  const headers: [string, string][] = [["host", "x"], ["content-length", String(data.length)]];
  const req = request(port, { method: "POST", headers, body: sourceOf(data) });
  const res = await within(20_000, "sized POST", pool.request(req));
  assert.equal(await readText(res.body), `null ${data.length} ${sha256(data)}`);
});

Deno.test("Http1Pool rejects a ByteSource giving more or fewer bytes than its content-length", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.reader.eof();
  });
  await using pool = new Http1Pool();
  for (const size of [5, 15]) {
    const headers: [string, string][] = [["host", "x"], ["content-length", "10"]];
    const body = sourceOf(new Uint8Array(size), 4);
    const req = request(server.port, { method: "POST", headers, body });
    await within(5000, `${size} bytes`, assert.rejects(pool.request(req), RangeError));
  }
});

Deno.test("Http1Pool rejects with a failing ByteSource's error", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.reader.eof();
  });
  await using pool = new Http1Pool();
  const failure = new Error("client went away");
  let n = 0;
  const body: ByteSource = {
    read: () => n++ < 3 ? Promise.resolve(new Uint8Array(100)) : Promise.reject(failure),
  };
  const req = request(server.port, { method: "POST", body });
  await within(5000, "POST", assert.rejects(pool.request(req), (e) => e === failure));
});

Deno.test("Http1Pool takes an early response while the upload is still going", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    if (c.index === 0) {
      // Too large: answer at once, keep the connection open, read nothing more.
      await c.send("HTTP/1.1 413 Content Too Large\r\ncontent-length: 8\r\n\r\ntoo big!");
      await new Promise((resolve) => setTimeout(resolve, 200));
      return;
    }
    await c.send("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  });
  await using pool = new Http1Pool();
  // 64 MiB: far more than socket buffers hold.
  let left = 1024;
  const chunk = new Uint8Array(65536);
  const body: ByteSource = {
    read: () => Promise.resolve(left-- > 0 ? chunk : null),
  };
  const req = request(server.port, { method: "POST", body });
  const res = await within(5000, "POST", pool.request(req));
  assert.equal(res.status, 413);
  assert.equal(await within(5000, "body", readText(res.body)), "too big!");
  const big = request(server.port, { method: "POST", body: new Uint8Array(32 * 1024 * 1024) });
  const next = await within(5000, "POST", pool.request(big));
  assert.equal(await readText(next.body), "ok");
  assert.equal(server.accepted, 2);
});

Deno.test("Http1Pool rejects with the signal's reason when aborted mid-upload", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.reader.eof();
  });
  await using pool = new Http1Pool();
  const controller = new AbortController();
  const reason = new Error("client gone");
  let sent = 0;
  const body: ByteSource = {
    read() {
      if (++sent === 10) controller.abort(reason);
      return Promise.resolve(new Uint8Array(1000));
    },
  };
  const req = request(server.port, { method: "POST", body, signal: controller.signal });
  await within(5000, "POST", assert.rejects(pool.request(req), (e) => e === reason));
});

Deno.test("Http1Pool serves many concurrent mixed requests against Deno.serve", async () => {
  await using server = serve(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    const size = Number(new URL(req.url).searchParams.get("size"));
    return new Response(size > 0 ? new Uint8Array(size).fill(7) : `${req.method} ${body.length}`);
  });
  await using pool = new Http1Pool({ maxIdlePerOrigin: 8 });
  const port = server.addr.port;
  await within(
    20_000,
    "200 requests",
    Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const size = i % 3 === 0 ? 100_000 + i : 0;
      const body = i % 5 === 0 ? new Uint8Array(i * 100) : null;
      const method = body === null ? "GET" : "POST";
      const res = await pool.request(request(port, { method, target: `/?size=${size}`, body }));
      const got = await readBody(res.body);
      if (size > 0) assert.equal(got.length, size);
      else assert.equal(new TextDecoder().decode(got), `${method} ${body?.length ?? 0}`);
    })),
  );
});
