import assert from "node:assert/strict";
import {
  decodeRequestHead,
  decodeResponseHead,
  encodeRequestHead,
  encodeResponseHead,
  type HttpRequestHead,
} from "./head_codec.ts";
import { OpenError } from "../open/message.ts";

const HEAD: HttpRequestHead = {
  domain: "app.example.com",
  method: "POST",
  target: "/a/b?c=d&e=%0A",
  headers: [
    ["host", "app.example.com"],
    ["set-cookie", "a=1"],
    ["set-cookie", "b=2"],
    ["x-empty", ""],
    ["x-latin1", "caf\u00e9 \u00ff"],
  ],
  client: "2001:db8::7",
  tid: "4f2c9a",
  ws: false,
  body: true,
};

function badHead(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof OpenError, String(e));
    assert.equal(e.code, "bad-head");
    assert.match(e.message, pattern);
    return true;
  };
}

Deno.test("request heads round-trip with every flag combination, order and repeats kept", () => {
  for (const ws of [false, true]) {
    for (const body of [false, true]) {
      const head = { ...HEAD, ws, body };
      assert.deepEqual(decodeRequestHead(encodeRequestHead(head)), head);
    }
  }
  const bare = { ...HEAD, headers: [], client: "", tid: "" };
  assert.deepEqual(decodeRequestHead(encodeRequestHead(bare)), bare);
});

Deno.test("request heads: a line feed in any field is refused when encoding", () => {
  for (
    const head of [
      { ...HEAD, target: "/a\nb" },
      { ...HEAD, domain: "a\n" },
      { ...HEAD, headers: [["x\n", "v"]] as [string, string][] },
      { ...HEAD, headers: [["x", "v\nw"]] as [string, string][] },
    ]
  ) {
    assert.throws(() => encodeRequestHead(head), TypeError);
  }
});

Deno.test("request heads: malformed bodies name what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["app.test\nGET\n/\n\n", /6/],
    ["app.test\nGET\n/\n\n\n\nhost", /without value/],
    ["\nGET\n/\n\n\n", /domain/],
    ["app.test\n\n/\n\n\n", /method/],
    ["app.test\nGET\nhttp://x/\n\n\n", /target/],
    ["app.test\nGET\n\n\n\n", /target/],
    ["app.test\nGET\n/\n\n\nbw", /flags/],
    ["app.test\nGET\n/\n\n" + "t".repeat(65) + "\n", /transaction id/],
    ["app.test\nGET\n/\n" + "1".repeat(65) + "\n\n", /client/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => decodeRequestHead(text), badHead(pattern), JSON.stringify(text));
  }
});

Deno.test("response heads round-trip, with and without a subprotocol", () => {
  const plain = { status: 204, headers: [["x-a", "1"], ["x-a", "2"]] as [string, string][] };
  assert.deepEqual(decodeResponseHead(encodeResponseHead(plain)), plain);
  const upgraded = { status: 101, headers: [], protocol: "chat" };
  assert.deepEqual(decodeResponseHead(encodeResponseHead(upgraded)), upgraded);
  assert.throws(() => encodeResponseHead({ status: 200, headers: [["a", "\n"]] }), TypeError);
});

Deno.test("response heads: anything but a three-digit status 100-599 is refused", () => {
  for (const status of ["2e2", "600", "099", "20", "2000", "abc", " 200", ""]) {
    assert.throws(() => decodeResponseHead(status + "\n"), badHead(/status code/), status);
  }
  assert.throws(() => decodeResponseHead("200"), badHead(/subprotocol/));
  assert.throws(() => decodeResponseHead("200\n\nx"), badHead(/without value/));
});
