/**
 * The tunnel layouts of the HTTP bench: server and agent in two processes (as
 * deployed) or both in one, how each is described, and starting one.
 *
 * @module
 */

import type { Processes } from "./children.ts";
import { DOMAIN } from "./settings.ts";

const TUNNEL = new URL("../http_tunnel.ts", import.meta.url);
const FLOOR = new URL("../floor_tunnel.ts", import.meta.url);

/** Where to send requests. */
export interface Urls {
  /** The backend, `http://127.0.0.1:<port>`. */
  direct: string;
  /** The server, `https://127.0.0.1:<port>` (requests carry `Host: DOMAIN`). */
  tunnel: string;
  /** CA of the server's certificate, for curl. */
  caFile: string;
}

/** How the tunnel runs: server and agent in two processes (as deployed), or both in one. */
export type Layout = "two" | "one";

/** Name of each layout, for the output. */
export const LAYOUT_NAMES: Record<Layout, string> = {
  two: "server | agent, 2 processes",
  one: "server + agent, 1 process",
};

/** The layout that is not `layout`. */
export const other = (layout: Layout): Layout => layout === "two" ? "one" : "two";

/**
 * Which process does what, for the output.
 *
 * @example
 * ```ts
 * for (const line of describe("two")) console.log(line);
 * ```
 */
export function describe(layout: Layout): string[] {
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

/** One fetch through the tunnel, to fail early with a clear message rather than time wrk. */
async function sanityCheck(port: number, caFile: string, name = "Tunnel"): Promise<void> {
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
      throw new Error(`${name} sanity check: status ${res.status}, body ${JSON.stringify(body)}`);
    }
  } finally {
    client.close();
  }
}

/**
 * Starts the tunnel processes of `layout` in `procs` for the backend at `direct`.
 *
 * @example
 * ```ts
 * await using tunnel = new Processes(notes);
 * const urls = await startTunnel(tunnel, "two", "http://127.0.0.1:8080");
 * ```
 */
export async function startTunnel(procs: Processes, layout: Layout, direct: string): Promise<Urls> {
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

/**
 * Starts the architecture's floor (`floor_tunnel.ts`: server and agent, two
 * processes) in `procs` for the backend at `direct`.
 *
 * @example
 * ```ts
 * await using floor = new Processes(notes);
 * const urls = await startFloor(floor, "http://127.0.0.1:8080");
 * ```
 */
export async function startFloor(procs: Processes, direct: string): Promise<Urls> {
  const ready = await procs.start("floor server", { script: FLOOR, args: ["server"], env: {} });
  const port = ready.port as number;
  const caFile = ready.caFile as string;
  await procs.start("floor agent", {
    script: FLOOR,
    args: ["agent"],
    env: { BENCH_TARGET: direct, BENCH_PORT: String(port), BENCH_CA_FILE: caFile },
  });
  await sanityCheck(port, caFile, "Floor");
  return { direct, tunnel: `https://127.0.0.1:${port}`, caFile };
}
