/**
 * The backend of the HTTP benchmark, run as its own process so it never
 * shares an event loop with the tunnel or the client: `Deno.serve` on
 * 127.0.0.1, plain HTTP. Prints `{"port":N}` on one line once listening;
 * SIGTERM stops it. With `BENCH_TLS_DIR` (a folder with `cert.pem` and `key.pem`) it serves
 * HTTPS instead.
 *
 * - `/small`: `hello world\n` (12 bytes)
 * - `/1m`: 1 MiB from one preallocated buffer
 * - `/bulk`: `BENCH_BULK_MIB` MiB (default 1024) streamed from one reused 64 KiB chunk
 *
 * @module
 */

const MIB = 1024 * 1024;
const CHUNK = 64 * 1024;
const BULK = Number(Deno.env.get("BENCH_BULK_MIB") ?? 1024) * MIB;

const small = new TextEncoder().encode("hello world\n");
const oneMib = new Uint8Array(MIB).fill(0x61);
const chunk = new Uint8Array(CHUNK).fill(0x62);

/**
 * `BENCH_BULK_MIB` MiB as a byte stream. Each pull enqueues a fresh view of
 * the same chunk: Deno writes it out before pulling again, and the bytes
 * never change, so reusing them is safe.
 */
function bulkBody(): ReadableStream<Uint8Array> {
  let left = BULK;
  return new ReadableStream({
    pull(controller) {
      const n = Math.min(left, CHUNK);
      controller.enqueue(n === CHUNK ? chunk : chunk.subarray(0, n));
      left -= n;
      if (left === 0) controller.close();
    },
  }, { highWaterMark: 0 });
}

function handle(req: Request): Response {
  switch (new URL(req.url).pathname) {
    case "/small":
      return new Response(small, { headers: { "content-type": "text/plain" } });
    case "/1m":
      return new Response(oneMib, { headers: { "content-type": "application/octet-stream" } });
    case "/bulk":
      return new Response(bulkBody(), {
        headers: { "content-type": "application/octet-stream", "content-length": String(BULK) },
      });
    default:
      return new Response("not found\n", { status: 404 });
  }
}

// With BENCH_TLS_DIR (a folder holding cert.pem and key.pem), HTTPS instead: the bench's
// "HTTPS front alone" baseline, Deno's TLS server with no tunnel behind it.
const tlsDir = Deno.env.get("BENCH_TLS_DIR");
const tls = tlsDir === undefined ? {} : {
  cert: await Deno.readTextFile(`${tlsDir}/cert.pem`),
  key: await Deno.readTextFile(`${tlsDir}/key.pem`),
};
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  ...tls,
  onListen({ port }) {
    console.log(JSON.stringify({ port }));
  },
}, handle);

const stop = () => {
  Deno.removeSignalListener("SIGTERM", stop);
  server.shutdown();
};
Deno.addSignalListener("SIGTERM", stop);
await server.finished;
