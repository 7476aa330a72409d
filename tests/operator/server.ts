/**
 * A stand-in operator endpoint for the operator client's tests: a TLS
 * `Deno.serve` on 127.0.0.1 that checks the bearer token and the
 * subprotocol as the real server does (401, 403, 426), runs a server-side
 * mux session per operator, and serves TcpForward/UdpForward streams with
 * the agent's real forward handlers (`agent/forward/`), so the client runs
 * against real forward code with one wss hop instead of two.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import { Allowlist } from "../../agent/forward/allowlist.ts";
import type { Lookup } from "../../agent/forward/dial.ts";
import { createTcpForwardHandler } from "../../agent/forward/tcp.ts";
import { createUdpForwardHandler } from "../../agent/forward/udp.ts";
import { Session } from "../../shared/mux/mod.ts";
import { type Params, serveStream, type StreamHandler, StreamKind } from "../../shared/open/mod.ts";
import { OPERATOR_PATH, SUBPROTOCOL } from "../../shared/protocol.ts";
import { type Certificates, makeCertificates } from "../../shared/tls/self_signed.ts";
import { fromWebSocket } from "../../shared/transport/websocket.ts";
import type { OperatorSettings } from "../../operator/settings.ts";

/** Options of {@linkcode TestOperatorServer.start}. */
export interface TestServerOptions {
  /** The token operators must present. Default "test-token". */
  token?: string;
  /** The agent's allowlist. Default loopback. */
  allow?: string[];
  /** UDP idle timeout of the agent's side, ms. Default 60,000. */
  udpIdle?: number;
  /** The agent's name resolver. */
  lookup?: Lookup;
  /** Answer every upgrade with 403 and this body. */
  forbid?: string;
  /** Answer every upgrade with this status instead (503, 426, ...). */
  status?: number;
  /** Serves UdpForward streams instead of the agent's handler (a misbehaving agent). */
  udpHandler?: StreamHandler;
}

let certificates: Promise<Certificates> | undefined;
function testCertificates(): Promise<Certificates> {
  certificates ??= makeCertificates({ hostnames: ["127.0.0.1"] });
  return certificates;
}

/** The stand-in server. */
export class TestOperatorServer {
  /** `wss://127.0.0.1:<port>` (no path: the client adds it). */
  readonly url: string;
  /** File holding the CA certificate. */
  readonly caFile: string;
  /** The token it accepts. */
  readonly token: string;
  /** Open params of every forward stream, in order. */
  readonly opened: Params[] = [];
  /** Server-side sessions, in order. */
  readonly sessions: Session[] = [];
  /** Upgrade attempts refused (401/403/426). */
  refusals = 0;

  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #dir: string;
  readonly #shutdown = new AbortController();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #sockets = new Set<WebSocket>();
  #handlers: Map<number, StreamHandler> = new Map();

  private constructor(server: Deno.HttpServer<Deno.NetAddr>, dir: string, token: string) {
    this.#server = server;
    this.#dir = dir;
    this.caFile = join(dir, "ca.pem");
    this.token = token;
    this.url = `wss://127.0.0.1:${server.addr.port}`;
  }

  /** Starts the server on 127.0.0.1, any free port. */
  static async start(options: TestServerOptions = {}): Promise<TestOperatorServer> {
    const { caCert, cert, key } = await testCertificates();
    const dir = await Deno.makeTempDir({ prefix: "burrow-operator-test-" });
    await Deno.writeTextFile(join(dir, "ca.pem"), caCert);
    const token = options.token ?? "test-token";
    const ref: { self?: TestOperatorServer } = {};
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
      (req) => ref.self!.#serve(req, options),
    );
    const self = new TestOperatorServer(server, dir, token);
    ref.self = self;
    const common = {
      allowlist: new Allowlist(options.allow),
      connectTimeout: 2000,
      log: getLogger(["test", "operator"]),
      signal: self.#shutdown.signal,
      ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    };
    // The real server strips nothing either: the agent's handlers read host and port only.
    const record = (handler: StreamHandler): StreamHandler => (incoming) => {
      self.opened.push(incoming.params);
      return handler(incoming);
    };
    self.#handlers = new Map([
      [StreamKind.TcpForward, record(createTcpForwardHandler(common))],
      [
        StreamKind.UdpForward,
        record(
          options.udpHandler ??
            createUdpForwardHandler({ ...common, idleTimeout: options.udpIdle ?? 60_000 }),
        ),
      ],
    ]);
    return self;
  }

  /** Settings that reach this server with its token and CA. */
  settings(overrides: Partial<OperatorSettings> = {}): OperatorSettings {
    return {
      server: new URL(`${this.url}${OPERATOR_PATH}`),
      token: this.token,
      caFile: this.caFile,
      insecure: false,
      ...overrides,
    };
  }

  /** Ends every operator session from the server's side (a server restart, a dropped link). */
  async dropSessions(): Promise<void> {
    for (const ws of this.#sockets) ws.close(1001, "going away");
    await Promise.all(this.sessions.map((s) => s.close()));
  }

  /** Stops serving; closes sessions, sockets and forwards; removes the CA file. */
  async close(): Promise<void> {
    this.#shutdown.abort();
    await Promise.all(this.sessions.map((s) => s.close()));
    for (const ws of this.#sockets) ws.close();
    await this.#server.shutdown();
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    await Deno.remove(this.#dir, { recursive: true });
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #serve(req: Request, options: TestServerOptions): Response {
    if (new URL(req.url).pathname !== OPERATOR_PATH || req.headers.get("upgrade") !== "websocket") {
      return new Response("not here\n", { status: 404 });
    }
    if (req.headers.get("authorization") !== `Bearer ${this.token}`) {
      this.refusals++;
      return new Response("unauthorized\n", { status: 401 });
    }
    if (options.status !== undefined) {
      this.refusals++;
      return new Response("refused\n", { status: options.status });
    }
    if (options.forbid !== undefined) {
      this.refusals++;
      return new Response(`${options.forbid}\n`, { status: 403 });
    }
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(/,\s*/);
    if (!offered.includes(SUBPROTOCOL)) {
      this.refusals++;
      return new Response("upgrade required\n", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: SUBPROTOCOL });
    this.#sockets.add(socket);
    socket.addEventListener("close", () => this.#sockets.delete(socket));
    this.#track(this.#run(socket));
    return response;
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #run(socket: WebSocket): Promise<void> {
    const session = new Session(await fromWebSocket(socket), {
      client: false,
      foldFlags: true,
      enableKeepAlive: false,
    });
    this.sessions.push(session);
    for (let s = await session.accept(); s !== null; s = await session.accept()) {
      this.#track(serveStream(s, this.#handlers));
    }
    await session.closed;
  }
}
