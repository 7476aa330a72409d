import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { startTcpEcho, startUdpEcho } from "./echo.ts";

Deno.test("the demo TCP echo sends every byte back and passes the half-close on", async () => {
  const echo = startTcpEcho();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: echo.port });
    const payload = crypto.getRandomValues(new Uint8Array(60_000));
    const reading = new Response(conn.readable).arrayBuffer();
    for (let off = 0; off < payload.length;) off += await conn.write(payload.subarray(off));
    await conn.closeWrite();
    assert.deepEqual(new Uint8Array(await reading), payload);
  } finally {
    await echo.close();
  }
});

Deno.test("the demo UDP echo sends a datagram back to its source", async () => {
  const echo = await startUdpEcho();
  const client = createSocket("udp4");
  try {
    const got = new Promise<Buffer>((resolve) => client.once("message", resolve));
    client.send(new TextEncoder().encode("hello"), echo.port, "127.0.0.1");
    assert.equal(new TextDecoder().decode(await got), "hello");
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
    await echo.close();
  }
});
