import { Http1Pool } from "./http1/pool.ts";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { gzipSync } from "node:zlib";
import assert from "node:assert/strict";
import { createHttpHandler, MAX_HTTP_HEAD, type ServedDomain } from "./http.ts";
import { Router } from "./router.ts";
import type { AgentConfig } from "./config_types.ts";
import { openHttp, request } from "./testing/fake_server.ts";
import { testDomain, testLogger, testTarget } from "./testing/helpers.ts";
import { Session } from "../shared/mux/session.ts";
import { within } from "../tests/helpers/streams.ts";
import { memoryPair } from "../shared/transport/memory.ts";
import { encodeRequestHead } from "../shared/http/head_codec.ts";
import {
  encodeOpen,
  readReply,
  readTextReply,
  serveStream,
  StreamKind,
} from "../shared/open/mod.ts";

const log = await testLogger();

type Timeouts = Pick<AgentConfig, "connectTimeout" | "readTimeout" | "idleTimeout">;
const DEFAULT_TIMEOUTS: Timeouts = { connectTimeout: 2000, readTimeout: 3000, idleTimeout: 3000 };

/**
 * `http:` backends go through the agent's HTTP/1.1 pool, `https:` ones through
 * `fetch`: the exchange tests run against both.
 */
type Scheme = "http" | "https";
const SCHEMES: readonly Scheme[] = ["http", "https"];
const certs = await makeCertificates({ hostnames: ["127.0.0.1"] });

/**
 * The Http handler alone: a mux session pair in memory, the "server" side
 * opening streams that the handler serves, proxying to a loopback backend.
 */
function harness(
  backend: (req: Request) => Response | Promise<Response>,
  timeouts: Timeouts = DEFAULT_TIMEOUTS,
  scheme: Scheme = "http",
) {
  const [a, b] = memoryPair();
  const server = new Session(a, { client: false, enableKeepAlive: false });
  const agent = new Session(b, { client: true, enableKeepAlive: false });
  const shutdown = new AbortController();
  // A backend of our own rather than startBackend(), which reads each request body first;
  // handlers that fail because the agent gave up are expected here, so quietly 500.
  const tls = scheme === "https" ? { cert: certs.cert, key: certs.key } : {};
  const origin = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...tls,
    onListen() {},
    onError: () => new Response(null, { status: 500 }),
  }, backend);
  const client = Deno.createHttpClient({ allowHost: true, caCerts: [certs.caCert] });
  const pool = new Http1Pool();
  const served: ServedDomain = {
    domain: testDomain("app.test", { remote: "127.0.0.1:1", caFile: "" }),
    router: new Router([testTarget([`${scheme}://127.0.0.1:${origin.addr.port}`])]),
    active: 0,
  };
  const handlers = new Map([[
    StreamKind.Http,
    createHttpHandler({
      lookup: (name) => name === "app.test" ? served : undefined,
      client,
      pool,
      timeouts,
      log,
      signal: shutdown.signal,
    }),
  ]]);
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    for (let s = await agent.accept(); s !== null; s = await agent.accept()) {
      serving.push(serveStream(s, handlers, { maxBody: MAX_HTTP_HEAD }));
    }
  })();
  return {
    session: server,
    served,
    shutdown,
    async [Symbol.asyncDispose]() {
      // Bounded, so that an exchange stuck for good fails its test instead of hanging the suite.
      shutdown.abort();
      await within(10_000, "the handler's exchanges ended", Promise.all(serving));
      await server.close();
      await agent.close();
      await within(5_000, "the agent session stopped accepting", accepting);
      client.close();
      await pool.close();
      await within(10_000, "the backend shut down", origin.shutdown());
    },
  };
}

/** A backend body: `first`, then nothing until cancelled; resolves `cancelled` then. */
function stalledBody(first: string, cancelled: PromiseWithResolvers<void>) {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(first));
    },
    cancel() {
      cancelled.resolve();
    },
  });
}

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: a backend body that stalls past idleTimeout resets the stream and is cancelled [${scheme}]`, async () => {
    const cancelled = Promise.withResolvers<void>();
    await using h = harness(
      () => new Response(stalledBody("part", cancelled)),
      { connectTimeout: 1000, readTimeout: 1000, idleTimeout: 150 },
      scheme,
    );
    // Before the request: the agent's idle clock starts later, when it reads "part".
    const start = performance.now();
    const { reply } = await openHttp(h.session, { domain: "app.test", target: "/" });
    const { value, readable } = await reply;
    assert.ok(value.ok);
    const reader = readable.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "part");
    await assert.rejects(reader.read(), "the stream is reset, not ended: the body is incomplete");
    // A timer may fire a millisecond early by performance.now().
    const took = performance.now() - start;
    assert.ok(took >= 148, `reset after ${took} ms: not before idleTimeout`);
    await within(5000, "the stalled backend body cancelled", cancelled.promise);
  });
}

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: a request body that stalls past idleTimeout answers timeout [${scheme}]`, async () => {
    await using h = harness(
      async (req) => new Response(await req.text()),
      { connectTimeout: 1000, readTimeout: 2000, idleTimeout: 150 },
      scheme,
    );
    const stream = await h.session.open();
    const writer = stream.writable.getWriter();
    const head = encodeRequestHead({
      domain: "app.test",
      method: "POST",
      target: "/",
      headers: [],
      client: "203.0.113.7",
      tid: "t1",
      ws: false,
      body: true,
    });
    await writer.write(encodeOpen({ kind: StreamKind.Http, text: head }));
    await writer.write(new TextEncoder().encode("some of the body"));
    // No more bytes and no FIN: the backend waits for the rest.
    const start = performance.now();
    const value = await readReply(stream);
    assert.equal(!value.ok && value.code, "timeout");
    assert.ok(performance.now() - start < 1500, "the body stall, not the head timeout, ended it");
    writer.releaseLock();
    stream.reset();
  });
}

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: an upload longer than connect + read timeout is answered; the deadline starts once the body is sent [${scheme}]`, async () => {
    await using h = harness(
      async (req) => new Response(String((await req.arrayBuffer()).byteLength)),
      // 500 ms for the response head; the upload below takes about 1.2 s.
      { connectTimeout: 200, readTimeout: 300, idleTimeout: 3000 },
      scheme,
    );
    const stream = await h.session.open();
    const writer = stream.writable.getWriter();
    const head = encodeRequestHead({
      domain: "app.test",
      method: "POST",
      target: "/up",
      headers: [["content-length", "8000"]],
      client: "203.0.113.7",
      tid: "t-long",
      ws: false,
      body: true,
    });
    await writer.write(encodeOpen({ kind: StreamKind.Http, text: head }));
    const reply = readTextReply(stream, { maxBody: 1 << 20 });
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await writer.write(new Uint8Array(1000));
    }
    await writer.close();
    const value = await reply;
    assert.ok(value.ok, `the agent answered ${JSON.stringify(value)}`);
    assert.equal(
      new TextDecoder().decode(await new Response(stream.readable).arrayBuffer()),
      "8000",
    );
  });
}

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: a backend silent after the whole body still answers timeout within connect + read timeout [${scheme}]`, async () => {
    const release = Promise.withResolvers<void>();
    await using h = harness(
      async (req) => {
        await req.arrayBuffer();
        await release.promise;
        return new Response("late");
      },
      { connectTimeout: 200, readTimeout: 300, idleTimeout: 3000 },
      scheme,
    );
    try {
      const { reply } = await openHttp(h.session, { domain: "app.test", method: "POST" }, "body");
      const sent = performance.now();
      const { value } = await reply;
      const took = performance.now() - sent;
      assert.equal(!value.ok && value.code, "timeout");
      assert.ok(took < 2500, `timeout after ${took.toFixed(0)} ms`);
    } finally {
      release.resolve();
    }
  });
}

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: the server resetting the stream mid-body cancels the backend body [${scheme}]`, async () => {
    const cancelled = Promise.withResolvers<void>();
    await using h = harness(
      () => new Response(stalledBody("part", cancelled)),
      DEFAULT_TIMEOUTS,
      scheme,
    );
    const { stream, reply } = await openHttp(h.session, { domain: "app.test", target: "/" });
    const { value, readable } = await reply;
    assert.ok(value.ok);
    const reader = readable.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "part");
    stream.reset();
    // Bounded: a body whose cancel never comes would otherwise hang the suite.
    await within(5000, "the backend body cancelled after the reset", cancelled.promise);
    await assert.rejects(reader.read());
  });
}

Deno.test("Http handler: a reset cancels an https backend body even when fetch's abort signal does not end its read", async () => {
  // Under load Deno 2.9.6 has left a pending read of a fetch body unsettled
  // after the request's signal was aborted: the body was never cancelled and
  // the backend streamed to nobody. A body that ignores the signal stands in.
  const cancelled = Promise.withResolvers<void>();
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => Promise.resolve(new Response(stalledBody("part", cancelled)));
  try {
    await using h = harness(() => new Response("unused"), DEFAULT_TIMEOUTS, "https");
    const { stream, reply } = await openHttp(h.session, { domain: "app.test", target: "/" });
    const { value, readable } = await reply;
    assert.ok(value.ok);
    const reader = readable.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "part");
    stream.reset();
    await within(5000, "the backend body cancelled after the reset", cancelled.promise);
    await assert.rejects(reader.read());
  } finally {
    globalThis.fetch = realFetch;
  }
});

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: shutting down refuses the requests waiting for a backend [${scheme}]`, async () => {
    const arrived = Promise.withResolvers<void>();
    const aborted = Promise.withResolvers<void>();
    await using h = harness(
      (req) => {
        arrived.resolve();
        return new Promise<Response>((resolve) => {
          req.signal.addEventListener("abort", () => {
            aborted.resolve();
            resolve(new Response("too late"));
          });
        });
      },
      DEFAULT_TIMEOUTS,
      scheme,
    );
    const pending = request(h.session, { domain: "app.test", target: "/slow" });
    await arrived.promise;
    h.shutdown.abort();
    const answer = await pending;
    assert.equal(!answer.ok && answer.message, "Agent is shutting down");
    await within(5000, "the backend request aborted", aborted.promise);
    assert.equal(h.served.active, 0);
  });
}

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: a POST whose request and response both complete is not mistaken for a reset [${scheme}]`, async () => {
    await using h = harness(
      async (req) =>
        new Response(`got ${await req.text()}`, {
          headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["connection", "x-hop"], [
            "x-hop",
            "1",
          ]],
        }),
      DEFAULT_TIMEOUTS,
      scheme,
    );
    for (let i = 0; i < 3; i++) {
      const answer = await request(h.session, {
        domain: "app.test",
        method: "POST",
        target: "/echo",
      }, `body ${i}`);
      assert.ok(answer.ok);
      assert.equal(answer.body, `got body ${i}`);
      assert.deepEqual(answer.headers.filter(([n]) => n === "set-cookie" || n === "x-hop"), [
        ["set-cookie", "a=1"],
        ["set-cookie", "b=2"],
      ]);
    }
    assert.equal(h.served.active, 0);
  });
}

/** Reads `readable` to its end slowly, so the agent's writes wait for window. */
async function readSlowly(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of readable) {
    chunks.push(chunk);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const chunk of chunks) {
    out.set(chunk, off);
    off += chunk.length;
  }
  return out;
}

for (const scheme of SCHEMES) {
  Deno.test(`Http handler: concurrent large bodies arrive intact while read buffers are reused [${scheme}]`, async () => {
    const SIZE = 1024 * 1024 + 7;
    const pattern = (seed: number) => {
      const bytes = new Uint8Array(SIZE);
      for (let i = 0; i < SIZE; i++) bytes[i] = (i * 31 + seed) & 0xff;
      return bytes;
    };
    await using h = harness(
      (req) => {
        const seed = Number(new URL(req.url).searchParams.get("seed"));
        // Streamed in uneven pieces, so reads end at odd offsets inside the read buffer.
        const bytes = pattern(seed);
        let off = 0;
        return new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              const n = Math.min(10_000 + seed * 997, SIZE - off);
              controller.enqueue(bytes.slice(off, off + n));
              off += n;
              if (off === SIZE) controller.close();
            },
          }),
        );
      },
      DEFAULT_TIMEOUTS,
      scheme,
    );
    for (let round = 0; round < 2; round++) {
      const bodies = await Promise.all([1, 2, 3, 4].map(async (seed) => {
        const { reply } = await openHttp(h.session, {
          domain: "app.test",
          target: `/?seed=${seed}`,
        });
        const { value, readable } = await reply;
        assert.ok(value.ok);
        return await readSlowly(readable);
      }));
      bodies.forEach((body, i) => {
        assert.ok(body.length === SIZE && body.every((b, j) => b === ((j * 31 + i + 1) & 0xff)));
      });
    }
  });
}

Deno.test("Http handler: an https backend (fetch) gets Accept-Encoding narrowed and its bytes pass intact", async () => {
  const gzipped = new Uint8Array(gzipSync("hello ".repeat(100)));
  let asked: string | null = null;
  await using h = harness(
    (req) => {
      asked = req.headers.get("accept-encoding");
      return new Response(gzipped, { headers: { "content-encoding": "gzip" } });
    },
    DEFAULT_TIMEOUTS,
    "https",
  );
  const res = await request(h.session, {
    domain: "app.test",
    headers: [["accept-encoding", "gzip, br"]],
  });
  assert.ok(res.ok);
  assert.equal(asked, "identity", "fetch would decode gzip and br itself");
  assert.ok(res.headers.some(([n, v]) => n === "content-encoding" && v === "gzip"));
  assert.deepEqual(res.bytes, gzipped);
});

Deno.test("Http handler: a malformed request head is refused with bad-request, the backend untouched", async () => {
  let calls = 0;
  await using h = harness(() => {
    calls++;
    return new Response("no");
  });
  for (
    const text of [
      "app.test\nGET\n/\n\n",
      "app.test\nGET\nnot-a-path\n\n\n",
      "app.test\nGET\n/\n\n\n\nhost",
    ]
  ) {
    const stream = await h.session.open();
    await stream.write(encodeOpen({ kind: StreamKind.Http, text }));
    stream.closeWrite();
    const value = await readReply(stream);
    assert.equal(!value.ok && value.code, "bad-request", text);
    stream.reset();
  }
  assert.equal(calls, 0);
});
