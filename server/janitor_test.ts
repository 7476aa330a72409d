import assert from "node:assert/strict";
import { listenHttp } from "./listen.ts";
import { Janitor } from "./janitor.ts";
import { within } from "../tests/helpers/streams.ts";
import { janitorSlack } from "../tests/helpers/janitor_slack.ts";
import { HAS_IPV6_LOOPBACK, LOOPBACKS } from "../tests/helpers/ipv6.ts";

const linuxOnly = { ignore: Deno.build.os !== "linux" };
const timeouts = { readTimeout: 1000, idleTimeout: 1000 };

/** Reads `conn` to its end (or a reset); the text received. */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(4096);
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (let n; (n = await conn.read(buf)) !== null;) text += decoder.decode(buf.subarray(0, n));
  } catch {
    // reset: closed all the same
  }
  return text;
}

Deno.test(
  "Janitor closes a silent and an idle connection and counts them by reason",
  linuxOnly,
  async () => {
    const janitor = Janitor.create(timeouts)!;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      janitor.wrap(() => new Response("ok")),
    );
    janitor.start(server.addr);
    try {
      const port = server.addr.port;
      using silent = await Deno.connect({ hostname: "127.0.0.1", port });
      using idle = await Deno.connect({ hostname: "127.0.0.1", port });
      await idle.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const [quiet, answered] = await within(
        10_000 + janitorSlack(),
        "both connections closed",
        Promise.all([readToEnd(silent), readToEnd(idle)]),
      );
      assert.equal(quiet, "");
      assert.match(answered, /^HTTP\/1\.1 200 [^]*\r\n\r\nok$/);
      assert.deepEqual(janitor.closed, { head: 1, idle: 1 });
    } finally {
      await server.shutdown();
      await janitor.stop();
    }
  },
);

Deno.test(
  "a plain HTTP listener's janitor cuts a client that sends nothing",
  linuxOnly,
  async () => {
    const server = listenHttp({ hostname: "127.0.0.1", port: 0, timeouts }, () => new Response());
    try {
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      const started = performance.now();
      assert.equal(
        await within(10_000 + janitorSlack(), "the server to close", readToEnd(conn)),
        "",
      );
      const ms = performance.now() - started;
      // Sweeps are 1 s apart: first seen up to a sweep late, decided up to a sweep
      // after the deadline (3 s), and a loaded machine delays timers further (by
      // seconds under the parallel suite on 2 cores: the e2e test allows 4 s); more
      // with a large TCP table on the host (janitorSlack).
      assert.ok(ms >= 1000 && ms < 6000 + janitorSlack(), `closed after ${ms} ms`);
    } finally {
      await server.shutdown();
    }
  },
);

Deno.test(
  `the janitor matches IPv4-mapped and IPv6 peers to their requests in flight${
    HAS_IPV6_LOOPBACK ? "" : " (IPv4-mapped only: no ::1 here)"
  }`,
  linuxOnly,
  async () => {
    // A response slower than both timeouts: cut only if the janitor failed to see the request.
    const slow = () =>
      new Response(
        new ReadableStream({
          async start(controller) {
            for (let i = 0; i < 5; i++) {
              await new Promise((r) => setTimeout(r, 500));
              controller.enqueue(new TextEncoder().encode("."));
            }
            controller.close();
          },
        }),
      );
    const server = listenHttp({ hostname: "::", port: 0, timeouts }, slow);
    try {
      await Promise.all(LOOPBACKS.map(async (hostname) => {
        using conn = await Deno.connect({ hostname, port: server.addr.port });
        const head = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        await conn.write(new TextEncoder().encode(head));
        const text = await within(15_000, `${hostname}: the response`, readToEnd(conn));
        assert.match(text, /^HTTP\/1\.1 200 /);
        assert.ok(text.endsWith("1\r\n.\r\n0\r\n\r\n"), `${hostname}: ${JSON.stringify(text)}`);
        assert.equal(text.match(/1\r\n\.\r\n/g)?.length, 5);
      }));
    } finally {
      await server.shutdown();
    }
  },
);

Deno.test("Janitor.create() returns null without the FFI permission", {
  ...linuxOnly,
  permissions: { read: true, net: true, ffi: false },
}, () => {
  assert.equal(Janitor.create(timeouts), null);
});
