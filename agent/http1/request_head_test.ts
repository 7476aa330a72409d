import assert from "node:assert/strict";
import { CHUNKED, encodeHead, requestHead, writeHead } from "./request_head.ts";
import { request, sourceOf } from "./testing.ts";
import type { Http1Request } from "./types.ts";

/** The head's text as written, and its body length. */
function head(fields: Partial<Http1Request>): { text: string; length: number } {
  const req = request(80, { headers: [["host", "h"]], ...fields });
  const h = requestHead(req);
  const buf = new Uint8Array(h.size + 8);
  const n = writeHead(req, h, buf);
  assert.equal(n, h.size);
  return { text: String.fromCharCode(...buf.subarray(0, n)), length: h.length };
}

Deno.test("requestHead() serialises the request line and headers in order", () => {
  const h = head({ target: "/a?b=1", headers: [["host", "h"], ["x-a", "1"], ["x-a", "2"]] });
  assert.deepEqual(h, {
    text: "GET /a?b=1 HTTP/1.1\r\nhost: h\r\nx-a: 1\r\nx-a: 2\r\n\r\n",
    length: 0,
  });
});

Deno.test("requestHead() frames the body: content-length for bytes, chunked for a source", () => {
  const bytes = head({ method: "POST", body: new Uint8Array(3) });
  assert.equal(bytes.text, "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\n");
  assert.equal(bytes.length, 3);
  const empty = head({ method: "POST", body: null });
  assert.equal(empty.text, "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
  const streamed = head({
    method: "PUT",
    headers: [["host", "h"], ["transfer-encoding", "gzip"]],
    body: sourceOf(new Uint8Array(1)),
  });
  assert.equal(streamed.text, "PUT / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n");
  assert.equal(streamed.length, CHUNKED);
  const sized = head({
    method: "PUT",
    headers: [["host", "h"], ["content-length", "7"]],
    body: sourceOf(new Uint8Array(7)),
  });
  assert.equal(sized.text, "PUT / HTTP/1.1\r\nhost: h\r\ncontent-length: 7\r\n\r\n");
  assert.equal(sized.length, 7);
});

Deno.test("requestHead() throws TypeError for what would break or contradict the head", () => {
  const bad: Partial<Http1Request>[] = [
    { method: "GET /x" },
    { method: "" },
    { target: "/a b" },
    { target: "/a\r\nx: y" },
    { target: "" },
    { headers: [["x-a", "1\r\nx-b: 2"]] },
    { headers: [["bad name", "1"]] },
    { headers: [["x", "\n"]] },
    { headers: [["content-length", "abc"]], body: new Uint8Array(1) },
    { headers: [["content-length", "2"]], body: new Uint8Array(1) },
    { headers: [["content-length", "2"]], body: null },
    {
      headers: [["content-length", "1"], ["content-length", "2"]],
      body: sourceOf(new Uint8Array()),
    },
  ];
  for (const fields of bad) assert.throws(() => head(fields), TypeError, JSON.stringify(fields));
});

Deno.test("writeHead() writes Latin-1 as one byte per character and refuses what is above", () => {
  assert.equal(
    head({ headers: [["host", "h"], ["x-a", "caf\u00e9"]] }).text,
    "GET / HTTP/1.1\r\nhost: h\r\nx-a: caf\u00e9\r\n\r\n",
  );
  assert.throws(() => head({ headers: [["host", "h"], ["x-a", "\u20ac"]] }), TypeError);
});

Deno.test("encodeHead() writes ASCII and Latin-1 as one byte per character", () => {
  const buf = new Uint8Array(16);
  assert.equal(encodeHead("ab\r\n", buf, 2), 4);
  assert.deepEqual([...buf.subarray(0, 6)], [0, 0, 97, 98, 13, 10]);
  assert.equal(encodeHead("caf\u00e9", buf, 0), 4);
  assert.deepEqual([...buf.subarray(0, 4)], [99, 97, 102, 0xe9]);
  assert.equal(encodeHead("x".repeat(17), buf, 0), -1);
  assert.throws(() => encodeHead("\u20ac", buf, 0), TypeError);
});
