import assert from "node:assert/strict";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { listenHttps } from "./listen.ts";
import { CertificateStore } from "./tls.ts";

/** A body written in two pieces, the second after the first has gone out. */
function twoPieces(): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder();
  let sent = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sent === 0) controller.enqueue(bytes.encode("a"));
      else if (sent === 1) {
        await new Promise((r) => setTimeout(r, 1));
        controller.enqueue(bytes.encode("b"));
      } else controller.close();
      sent++;
    },
  });
}

Deno.test(
  "listenHttps answers a response written in two pieces without waiting for a delayed ACK",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    const pem = await makeCertificates({ hostnames: ["localhost", "127.0.0.1"] });
    const server = listenHttps(
      { hostname: "127.0.0.1", port: 0 },
      CertificateStore.fromPem(pem),
      () => new Response(twoPieces()),
    );
    const client = Deno.createHttpClient({ caCerts: [pem.caCert] });
    try {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const res = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
        assert.equal(await res.text(), "ab");
        times.push(performance.now() - started);
      }
      // Nagle holds the second piece of every response until the client's
      // delayed ACK (~40 ms on Linux), but for the first one or two that the
      // quick-ACK start may let through. A busy host only adds time (a median
      // of 18 ms was seen under the parallel suite on 2 cores), so the third
      // fastest response tells the two apart.
      const third = times.toSorted((a, b) => a - b)[2]!;
      assert.ok(third < 20, `third fastest ${third.toFixed(1)} ms: ${times.map(Math.round)}`);
    } finally {
      client.close();
      await server.shutdown();
    }
  },
);
