/**
 * The process-hop floor of `bench/remote_bench.ts`: a plain TCP relay in a
 * process of its own (no TLS, no WebSocket, no mux, no audit), accepting on
 * a free port and piping each connection to `127.0.0.1:<port>` given as the
 * argument. Two of them in a row are the published port's path with none of
 * Burrow's features: client → relay (server) → relay (agent) → target.
 * Prints its port as one JSON line, then serves until killed.
 *
 * @module
 */

const dest = Number(Deno.args[0]);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });

async function pipe(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
      for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
    }
    await to.closeWrite();
  } catch { /* reset */ }
}

async function relay(client: Deno.TcpConn): Promise<void> {
  client.setNoDelay(true);
  let upstream: Deno.TcpConn;
  try {
    upstream = await Deno.connect({ hostname: "127.0.0.1", port: dest });
  } catch {
    client.close();
    return;
  }
  upstream.setNoDelay(true);
  await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
  client.close();
  upstream.close();
}

console.log(JSON.stringify({ port: listener.addr.port }));
for await (const c of listener) relay(c);
