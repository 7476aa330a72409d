/**
 * `burrow demo`: a working tunnel on loopback with no configuration. Starts
 * a server (certificate made for this run), an agent, and a small web app the
 * agent exposes; prints how to reach it; Ctrl-C stops everything.
 *
 * @module
 */

import { join } from "node:path";
import { parseFlags, runWithUsage } from "./usage.ts";
import { waitForShutdown } from "./signals.ts";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { setupLogging } from "../shared/log/setup.ts";
import { parseServerConfig } from "../server/config.ts";
import { startServer } from "../server/server.ts";
import { parseAgentConfig, parseAgentDomain } from "../agent/config.ts";
import { startAgent } from "../agent/agent.ts";
import { startDemoApp } from "../demo/app.ts";
import { startTcpEcho, startUdpEcho } from "../demo/echo.ts";
import { generateToken, hashToken } from "../shared/auth/token.ts";
import { selfCommand, shellLine } from "./self_command.ts";

/** Port the demo server listens on unless `--port` says otherwise. */
export const DEFAULT_DEMO_PORT = 8443;

/** Usage text of `burrow demo`. */
export const DEMO_USAGE = `Usage: burrow demo [options]

Run a complete tunnel on this machine: a server on 127.0.0.1, an agent, and a
demo web app (a page, a WebSocket echo, a Server-Sent Events clock) exposed
through it as https://localhost:<port>/; plus an agent identity, an operator
token and TCP/UDP echo services, with the burrow forward / socks / agents
command lines that reach them through the agent. Nothing to configure;
Ctrl-C stops it.

Options:
  --port <n>   Server port (default: ${DEFAULT_DEMO_PORT}; 0 picks a free one)
  -h, --help   Show this help`;

/**
 * Runs `burrow demo` and resolves to the exit code once it was stopped.
 *
 * @example
 * ```ts
 * Deno.exitCode = await demoCommand(["--port", "0"]);
 * ```
 */
export async function demoCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
    const flags = parseFlags(args, {
      options: { port: { type: "string" }, help: { type: "boolean", short: "h" } },
      usage: DEMO_USAGE,
    });
    if (flags.help) {
      console.log(DEMO_USAGE);
      return 0;
    }
    const port = Number(flags.port ?? DEFAULT_DEMO_PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`burrow demo: --port must be a port number, got "${flags.port}"`);
      return 2;
    }
    return await runDemo(port);
  });
}

async function runDemo(port: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-demo-" });
  const logging = await setupLogging({
    level: "info",
    system: [{ type: "console" }],
    access: [{ type: "console" }],
    unavailable: true,
  }, { role: "demo" });
  const app = startDemoApp();
  const tcpEcho = startTcpEcho();
  const stops: (() => Promise<void>)[] = [() => app.close(), () => tcpEcho.close()];
  const udpEcho = await startUdpEcho();
  stops.push(() => udpEcho.close());
  try {
    const certs = await makeCertificates({ hostnames: ["localhost", "127.0.0.1", "::1"] });
    await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
    await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
    await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
    const secret = crypto.randomUUID();
    await Deno.mkdir(join(dir, "server.d"));
    await Deno.writeTextFile(
      join(dir, "server.d", "localhost.jsonc"),
      JSON.stringify({ active: true, secret, concurrency: 200 }),
    );
    // The support-team half: the agent's identity, an operator token allowed everything.
    const agentSecret = crypto.randomUUID();
    const token = generateToken();
    await Deno.mkdir(join(dir, "agents.d"));
    await Deno.mkdir(join(dir, "operators.d"));
    await Deno.writeTextFile(
      join(dir, "agents.d", "demo.jsonc"),
      JSON.stringify({ secret: agentSecret, groups: ["demo"] }),
    );
    await Deno.writeTextFile(
      join(dir, "operators.d", "demo.jsonc"),
      JSON.stringify({
        token: hashToken(token),
        agents: ["*"],
        kinds: ["forward", "udp", "socks", "admin"],
      }),
    );
    await Deno.writeTextFile(join(dir, "operator.token"), `${token}\n`, { mode: 0o600 });
    const serverConfig = parseServerConfig(
      join(dir, "server.jsonc"),
      JSON.stringify({
        mode: "server",
        listen: [{ address: `127.0.0.1:${port}`, cert: "cert.pem", key: "key.pem" }],
        domains: "server.d",
        agentFiles: "agents.d",
        operatorFiles: "operators.d",
      }),
    );
    let server;
    try {
      server = await startServer(serverConfig, logging);
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        console.error(`burrow demo: port ${port} is taken; try --port 0`);
        return 1;
      }
      throw e;
    }
    stops.unshift(() => server.close());
    const bound = server.addrs[0]!.port;
    const agentConfig = parseAgentConfig(
      join(dir, "agent.jsonc"),
      JSON.stringify({
        mode: "agent",
        name: "demo",
        secret: agentSecret,
        remote: `127.0.0.1:${bound}`,
        caFile: join(dir, "ca.pem"),
      }),
    );
    await Deno.writeTextFile(
      join(dir, "operator.jsonc"),
      JSON.stringify({
        server: `https://localhost:${bound}`,
        tokenFile: join(dir, "operator.token"),
        caFile: join(dir, "ca.pem"),
      }),
    );
    const domain = parseAgentDomain(
      join(dir, "localhost.jsonc"),
      JSON.stringify({
        active: true,
        secret,
        concurrency: 200,
        remote: `127.0.0.1:${bound}`,
        caFile: join(dir, "ca.pem"),
        targets: [{ target: `http://127.0.0.1:${app.addr.port}` }],
      }),
    );
    const agent = await startAgent(agentConfig, { domains: [domain], log: logging.system });
    stops.unshift(() => agent.close());
    await waitUntilRegistered(() =>
      agent.status().every((s) => s.registered) && agent.identity()?.identified === true
    );
    const url = `https://localhost:${bound}/`;
    const burrow = [...selfCommand()];
    const operator = ["--config", join(dir, "operator.jsonc")];
    const [tcpPort, udpPort, socksPort] = await freePorts(3);
    const line = (...words: string[]) => shellLine([...burrow, ...words]);
    console.log(`
Burrow demo is running: server on 127.0.0.1:${bound}, agent "demo", a demo app on 127.0.0.1:${app.addr.port},
a TCP echo on 127.0.0.1:${tcpEcho.port} and a UDP echo on 127.0.0.1:${udpEcho.port} (reachable only through the agent's forwards).

Expose a web app (HTTPS tunnel):
  Open      ${url}   (certificate made for this run: the browser will warn)
  Or run    curl --cacert ${join(dir, "ca.pem")} ${url}
  Also      ${url}events (Server-Sent Events), wss://localhost:${bound}/ws (WebSocket echo)

Reach the agent's network (operator token in ${
      join(dir, "operator.token")
    }), each in another terminal:
  Forward   ${line("forward", ...operator, "demo", `${tcpPort}:127.0.0.1:${tcpEcho.port}`)}
            then: nc 127.0.0.1 ${tcpPort}   (type a line, the echo answers)
  UDP       ${line("forward", "--udp", ...operator, "demo", `${udpPort}:127.0.0.1:${udpEcho.port}`)}
            then: nc -u 127.0.0.1 ${udpPort}
  SOCKS     ${line("socks", ...operator, "demo", `${socksPort}`)}
            then: curl --socks5-hostname 127.0.0.1:${socksPort} http://127.0.0.1:${app.addr.port}/
  Agents    ${line("agents", ...operator)}
  Audit     ${line("sessions", ...operator)}

Press Ctrl-C to stop.
`);
    await waitForShutdown();
    logging.system.info("Stopping the demo");
    return 0;
  } finally {
    for (const stop of stops) await stop();
    await logging.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** `n` distinct ports free on 127.0.0.1 now (each bound and released). */
async function freePorts(n: number): Promise<number[]> {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => l.addr.port);
  for (const l of listeners) l.close();
  await Promise.resolve();
  return ports;
}

async function waitUntilRegistered(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!done()) throw new Error("The demo agent did not register within 10 s");
}
