import assert from "node:assert/strict";
import { chunkSize } from "./body.ts";
import { Http1Error } from "./errors.ts";
import { findHeadEnd, parseResponseHead } from "./response_head.ts";
import { latin1 } from "./testing.ts";

const ORIGIN = "http://127.0.0.1:1";

function parse(text: string) {
  return parseResponseHead(latin1(text), ORIGIN);
}

Deno.test("findHeadEnd() finds CRLF CRLF and bare LF LF, and waits for more", () => {
  const cases: [string, number][] = [
    ["HTTP/1.1 200 OK\r\n\r\nbody", 19],
    ["HTTP/1.1 200 OK\n\nbody", 17],
    ["HTTP/1.1 200 OK\r\na: b\n\r\n", 24],
    ["HTTP/1.1 200 OK\r\n\r", -1],
    ["HTTP/1.1 200 OK\r\n", -1],
    ["HTTP/1.1 200 OK\r\na: b\r\n", -1],
  ];
  for (const [text, want] of cases) {
    assert.equal(findHeadEnd(latin1(text), 0, text.length), want, JSON.stringify(text));
  }
  // Bytes past `end` do not count.
  const buf = latin1("HTTP/1.1 200 OK\r\n\r\n");
  assert.equal(findHeadEnd(buf, 0, buf.length - 1), -1);
});

Deno.test("parseResponseHead() reads the status line, versions and reason", () => {
  const ok = parse("HTTP/1.1 404 Not Found Here\r\n\r\n");
  assert.deepEqual([ok.version, ok.status, ok.statusText, ok.keepAlive], [
    "1.1",
    404,
    "Not Found Here",
    true,
  ]);
  const bare = parse("HTTP/1.0 200\n\n");
  assert.deepEqual([bare.version, bare.status, bare.statusText, bare.keepAlive], [
    "1.0",
    200,
    "",
    false,
  ]);
});

Deno.test("parseResponseHead() lower-cases names, trims values, keeps order and repeats", () => {
  const head = parse(
    "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Pad:  \t v a l \t\r\nset-cookie:b=2\r\n" +
      "X-Fold: one\r\n  two\r\nX-Empty:\r\n\r\n",
  );
  assert.deepEqual(head.headers, [
    ["set-cookie", "a=1"],
    ["x-pad", "v a l"],
    ["set-cookie", "b=2"],
    ["x-fold", "one two"],
    ["x-empty", ""],
  ]);
});

Deno.test("parseResponseHead() decodes header bytes as Latin-1", () => {
  const head = parseResponseHead(
    Uint8Array.from([...latin1("HTTP/1.1 200 OK\r\nx-name: caf"), 0xe9, ...latin1("\r\n\r\n")]),
    ORIGIN,
  );
  assert.deepEqual(head.headers, [["x-name", "caf\u00e9"]]);
});

Deno.test("parseResponseHead() reads the framing and keep-alive headers", () => {
  const cases: [string, Partial<ReturnType<typeof parse>>][] = [
    ["HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", { contentLength: 12, keepAlive: true }],
    ["HTTP/1.1 200 OK\r\ncontent-length: 3, 3\r\n\r\n", { contentLength: 3 }],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", {
      encoded: true,
      chunked: true,
    }],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", {
      encoded: true,
      chunked: false,
    }],
    ["HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n\r\n", { keepAlive: false }],
    ["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", { keepAlive: true }],
    ["HTTP/1.1 200 OK\r\n\r\n", { contentLength: -1, encoded: false, keepAlive: true }],
  ];
  for (const [text, want] of cases) {
    const head = parse(text) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(want)) {
      assert.equal(head[key], value, `${key} of ${JSON.stringify(text)}`);
    }
  }
});

Deno.test("parseResponseHead() rejects malformed heads with bad-response", () => {
  const bad = [
    "HTTP/1.1 200OK\r\n\r\n",
    "HTTP/1.2 200 OK\r\n\r\n",
    "HTTP/1.1 099 Low\r\n\r\n",
    "http/1.1 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
    "HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
    "HTTP/1.1 200 OK\r\n  folded first\r\n\r\n",
    "HTTP/1.1 200 OK\r\nx: a\rb\r\n\r\n",
    "HTTP/1.1 200 OK\r\nx: a\0b\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 0x10\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 1\r\nContent-Length: 2\r\n\r\n",
    "HTTP/1.1 200 OK\r\n" + "a: b\r\n".repeat(101) + "\r\n",
  ];
  for (const text of bad) {
    assert.throws(
      () => parse(text),
      (e) => e instanceof Http1Error && e.code === "bad-response" && e.message.includes(ORIGIN),
      JSON.stringify(text),
    );
  }
  assert.equal(parse("HTTP/1.1 200 OK\r\n" + "a: b\r\n".repeat(100) + "\r\n").headers.length, 100);
});

Deno.test("chunkSize() reads hex sizes, skips extensions, rejects the rest", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["a", 10],
    ["FF\r", 255],
    ["10;name=value\r", 16],
    ["10 ; ext\r", 16],
    ["1fffffffffffff", -1],
    ["fffffffffffff", 0xfffffffffffff],
    ["", -1],
    ["\r", -1],
    ["-1\r", -1],
    ["1 2\r", -1],
    ["g\r", -1],
  ];
  for (const [line, want] of cases) {
    const buf = latin1(line + "\n");
    assert.equal(chunkSize(buf, 0, buf.length - 1), want, JSON.stringify(line));
  }
});
