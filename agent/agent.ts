/**
 * The agent role as a library: `startAgent(config, options)` connects the
 * active domains to their servers (one connection per server, TLS settings
 * and service path, carrying all the domains that share them) and proxies
 * the requests that come back to local backends; `close()` stops it all.
 *
 * @module
 */

import { Http1Pool } from "./http1/pool.ts";
import type { Logger } from "@logtape/logtape";
import type { AgentConfig, AgentDomain, AgentIdentityConfig } from "./config_types.ts";
import { Connection, type DomainStatus } from "./connection.ts";
import { type ConnectionTuning, DEFAULT_TUNING } from "./connection_tuning.ts";
import { DomainFolder } from "./domains_watch.ts";
import { createHttpHandler } from "./http.ts";
import type { ServedDomain } from "./served_domain.ts";
import { DOWN_FOR_MS, Router } from "./router.ts";
import { type StreamHandler, StreamKind } from "../shared/open/mod.ts";
import { forwardHandlers } from "./forward/handlers.ts";
import { VERSION } from "../shared/version.ts";
import type { ConfigReload } from "../shared/config/config_reload.ts";

export type { DomainStatus } from "./connection.ts";

/** Timing of an agent, in ms. Tests shorten it; production uses the defaults. */
export interface AgentTuning extends ConnectionTuning {
  /** How long a backend URL that refused a connection is avoided. Default 5 s. */
  downFor: number;
  /** Quiet time before domain folder changes are applied. Default 100 ms. */
  watchDebounce: number;
}

/** Options of {@linkcode startAgent}. */
export interface StartAgentOptions {
  /**
   * The domains to serve, or `"watch"` to load the `*.jsonc` files of
   * `config.domains` and follow their changes. Inactive domains are ignored.
   */
  domains: readonly AgentDomain[] | "watch";
  /**
   * Domains served whatever the folder holds (given on the command line);
   * one of them replaces a folder domain of the same name. Default none.
   */
  pinned?: readonly AgentDomain[];
  /** System log (the agent forks a scope per server). */
  log: Logger;
  /** Timing overrides. */
  tuning?: Partial<AgentTuning>;
}

/** A running agent. */
export interface AgentHandle {
  /** Random id of this agent, sent with its registrations. */
  readonly id: string;
  /** Per active domain: connected, registered, last error. */
  status(): DomainStatus[];
  /** The agent's own identity: its name, whether the server holds it, the last error; null when none is configured. */
  identity(): { name: string; identified: boolean; lastError: string | null } | null;
  /** Streams the agent is serving now (requests, relays) over all its servers; registrations not counted. */
  serving(): number;
  /**
   * Applies a new domain set, touching only what changed: unchanged domains
   * keep their registration, removed or deactivated ones end it (FIN), ones
   * whose secret changed register again, and routing changes apply to the
   * next request. Resolves once connections left without domains are closed.
   */
  reload(domains: readonly AgentDomain[]): Promise<void>;
  /**
   * Re-reads the domain folder now (SIGHUP, `systemctl reload`), as its
   * watcher does on a change; the main file is read at start only.
   */
  reloadConfig(): Promise<ConfigReload>;
  /**
   * Stops the agent: the folder watcher, every registration (FIN) and session
   * (GoAway), in-flight backend requests (aborted), timers, and the HTTP
   * client. Resolves when all of it is released. Safe to call twice.
   */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts an agent. With `domains: "watch"` it fails (and releases what it
 * opened) when a domain file is invalid.
 *
 * @throws {ConfigError} for an invalid domain file at start in watch mode.
 * @example
 * ```ts
 * const agent = await startAgent(config, { domains: "watch", log: logging.system });
 * agent.status(); // [{ domain: "app.example.com", connected: true, registered: true, … }]
 * await agent.close();
 * ```
 */
export async function startAgent(
  config: AgentConfig,
  options: StartAgentOptions,
): Promise<AgentHandle> {
  const { reconnect } = config;
  const tuning: AgentTuning = {
    ...DEFAULT_TUNING,
    backoffFastMax: reconnect.fastMax,
    backoffFastFor: reconnect.fastFor,
    backoffMax: reconnect.max,
    dialTimeout: reconnect.dialTimeout,
    downFor: DOWN_FOR_MS,
    watchDebounce: 100,
    ...options.tuning,
  };
  const agent = new Agent(config, options.log, tuning);
  const pinned = options.pinned ?? [];
  const withPinned = (domains: readonly AgentDomain[]) => [
    ...domains.filter((d) => !pinned.some((p) => p.name === d.name)),
    ...pinned,
  ];
  if (options.domains !== "watch") {
    await agent.reload(withPinned(options.domains));
  } else if (config.domains === null) {
    await agent.reload(pinned); // an identity (and command-line domains) only
  } else {
    const folder = new DomainFolder(config.domains, options.log, { mainFile: config.file });
    try {
      await agent.reload(withPinned(await folder.load()));
    } catch (e) {
      await agent.close();
      throw e;
    }
    folder.watch((domains) => agent.reload(withPinned(domains)), {
      debounceMs: tuning.watchDebounce,
    });
    agent.folder = folder;
  }
  options.log.info("Agent {id} started: {domains} active domain(s), {servers} server(s)", {
    id: agent.id,
    domains: agent.status().length,
    servers: agent.servers,
  });
  return agent;
}

class Agent implements AgentHandle {
  readonly id: string = crypto.randomUUID().slice(0, 8);
  /** The domain folder being watched, in watch mode. */
  folder: DomainFolder | null = null;
  readonly #log: Logger;
  readonly #tuning: AgentTuning;
  readonly #client = Deno.createHttpClient({ allowHost: true });
  readonly #pool: Http1Pool;
  readonly #shutdown = new AbortController();
  readonly #served = new Map<string, ServedDomain>();
  readonly #connections = new Map<string, Connection>();
  readonly #warnedInsecure = new Set<string>();
  readonly #handlers: ReadonlyMap<number, StreamHandler>;
  readonly #identity: AgentIdentityConfig | null;
  #closed: Promise<void> | null = null;

  constructor(config: AgentConfig, log: Logger, tuning: AgentTuning) {
    this.#log = log;
    this.#identity = config.identity;
    this.#tuning = tuning;
    this.#pool = new Http1Pool({ connectTimeout: config.connectTimeout });
    this.#handlers = new Map([
      [
        StreamKind.Http,
        createHttpHandler({
          lookup: (name) => this.#served.get(name),
          client: this.#client,
          pool: this.#pool,
          timeouts: config,
          log,
          signal: this.#shutdown.signal,
        }),
      ],
      ...forwardHandlers(config, log, this.#shutdown.signal),
    ]);
  }

  get servers(): number {
    return this.#connections.size;
  }

  status(): DomainStatus[] {
    return [...this.#connections.values()].flatMap((c) => c.status());
  }

  identity(): { name: string; identified: boolean; lastError: string | null } | null {
    if (this.#identity === null) return null;
    const held = this.#connections.get(identityKey(this.#identity))?.identityStatus() ?? null;
    return held ?? { name: this.#identity.name, identified: false, lastError: null };
  }

  serving(): number {
    let n = 0;
    for (const c of this.#connections.values()) n += c.serving;
    return n;
  }

  async reload(domains: readonly AgentDomain[]): Promise<void> {
    if (this.#shutdown.signal.aborted) return;
    const active = new Map<string, AgentDomain>();
    for (const d of domains) if (d.active) active.set(d.name, d);
    this.#updateServed(active);
    const groups = new Map<string, AgentDomain[]>();
    for (const d of active.values()) {
      const key = groupKey(d);
      groups.set(key, [...groups.get(key) ?? [], d]);
      if (d.insecure && !this.#warnedInsecure.has(d.name)) {
        this.#warnedInsecure.add(d.name);
        this.#log.warn(
          "INSECURE: {domain} connects to {remote} WITHOUT checking the server's certificate; " +
            "anyone on the path can read its traffic and steal its secret. Set caFile instead.",
          { domain: d.name, remote: d.remote },
        );
      }
    }
    // The identity rides on the connection of the domains that share its server, or its own.
    const identity = this.#identity;
    if (identity !== null && !groups.has(identityKey(identity))) {
      groups.set(identityKey(identity), []);
    }
    const closing: Promise<void>[] = [];
    for (const [key, connection] of this.#connections) {
      const group = groups.get(key);
      if (group !== undefined) connection.update(group);
      else {
        this.#connections.delete(key);
        closing.push(connection.close());
      }
    }
    for (const [key, group] of groups) {
      if (this.#connections.has(key)) continue;
      const carriesIdentity = identity !== null && identityKey(identity) === key;
      this.#connections.set(key, this.#connect(group, carriesIdentity ? identity : null));
    }
    await Promise.all(closing);
  }

  async reloadConfig(): Promise<ConfigReload> {
    const r = await this.folder?.rescan() ?? { changed: [], rejected: 0 };
    return {
      changed: r.changed.map((name) => `domain ${name}`),
      rejected: r.rejected,
      restart: [],
    };
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    await this.folder?.close();
    this.#shutdown.abort();
    await Promise.all([...this.#connections.values()].map((c) => c.close()));
    this.#connections.clear();
    this.#client.close();
    await this.#pool.close();
    this.#log.info("Agent {id} stopped", { id: this.id });
  }

  /** Keeps routing state (and in-flight counts) of domains whose routing did not change. */
  #updateServed(active: Map<string, AgentDomain>): void {
    for (const name of this.#served.keys()) {
      if (!active.has(name)) this.#served.delete(name);
    }
    for (const [name, domain] of active) {
      const served = this.#served.get(name);
      if (served === undefined) {
        this.#served.set(name, { domain, router: this.#router(domain), active: 0 });
        continue;
      }
      if (routingKey(served.domain) !== routingKey(domain)) served.router = this.#router(domain);
      served.domain = domain;
    }
  }

  #router(domain: AgentDomain): Router {
    return new Router(domain.targets, { downFor: this.#tuning.downFor });
  }

  #connect(group: AgentDomain[], identity: AgentIdentityConfig | null): Connection {
    const first: ServerPlace = group[0] ?? identity!;
    // A certificate identity has a connection of its own, the mux directly over TLS.
    const url = identity?.certificate
      ? `tls://${identity.remote}`
      : `wss://${first.remote}${first.service}`;
    if (identity !== null && identity.insecure && group.length === 0) {
      this.#log.warn(
        "INSECURE: identity {name} connects to {remote} WITHOUT checking the server's certificate; " +
          "anyone on the path can read its traffic and steal its secret. Set caFile instead.",
        { name: identity.name, remote: identity.remote },
      );
    }
    return new Connection({
      url,
      insecure: first.insecure,
      caFile: first.caFile,
      identity,
      agent: { id: this.id, version: VERSION, host: hostname() },
      handlers: this.#handlers,
      log: this.#log.getChild(first.remote),
      tuning: this.#tuning,
    }, group);
  }
}

/**
 * The identity's connection key: its domains' group, or a key of its own
 * for a certificate identity (domains never ride on that connection).
 */
function identityKey(identity: AgentIdentityConfig): string {
  if (!identity.certificate) return groupKey(identity);
  const { certFile, keyFile } = identity.certificate;
  return JSON.stringify(["certificate", identity.remote, identity.caFile, certFile, keyFile]);
}

/** Where a domain or the identity connects to. */
type ServerPlace = Pick<AgentDomain, "remote" | "service" | "insecure" | "caFile">;

/** Domains (and the identity) with the same key share one connection. */
function groupKey(d: ServerPlace): string {
  return JSON.stringify([d.remote, d.service, d.insecure, d.caFile]);
}

/** Everything that routing depends on; a change rebuilds the domain's router. */
function routingKey(d: AgentDomain): string {
  return JSON.stringify(d.targets.map((t) => [
    t.name,
    t.method?.toString() ?? null,
    t.path?.toString() ?? null,
    t.host,
    t.urls.map((u) => [u.url.href, u.weight]),
  ]));
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
