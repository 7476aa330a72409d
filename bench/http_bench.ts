/**
 * HTTP through the tunnel next to the same backend reached directly, measured
 * in the same run: `wrk` for requests per second and latency (12-byte and
 * 1 MiB responses), `curl` on one connection for bulk download MB/s.
 *
 * Three processes besides wrk and curl: the backend (`http_backend.ts`), the
 * tunnel (`http_tunnel.ts`: server and agent, as on one host in production
 * they are two processes, here one to keep the count down), and this one,
 * which only starts things and waits. The backend is a process rather than a
 * Worker so it has its own heap and GC, as a real backend would. Run with
 * `deno task bench`; without `wrk` on the PATH it says so and exits 0.
 *
 * @module
 */

const DOMAIN = "bench.test";
const DURATION = "5s";
const WARMUP = "1s";
const SINGLE_DURATION = "3s";
const BULK_MIB = Number(Deno.env.get("BENCH_BULK_MIB") ?? 1024);
const CURL_MAX_S = 20;

/** What one wrk run reported. */
interface WrkResult {
  /** Requests per second. */
  rps: number;
  /** Median latency, ms. */
  p50: number;
  /** 99th percentile latency, ms. */
  p99: number;
  /** Non-2xx responses, socket errors, a failed exit: anything that makes the figures suspect. */
  problems: string[];
}

/** Bulk download by curl. */
interface CurlResult {
  /** Download speed, MB/s (10^6 bytes). */
  mbps: number;
  /** Wrong status or size, a failed exit. */
  problems: string[];
}

/** A helper process of the bench, started and ready. */
interface Child {
  /** The JSON object it printed on its first stdout line. */
  ready: Record<string, unknown>;
  /** SIGTERM, then SIGKILL after 5 s; resolves with what it wrote to stderr once it exited. */
  stop(): Promise<string>;
}

const READY_MS = 20_000;

async function collect(readable: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const s of readable.pipeThrough(new TextDecoderStream())) text += s;
  return text;
}

/** Starts `deno run -A script` with `env` and waits for its first stdout line (JSON). */
async function startChild(script: URL, env: Record<string, string>): Promise<Child> {
  const name = script.pathname.split("/").pop();
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collect(process.stderr);
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async () => {
    try {
      process.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5000);
    await process.status;
    clearTimeout(timer);
    await lines.cancel().catch(() => {});
    return await stderr;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name} not ready within ${READY_MS} ms`)),
        READY_MS,
      );
    });
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await Promise.race([lines.read(), timeout]);
      if (done) throw new Error(`${name} exited before it was ready`);
      text += value;
    }
    return { ready: JSON.parse(text.slice(0, text.indexOf("\n"))), stop };
  } catch (e) {
    const err = await stop();
    throw new Error(`${(e as Error).message}; its stderr:\n${err}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Distinct first lines of what a child wrote to stderr (numbers folded to N), with counts. */
function summarize(name: string, stderr: string): string[] {
  const counts = new Map<string, number>();
  for (const line of stderr.split("\n")) {
    if (line.trim() === "" || /^[\s}]/.test(line)) continue; // stack frames, object bodies
    const key = line.replace(/\d+/g, "N");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([line, n]) => `${name} stderr, ${n}x: ${line}`);
}

const UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a wrk latency line such as `    99%   12.34ms`. */
function latency(out: string, pct: string): number {
  const m = out.match(new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m"));
  return m ? Number(m[1]) * UNITS_MS[m[2]!]! : NaN;
}

/** Parses `wrk --latency` output; anything that makes the run suspect goes to `problems`. */
export function parseWrk(out: string): WrkResult {
  const problems: string[] = [];
  const non2xx = out.match(/Non-2xx or 3xx responses:\s*(\d+)/);
  if (non2xx) problems.push(`${non2xx[1]} non-2xx/3xx responses`);
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  if (sock) problems.push(`socket errors: ${sock[0].slice("Socket errors: ".length)}`);
  const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? 0);
  if (requests === 0) problems.push("no requests completed");
  return {
    rps: Number(out.match(/Requests\/sec:\s*([\d.]+)/)?.[1] ?? NaN),
    p50: latency(out, "50"),
    p99: latency(out, "99"),
    problems,
  };
}

/** Load of one wrk run. */
interface WrkOptions {
  threads: number;
  connections: number;
  duration: string;
  /** Host header, for requests through the tunnel. */
  host?: string;
}

async function wrk(url: string, opts: WrkOptions): Promise<WrkResult> {
  const { threads, connections, duration, host } = opts;
  const args = [`-t${threads}`, `-c${connections}`, `-d${duration}`, "--latency"];
  if (host !== undefined) args.push("-H", `Host: ${host}`);
  const out = await new Deno.Command("wrk", { args: [...args, url], stdout: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const result = parseWrk(text);
  if (!out.success) result.problems.push(`wrk exited with code ${out.code}`);
  return result;
}

async function curl(url: string, extra: string[]): Promise<CurlResult> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "--max-time",
      String(CURL_MAX_S),
      "-w",
      "%{speed_download} %{size_download} %{http_code}",
      ...extra,
      url,
    ],
    stdout: "piped",
  }).output();
  const [speed, size, code] = new TextDecoder().decode(out.stdout).trim().split(" ");
  const problems: string[] = [];
  if (!out.success) problems.push(`curl exited with code ${out.code}`);
  if (code !== "200") problems.push(`HTTP status ${code}`);
  if (Number(size) !== BULK_MIB * 1024 * 1024) problems.push(`got ${size} bytes`);
  return { mbps: Number(speed) / 1e6, problems };
}

/** Resolves whether `cmd` can be started (it runs `cmd --version`). */
async function has(cmd: string): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** One fetch through the tunnel, to fail early with a clear message rather than time wrk. */
async function sanityCheck(port: number, caFile: string): Promise<void> {
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(caFile)],
    allowHost: true,
  });
  try {
    const res = await fetch(`https://127.0.0.1:${port}/small`, {
      headers: { host: DOMAIN },
      client,
    });
    const body = await res.text();
    if (res.status !== 200 || body !== "hello world\n") {
      throw new Error(`Tunnel sanity check: status ${res.status}, body ${JSON.stringify(body)}`);
    }
  } finally {
    client.close();
  }
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);
const ms = (n: number) => n < 10 ? `${n.toFixed(2)}ms` : `${n.toFixed(1)}ms`;
const verdict = (ok: boolean) => ok ? "PASS" : "FAIL";

function row(name: string, direct: WrkResult, tunnel: WrkResult): string {
  return [
    name.padEnd(13),
    fmt(direct.rps).padStart(7),
    ms(direct.p50).padStart(8),
    ms(direct.p99).padStart(8),
    fmt(tunnel.rps).padStart(9),
    ms(tunnel.p50).padStart(8),
    ms(tunnel.p99).padStart(8),
    `${fmt(tunnel.rps / direct.rps * 100)}%`.padStart(7),
    `${fmt(tunnel.p99 / direct.p99, 1)}x`.padStart(6),
  ].join(" ");
}

/** Where to send requests. */
interface Urls {
  /** The backend, `http://127.0.0.1:<port>`. */
  direct: string;
  /** The server, `https://127.0.0.1:<port>` (requests carry `Host: DOMAIN`). */
  tunnel: string;
  /** CA of the server's certificate, for curl. */
  caFile: string;
}

/** Direct and tunnel results of one case, labelled for the table. */
type Pair<T> = { name: string; direct: T; tunnel: T };

/** One wrk case, direct then tunnel. */
async function wrkPair(name: string, urls: Urls, path: string, opts: WrkOptions) {
  return {
    name,
    direct: await wrk(`${urls.direct}${path}`, opts),
    tunnel: await wrk(`${urls.tunnel}${path}`, { ...opts, host: DOMAIN }),
  };
}

async function bulkPair(urls: Urls): Promise<Pair<CurlResult>> {
  return {
    name: "bulk",
    direct: await curl(`${urls.direct}/bulk`, []),
    tunnel: await curl(`${urls.tunnel}/bulk`, ["--cacert", urls.caFile, "-H", `Host: ${DOMAIN}`]),
  };
}

/** Everything measured in one run. */
interface Results {
  wrks: Pair<WrkResult>[];
  bulk: Pair<CurlResult> | null;
}

function report({ wrks, bulk }: Results, notes: string[]): void {
  console.log(
    "case          direct: req/s    p50      p99  tunnel: req/s  p50      p99    req/s   p99",
  );
  for (const p of wrks) console.log(row(p.name, p.direct, p.tunnel));
  if (bulk === null) console.log("bulk: skipped, curl is not installed");
  else {
    console.log(
      `bulk ${BULK_MIB} MiB (curl, 1 connection): direct ${fmt(bulk.direct.mbps)} MB/s, tunnel ${
        fmt(bulk.tunnel.mbps)
      } MB/s (${fmt(bulk.tunnel.mbps / bulk.direct.mbps * 100)}%)`,
    );
  }
  const [small, big] = [wrks[0]!, wrks[1]!];
  const smallRatio = small.tunnel.rps / small.direct.rps;
  const p99Ratio = small.tunnel.p99 / small.direct.p99;
  const bigRatio = big.tunnel.rps / big.direct.rps;
  console.log("targets:");
  console.log(
    `  small req/s >= 25% of direct: ${fmt(smallRatio * 100)}%  ${verdict(smallRatio >= 0.25)}`,
  );
  console.log(`  small p99 < 3x direct:        ${fmt(p99Ratio, 1)}x  ${verdict(p99Ratio < 3)}`);
  console.log(
    `  1 MiB req/s >= 30% of direct: ${fmt(bigRatio * 100)}%  ${verdict(bigRatio >= 0.3)}`,
  );
  const found = [...wrks, ...(bulk ? [bulk] : [])].flatMap((p) => [
    ...p.direct.problems.map((e) => `${p.name} direct: ${e}`),
    ...p.tunnel.problems.map((e) => `${p.name} tunnel: ${e}`),
  ]);
  console.log(found.length === 0 ? "problems: none" : "PROBLEMS (these figures are suspect):");
  for (const p of found) console.log(`  ${p}`);
  if (notes.length > 0) console.log("helper processes said:");
  for (const n of notes) console.log(`  ${n}`);
}

async function measure(urls: Urls, withCurl: boolean): Promise<Results> {
  const load = { threads: 2, connections: 50, duration: DURATION };
  for (const path of ["/small", "/1m"]) {
    await wrkPair("warm-up", urls, path, { ...load, duration: WARMUP });
  }
  const wrks = [
    await wrkPair("small", urls, "/small", load),
    await wrkPair("1 MiB", urls, "/1m", load),
    await wrkPair("small, 1 conn", urls, "/small", {
      threads: 1,
      connections: 1,
      duration: SINGLE_DURATION,
    }),
  ];
  return { wrks, bulk: withCurl ? await bulkPair(urls) : null };
}

async function main(): Promise<void> {
  if (!(await has("wrk"))) {
    console.log("HTTP bench skipped: wrk is not installed (Debian: apt-get install wrk)");
    return;
  }
  const children: [string, Child][] = [];
  const notes: string[] = [];
  let results: Results | undefined;
  try {
    const backend = await startChild(new URL("./http_backend.ts", import.meta.url), {
      BENCH_BULK_MIB: String(BULK_MIB),
    });
    children.push(["backend", backend]);
    const direct = `http://127.0.0.1:${backend.ready.port}`;
    const tunnel = await startChild(new URL("./http_tunnel.ts", import.meta.url), {
      BENCH_TARGET: direct,
      BENCH_DOMAIN: DOMAIN,
    });
    children.push(["tunnel", tunnel]);
    const port = tunnel.ready.port as number;
    const caFile = tunnel.ready.caFile as string;
    await sanityCheck(port, caFile);
    console.log(
      `HTTP, tunnel vs direct: wrk --latency, -t2 -c50 -d${DURATION} (1 conn: -t1 -c1 -d${SINGLE_DURATION}), after ${WARMUP} warm-ups`,
    );
    console.log(
      `${navigator.hardwareConcurrency} cores shared by wrk/curl, the tunnel process (server + agent) and the backend process; load average at start ${
        Deno.loadavg()[0]!.toFixed(2)
      } (other work on the machine skews the figures)`,
    );
    results = await measure(
      { direct, tunnel: `https://127.0.0.1:${port}`, caFile },
      await has("curl"),
    );
  } finally {
    for (const [name, child] of children.reverse()) {
      notes.push(...summarize(name, await child.stop()));
    }
  }
  if (results !== undefined) report(results, notes);
  else for (const n of notes) console.error(n);
}

if (import.meta.main) await main();
