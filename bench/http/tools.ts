/**
 * The load tools of the HTTP bench: `wrk` for requests per second and
 * latency, `curl` for bulk download speed, and the parsing of what they print.
 *
 * @module
 */

/** What one wrk run reported. */
export interface WrkResult {
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
export interface CurlResult {
  /** Download speed, MB/s (10^6 bytes). */
  mbps: number;
  /** Wrong status or size, a failed exit. */
  problems: string[];
}

/** Load of one wrk run. */
export interface WrkOptions {
  threads: number;
  connections: number;
  duration: string;
  /** Host header, for requests through the tunnel. */
  host?: string;
}

/** What one curl download sends and expects. */
export interface CurlOptions {
  /** Arguments before the URL, after the ones every download has. */
  args: string[];
  /** The body size a complete download has. */
  bytes: number;
}

const CURL_MAX_S = 20;

const UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a wrk latency line such as `    99%   12.34ms`. */
function latency(out: string, pct: string): number {
  const m = out.match(new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m"));
  return m ? Number(m[1]) * UNITS_MS[m[2]!]! : NaN;
}

/**
 * Parses `wrk --latency` output; anything that makes the run suspect goes to `problems`.
 *
 * @example
 * ```ts
 * const { rps, p99, problems } = parseWrk(wrkStdout);
 * ```
 */
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

/**
 * Runs `wrk --latency` against `url` and parses what it printed.
 *
 * @example
 * ```ts
 * const r = await wrk("http://127.0.0.1:8080/small", { threads: 2, connections: 50, duration: "5s" });
 * ```
 */
export async function wrk(url: string, opts: WrkOptions): Promise<WrkResult> {
  const { threads, connections, duration, host } = opts;
  const args = [`-t${threads}`, `-c${connections}`, `-d${duration}`, "--latency"];
  if (host !== undefined) args.push("-H", `Host: ${host}`);
  const out = await new Deno.Command("wrk", { args: [...args, url], stdout: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const result = parseWrk(text);
  if (!out.success) result.problems.push(`wrk exited with code ${out.code}`);
  return result;
}

/**
 * Downloads `url` with curl on one connection and reports its speed; a wrong
 * status or size goes to `problems`.
 *
 * @example
 * ```ts
 * const r = await curl("http://127.0.0.1:8080/bulk", { args: [], bytes: 256 * 1024 * 1024 });
 * ```
 */
export async function curl(url: string, opts: CurlOptions): Promise<CurlResult> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "--max-time",
      String(CURL_MAX_S),
      "-w",
      "%{speed_download} %{size_download} %{http_code}",
      ...opts.args,
      url,
    ],
    stdout: "piped",
  }).output();
  const [speed, size, code] = new TextDecoder().decode(out.stdout).trim().split(" ");
  const problems: string[] = [];
  if (!out.success) problems.push(`curl exited with code ${out.code}`);
  if (code !== "200") problems.push(`HTTP status ${code}`);
  if (Number(size) !== opts.bytes) problems.push(`got ${size} bytes`);
  return { mbps: Number(speed) / 1e6, problems };
}

/**
 * Resolves whether `cmd` can be started (it runs `cmd --version`).
 *
 * @example
 * ```ts
 * if (!(await has("wrk"))) console.log("no wrk");
 * ```
 */
export async function has(cmd: string): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
