import assert from "node:assert/strict";
import { within } from "../../tests/helpers/streams.ts";
import { Http1Error, Http1Pool } from "./pool.ts";
import { rawServer, readBody, readText, request } from "./testing.ts";

Deno.test("Http1Pool answers HEAD, 204 and 304 without a body and keeps the connection", async () => {
  await using server = rawServer(async (c) => {
    let head: string | null;
    while ((head = await c.reader.head()) !== null) {
      if (head.startsWith("HEAD")) await c.send("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
      else if (head.includes("/204")) await c.send("HTTP/1.1 204 No Content\r\n\r\n");
      else await c.send("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n");
    }
  });
  await using pool = new Http1Pool();
  const cases: [string, string, number][] = [["HEAD", "/", 200], ["GET", "/204", 204], [
    "GET",
    "/304",
    304,
  ]];
  for (const [method, target, status] of cases) {
    const res = await within(
      5000,
      target,
      pool.request(request(server.port, { method, target })),
    );
    assert.equal(res.status, status);
    assert.equal(res.body, null);
  }
  assert.equal(server.accepted, 1);
});

Deno.test("Http1Pool decodes a chunked response arriving byte by byte", async () => {
  const wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;ext=1\r\nhello\r\n1\nX\n" + "10 \r\n0123456789abcdef\r\n0\r\nx-trailer: 1\r\n\r\n";
  await using server = rawServer(async (c) => {
    while (await c.reader.head() !== null) {
      for (const ch of wire) await c.send(ch);
    }
  });
  await using pool = new Http1Pool();
  for (let i = 0; i < 2; i++) {
    const res = await within(5000, "GET", pool.request(request(server.port)));
    assert.deepEqual(res.headers, [["transfer-encoding", "chunked"]]);
    assert.equal(await within(5000, "body", readText(res.body)), "helloX0123456789abcdef");
  }
  assert.equal(server.accepted, 1);
});

Deno.test("Http1Pool reads a close-delimited response and does not reuse its connection", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send("HTTP/1.1 200 OK\r\n\r\nuntil ");
    await c.send("close");
  });
  await using pool = new Http1Pool();
  for (let i = 0; i < 2; i++) {
    const res = await within(5000, "GET", pool.request(request(server.port)));
    assert.equal(await readText(res.body), "until close");
  }
  assert.equal(server.accepted, 2);
});

Deno.test("Http1Pool skips 100 Continue and 103 Early Hints before the final response", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n");
    await c.send("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone");
  });
  await using pool = new Http1Pool();
  const res = await within(5000, "GET", pool.request(request(server.port)));
  assert.equal(res.status, 200);
  assert.equal(await readText(res.body), "done");
});

Deno.test("Http1Pool keeps repeated headers in order (Set-Cookie)", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send(
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nX-A: 1\r\nset-cookie: b=2\r\n" +
        "Content-Length: 0\r\n\r\n",
    );
  });
  await using pool = new Http1Pool();
  const res = await within(5000, "GET", pool.request(request(server.port)));
  assert.deepEqual(res.headers, [
    ["set-cookie", "a=1; Path=/"],
    ["x-a", "1"],
    ["set-cookie", "b=2"],
    ["content-length", "0"],
  ]);
  assert.equal(res.body, null);
});

Deno.test("Http1Pool rejects malformed responses with bad-response", async () => {
  const bad = [
    "HTTP/1.1 OK\r\n\r\n",
    "HTTP/2 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx",
    "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
    "HTTP/1.1 200 OK\r\n" + "x-a: 1\r\n".repeat(101) + "\r\n",
    "HTTP/1.1 200 OK\r\nx-big: " + "a".repeat(70_000) + "\r\n\r\n",
  ];
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send(bad[c.index]!);
    await c.reader.eof();
  });
  await using pool = new Http1Pool();
  for (const wire of bad) {
    const what = JSON.stringify(wire.slice(0, 40));
    const error = await within(5000, what, pool.request(request(server.port)).catch((e) => e));
    assert.ok(error instanceof Http1Error, what);
    assert.equal(error.code, "bad-response", what);
    assert.match(error.message, /Bad response from http:\/\/127\.0\.0\.1:\d+: /);
  }
});

Deno.test("Http1Pool rejects a bad chunk size while reading the body", async () => {
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n");
    await c.reader.eof();
  });
  await using pool = new Http1Pool();
  const res = await within(5000, "GET", pool.request(request(server.port)));
  const error = await within(5000, "body", readBody(res.body).catch((e) => e));
  assert.ok(error instanceof Http1Error && error.code === "bad-response", String(error));
});

Deno.test("Http1Pool makes a truncated body throw closed, never end cleanly", async () => {
  const wires = [
    "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
  ];
  await using server = rawServer(async (c) => {
    await c.reader.head();
    await c.send(wires[c.index]!);
  });
  await using pool = new Http1Pool();
  for (const wire of wires) {
    const res = await within(5000, "GET", pool.request(request(server.port)));
    const error = await within(5000, "body", readBody(res.body).catch((e) => e));
    assert.ok(error instanceof Http1Error, wire);
    assert.equal(error.code, "closed", wire);
    // Later reads keep failing.
    await assert.rejects(res.body!.read(), Http1Error);
  }
});
