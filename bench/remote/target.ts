/**
 * The far end of `bench/remote_bench.ts`, in a process of its own: a TCP
 * sink (reads to the end, then closes), a TCP echo (for connect latency),
 * and a wss sink (the raw-wss baseline: counts binary messages' bytes and
 * answers one byte once it has `?bytes=N`). Prints its three ports as one
 * JSON line on stdout, then serves until killed.
 *
 * @module
 */

import { makeCertificates } from "../../shared/tls/self_signed.ts";

const READ_SIZE = 256 * 1024;

const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const certs = JSON.parse(Deno.args[0] ?? "null") as { cert: string; key: string } | null ??
  await makeCertificates({ hostnames: ["127.0.0.1"] });

async function drain(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(READ_SIZE);
  try {
    while ((await conn.read(buf)) !== null) { /* drop */ }
  } catch { /* reset */ }
  conn.close();
}

async function echoBack(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
    }
  } catch { /* reset */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

(async () => {
  for await (const c of sink) drain(c);
})();
(async () => {
  for await (const c of echo) echoBack(c);
})();

const wss = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  cert: certs.cert,
  key: certs.key,
  onListen() {},
}, (req) => {
  const want = Number(new URL(req.url).searchParams.get("bytes") ?? 0);
  const { socket, response } = Deno.upgradeWebSocket(req, {
    protocol: req.headers.get("sec-websocket-protocol")?.split(",")[0]?.trim(),
  });
  socket.binaryType = "arraybuffer";
  let got = 0;
  socket.onmessage = (e) => {
    got += (e.data as ArrayBuffer).byteLength;
    if (got >= want) socket.send(new Uint8Array([1]));
  };
  return response;
});

console.log(JSON.stringify({ sink: sink.addr.port, echo: echo.addr.port, wss: wss.addr.port }));
