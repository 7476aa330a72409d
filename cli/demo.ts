/**
 * `burrow demo`: a working tunnel on loopback with no configuration. Starts
 * a server (certificate made for this run), an agent, and a small web app the
 * agent exposes; prints how to reach it; Ctrl-C stops everything.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { join } from "node:path";
import { parseFlags, runWithUsage } from "./usage.ts";
import { waitForShutdown } from "./signals.ts";
import { setupLogging } from "../shared/log/setup.ts";
import { parseServerConfig } from "../server/config.ts";
import { startServer } from "../server/server.ts";
import { parseAgentConfig, parseAgentDomain } from "../agent/config.ts";
import { startAgent } from "../agent/agent.ts";
import { startDemoApp } from "../demo/app.ts";
import { startTcpEcho, startUdpEcho } from "../demo/echo.ts";
import { keptDemoDir, prepareDemoFiles } from "./demo_files.ts";
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
  --port <n>        Server port (default: ${DEFAULT_DEMO_PORT}; 0 picks a free one)
  --ports-from <n>  Use ports n to n+5 for the demo app, the TCP and UDP echoes and
                    the local ports of the printed forward, UDP and SOCKS lines
                    (default: free ports picked at random)
  --dir <folder>    Keep the demo's files (CA and certificate, secrets, operator
                    token) in this folder and reuse them on the next run, instead
                    of a temporary folder removed at exit
  -h, --help        Show this help

With a fixed --port, --ports-from and --dir, a restarted demo prints the same
lines and they keep working: \`deno task dev\` runs it so, under --watch.`;

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
      options: {
        port: { type: "string" },
        "ports-from": { type: "string" },
        dir: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
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
    const from = flags["ports-from"];
    const portsFrom = from === undefined ? undefined : Number(from);
    if (
      portsFrom !== undefined &&
      !(/^\d+$/.test(from!) && portsFrom >= 1 && portsFrom <= 65535 - (DEMO_PORT_COUNT - 1))
    ) {
      console.error(
        `burrow demo: --ports-from must be a port from 1 to ${
          65536 - DEMO_PORT_COUNT
        }, got "${from}"`,
      );
      return 2;
    }
    try {
      return await runDemo(port, { portsFrom, dir: flags.dir });
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
      console.error(`burrow demo: a port from --ports-from ${from} is taken (${e.message})`);
      return 1;
    }
  });
}

/** What `runDemo` was asked for besides the server port. */
interface DemoOptions {
  /** First of the {@link DEMO_PORT_COUNT} fixed ports, or undefined for free ones. */
  portsFrom?: number;
  /** The folder to keep the demo's files in, or undefined for a temporary one. */
  dir?: string;
}

/** How many ports the demo uses besides the server's: app, two echoes, three printed local ports. */
export const DEMO_PORT_COUNT = 6;

/** The demo's ports from `portsFrom` on, or 0 for each (the printed ones are picked later). */
function demoPorts(portsFrom: number | undefined) {
  const [app, tcpEcho, udpEcho, tcp, udp, socks] = portsFrom === undefined
    ? [0, 0, 0, 0, 0, 0]
    : Array.from({ length: DEMO_PORT_COUNT }, (_, i) => portsFrom + i);
  return { app: app!, tcpEcho: tcpEcho!, udpEcho: udpEcho!, tcp: tcp!, udp: udp!, socks: socks! };
}

async function runDemo(port: number, options: DemoOptions): Promise<number> {
  const keep = options.dir !== undefined;
  const dir = keep
    ? await keptDemoDir(options.dir!)
    : await Deno.makeTempDir({ prefix: "burrow-demo-" });
  const logging = await setupLogging({
    level: "info",
    system: [{ type: "console" }],
    access: [{ type: "console" }],
    unavailable: true,
  }, { role: "demo" });
  const ports = demoPorts(options.portsFrom);
  const stops: (() => Promise<void>)[] = [];
  try {
    const app = startDemoApp(ports.app);
    stops.push(() => app.close());
    const tcpEcho = startTcpEcho(ports.tcpEcho);
    stops.push(() => tcpEcho.close());
    const udpEcho = await startUdpEcho(ports.udpEcho);
    stops.push(() => udpEcho.close());
    const { secret, agentSecret } = await prepareDemoFiles(dir, { keep });
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
    // Flags, not --config operator.jsonc: flags outrank BURROW_SERVER, BURROW_TOKEN and
    // BURROW_CA_FILE, which outrank a config file, so the lines work in a shell where
    // the user's own server is exported.
    const operator = [
      "--server",
      `https://localhost:${bound}`,
      "--token-file",
      join(dir, "operator.token"),
      "--ca-file",
      join(dir, "ca.pem"),
    ];
    // The printed lines' local ports, picked once the demo's own listeners are bound:
    // picked before, a released port could come back as the server's or the app's
    // port 0, and the printed forward then failed with "Address already in use".
    const [tcpPort, socksPort, udpPort] = options.portsFrom === undefined
      ? [...await freePorts(2), await freeUdpPort()]
      : [ports.tcp, ports.socks, ports.udp];
    const line = (...words: string[]) => shellLine([...burrow, ...words]);
    console.log(`
Burrow demo is running: server on 127.0.0.1:${bound}, agent "demo", a demo app on 127.0.0.1:${app.addr.port},
a TCP echo on 127.0.0.1:${tcpEcho.port} and a UDP echo on 127.0.0.1:${udpEcho.port} (reachable only through the agent's forwards).

Expose a web app (HTTPS tunnel):
  Open      ${url}   (certificate made for this run: the browser will warn)
  Or run    ${shellLine(["curl", "--cacert", join(dir, "ca.pem"), url])}
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
  Sessions  ${line("sessions", ...operator)}

Press Ctrl-C to stop.
`);
    await waitForShutdown();
    logging.system.info("Stopping the demo");
    return 0;
  } finally {
    for (const stop of stops) await stop();
    await logging.close();
    if (!keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
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

/** A UDP port free on 127.0.0.1 now (bound and released). */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function waitUntilRegistered(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!done()) throw new Error("The demo agent did not register within 10 s");
}
