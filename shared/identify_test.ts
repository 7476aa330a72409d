import assert from "node:assert/strict";
import { sessions } from "../tests/helpers/sessions.ts";
import { memoryPair } from "./transport/memory.ts";
import {
  decodeIdentityEnd,
  encodeIdentityEnd,
  identifyMessage,
  type IdentifyRequest,
  parseIdentify,
  readIdentityEnd,
} from "./identify.ts";
import {
  bodyLength,
  encodeOpen,
  encodeReply,
  OPEN_HEADER_SIZE,
  OpenError,
  parseBody,
  StreamKind,
} from "./open/message.ts";
import { openStream, serveStream, type StreamHandler } from "./open/mod.ts";

const REQUEST: IdentifyRequest = {
  name: "db1",
  secret: "s3cret",
  agent: { id: "4f2c", version: "0.1.0", host: "db1.lan", os: "linux" },
};

/** A readable stream that yields `bytes` in chunks of `size`. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) controller.close();
      else controller.enqueue(bytes.slice(at, at += size));
    },
  });
}

Deno.test("an Identify open message is kind 0x03 and round-trips through the codec", () => {
  const bytes = encodeOpen(identifyMessage(REQUEST));
  assert.equal(StreamKind.Identify, 0x03);
  assert.equal(bytes[1], 0x03);
  const body = bytes.subarray(OPEN_HEADER_SIZE);
  assert.equal(bodyLength(bytes.subarray(0, OPEN_HEADER_SIZE)), body.length);
  assert.deepEqual(parseIdentify(parseBody(body)), REQUEST);
});

Deno.test("parseIdentify lower-cases the name and cuts the agent fields to size", () => {
  const parsed = parseIdentify({
    name: "DB1",
    secret: "",
    agent: { id: "x".repeat(100), version: 7, host: "h".repeat(300), os: "linux" },
  });
  assert.deepEqual(parsed, {
    name: "db1",
    secret: "",
    agent: { id: "x".repeat(64), version: "", host: "h".repeat(253), os: "linux" },
  });
  assert.deepEqual(parseIdentify({ name: "a", secret: "s", agent: [1] }).agent, {
    id: "",
    version: "",
    host: "",
    os: "",
  });
});

Deno.test("parseIdentify refuses a bad name or secret with bad-json naming the field", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ secret: "s" }, '"name" must be an agent name'],
    [{ name: "db 1", secret: "s" }, '"name" must be an agent name'],
    [{ name: "a".repeat(254), secret: "s" }, '"name" must be an agent name'],
    [{ name: 7, secret: "s" }, '"name" must be an agent name'],
    [{ name: "db1" }, '"secret" must be a string'],
    [{ name: "db1", secret: 1 }, '"secret" must be a string'],
    [{ name: "db1", secret: "x".repeat(4097) }, '"secret" must be a string'],
  ];
  for (const [params, message] of cases) {
    assert.throws(() => parseIdentify(params), (e: unknown) => {
      assert.ok(e instanceof OpenError);
      assert.equal(e.code, "bad-json");
      assert.equal(e.message, message);
      return true;
    });
  }
});

Deno.test("readIdentityEnd reads an end notice split in any chunks, or null for a bare FIN", async () => {
  const notice = encodeIdentityEnd({ code: "replaced", message: "replaced by 198.51.100.7" });
  for (const size of [1, 2, 5, 7, notice.length]) {
    assert.deepEqual(await readIdentityEnd(chunked(notice, size)), {
      code: "replaced",
      message: "replaced by 198.51.100.7",
    });
  }
  assert.equal(await readIdentityEnd(chunked(new Uint8Array(0), 1)), null);
});

Deno.test("an end notice that is not exactly one known ERROR message is refused", async () => {
  const good = encodeIdentityEnd({ code: "revoked", message: "file removed" });
  const cases: [Uint8Array, string][] = [
    [good.subarray(0, 3), "truncated"],
    [good.subarray(0, good.length - 1), "truncated"],
    [Uint8Array.of(...good, 0), "unexpected-data"],
    [encodeReply({ ok: true, data: {} }), "bad-status"],
    [encodeReply({ ok: false, code: "gone", message: "" }), "bad-json"],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(() => decodeIdentityEnd(bytes), (e: unknown) => {
      assert.ok(e instanceof OpenError);
      assert.equal(e.code, code);
      return true;
    });
  }
  // On a stream: bytes after a whole notice, a notice cut short, a header that is not one.
  const streamed: [Uint8Array, string][] = [
    [Uint8Array.of(...good, 1, 2, 3), "unexpected-data"],
    [good.subarray(0, 10), "truncated"],
    [new Uint8Array(20_000), "bad-version"],
  ];
  for (const [bytes, code] of streamed) {
    // A notice is returned once complete: later bytes are only seen in the same read.
    for (const size of code === "unexpected-data" ? [4096] : [1, 3, 4096]) {
      await assert.rejects(readIdentityEnd(chunked(bytes, size)), (e: unknown) => {
        assert.ok(e instanceof OpenError);
        assert.equal(e.code, code);
        return true;
      });
    }
  }
});

Deno.test("an Identify stream over a mux session: OK, then the server's end notice and FIN", async () => {
  const [a, b] = memoryPair();
  await sessions(a, b, async (client, server) => {
    const seen = Promise.withResolvers<IdentifyRequest>();
    const identify: StreamHandler = async (incoming) => {
      const request = parseIdentify(incoming.params);
      seen.resolve(request);
      await incoming.accept({ name: request.name });
      await incoming.stream.write(encodeIdentityEnd({ code: "replaced", message: "newer" }));
      incoming.stream.closeWrite();
    };
    const serving = server.accept().then((stream) =>
      stream === null ? undefined : serveStream(stream, new Map([[StreamKind.Identify, identify]]))
    );
    const opened = await openStream(client, identifyMessage(REQUEST));
    assert.deepEqual(opened.data, { name: "db1" });
    assert.deepEqual(await seen.promise, REQUEST);
    assert.deepEqual(await readIdentityEnd(opened.readable), {
      code: "replaced",
      message: "newer",
    });
    opened.stream.closeWrite();
    await serving;
  });
});
