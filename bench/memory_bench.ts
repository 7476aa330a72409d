/**
 * Memory of both roles as deployed: `deno run -A main.ts server --config …`
 * and `… agent --config …` (certificate files, console logging at warning),
 * each its own process, next to a Deno "hello" server measured in the same
 * run, the floor any Deno process serving HTTP sits at here.
 *
 * 1. Idle: the RSS of the floor, the server and the agent (registered, one
 *    request served) after `BENCH_MEM_SETTLE_S` seconds (default 15), from
 *    `/proc/PID/status`: `VmRSS`, split into `RssAnon` (private memory) and
 *    `RssFile` (pages of the deno binary and its caches, shared and
 *    reclaimable, but counted in RSS).
 * 2. Soak: `wrk -t2 -c200` for `BENCH_MEM_SOAK_S` seconds (default 10)
 *    through the tunnel to `http_backend.ts`, then RSS right after and every 5 s
 *    while both stay quiet for `BENCH_MEM_QUIET_S` seconds (default 30). Without
 *    `wrk` on the PATH this step says so and is skipped.
 *
 * Linux only (`/proc`). Run with `deno task bench` or `deno run -A
 * bench/memory_bench.ts`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { has, wrk } from "./http/tools.ts";

const MAIN = new URL("../main.ts", import.meta.url);
const BACKEND = new URL("./http_backend.ts", import.meta.url);
const ROOT = new URL("../", import.meta.url);
const DOMAIN = "bench.test";
const SETTLE_S = Number(Deno.env.get("BENCH_MEM_SETTLE_S") ?? 15);
const SOAK_S = Number(Deno.env.get("BENCH_MEM_SOAK_S") ?? 10);
const QUIET_S = Number(Deno.env.get("BENCH_MEM_QUIET_S") ?? 30);
/** What issue 9 asks of each role at idle. */
const TARGET_MB = 55;
const READY_MS = 20_000;

/** Resident memory of one process, in MB. */
interface Rss {
  total: number;
  anon: number;
  file: number;
}

/** `VmRSS`, `RssAnon` and `RssFile` of process `pid`, in MB. */
function rssOf(pid: number): Rss {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"))?.[1]);
  return { total: kb("VmRSS") / 1024, anon: kb("RssAnon") / 1024, file: kb("RssFile") / 1024 };
}

/** A process this bench started; stopped with SIGTERM, then SIGKILL after 5 s. */
class Child implements AsyncDisposable {
  readonly #process: Deno.ChildProcess;
  readonly #lines: ReadableStreamDefaultReader<string>;
  readonly #stderr: Promise<string>;

  constructor(args: string[], cwd: string | URL) {
    this.#process = new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#lines = this.#process.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#stderr = new Response(this.#process.stderr).text();
  }

  get pid(): number {
    return this.#process.pid;
  }

  /** The first line it prints on stdout, parsed as JSON. */
  async readyLine(): Promise<Record<string, unknown>> {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error(`Process exited before it was ready: ${await this.#stderr}`);
      text += value;
    }
    return JSON.parse(text.slice(0, text.indexOf("\n")));
  }

  /** What it wrote on stderr; only once it has ended. */
  stderr(): Promise<string> {
    return this.#stderr;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#process.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.#process.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5000);
    await this.#process.status;
    clearTimeout(timer);
    await this.#lines.cancel().catch(() => {});
    await this.#stderr;
  }
}

/** A free loopback port (it may be taken again before use: a bench, not a test). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Resolves once `ok()` resolves true; throws `what` after 20 s. */
async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${READY_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes certificates, both roles' config files and a hello server into `dir`. */
async function writeFiles(dir: string, port: number, backend: number): Promise<void> {
  const certs = await makeCertificates({ hostnames: ["127.0.0.1", "localhost"] });
  await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
  await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
  await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
  const secret = crypto.randomUUID();
  for (const d of ["server.d", "agent.d"]) await Deno.mkdir(join(dir, d));
  const json = (file: string, value: unknown) =>
    Deno.writeTextFile(join(dir, file), JSON.stringify(value));
  await json("server.jsonc", {
    mode: "server",
    listen: [{ address: `127.0.0.1:${port}`, cert: "cert.pem", key: "key.pem" }],
    domains: "server.d",
  });
  await json(`server.d/${DOMAIN}.jsonc`, { active: true, secret, concurrency: 1000 });
  await json("agent.jsonc", { mode: "agent", domains: "agent.d" });
  await json(`agent.d/${DOMAIN}.jsonc`, {
    active: true,
    secret,
    concurrency: 1000,
    remote: `127.0.0.1:${port}`,
    caFile: join(dir, "ca.pem"),
    targets: [{ target: `http://127.0.0.1:${backend}` }],
  });
  await Deno.writeTextFile(
    join(dir, "hello.ts"),
    `Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(JSON.stringify({ port })) }, () => new Response("hello world\\n"));\n`,
  );
}

const mb = (n: number) => n.toFixed(1).padStart(6);

function row(name: string, rss: Rss, floor: Rss): string {
  const ratio = `${(rss.total / floor.total).toFixed(2)}x`.padStart(9);
  return `  ${name.padEnd(26)}${mb(rss.total)} ${mb(rss.anon)} ${mb(rss.file)}${ratio}`;
}

/** One fetch of `/small` through the tunnel; true on a 200. */
async function throughTunnel(port: number, client: Deno.HttpClient): Promise<boolean> {
  const res = await fetch(`https://127.0.0.1:${port}/small`, { headers: { host: DOMAIN }, client });
  await res.body?.cancel();
  return res.status === 200;
}

async function soak(port: number, pids: { server: number; agent: number }): Promise<void> {
  if (!(await has("wrk"))) {
    console.log("\nSoak skipped: wrk is not on the PATH (Debian package wrk).");
    return;
  }
  const load = await wrk(`https://127.0.0.1:${port}/small`, {
    threads: 2,
    connections: 200,
    duration: `${SOAK_S}s`,
    host: DOMAIN,
  });
  const both = () => `server ${mb(rssOf(pids.server).total)}  agent ${mb(rssOf(pids.agent).total)}`;
  console.log(`\nwrk -t2 -c200 -d${SOAK_S}s through the tunnel: ${load.rps.toFixed(0)} req/s`);
  if (load.problems.length > 0) console.log(`  problems: ${load.problems.join("; ")}`);
  console.log(`  RSS MB right after:   ${both()}`);
  for (let s = 5; s <= QUIET_S; s += 5) {
    await new Promise((r) => setTimeout(r, 5000));
    console.log(`  after ${String(s).padStart(3)} s quiet:   ${both()}`);
  }
}

async function main(): Promise<void> {
  if (Deno.build.os !== "linux") {
    console.log("Memory bench skipped: it reads /proc (Linux only).");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "burrow-mem-" });
  try {
    await using backend = new Child(["run", "-A", fileURLToPath(BACKEND)], ROOT);
    const backendPort = (await backend.readyLine()).port as number;
    const port = freePort();
    await writeFiles(dir, port, backendPort);
    // In the temp folder with --no-config: a plain Deno program, no deno.json.
    await using floor = new Child(["run", "-A", "--no-config", "hello.ts"], dir);
    await floor.readyLine();
    const role = (name: string) =>
      new Child(
        ["run", "-A", fileURLToPath(MAIN), name, "--config", join(dir, `${name}.jsonc`)],
        ROOT,
      );
    await using server = role("server");
    await until("server", async () => {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    });
    await using agent = role("agent");
    using client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(join(dir, "ca.pem"))],
      allowHost: true,
    });
    await until("agent", () => throughTunnel(port, client));
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const [f, s, a] = [rssOf(floor.pid), rssOf(server.pid), rssOf(agent.pid)];
    console.log(`Memory: idle RSS ${SETTLE_S} s after start (MB, /proc/PID/status, same run)`);
    console.log(
      `  ${"".padEnd(26)}${"RSS".padStart(6)} ${"anon".padStart(6)} ${"file".padStart(6)}  x floor`,
    );
    console.log(row("Deno hello server (floor)", f, f));
    console.log(row("burrow server", s, f));
    console.log(row("burrow agent", a, f));
    const verdict = (r: Rss) => `${r.total.toFixed(1)} ${r.total <= TARGET_MB ? "ok" : "over"}`;
    console.log(`  target <= ${TARGET_MB} MB each: server ${verdict(s)}, agent ${verdict(a)}`);
    await soak(port, { server: server.pid, agent: agent.pid });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

await main();
