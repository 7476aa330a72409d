/**
 * HTTP through the tunnel next to the same backend reached directly, measured
 * in the same run: `wrk` for requests per second and latency (12-byte and
 * 1 MiB responses), `curl` on one connection for bulk download MB/s.
 *
 * Processes besides wrk and curl, all on this host: the backend
 * (`http_backend.ts`), the Burrow server and the Burrow agent (`http_tunnel.ts
 * server` and `http_tunnel.ts agent`: two processes, as in any deployment),
 * and this one, which only starts things and waits. The backend is a process
 * rather than a Worker so it has its own heap and GC, as a real backend would.
 *
 * `BENCH_ONE_PROCESS=1` runs server and agent in one process instead
 * (`http_tunnel.ts both`: one JavaScript thread does the work of both). After
 * the full run, small responses are measured once more with the other layout,
 * so one run shows both; `BENCH_OTHER_LAYOUT=0` skips that. Run with `deno task
 * bench`; without `wrk` on the PATH it says so and exits 0.
 *
 * @module
 */

const DOMAIN = "bench.test";
const DURATION = "5s";
const WARMUP = "1s";
const SINGLE_DURATION = "3s";
const BULK_MIB = Number(Deno.env.get("BENCH_BULK_MIB") ?? 1024);
const CURL_MAX_S = 20;
const OTHER_LAYOUT = Deno.env.get("BENCH_OTHER_LAYOUT") !== "0";
const BACKEND = new URL("./http_backend.ts", import.meta.url);
const TUNNEL = new URL("./http_tunnel.ts", import.meta.url);

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

/** How a helper process ended. */
interface Exit {
  /** Everything it wrote to stderr. */
  stderr: string;
  /** Its exit code (128 + signal number when a signal ended it). */
  code: number;
  /** Whether it outlived SIGTERM by 5 s and was sent SIGKILL. */
  killed: boolean;
}

/** A helper process of the bench, started and ready. */
interface Child {
  /** The JSON object it printed on its first stdout line. */
  ready: Record<string, unknown>;
  /** Its process id, for reading its CPU time. */
  pid: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<Exit>;
}

/** What to start. */
interface ChildOptions {
  script: URL;
  /** Arguments after the script. */
  args?: string[];
  env: Record<string, string>;
}

const READY_MS = 20_000;

async function collect(readable: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const s of readable.pipeThrough(new TextDecoderStream())) text += s;
  return text;
}

/** Starts `deno run -A script ...args` and waits for its first stdout line (JSON). */
async function startChild(name: string, opts: ChildOptions): Promise<Child> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", opts.script.pathname, ...(opts.args ?? [])],
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collect(process.stderr);
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async (): Promise<Exit> => {
    try {
      process.kill("SIGTERM");
    } catch { /* already gone */ }
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5000);
    const { code } = await process.status;
    clearTimeout(timer);
    await lines.cancel().catch(() => {});
    return { stderr: await stderr, code, killed };
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
    return { ready: JSON.parse(text.slice(0, text.indexOf("\n"))), pid: process.pid, stop };
  } catch (e) {
    const { stderr } = await stop();
    throw new Error(`${(e as Error).message}; its stderr:\n${stderr}`);
  } finally {
    clearTimeout(timer);
  }
}

/** How a child ended, and the distinct lines of its stderr (numbers folded to N) with counts. */
function summarize(name: string, exit: Exit): string[] {
  const notes: string[] = [];
  if (exit.killed) notes.push(`${name} did not exit within 5 s of SIGTERM: killed`);
  else if (exit.code !== 0) notes.push(`${name} exited with code ${exit.code}`);
  const counts = new Map<string, number>();
  for (const line of exit.stderr.split("\n")) {
    if (line.trim() === "" || /^[\s}]/.test(line)) continue; // stack frames, object bodies
    const key = line.replace(/\d+/g, "N");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...notes, ...[...counts].map(([line, n]) => `${name} stderr, ${n}x: ${line}`)];
}

/**
 * Helper processes, started in order and stopped in reverse when disposed;
 * how each ended and what it wrote to stderr go to `notes`.
 */
class Processes implements AsyncDisposable {
  #running: [string, Child][] = [];
  #notes: string[];

  constructor(notes: string[]) {
    this.#notes = notes;
  }

  /** Starts one and resolves with its ready line. */
  async start(name: string, opts: ChildOptions): Promise<Record<string, unknown>> {
    const child = await startChild(name, opts);
    this.#running.push([name, child]);
    return child.ready;
  }

  /** Name and pid of each running one. */
  pids(): [string, number][] {
    return this.#running.map(([name, child]) => [name, child.pid]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (let entry = this.#running.pop(); entry; entry = this.#running.pop()) {
      this.#notes.push(...summarize(entry[0], await entry[1].stop()));
    }
  }
}

/** Linux's USER_HZ: the unit of CPU times in `/proc/<pid>/stat`. */
const CLK_TCK = 100;

/**
 * CPU seconds (user + system) used so far by process `pid`, or with
 * `"children"` by this process's children that were waited for (wrk and curl:
 * helpers are waited for only at the end). NaN where there is no `/proc`.
 */
function cpuSeconds(pid: number | "children"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid === "children" ? "self" : pid}/stat`);
    // Fields after "(comm) ": state is field 3, so utime/stime (14, 15) sit at 11, 12
    // and cutime/cstime (16, 17) at 13, 14.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    const [user, system] = pid === "children" ? [f[13], f[14]] : [f[11], f[12]];
    return (user! + system!) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU seconds so far, per process name. */
type Meter = () => [string, number][];

/** Cores each process kept busy between two meter readings `seconds` apart. */
function coresBusy(before: [string, number][], after: [string, number][], seconds: number) {
  return after.map(([name, t], i): [string, number] => [name, (t - before[i]![1]) / seconds]);
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

/** How the tunnel runs: server and agent in two processes (as deployed), or both in one. */
type Layout = "two" | "one";

const LAYOUT_NAMES: Record<Layout, string> = {
  two: "server | agent, 2 processes",
  one: "server + agent, 1 process",
};

/** Which process does what, for the output. */
function describe(layout: Layout): string[] {
  const hops = layout === "two"
    ? "server (http_tunnel.ts server) -wss (dialled by the agent)-> agent (http_tunnel.ts agent)"
    : "tunnel (http_tunnel.ts both: server and agent on one JavaScript thread)";
  const sharers = layout === "two" ? "server, agent" : "the tunnel process (server + agent)";
  return [
    `  tunnel: wrk/curl -https-> ${hops} -http-> backend (http_backend.ts)`,
    "  direct: wrk/curl -http-> backend",
    `  all on this host, over loopback, none pinned: the ${navigator.hardwareConcurrency} cores are shared by wrk/curl, ${sharers} and backend (this process only starts them and waits)`,
  ];
}

/** Starts the tunnel processes of `layout` in `procs` for the backend at `direct`. */
async function startTunnel(procs: Processes, layout: Layout, direct: string): Promise<Urls> {
  const env = { BENCH_TARGET: direct, BENCH_DOMAIN: DOMAIN };
  let ready: Record<string, unknown>;
  if (layout === "one") {
    ready = await procs.start("tunnel", { script: TUNNEL, args: ["both"], env });
  } else {
    ready = await procs.start("server", { script: TUNNEL, args: ["server"], env });
    await procs.start("agent", {
      script: TUNNEL,
      args: ["agent"],
      env: {
        ...env,
        BENCH_PORT: String(ready.port),
        BENCH_CA_FILE: ready.caFile as string,
        BENCH_SECRET: ready.secret as string,
      },
    });
  }
  const port = ready.port as number;
  const caFile = ready.caFile as string;
  await sanityCheck(port, caFile);
  return { direct, tunnel: `https://127.0.0.1:${port}`, caFile };
}

/** Direct and tunnel results of one case, labelled for the table. */
type Pair<T> = {
  name: string;
  direct: T;
  tunnel: T;
  /** Cores each process kept busy during the tunnel run, when metered. */
  cores?: [string, number][];
};

/** One wrk case, direct then tunnel; with `meter`, the CPU of the tunnel run too. */
async function wrkPair(
  name: string,
  urls: Urls,
  path: string,
  opts: WrkOptions & { meter?: Meter },
): Promise<Pair<WrkResult>> {
  const direct = await wrk(`${urls.direct}${path}`, opts);
  const before = opts.meter?.();
  const start = performance.now();
  const tunnel = await wrk(`${urls.tunnel}${path}`, { ...opts, host: DOMAIN });
  if (before === undefined) return { name, direct, tunnel };
  const cores = coresBusy(before, opts.meter!(), (performance.now() - start) / 1000);
  return { name, direct, tunnel, cores };
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
  /** The layout of the full run. */
  layout: Layout;
  wrks: Pair<WrkResult>[];
  bulk: Pair<CurlResult> | null;
  /** Small responses with the other layout; null when skipped. */
  other: Pair<WrkResult> | null;
}

const other = (layout: Layout): Layout => layout === "two" ? "one" : "two";

function layoutRow(layout: Layout, p: Pair<WrkResult>): string {
  return [
    `  ${LAYOUT_NAMES[layout]}`.padEnd(31),
    fmt(p.direct.rps).padStart(7),
    fmt(p.tunnel.rps).padStart(7),
    `${fmt(p.tunnel.rps / p.direct.rps * 100)}%`.padStart(6),
    ms(p.tunnel.p50).padStart(8),
    ms(p.tunnel.p99).padStart(8),
    `${fmt(p.tunnel.p99 / p.direct.p99, 1)}x`.padStart(10),
  ].join(" ");
}

/** `wrk 0.93, server 0.41, …`, or null where CPU times could not be read. */
function coresLine(cores: [string, number][] | undefined): string | null {
  if (cores === undefined || !cores.every(([, c]) => Number.isFinite(c))) return null;
  return cores.map(([name, c]) => `${name} ${fmt(c, 2)}`).join(", ");
}

/** Small responses by layout, two processes first, each with the cores its processes kept busy. */
function reportLayouts({ layout, wrks, other: second }: Results): void {
  console.log(
    `small by layout (-t2 -c50 -d${DURATION}, each tunnel run next to its own direct run):`,
  );
  console.log("  layout                        direct  tunnel  ratio  tun p50  tun p99  p99 ratio");
  const rows: [Layout, Pair<WrkResult>][] = [[layout, wrks[0]!]];
  if (second !== null) rows.push([other(layout), second]);
  if (layout === "one") rows.reverse();
  for (const [l, p] of rows) {
    console.log(layoutRow(l, p));
    const cores = coresLine(p.cores);
    if (cores !== null) {
      console.log(
        `      cores busy in the tunnel run (of ${navigator.hardwareConcurrency}): ${cores}`,
      );
    }
  }
  const name = LAYOUT_NAMES[other(layout)];
  if (second === null) console.log(`  ${name}: skipped (BENCH_OTHER_LAYOUT=0)`);
  else {console.log(
      `  ${name}: measured last, with fresh processes;`,
      describe(other(layout))[0]!.trim(),
    );}
}

function reportTargets(layout: Layout, wrks: Pair<WrkResult>[]): void {
  const [small, big] = [wrks[0]!, wrks[1]!];
  const smallRatio = small.tunnel.rps / small.direct.rps;
  const p99Ratio = small.tunnel.p99 / small.direct.p99;
  const bigRatio = big.tunnel.rps / big.direct.rps;
  console.log(`targets (${LAYOUT_NAMES[layout]}):`);
  console.log(
    `  small req/s >= 25% of direct: ${fmt(smallRatio * 100)}%  ${verdict(smallRatio >= 0.25)}`,
  );
  console.log(`  small p99 < 3x direct:        ${fmt(p99Ratio, 1)}x  ${verdict(p99Ratio < 3)}`);
  console.log(
    `  1 MiB req/s >= 30% of direct: ${fmt(bigRatio * 100)}%  ${verdict(bigRatio >= 0.3)}`,
  );
}

/** Non-2xx responses, socket errors and failed exits of every run, labelled. */
function problems({ layout, wrks, bulk, other: second }: Results): string[] {
  const pairs: Pair<WrkResult | CurlResult>[] = [...wrks];
  if (bulk !== null) pairs.push(bulk);
  if (second !== null) pairs.push({ ...second, name: `small, ${LAYOUT_NAMES[other(layout)]}` });
  return pairs.flatMap((p) => [
    ...p.direct.problems.map((e) => `${p.name} direct: ${e}`),
    ...p.tunnel.problems.map((e) => `${p.name} tunnel: ${e}`),
  ]);
}

function report(results: Results, notes: string[]): void {
  const { layout, wrks, bulk } = results;
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
  reportTargets(layout, wrks);
  reportLayouts(results);
  const found = problems(results);
  console.log(found.length === 0 ? "problems: none" : "PROBLEMS (these figures are suspect):");
  for (const p of found) console.log(`  ${p}`);
  if (notes.length > 0) console.log("helper processes said:");
  for (const n of notes) console.log(`  ${n}`);
}

const LOAD: WrkOptions = { threads: 2, connections: 50, duration: DURATION };

/** The full set of runs; the small tunnel run is metered. */
async function measure(
  urls: Urls,
  opts: { withCurl: boolean; meter: Meter },
): Promise<Pick<Results, "wrks" | "bulk">> {
  for (const path of ["/small", "/1m"]) {
    await wrkPair("warm-up", urls, path, { ...LOAD, duration: WARMUP });
  }
  const wrks = [
    await wrkPair("small", urls, "/small", { ...LOAD, meter: opts.meter }),
    await wrkPair("1 MiB", urls, "/1m", LOAD),
    await wrkPair("small, 1 conn", urls, "/small", {
      threads: 1,
      connections: 1,
      duration: SINGLE_DURATION,
    }),
  ];
  return { wrks, bulk: opts.withCurl ? await bulkPair(urls) : null };
}

function printSetup(layout: Layout): void {
  console.log(
    `HTTP, tunnel vs direct: wrk --latency, -t2 -c50 -d${DURATION} (1 conn: -t1 -c1 -d${SINGLE_DURATION}), after ${WARMUP} warm-ups`,
  );
  console.log(`layout: ${LAYOUT_NAMES[layout]}`);
  for (const line of describe(layout)) console.log(line);
  console.log(
    `  load average at start ${
      Deno.loadavg()[0]!.toFixed(2)
    } (other work on the machine skews the figures)`,
  );
}

/** Reads CPU seconds of wrk (this process's reaped children) and of each helper process. */
function meterOf(...groups: Processes[]): Meter {
  return () => [
    ["wrk", cpuSeconds("children")],
    ...groups.flatMap((g) => g.pids()).map(([name, pid]): [string, number] => [
      name,
      cpuSeconds(pid),
    ]),
  ];
}

/** Starts backend and tunnel, measures, and stops them all (also on failure). */
async function run(layout: Layout, notes: string[]): Promise<Results> {
  const withCurl = await has("curl");
  await using backendProcs = new Processes(notes);
  const backend = await backendProcs.start("backend", {
    script: BACKEND,
    env: { BENCH_BULK_MIB: String(BULK_MIB) },
  });
  const direct = `http://127.0.0.1:${backend.port}`;
  let measured: Pick<Results, "wrks" | "bulk">;
  {
    await using tunnel = new Processes(notes);
    const urls = await startTunnel(tunnel, layout, direct);
    printSetup(layout);
    measured = await measure(urls, { withCurl, meter: meterOf(tunnel, backendProcs) });
  }
  if (!OTHER_LAYOUT) return { layout, ...measured, other: null };
  await using tunnel = new Processes(notes);
  const urls = await startTunnel(tunnel, other(layout), direct);
  await wrkPair("warm-up", urls, "/small", { ...LOAD, duration: WARMUP });
  const meter = meterOf(tunnel, backendProcs);
  return { layout, ...measured, other: await wrkPair("small", urls, "/small", { ...LOAD, meter }) };
}

async function main(): Promise<void> {
  if (!(await has("wrk"))) {
    console.log("HTTP bench skipped: wrk is not installed (Debian: apt-get install wrk)");
    return;
  }
  const started = performance.now();
  const layout: Layout = Deno.env.get("BENCH_ONE_PROCESS") === "1" ? "one" : "two";
  const notes: string[] = [];
  let results: Results | undefined;
  try {
    results = await run(layout, notes);
  } finally {
    // On failure, what the helpers said goes with the error.
    if (results === undefined) { for (const n of notes) console.error(n); }
  }
  report(results, notes);
  console.log(`HTTP bench took ${fmt((performance.now() - started) / 1000)} s`);
}

if (import.meta.main) await main();
