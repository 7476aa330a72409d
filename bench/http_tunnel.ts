/**
 * The tunnel of the HTTP benchmark in its own process: a server (TLS,
 * certificate made for this run, 127.0.0.1:0) and one agent exposing
 * `BENCH_DOMAIN` (default `bench.test`) with `BENCH_TARGET` as its target.
 * Both sides allow 1000 concurrent requests on the domain. Logging stays
 * unconfigured, so silent. Prints `{"port":N,"caFile":"…"}` on one line once
 * the agent is registered; SIGTERM (or SIGINT) stops both and removes the temp folder.
 *
 * @module
 */

import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { parseServerConfig } from "../server/config.ts";
import { startServer } from "../server/server.ts";
import { parseAgentConfig, parseAgentDomain } from "../agent/config.ts";
import { startAgent } from "../agent/agent.ts";

const target = Deno.env.get("BENCH_TARGET");
if (target === undefined) throw new TypeError("BENCH_TARGET must be the backend URL");
const domain = Deno.env.get("BENCH_DOMAIN") ?? "bench.test";
const CONCURRENCY = 1000;

async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!done()) throw new Error(`Timed out after 10 s waiting for ${what}`);
}

// SIGTERM from the bench; SIGINT when Ctrl-C reaches the whole process group.
const SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT"];
const stopped = Promise.withResolvers<void>();
const onSignal = () => stopped.resolve();
for (const s of SIGNALS) Deno.addSignalListener(s, onSignal);

const dir = await Deno.makeTempDir({ prefix: "burrow-bench-" });
const stops: (() => Promise<void>)[] = [];
try {
  const certs = await makeCertificates({ hostnames: ["127.0.0.1", "localhost"] });
  await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
  await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
  await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
  const secret = crypto.randomUUID();
  await Deno.mkdir(join(dir, "server.d"));
  await Deno.writeTextFile(
    join(dir, "server.d", `${domain}.jsonc`),
    JSON.stringify({ active: true, secret, concurrency: CONCURRENCY }),
  );
  const serverConfig = parseServerConfig(
    join(dir, "server.jsonc"),
    JSON.stringify({
      mode: "server",
      listen: [{ address: "127.0.0.1:0", cert: "cert.pem", key: "key.pem" }],
      domains: "server.d",
    }),
  );
  const server = await startServer(serverConfig, {
    system: getLogger(["burrow-bench", "server"]),
    access: () => {},
  });
  stops.unshift(() => server.close());
  const port = server.addrs[0]!.port;
  const agent = await startAgent(
    parseAgentConfig(join(dir, "agent.jsonc"), '{ "mode": "agent" }'),
    {
      domains: [parseAgentDomain(
        join(dir, `${domain}.jsonc`),
        JSON.stringify({
          active: true,
          secret,
          concurrency: CONCURRENCY,
          remote: `127.0.0.1:${port}`,
          caFile: join(dir, "ca.pem"),
          targets: [{ target }],
        }),
      )],
      log: getLogger(["burrow-bench", "agent"]),
    },
  );
  stops.unshift(() => agent.close());
  await until("the agent to register", () => agent.status().every((s) => s.registered));
  console.log(JSON.stringify({ port, caFile: join(dir, "ca.pem") }));
  await stopped.promise;
} finally {
  for (const s of SIGNALS) Deno.removeSignalListener(s, onSignal);
  for (const stop of stops) await stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
