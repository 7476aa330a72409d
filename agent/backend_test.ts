import assert from "node:assert/strict";
import {
  backendAcceptEncoding,
  backendRequest,
  backendUrl,
  backendWebSocketUrl,
  responseHeaders,
} from "./backend.ts";
import type { HttpRequestHead } from "../shared/http/head_codec.ts";
import { partsOf } from "./config.ts";

Deno.test("backendUrl() joins the target's path prefix and query with the request's", () => {
  const cases: [string, string, string][] = [
    ["http://localhost:8000", "/a/b?c=d", "http://localhost:8000/a/b?c=d"],
    ["http://localhost:8000/", "/", "http://localhost:8000/"],
    ["http://localhost:8000/api", "/v1/users", "http://localhost:8000/api/v1/users"],
    ["http://localhost:8000/api/", "/v1", "http://localhost:8000/api/v1"],
    [
      "https://localhost:4443/bucket/statics?user=johndoe",
      "/static/app.css?v=2",
      "https://localhost:4443/bucket/statics/static/app.css?user=johndoe&v=2",
    ],
    [
      "https://localhost:4443/bucket?user=johndoe",
      "/x",
      "https://localhost:4443/bucket/x?user=johndoe",
    ],
    ["http://localhost:8000", "/x?", "http://localhost:8000/x"],
  ];
  for (const [base, target, want] of cases) {
    assert.equal(backendUrl(partsOf(new URL(base)), target).href, want, `${base} + ${target}`);
  }
});

Deno.test("backendUrl() keeps a target that looks like a network path on the backend", () => {
  const url = backendUrl(partsOf(new URL("http://127.0.0.1:8000")), "//evil.example/x");
  assert.equal(url.host, "127.0.0.1:8000");
  assert.equal(url.pathname, "//evil.example/x");
});

Deno.test("backendWebSocketUrl() swaps http for ws and https for wss", () => {
  assert.equal(backendWebSocketUrl(partsOf(new URL("http://h:1/p")), "/ws").href, "ws://h:1/p/ws");
  assert.equal(
    backendWebSocketUrl(partsOf(new URL("https://h:1")), "/ws?a=1").href,
    "wss://h:1/ws?a=1",
  );
});

Deno.test("backendAcceptEncoding() drops the codings fetch would decode", () => {
  assert.equal(backendAcceptEncoding(null), "identity");
  assert.equal(backendAcceptEncoding("gzip, deflate, br"), "deflate");
  assert.equal(backendAcceptEncoding("br;q=1.0, gzip;q=0.8, *;q=0.1"), "identity");
  assert.equal(backendAcceptEncoding("zstd, GZIP"), "zstd");
  assert.equal(backendAcceptEncoding(""), "identity");
});

Deno.test("responseHeaders() drops hop-by-hop headers and the encoding fetch removed", () => {
  const received = new Headers({
    "connection": "keep-alive, x-private",
    "keep-alive": "timeout=5",
    "x-private": "1",
    "content-type": "text/plain",
    "content-encoding": "gzip",
    "content-length": "28",
  });
  const asked = responseHeaders(received, "deflate");
  assert.deepEqual(asked, [["content-type", "text/plain"]]);
  // With "identity" fetch decodes nothing: the encoding and length describe the body as it is.
  const raw = responseHeaders(received, "identity");
  assert.deepEqual(raw, [
    ["content-encoding", "gzip"],
    ["content-length", "28"],
    ["content-type", "text/plain"],
  ]);
});

Deno.test("backendRequest() sets Host, strips hop-by-hop headers and passes the body only when announced", () => {
  const head: HttpRequestHead = {
    domain: "app.test",
    method: "POST",
    target: "/upload?x=1",
    headers: [
      ["host", "app.test"],
      ["te", "trailers"],
      ["x-forwarded-for", "203.0.113.7"],
      ["accept-encoding", "gzip"],
    ],
    client: "203.0.113.7",
    tid: "t1",
    ws: false,
    body: true,
  };
  const body = new ReadableStream<Uint8Array>();
  const base = new URL("http://127.0.0.1:8000/app");
  const target = {
    name: "t",
    method: null,
    path: null,
    host: null,
    urls: [{ url: base, parts: partsOf(base), weight: 1 }],
  };
  const req = backendRequest(head, partsOf(base), target, body);
  assert.equal(req.url, "http://127.0.0.1:8000/app/upload?x=1");
  assert.deepEqual(req.headers, [
    ["host", "127.0.0.1:8000"],
    ["x-forwarded-for", "203.0.113.7"],
    ["accept-encoding", "identity"],
  ]);
  assert.equal(req.body, body);
  const named = backendRequest(
    { ...head, body: false },
    partsOf(base),
    { ...target, host: "vhost.test" },
    body,
  );
  assert.deepEqual(named.headers[0], ["host", "vhost.test"]);
  assert.equal(named.body, null);
});

Deno.test("backendRequest() drops what Connection names, joins repeated Accept-Encoding and keeps repeated headers apart", () => {
  const head: HttpRequestHead = {
    domain: "app.test",
    method: "GET",
    target: "/",
    headers: [
      ["Host", "app.test"],
      ["Connection", "x-hop, Accept-Encoding"],
      ["x-hop", "1"],
      ["cookie", "a=1"],
      ["cookie", "b=2"],
      ["accept-encoding", "zstd"],
    ],
    client: "203.0.113.7",
    tid: "t1",
    ws: false,
    body: false,
  };
  const base = new URL("http://127.0.0.1:8000");
  const target = {
    name: "t",
    method: null,
    path: null,
    host: null,
    urls: [{ url: base, parts: partsOf(base), weight: 1 }],
  };
  const req = backendRequest(head, partsOf(base), target, null);
  // Accept-Encoding was named by Connection: nothing is left of the client's list.
  assert.deepEqual(req.headers, [
    ["host", "127.0.0.1:8000"],
    ["cookie", "a=1"],
    ["cookie", "b=2"],
    ["accept-encoding", "identity"],
  ]);
  const both = backendRequest(
    { ...head, headers: [["accept-encoding", "zstd;q=1"], ["accept-encoding", "gzip, deflate"]] },
    partsOf(base),
    target,
    null,
  );
  assert.equal(both.acceptEncoding, "zstd;q=1, deflate");
  assert.equal(both.body, null);
});

Deno.test("responseHeaders() keeps every Set-Cookie and the encoding fetch left alone", () => {
  const received = new Headers([
    ["set-cookie", "a=1"],
    ["set-cookie", "b=2"],
    ["content-encoding", "zstd"],
    ["transfer-encoding", "chunked"],
  ]);
  assert.deepEqual(responseHeaders(received, "zstd"), [
    ["content-encoding", "zstd"],
    ["set-cookie", "a=1"],
    ["set-cookie", "b=2"],
  ]);
  // Only a lone gzip or br counts as decoded by fetch; a list of codings passes as it came.
  const layered = new Headers([["content-encoding", "br"], ["content-encoding", "gzip"]]);
  assert.deepEqual(responseHeaders(layered, "zstd"), [["content-encoding", "br, gzip"]]);
});
