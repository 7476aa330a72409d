/**
 * Pong flood (issue 9, item 1): RSS of a process holding one server-side
 * session, set up as the server's agent path sets it up (TLS `Deno.serve`,
 * `Deno.upgradeWebSocket`, `fromWebSocket`, the server's session options),
 * while a peer in another process sends Ping frames and never reads.
 *
 * Run: `deno run -A bench/pong_flood.ts [PINGS]` (default 10,000,000).
 * Prints RSS before, at its peak (sampled every 50 ms) and at the end, how
 * many pings the peer got to send, and why the session closed.
 *
 * @module
 */

import { Session } from "../shared/mux/session.ts";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import { DenoSocket } from "../shared/transport/deno_socket.ts";
import { connectWebSocket } from "../shared/platform/ws_client.ts";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { encodeHeader, Flag, FrameType, HEADER_SIZE } from "../shared/frame/header.ts";

const MB = 1024 * 1024;
/** Pings per write of the peer. */
const PER_WRITE = 4096;

if (Deno.args[0] === "peer") await peer(Number(Deno.args[1]), Number(Deno.args[2]), Deno.args[3]!);
else await main(Number(Deno.args[0] ?? 10_000_000));

async function main(pings: number): Promise<void> {
  const { caCert, cert, key } = await makeCertificates({ hostnames: ["localhost"] });
  const session = Promise.withResolvers<Session>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, cert, key, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "burrow.v1" });
    fromWebSocket(socket).then((conn) =>
      session.resolve(
        new Session(conn, {
          client: false,
          keepAliveInterval: 15_000,
          pingTimeout: 15_000,
          foldFlags: true,
        }),
      )
    );
    return response;
  });
  const ca = await Deno.makeTempFile();
  await Deno.writeTextFile(ca, caCert);
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 50);
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "peer", String(server.addr.port), String(pings), ca],
    stdout: "piped",
  }).spawn();
  const s = await session.promise;
  const out = await child.output();
  const sent = new TextDecoder().decode(out.stdout).trim();
  const peerDone = performance.now() - start;
  await Promise.race([s.closed, new Promise((r) => setTimeout(r, 1000))]);
  clearInterval(sampler);
  const end = Deno.memoryUsage().rss;
  console.log(
    `pings asked ${pings}, sent by the peer ${sent} in ${(peerDone / 1000).toFixed(1)} s`,
  );
  console.log(
    `RSS before ${(before / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB, end ${
      (end / MB).toFixed(0)
    } MB`,
  );
  console.log(`session closed: ${s.isClosed}, reason: ${s.closeReason?.message ?? "-"}`);
  await s.close();
  await server.shutdown();
  await Deno.remove(ca);
}

/** Connects as a WebSocket client, sends `pings` Ping frames, never reads; prints how many went. */
async function peer(port: number, pings: number, caFile: string): Promise<void> {
  const caCerts = [await Deno.readTextFile(caFile)];
  const tls = await Deno.connectTls({ hostname: "localhost", port, caCerts });
  const url = new URL(`wss://localhost:${port}/.well-known/burrow-agent`);
  const client = await connectWebSocket(new DenoSocket(tls), url, { protocols: ["burrow.v1"] });
  const writer = client.conn.writable.getWriter();
  const chunk = new Uint8Array(PER_WRITE * HEADER_SIZE);
  let sent = 0;
  try {
    while (sent < pings) {
      for (let i = 0; i < PER_WRITE; i++) {
        encodeHeader(chunk, i * HEADER_SIZE, {
          type: FrameType.Ping,
          flags: Flag.SYN,
          streamId: 0,
          length: (sent + i) >>> 0,
        });
      }
      await writer.write(chunk);
      sent += PER_WRITE;
    }
  } catch {
    // The server dropped the connection.
  }
  console.log(sent);
  Deno.exit(0);
}
