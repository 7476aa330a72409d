import assert from "node:assert/strict";
import {
  clientBody,
  type ClientHead,
  headTooLarge,
  hostOf,
  readHead,
  targetOf,
  wideBytes,
} from "./request_head.ts";

function viaUrl(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

Deno.test("targetOf() gives what new URL() gives, for normal and odd targets", () => {
  const targets = [
    "/",
    "/small",
    "/a/b?c=d&e=f",
    "/a?",
    "/a??b",
    "/a/./b",
    "/a/../b",
    "/.well-known/burrow-agent",
    "/a/%2e%2E/b",
    "/a/.hidden?x=1",
    "/a b",
    "/a%20b?q='x'",
    "/é?ü",
    "/a\\b",
    "/a#frag",
    "/a?b#c",
    "/{x}|^`[y]",
    "/a/b/?",
    "//double//slash",
    "/p;x=1:@!$&'()*+,~-_.",
    "/%zz",
  ];
  for (const t of targets) {
    for (const origin of ["https://app.test", "http://app.test:8080", "https://[::1]:443"]) {
      assert.deepEqual(targetOf(origin + t), viaUrl(origin + t), origin + t);
    }
  }
  const alphabet = "ab/.?#%2e\\ é'`{}[]|^&=;:@~";
  for (let i = 0; i < 2000; i++) {
    let t = "/";
    const n = Math.floor(Math.random() * 12);
    for (let j = 0; j < n; j++) t += alphabet[Math.floor(Math.random() * alphabet.length)];
    assert.deepEqual(targetOf("https://app.test" + t), viaUrl("https://app.test" + t), t);
  }
});

Deno.test("hostOf() lower-cases and drops the port and a trailing dot", () => {
  assert.equal(hostOf("App.Test:8443"), "app.test");
  assert.equal(hostOf("app.test."), "app.test");
  assert.equal(hostOf("[::1]:443"), "[::1]");
  assert.equal(hostOf("APP.TEST"), "app.test");
});

Deno.test("readHead() keeps the client's order and repeats, for served and built requests", async () => {
  const built = new Request("https://app.test/x", {
    headers: [["X-B", "1"], ["Connection", "x-drop"], ["X-Drop", "y"], ["a", "2"], [
      "upgrade",
      "websocket",
    ]],
  });
  const fromBuilt = readHead(built, "/x");
  assert.deepEqual(fromBuilt.headers.pairs, [["a", "2"], ["x-b", "1"]]);
  assert.equal(fromBuilt.upgrade, "websocket");
  assert.equal(fromBuilt.bytes, "GET /x HTTP/1.1\r\n\r\n".length + 65);
  assert.equal([...built.headers].length, 5, "a built request's headers stay as they were");

  const seen = Promise.withResolvers<ClientHead>();
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.resolve(readHead(req, "/"));
    return new Response("ok");
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const request = "GET / HTTP/1.1\r\nHost: App.Test\r\nX-Z: 1\r\nConnection: X-Drop, Upgrade\r\n" +
    "X-Drop: 2\r\nX-A: 3\r\nUpgrade: WebSocket\r\nX-Z: 4\r\nKeep-Alive: 5\r\n\r\n";
  await conn.write(new TextEncoder().encode(request));
  const head = await seen.promise;
  assert.deepEqual(head.headers.pairs, [["host", "App.Test"], ["x-z", "1"], ["x-a", "3"], [
    "x-z",
    "4",
  ]]);
  assert.equal(head.upgrade, "WebSocket");
  assert.equal(head.bytes, request.length);
  await conn.read(new Uint8Array(1024));
  conn.close();
});

Deno.test("headTooLarge() counts the head in UTF-8 bytes: U+0080 to U+00FF take two", () => {
  assert.equal(wideBytes([["x-a", "plain"], ["x-b", "caf\u00e9\u00ff"]]), 2);
  const head = (value: string) =>
    readHead(new Request("https://app.test/", { headers: { "x-v": value } }), "/");
  const ascii = head("a".repeat(900));
  assert.equal(headTooLarge(ascii, 1024), false);
  assert.equal(headTooLarge(ascii, ascii.bytes - 1), true);
  // 600 characters of U+00FF: about 630 as sent, about 1,230 bytes on the tunnel.
  const wide = head("\u00ff".repeat(600));
  assert.ok(wide.bytes < 1024);
  assert.equal(headTooLarge(wide, 1024), true);
  assert.equal(headTooLarge(wide, 2048), false);
});

Deno.test("clientBody() takes a body only where the head frames one, GET and HEAD included", async () => {
  const seen: { method: string; body: string | null; peek: boolean | null }[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const found = clientBody(req, readHead(req, "/"));
      const body = found?.body ? await new Response(found.body).text() : null;
      seen.push({ method: req.method, body, peek: found?.peek ?? null });
      return new Response("ok");
    },
  );
  const requests = [
    "GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\nhi",
    "HEAD / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    "GET / HTTP/1.1\r\nhost: a\r\n\r\n",
    "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n",
    "DELETE / HTTP/1.1\r\nhost: a\r\n\r\n",
  ];
  for (const request of requests) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(new TextEncoder().encode(request));
    await conn.read(new Uint8Array(1024));
    conn.close();
  }
  assert.deepEqual(seen, [
    { method: "GET", body: "hi", peek: false },
    { method: "HEAD", body: "hi", peek: false },
    { method: "GET", body: null, peek: false },
    { method: "POST", body: null, peek: false },
    // No framing, but Deno offers a stream: peeked (and found empty) by the proxy.
    { method: "DELETE", body: "", peek: true },
  ]);
});
