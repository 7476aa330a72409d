/**
 * An end-to-end test world on loopback: a real server (TLS, certificates made
 * for the test), real agents, real backends, a client, and the access log,
 * all in this process and all released by `close()`.
 *
 * @module
 */

import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { makeCertificates } from "../../shared/tls/self_signed.ts";
import { parseServerConfig } from "../../server/config.ts";
import { parseAgentConfig, parseAgentDomain } from "../../agent/config.ts";
import { type ServerHandle, startServer } from "../../server/server.ts";
import { type AgentHandle, startAgent } from "../../agent/agent.ts";
import type { AccessEntry } from "../../shared/log/setup.ts";
import { AGENT_PATH } from "../../shared/protocol.ts";
import { generateToken, hashToken } from "../../shared/auth/token.ts";

/** The agent path every test server uses. */
export { AGENT_PATH };

/** Fast agent timing for tests. */
const TUNING = {
  keepAliveInterval: 2000,
  pingTimeout: 2000,
  backoffMin: 50,
  backoffMax: 300,
  backoffReset: 5000,
  dialTimeout: 3000,
  watchDebounce: 30,
};

/** A backend on 127.0.0.1. */
export interface Backend {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Stops it. */
  close(): Promise<void>;
}

/** Options of {@linkcode World.agent}. */
export interface AgentSpec {
  /** Domains: name → agent domain file body (JSONC object; `remote` and `caFile` are filled in). */
  domains?: Record<string, Record<string, unknown>>;
  /**
   * The agent's own identity (`name`, `secret`), and any other keys of the
   * agent's main file (`forward`, …); `remote` and `caFile` are filled in.
   */
  identity?: { name: string; secret?: string } & Record<string, unknown>;
}

/** Options of {@linkcode World.operator}. */
export interface OperatorSpec {
  /** Agent selectors. Default `["*"]`. */
  agents?: string[];
  /** Channel kinds. Default `["forward", "udp", "socks"]`. */
  kinds?: string[];
  /** Client networks. Default: anywhere. */
  networks?: string[];
}

/** Bounded polling for a condition the system reaches asynchronously. */
export async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > ms) {
      throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A running test world. */
export class World {
  /** Temporary folder holding certificates and config files. */
  readonly dir: string;
  /** Test CA (PEM) and the path of its file. */
  readonly caCert: string;
  /** Path of the CA file. */
  readonly caFile: string;
  /** Access log entries, in order. */
  readonly access: AccessEntry[] = [];
  /** Client trusting the test CA, allowed to set Host. */
  readonly client: Deno.HttpClient;
  #server: ServerHandle | null = null;
  #port = 0;
  #serverText: string;
  readonly #agents: AgentHandle[] = [];
  readonly #backends: Backend[] = [];

  private constructor(dir: string, caCert: string, serverText: string) {
    this.dir = dir;
    this.caCert = caCert;
    this.caFile = join(dir, "ca.pem");
    this.#serverText = serverText;
    this.client = Deno.createHttpClient({ caCerts: [caCert], allowHost: true });
  }

  /**
   * Makes certificates (a CA; a leaf for 127.0.0.1, localhost and `*.test`;
   * a second leaf for `other.example` used by the SNI test), writes the server
   * config and starts the server. `server` adds keys to the server's main file.
   */
  static async create(server: Record<string, unknown> = {}): Promise<World> {
    const dir = await Deno.makeTempDir({ prefix: "burrow-e2e-" });
    const main = await makeCertificates({ hostnames: ["127.0.0.1", "localhost", "*.test"] });
    const other = await makeCertificates({ hostnames: ["other.example"] });
    await Deno.writeTextFile(join(dir, "ca.pem"), main.caCert);
    await Deno.writeTextFile(join(dir, "cert.pem"), main.cert);
    await Deno.writeTextFile(join(dir, "key.pem"), main.key);
    await Deno.writeTextFile(join(dir, "other-cert.pem"), other.cert);
    await Deno.writeTextFile(join(dir, "other-key.pem"), other.key);
    await Deno.mkdir(join(dir, "server.d"));
    await Deno.mkdir(join(dir, "agents.d"));
    await Deno.mkdir(join(dir, "operators.d"));
    const text = JSON.stringify({
      mode: "server",
      listen: [{ address: "127.0.0.1:0", sni: true }],
      certificates: [
        { pattern: "other.example", cert: "other-cert.pem", key: "other-key.pem" },
        { pattern: "*", cert: "cert.pem", key: "key.pem" },
      ],
      domains: "server.d",
      agentFiles: "agents.d",
      operatorFiles: "operators.d",
      log: { level: "error" },
      ...server,
    });
    const world = new World(dir, main.caCert, text);
    await world.startServer();
    return world;
  }

  /** The server's port. */
  get port(): number {
    return this.#port;
  }

  /** The running server. */
  get server(): ServerHandle {
    if (this.#server === null) throw new Error("Server is stopped");
    return this.#server;
  }

  /** Starts the server (again), on the same port after the first start. */
  async startServer(): Promise<void> {
    const config = parseServerConfig(join(this.dir, "server.jsonc"), this.#serverText);
    if (this.#port !== 0) config.listen[0]!.port = this.#port;
    this.#server = await startServer(config, {
      system: getLogger(["burrow-test", "server"]),
      access: (entry) => this.access.push(entry),
    });
    this.#port = this.#server.addrs[0]!.port;
  }

  /** Stops the server (agents stay and retry). */
  async stopServer(): Promise<void> {
    await this.#server?.close();
    this.#server = null;
  }

  /** Writes a server domain file and waits until the server has it (when it runs). */
  async domain(name: string, body: Record<string, unknown>): Promise<void> {
    const before = this.#server?.domains.get(name);
    await Deno.writeTextFile(join(this.dir, "server.d", `${name}.jsonc`), JSON.stringify(body));
    const server = this.#server;
    if (server !== null) {
      await until(`domain ${name} to load`, () => {
        const now = server.domains.get(name);
        return now !== undefined && now !== before;
      });
    }
  }

  /**
   * Writes the server's `agents.d/<name>.jsonc` (`body`: `secret`, `groups`,
   * `networks`) and waits until the server has it (when it runs).
   */
  async agentFile(name: string, body: Record<string, unknown>): Promise<void> {
    const before = this.#server?.access.agent(name);
    await Deno.writeTextFile(join(this.dir, "agents.d", `${name}.jsonc`), JSON.stringify(body));
    const server = this.#server;
    if (server === null) return;
    await until(`agent file ${name} to load`, () => {
      const now = server.access.agent(name);
      return now !== undefined && now !== before;
    });
  }

  /**
   * Writes the server's `operators.d/<name>.jsonc` with a new token's hash and
   * resolves with the token, once the server has the file (when it runs).
   */
  async operator(name: string, spec: OperatorSpec = {}): Promise<string> {
    const token = generateToken();
    const before = this.#server?.access.operator(name);
    const body = {
      token: hashToken(token),
      agents: spec.agents ?? ["*"],
      kinds: spec.kinds ?? ["forward", "udp", "socks"],
      ...(spec.networks && { networks: spec.networks }),
    };
    await Deno.writeTextFile(join(this.dir, "operators.d", `${name}.jsonc`), JSON.stringify(body));
    const server = this.#server;
    if (server !== null) {
      await until(`operator file ${name} to load`, () => {
        const now = server.access.operator(name);
        return now !== undefined && now !== before;
      });
    }
    return token;
  }

  /** Removes a server domain file and waits until the server dropped it. */
  async removeDomain(name: string): Promise<void> {
    await Deno.remove(join(this.dir, "server.d", `${name}.jsonc`));
    const server = this.server;
    await until(`domain ${name} to be removed`, () => server.domains.get(name) === undefined);
  }

  /**
   * Starts an agent serving `spec.domains` through this server. When `wait`
   * is true (default), resolves once every domain is registered.
   */
  async agent(spec: AgentSpec, wait = true): Promise<AgentHandle> {
    const main = spec.identity === undefined ? { mode: "agent" } : {
      mode: "agent",
      remote: `127.0.0.1:${this.#port}`,
      caFile: this.caFile,
      ...spec.identity,
    };
    const config = parseAgentConfig(join(this.dir, "agent.jsonc"), JSON.stringify(main));
    const domains = Object.entries(spec.domains ?? {}).map(([name, body]) =>
      parseAgentDomain(
        join(this.dir, `${name}.jsonc`),
        JSON.stringify({
          active: true,
          remote: `127.0.0.1:${this.#port}`,
          caFile: this.caFile,
          ...body,
        }),
      )
    );
    const agent = await startAgent(config, {
      domains,
      log: getLogger(["burrow-test", "agent"]),
      tuning: TUNING,
    });
    this.#agents.push(agent);
    if (wait) {
      await until("agent registrations", () => agent.status().every((s) => s.registered));
      if (spec.identity !== undefined) {
        await until("agent identity", () => agent.identity()?.identified === true);
      }
    }
    return agent;
  }

  /** Starts a backend on 127.0.0.1 with `handler`. */
  backend(handler: Deno.ServeHandler<Deno.NetAddr>): Backend {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    const backend = {
      url: `http://127.0.0.1:${server.addr.port}`,
      close: () => server.shutdown(),
    };
    this.#backends.push(backend);
    return backend;
  }

  /** A client request to the server for `domain` (Host header; no SNI, as the address is an IP). */
  fetch(domain: string, path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("host", domain);
    return fetch(`https://127.0.0.1:${this.#port}${path}`, {
      ...init,
      headers,
      client: this.client,
    });
  }

  /** The last access log entry for `domain`. */
  lastAccess(domain: string): AccessEntry | undefined {
    return this.access.findLast((e) => e.domain === domain);
  }

  /** Stops agents, the server and backends, and removes the folder. */
  async close(): Promise<void> {
    for (const a of this.#agents) await a.close();
    await this.#server?.close();
    for (const b of this.#backends) await b.close();
    this.client.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}
