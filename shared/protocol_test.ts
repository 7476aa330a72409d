import assert from "node:assert/strict";
import { OPEN_HEADER_SIZE, OpenError, parseText, StreamKind } from "./open/message.ts";
import { decodeRequestHead, type HttpRequestHead } from "./http/head_codec.ts";
import { encodeHttpOpen, parseRegister } from "./protocol.ts";

Deno.test("parseRegister lower-cases the domain and cuts the agent's identity to size", () => {
  const req = parseRegister({
    domain: "App.Example.COM",
    secret: "s3cret",
    agent: { id: "x".repeat(100), version: 7, host: "box" },
  });
  assert.deepEqual(req, {
    domain: "app.example.com",
    secret: "s3cret",
    agent: { id: "x".repeat(64), version: "", host: "box" },
  });
  assert.deepEqual(parseRegister({ domain: "a.b", secret: "", agent: [1] }).agent, {
    id: "",
    version: "",
    host: "",
  });
});

Deno.test("parseRegister refuses a register message without a string domain or secret", () => {
  for (const params of [{ secret: "s" }, { domain: "a.b" }, { domain: 1, secret: "s" }]) {
    assert.throws(
      () => parseRegister(params),
      (e) => e instanceof OpenError && e.code === "bad-json",
      JSON.stringify(params),
    );
  }
  assert.throws(() => parseRegister({ domain: "a".repeat(254), secret: "s" }), OpenError);
});

Deno.test("encodeHttpOpen frames an Http open message whose body decodes to the same head", () => {
  const head: HttpRequestHead = {
    domain: "app.example.com",
    method: "POST",
    target: "/a?b=c",
    headers: [["x-one", "1"], ["x-one", "2"]],
    client: "203.0.113.7",
    tid: "4f2c",
    ws: false,
    body: true,
  };
  const bytes = encodeHttpOpen(head, 1024);
  assert.equal(bytes[1], StreamKind.Http);
  const body = bytes.subarray(OPEN_HEADER_SIZE);
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(2), body.length);
  assert.deepEqual(decodeRequestHead(parseText(body)), head);
  assert.throws(
    () => encodeHttpOpen(head, 16),
    (e) => e instanceof OpenError && e.code === "too-large",
  );
});
