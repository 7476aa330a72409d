/**
 * The agent link, measured by hand with real `burrow server` and
 * `burrow agent` processes on loopback (issue 9, items 4 and 13):
 *
 * - `reconnect [outage seconds…]` (default `0 30 60`): the server is stopped
 *   with SIGTERM, stays down for each outage, and starts again on the same
 *   port; prints the time from the new server's first accepted TCP
 *   connection to the first 200 through the tunnel.
 * - `idle [count]` (default 2000): opens `count` agent sessions that answer
 *   keepalive pings but never register, and prints the server's RSS before,
 *   with them held, and every 5 s for 15 s (past the register deadline);
 *   `BENCH_WAVES=n` repeats that, `BENCH_SERVER_JSON` adds main-file keys
 *   (`{"agents":{"maxPerAddress":5000}}`: all from one address).
 *
 * ```sh
 * deno run -A bench/link_bench.ts reconnect 0 0 0 30 60
 * deno run -A bench/link_bench.ts idle 2000
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { dialWebSocket } from "../shared/transport/dial.ts";
import { Session } from "../shared/mux/mod.ts";

const DOMAIN = "bench.test";
const SECRET = "link-bench-secret-0123456789";
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** A free loopback port (free a moment ago). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Writes server and agent configs for `port` into a temp folder. */
async function writeConfigs(port: number, backend: string, server: Record<string, unknown>) {
  const dir = await Deno.makeTempDir({ prefix: "burrow-link-bench-" });
  const certs = await makeCertificates({ hostnames: ["127.0.0.1"] });
  await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
  await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
  await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
  await Deno.mkdir(join(dir, "server.d"));
  await Deno.mkdir(join(dir, "agent.d"));
  await Deno.writeTextFile(
    join(dir, "server.jsonc"),
    JSON.stringify({
      mode: "server",
      listen: [{ address: `127.0.0.1:${port}`, cert: "cert.pem", key: "key.pem" }],
      domains: "server.d",
      log: { level: "warning" },
      ...server,
    }),
  );
  await Deno.writeTextFile(
    join(dir, "server.d", `${DOMAIN}.jsonc`),
    JSON.stringify({ active: true, secret: SECRET }),
  );
  await Deno.writeTextFile(
    join(dir, "agent.jsonc"),
    JSON.stringify({ mode: "agent", domains: "agent.d", log: { level: "warning" } }),
  );
  await Deno.writeTextFile(
    join(dir, "agent.d", `${DOMAIN}.jsonc`),
    JSON.stringify({
      active: true,
      secret: SECRET,
      remote: `127.0.0.1:${port}`,
      caFile: join(dir, "ca.pem"),
      targets: [{ target: backend }],
    }),
  );
  return { dir, caCert: certs.caCert };
}

/** Starts a role; `BENCH_VERBOSE=agent` (or `server`) shows that role's debug log. */
function spawn(role: "server" | "agent", dir: string): Deno.ChildProcess {
  const verbose = Deno.env.get("BENCH_VERBOSE") === role;
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      role,
      "--config",
      join(dir, `${role}.jsonc`),
      ...(verbose ? ["--log-level", "debug"] : []),
    ],
    stdin: "null",
    stdout: "null",
    stderr: verbose ? "inherit" : "null",
  }).spawn();
}

async function stop(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch { /* gone */ }
  await p.status;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls a TCP connect to `port` until it succeeds; resolves with the time it did. */
async function listening(port: number): Promise<number> {
  for (let i = 0; i < 3000; i++) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      const t = performance.now();
      c.close();
      return t;
    } catch {
      await delay(5);
    }
  }
  throw new Error(`Nothing listens on ${port} after 15 s`);
}

/** Polls the tunnel every 20 ms until a 200; resolves with the time it came. */
async function first200(client: Deno.HttpClient, port: number, ms = 120_000): Promise<number> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    try {
      const res = await fetch(`https://127.0.0.1:${port}/`, {
        headers: { host: DOMAIN },
        client,
        signal: AbortSignal.timeout(2000),
      });
      await res.body?.cancel();
      if (res.status === 200) return performance.now();
    } catch { /* down */ }
    await delay(20);
  }
  throw new Error("No 200 within the time allowed");
}

async function reconnect(outages: number[]): Promise<void> {
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const port = freePort();
  const { dir, caCert } = await writeConfigs(port, `http://127.0.0.1:${backend.addr.port}`, {});
  const client = Deno.createHttpClient({ caCerts: [caCert], allowHost: true });
  let server = spawn("server", dir);
  await listening(port);
  const agent = spawn("agent", dir);
  try {
    await first200(client, port, 20_000);
    // Let the first session age past any "stable connection" threshold, as a deployed one has.
    await delay(Number(Deno.env.get("BENCH_UPTIME_MS") ?? 2000));
    for (const outage of outages) {
      await stop(server);
      if (outage > 0) await delay(outage * 1000);
      server = spawn("server", dir);
      const up = await listening(port);
      const ok = await first200(client, port);
      console.log(
        `outage ${String(outage).padStart(3)} s: first 200 ${
          ((ok - up) / 1000).toFixed(2)
        } s after the server's return`,
      );
      await delay(Number(Deno.env.get("BENCH_UPTIME_MS") ?? 2000));
    }
  } finally {
    await stop(agent);
    await stop(server);
    client.close();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function idle(count: number): Promise<void> {
  const port = freePort();
  const server = Deno.env.get("BENCH_SERVER_JSON") ?? "{}";
  const { dir, caCert } = await writeConfigs(port, "http://127.0.0.1:9", JSON.parse(server));
  const proc = spawn("server", dir);
  const sessions: { session: Session; close(): void }[] = [];
  try {
    await listening(port);
    await delay(1000);
    console.log(`server RSS at rest: ${rssMiB(proc.pid).toFixed(0)} MiB`);
    const waves = Number(Deno.env.get("BENCH_WAVES") ?? 1);
    for (let wave = 1; wave <= waves; wave++) {
      const t0 = performance.now();
      let refused = 0;
      const dialOne = async () => {
        try {
          const dialed = await dialWebSocket(`wss://127.0.0.1:${port}/.well-known/burrow-agent`, {
            protocols: ["burrow.v1"],
            caCerts: [caCert],
          });
          const session = new Session(dialed.conn, { client: true, foldFlags: true });
          sessions.push({ session, close: () => dialed.close() });
        } catch {
          refused++;
        }
      };
      for (let i = 0; i < count; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, count - i) }, dialOne));
      }
      const open = () => sessions.filter((s) => !s.session.isClosed).length;
      console.log(
        `wave ${wave}: ${count - refused} sessions up (${refused} refused) in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s; ${open()} open; server RSS ${rssMiB(proc.pid).toFixed(0)} MiB`,
      );
      for (const wait of [5, 10, 15]) {
        await delay(5000);
        console.log(
          `  +${wait} s: ${open()} still open; server RSS ${rssMiB(proc.pid).toFixed(0)} MiB`,
        );
      }
    }
  } finally {
    await Promise.all(sessions.map((s) => s.session.close()));
    for (const s of sessions) s.close();
    await stop(proc);
    await Deno.remove(dir, { recursive: true });
  }
}

const [mode, ...rest] = Deno.args;
if (mode === "reconnect") {
  await reconnect(rest.length > 0 ? rest.map(Number) : [0, 30, 60]);
} else if (mode === "idle") await idle(Number(rest[0] ?? 2000));
else {
  console.error("Usage: deno run -A bench/link_bench.ts reconnect [outage s…] | idle [count]");
  Deno.exitCode = 2;
}
