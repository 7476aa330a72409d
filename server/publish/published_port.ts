/**
 * One published port at run time: a TCP listener whose clients are carried,
 * each over its own channel, to the entry's target through its agent.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { connChannel, EarlySplice, muxChannel, splice } from "../../shared/forward/splice.ts";
import type { OpenChannel } from "../agent_directory.ts";
import { WindowLog } from "../agent_gate.ts";
import { acceptLoop, closeQuietly } from "../../shared/net/accept_loop.ts";
import { describePublish, formatAddress, type PublishEntry } from "./publish_config.ts";

/** Counters of one published port, since it started listening. */
export interface PublishedPortStats {
  /** Client connections accepted by the listener. */
  accepted: number;
  /** Connections open now (opening or carrying bytes). */
  live: number;
  /** Clients closed at once: their address is outside `clients`. */
  refusedClients: number;
  /** Clients closed at once: `maxConnections` were open. */
  refusedLimit: number;
  /** Clients closed at once: the agent was offline or refused the target. */
  failed: number;
  /** Connections carried to the target (the agent answered OK). */
  carried: number;
}

/** What a {@linkcode PublishedPort} needs besides its entry. */
export interface PublishedPortOptions {
  /** Opens a channel through an agent (`startServer` wires the server's own). */
  openChannel: OpenChannel;
  /** System log. */
  log: Logger;
}

/**
 * Listens on an entry's address and carries each client to its target:
 * a client outside `clients`, over `maxConnections`, or whose channel the
 * agent cannot open (offline, refused) is closed at once and logged (once
 * per window per port); the others are spliced to the agent's stream, with
 * half-close both ways and backpressure end to end.
 *
 * @example
 * ```ts
 * const port = PublishedPort.listen(entry, { openChannel, log });
 * console.log(port.addr.port);
 * await port.close(); // listener and live connections closed, all awaited
 * ```
 */
export class PublishedPort {
  /** The entry it serves. */
  readonly entry: PublishEntry;
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.TcpListener;
  readonly #options: PublishedPortOptions;
  readonly #shutdown = new AbortController();
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #stats: PublishedPortStats = {
    accepted: 0,
    live: 0,
    refusedClients: 0,
    refusedLimit: 0,
    failed: 0,
    carried: 0,
  };
  readonly #refused: WindowLog;
  readonly #overLimit: WindowLog;
  readonly #failures: WindowLog;
  readonly #acceptErrors: WindowLog;
  readonly #loop: Promise<void>;
  #closing: Promise<void> | null = null;

  private constructor(
    entry: PublishEntry,
    listener: Deno.TcpListener,
    options: PublishedPortOptions,
  ) {
    this.entry = entry;
    this.#listener = listener;
    this.addr = listener.addr;
    this.#options = options;
    const { log } = options;
    this.#refused = new WindowLog(log, `client(s) of ${entry.key} refused (outside clients)`);
    this.#overLimit = new WindowLog(log, `client(s) of ${entry.key} refused (maxConnections)`);
    this.#failures = new WindowLog(log, `client(s) of ${entry.key} closed (no channel)`);
    this.#acceptErrors = new WindowLog(log, `failed accept(s) on ${entry.key}`);
    this.#loop = this.#accept();
  }

  /**
   * Binds the entry's address and starts accepting.
   *
   * @throws {Deno.errors.AddrInUse} (or another OS error) when it cannot bind.
   */
  static listen(entry: PublishEntry, options: PublishedPortOptions): PublishedPort {
    const listener = Deno.listen({
      hostname: entry.listen.hostname,
      port: entry.listen.port,
      transport: "tcp",
    });
    const port = new PublishedPort(entry, listener, options);
    options.log.info("Published port {addr}: {entry}", {
      addr: formatAddress(port.addr),
      entry: describePublish(entry),
    });
    return port;
  }

  /** A copy of the counters. */
  get stats(): PublishedPortStats {
    return { ...this.#stats, live: this.#conns.size };
  }

  /** Stops listening, closes every live connection, and resolves once all are gone. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#shutdown.abort();
      try {
        this.#listener.close();
      } catch {
        // Closed already.
      }
      for (const conn of this.#conns) closeQuietly(conn);
      await this.#loop;
      while (this.#tasks.size > 0) await Promise.all(this.#tasks);
    })();
    return this.#closing;
  }

  /**
   * Accepts until closed. A failed accept (out of file descriptors, a
   * connection aborted before it was taken) is logged once per window and
   * retried shortly (`shared/net/accept_loop.ts`), so the port does not go deaf.
   */
  #accept(): Promise<void> {
    return acceptLoop(this.#listener, {
      signal: this.#shutdown.signal,
      onError: (e) =>
        this.#acceptErrors.note(`Published port ${this.entry.key}: accept failed: ${e.message}`),
      onConn: (conn) => {
        this.#stats.accepted++;
        const task = this.#serve(conn).catch((e) => {
          this.#options.log.error("Published port {addr}: connection failed: {error}", {
            addr: this.entry.key,
            error: e instanceof Error ? e.stack ?? e.message : String(e),
          });
        });
        this.#tasks.add(task);
        task.finally(() => this.#tasks.delete(task));
      },
    });
  }

  /** Admits, opens and carries one client connection; closes it in every case. */
  async #serve(conn: Deno.TcpConn): Promise<void> {
    const { entry } = this;
    const remote = conn.remoteAddr;
    const source = formatAddress(remote);
    if (entry.clients !== null && !entry.clients.contains(remote.hostname)) {
      this.#stats.refusedClients++;
      closeQuietly(conn);
      this.#refused.note(`Published port ${entry.key}: client ${source} refused: outside clients`);
      return;
    }
    if (this.#conns.size >= entry.maxConnections) {
      this.#stats.refusedLimit++;
      closeQuietly(conn);
      this.#overLimit.note(
        `Published port ${entry.key}: client ${source} refused: ${entry.maxConnections} connections open (maxConnections)`,
      );
      return;
    }
    this.#conns.add(conn);
    try {
      await this.#carry(conn, source);
    } finally {
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }

  /** Opens the channel for `conn` and splices the two until both ends are done. */
  async #carry(conn: Deno.TcpConn, source: string): Promise<void> {
    const { entry } = this;
    const signal = this.#shutdown.signal;
    conn.setNoDelay(true);
    const request = {
      agent: entry.agent,
      kind: "published" as const,
      host: entry.target.hostname,
      port: entry.target.port,
      operator: "",
      source,
    };
    // The splice starts with the open request, before the agent's answer (EarlySplice).
    const early = new EarlySplice((remote) => [connChannel(conn), remote], signal);
    let opened: Awaited<ReturnType<OpenChannel>>;
    try {
      opened = await this.#options.openChannel(request, signal, early.onOpen);
    } catch (e) {
      opened = { ok: false, code: "open-failed", message: (e as Error).message };
    }
    const carrying = early.settle(opened.ok);
    if (!opened.ok) {
      await carrying;
      if (signal.aborted) return;
      this.#stats.failed++;
      this.#failures.note(
        `Published port ${entry.key}: client ${source} closed: ${opened.message} (${opened.code})`,
      );
      return;
    }
    this.#stats.carried++;
    const result = await carrying ??
      await splice(connChannel(conn), muxChannel(opened.stream), signal);
    const bytes = { up: result.aToB, down: result.bToA };
    if (result.aborted) opened.end("failed", bytes, signal.aborted ? "server closing" : "aborted");
    else opened.end("ok", bytes);
  }
}
