/**
 * The tunnel of the HTTP benchmark: the server and the agent in two processes,
 * as deployed, or both in one process for comparison. The first argument picks
 * the role; each prints one JSON line on stdout once ready.
 *
 * - `server`: TLS on 127.0.0.1:0 with a certificate made for this run, and a
 *   domain file for `BENCH_DOMAIN` (default `bench.test`) with a fresh secret.
 *   Prints `{"port":N,"caFile":"…","secret":"…"}` once listening.
 * - `agent`: exposes `BENCH_DOMAIN` with `BENCH_TARGET` (the backend URL) as
 *   its target, registering with the server on 127.0.0.1:`BENCH_PORT`, which
 *   it trusts through `BENCH_CA_FILE`, with `BENCH_SECRET`. Prints
 *   `{"agent":"<id>"}` once registered.
 * - `both`: the server and an agent for `BENCH_TARGET` in this one process, so
 *   one JavaScript thread does the work of both. Prints
 *   `{"port":N,"caFile":"…"}` once the agent is registered.
 *
 * Both sides allow 1000 concurrent requests on the domain. Logging stays
 * unconfigured, so silent. SIGTERM (or SIGINT) stops what runs, agent first,
 * and removes the temp folder.
 *
 * @module
 */

import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { parseServerConfig } from "../server/config.ts";
import { type ServerHandle, startServer } from "../server/server.ts";
import { parseAgentConfig, parseAgentDomain } from "../agent/config.ts";
import { type AgentHandle, startAgent } from "../agent/agent.ts";

const CONCURRENCY = 1000;
const ROLES = ["server", "agent", "both"] as const;
type Role = typeof ROLES[number];

function parseRole(arg: string | undefined): Role {
  const role = ROLES.find((r) => r === arg);
  if (role === undefined) {
    throw new TypeError(`Unknown role ${JSON.stringify(arg)}: expected server, agent or both`);
  }
  return role;
}

function env(name: string): string {
  const value = Deno.env.get(name);
  if (value === undefined) throw new TypeError(`${name} must be set for this role`);
  return value;
}

/** Resolves once `agent` is registered for all its domains; throws with its status after 10 s. */
async function registration(agent: AgentHandle): Promise<void> {
  const done = () => {
    const status = agent.status();
    return status.length > 0 && status.every((s) => s.registered);
  };
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!done()) {
    throw new Error(`Agent not registered after 10 s: ${JSON.stringify(agent.status())}`);
  }
}

/** A server started in `dir`, with what an agent needs to reach it. */
interface BenchServer {
  server: ServerHandle;
  caFile: string;
  secret: string;
}

/** Writes a certificate and the domain file into `dir`, then starts the server from there. */
async function startBenchServer(dir: string, domain: string): Promise<BenchServer> {
  const certs = await makeCertificates({ hostnames: ["127.0.0.1", "localhost"] });
  const caFile = join(dir, "ca.pem");
  await Deno.writeTextFile(caFile, certs.caCert);
  await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
  await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
  const secret = crypto.randomUUID();
  await Deno.mkdir(join(dir, "server.d"));
  await Deno.writeTextFile(
    join(dir, "server.d", `${domain}.jsonc`),
    JSON.stringify({ active: true, secret, concurrency: CONCURRENCY }),
  );
  const config = parseServerConfig(
    join(dir, "server.jsonc"),
    JSON.stringify({
      mode: "server",
      listen: [{ address: "127.0.0.1:0", cert: "cert.pem", key: "key.pem" }],
      domains: "server.d",
    }),
  );
  const server = await startServer(config, {
    system: getLogger(["burrow-bench", "server"]),
    access: () => {},
  });
  return { server, caFile, secret };
}

/** Where the agent finds the server, and what it exposes. */
interface AgentOptions {
  domain: string;
  target: string;
  port: number;
  caFile: string;
  secret: string;
}

/** Starts an agent for one domain; its config files are never read (absolute `caFile`). */
function startBenchAgent(opts: AgentOptions): Promise<AgentHandle> {
  return startAgent(parseAgentConfig("bench-agent.jsonc", '{ "mode": "agent" }'), {
    domains: [parseAgentDomain(
      `${opts.domain}.jsonc`,
      JSON.stringify({
        active: true,
        secret: opts.secret,
        concurrency: CONCURRENCY,
        remote: `127.0.0.1:${opts.port}`,
        caFile: opts.caFile,
        targets: [{ target: opts.target }],
      }),
    )],
    log: getLogger(["burrow-bench", "agent"]),
  });
}

/**
 * Starts what `role` runs and resolves with its ready line. Each thing started
 * puts its stop at the front of `stops`, so running them in order undoes the
 * start in reverse: agent, then server, then the temp folder.
 */
async function start(
  role: Role,
  domain: string,
  stops: (() => Promise<void>)[],
): Promise<Record<string, unknown>> {
  if (role === "agent") {
    const agent = await startBenchAgent({
      domain,
      target: env("BENCH_TARGET"),
      port: Number(env("BENCH_PORT")),
      caFile: env("BENCH_CA_FILE"),
      secret: env("BENCH_SECRET"),
    });
    stops.unshift(() => agent.close());
    await registration(agent);
    return { agent: agent.id };
  }
  const target = role === "both" ? env("BENCH_TARGET") : "";
  const dir = await Deno.makeTempDir({ prefix: "burrow-bench-" });
  stops.unshift(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  const { server, caFile, secret } = await startBenchServer(dir, domain);
  stops.unshift(() => server.close());
  const port = server.addrs[0]!.port;
  if (role === "server") return { port, caFile, secret };
  const agent = await startBenchAgent({ domain, target, port, caFile, secret });
  stops.unshift(() => agent.close());
  await registration(agent);
  return { port, caFile };
}

const role = parseRole(Deno.args[0]);
const domain = Deno.env.get("BENCH_DOMAIN") ?? "bench.test";

// SIGTERM from the bench; SIGINT when Ctrl-C reaches the whole process group.
const SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT"];
const stopped = Promise.withResolvers<void>();
const onSignal = () => stopped.resolve();
for (const s of SIGNALS) Deno.addSignalListener(s, onSignal);

const stops: (() => Promise<void>)[] = [];
try {
  console.log(JSON.stringify(await start(role, domain, stops)));
  await stopped.promise;
} finally {
  for (const s of SIGNALS) Deno.removeSignalListener(s, onSignal);
  for (const stop of stops) await stop();
}
