/**
 * The floor of the tunnel's architecture: what the parts the design requires
 * cost by themselves, with none of Burrow's features. A TLS front
 * (`Deno.serve`), the agent's wss link carrying Burrow's multiplexer, one mux
 * stream per request, the agent's HTTP/1.1 keep-alive pool to the backend,
 * and nothing else: no open messages (the request is one line, the reply a
 * status line), no headers forwarded, no rules, logs, timeouts or limits. GET
 * only. `bench/http_bench.ts` measures Burrow against this floor and against
 * the backend directly, in the same run.
 *
 * Roles, as in `http_tunnel.ts` (each prints one JSON line once ready):
 * - `server`: HTTPS on 127.0.0.1:0 with a certificate made for this run;
 *   prints `{"port":N,"caFile":"…"}`.
 * - `agent`: dials `wss://127.0.0.1:$BENCH_PORT/floor` trusting
 *   `$BENCH_CA_FILE`, serves `$BENCH_TARGET`; prints `{"agent":"floor"}`.
 *
 * SIGTERM or SIGINT stops it.
 *
 * @module
 */

import { makeCertificates } from "../shared/tls/self_signed.ts";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import { dialWebSocket } from "../shared/transport/dial.ts";
import { Session } from "../shared/mux/session.ts";
import type { MuxStream } from "../shared/mux/stream.ts";
import { Http1Pool } from "../agent/http1/pool.ts";
import { concat } from "../shared/bytes.ts";

const PROTOCOL = "burrow-floor";
const PATH = "/floor";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads `stream` to its end. */
async function readAll(stream: MuxStream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let c = await stream.read(); c !== null; c = await stream.read()) chunks.push(c);
  return chunks.length === 1 ? chunks[0]! : concat(chunks);
}

/** The reply: `STATUS\n`, then the body up to FIN; the body streams past the first chunk. */
async function reply(stream: MuxStream): Promise<Response> {
  const read = await stream.read();
  if (read === null) return new Response("agent closed the stream\n", { status: 502 });
  let first: Uint8Array = read;
  let nl = first.indexOf(10);
  while (nl < 0) {
    const more = await stream.read();
    if (more === null) return new Response("no status line\n", { status: 502 });
    first = concat([first, more]);
    nl = first.indexOf(10);
  }
  const status = Number(decoder.decode(first.subarray(0, nl)));
  const rest = first.subarray(nl + 1) as Uint8Array<ArrayBuffer>;
  const next = await stream.read();
  if (next === null) return new Response(rest, { status });
  let pending: Uint8Array | null = next;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (rest.length > 0) controller.enqueue(rest);
    },
    async pull(controller) {
      const chunk = pending ?? await stream.read();
      pending = null;
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      stream.reset();
    },
  });
  return new Response(body, { status });
}

async function server(): Promise<void> {
  const certs = await makeCertificates({ hostnames: ["127.0.0.1", "localhost"] });
  const dir = await Deno.makeTempDir({ prefix: "burrow-floor-" });
  const caFile = `${dir}/ca.pem`;
  await Deno.writeTextFile(caFile, certs.caCert);
  let session = null as Session | null;
  const abort = new AbortController();
  const httpServer = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certs.cert,
    key: certs.key,
    signal: abort.signal,
    onListen: ({ port }) => console.log(JSON.stringify({ port, caFile })),
  }, async (req) => {
    const url = req.url;
    const target = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    if (target === PATH) {
      const { socket, response } = Deno.upgradeWebSocket(req, { protocol: PROTOCOL });
      fromWebSocket(socket).then((conn) => {
        session = new Session(conn, { client: false, foldFlags: true });
      });
      return response;
    }
    if (session === null) return new Response("no agent\n", { status: 404 });
    try {
      const stream = await session.open();
      await stream.write(encoder.encode(`${req.method} ${target}\n`));
      stream.closeWrite();
      return await reply(stream);
    } catch (e) {
      return new Response(`${(e as Error).message}\n`, { status: 502 });
    }
  });
  await stop();
  session?.close();
  abort.abort();
  await httpServer.finished;
  await Deno.remove(dir, { recursive: true });
}

async function agent(): Promise<void> {
  const target = new URL(env("BENCH_TARGET"));
  const hostname = target.hostname;
  const port = Number(target.port);
  const host = target.host;
  const dialed = await dialWebSocket(`wss://127.0.0.1:${env("BENCH_PORT")}${PATH}`, {
    protocols: [PROTOCOL],
    caCerts: [await Deno.readTextFile(env("BENCH_CA_FILE"))],
  });
  const session = new Session(dialed.conn, { client: true, foldFlags: true });
  const pool = new Http1Pool();
  console.log(JSON.stringify({ agent: "floor" }));
  const serve = async (stream: MuxStream) => {
    try {
      const line = decoder.decode(await readAll(stream));
      const space = line.indexOf(" ");
      const res = await pool.request({
        hostname,
        port,
        method: line.slice(0, space),
        target: line.slice(space + 1, -1),
        headers: [["host", host]],
        body: null,
      });
      // The status line goes with the body's first chunk, in one frame with
      // the FIN when that is all: the server answers without a stream body.
      let out: Uint8Array = encoder.encode(`${res.status}\n`);
      const first = res.body === null ? null : await res.body.read();
      if (first !== null) out = concat([out, first]);
      await stream.write(out);
      if (first !== null) {
        for (let c = await res.body!.read(); c !== null; c = await res.body!.read()) {
          await stream.write(c);
        }
      }
      stream.closeWrite();
    } catch {
      stream.reset();
    }
  };
  const serving = (async () => {
    for (let s = await session.accept(); s !== null; s = await session.accept()) serve(s);
  })();
  await stop();
  await session.close();
  await serving;
  await pool.close();
  dialed.close();
  await dialed.closed;
}

function env(name: string): string {
  const value = Deno.env.get(name);
  if (value === undefined) throw new TypeError(`${name} must be set for this role`);
  return value;
}

/** Resolves on the first SIGTERM or SIGINT. */
function stop(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      Deno.removeSignalListener("SIGTERM", done);
      Deno.removeSignalListener("SIGINT", done);
      resolve();
    };
    Deno.addSignalListener("SIGTERM", done);
    Deno.addSignalListener("SIGINT", done);
  });
}

const role = Deno.args[0];
if (role === "server") await server();
else if (role === "agent") await agent();
else throw new TypeError(`Unknown role ${JSON.stringify(role)}: expected server or agent`);
