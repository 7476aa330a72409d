/**
 * The connection janitor: closes client connections that hold a socket
 * without using it, which Deno's HTTP server never does by itself (it has no
 * deadline for a request head, denoland/deno#3515, nor a keep-alive idle
 * timeout, and accepts inside Rust where JavaScript cannot watch).
 *
 * Every fifth of the shorter timeout (1–10 s; less often when the host has
 * thousands of sockets) it lists the
 * listener's established connections from the kernel (`/proc/net/tcp{,6}`,
 * see `shared/platform/tcp_table.ts`) and matches them by peer `host:port` against
 * what the request handler reported ({@link Janitor.wrap}). A connection with no request in flight and no
 * WebSocket upgrade is shut down (libc `shutdown(fd, SHUT_RDWR)`: Deno still
 * owns and closes the descriptor) when it
 * - delivered no request head within `readTimeout` of being first seen: a
 *   silent client, a slow TLS handshake, or a slowloris head. A large head on
 *   a slow link (a mobile client) must arrive within `readTimeout` too
 *   (default 10 s: about 6 KB/s for a 64 KiB head);
 * - or has been idle longer than `idleTimeout` since its last response was
 *   sent (keep-alive), which also ends a slowloris head after a first request.
 *
 * Requests in flight (a long download, a slow upload: the proxy's own
 * timeouts watch those) and upgraded connections (agents, relayed
 * WebSockets) are left alone. Linux only, with `--allow-all` (Deno 2.9
 * reads `/proc/net/tcp` with nothing less: `--allow-read` alone is
 * `NotCapable`); elsewhere {@link Janitor.create} logs once and returns null.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { isPermissionError, openLibc, socketFds } from "../shared/platform/libc.ts";
import { readTcpTable, type TcpConnection } from "../shared/platform/tcp_table.ts";
import { SHUT_RDWR, SHUTDOWN_SYMBOLS } from "../shared/platform/shutdown.ts";
import type { Handler } from "../shared/platform/serve_loop.ts";
import { platform } from "../shared/platform/check.ts";

/** How long a connection may go without a request (ms). */
export interface JanitorTimeouts {
  /** From first sight to the first request head. */
  readTimeout: number;
  /** From the end of a response to the next request head. */
  idleTimeout: number;
}

/** Why a connection was closed: no first request head, or idle after a response. */
export type CloseReason = "head" | "idle";

/**
 * Sweeps run a fifth of the shorter timeout apart, within these bounds (ms):
 * with the default 10 s `readTimeout` a silent connection goes within 12 s.
 */
const SWEEP_INTERVAL = { min: 1000, max: 10_000 };
/**
 * The largest share of a core sweeps may take: with thousands of sockets in
 * the table, sweeps space out to stay under it.
 */
const MAX_SHARE = 0.005;
/**
 * What reading the table costs the kernel (ms): a base and a share per socket
 * listed, measured here (2.8 ms for 600 sockets, 11 ms for 4,600). An
 * estimate, not the read's wall time: the read runs off the JavaScript thread,
 * and its wall time includes the wait for a busy event loop, which spaced
 * sweeps seconds apart under load and let idle connections outlive their
 * timeout.
 */
const READ_COST = { base: 1.5, perSocket: 0.002 };

/**
 * How long after the start of a sweep whose table listed `sockets` the next
 * may start (ms): the read's estimated cost over {@link MAX_SHARE}. Under the
 * 1 s minimum interval up to about 1,750 sockets; 3 s with 6,800 (the table
 * lists every socket of the host, other processes' and TIME_WAIT ones too).
 *
 * @example
 * ```ts
 * import { sweepSpacing } from "./janitor.ts";
 * sweepSpacing(6800); // 3020
 * ```
 */
export function sweepSpacing(sockets: number): number {
  return (READ_COST.base + READ_COST.perSocket * sockets) / MAX_SHARE;
}

/** What the janitor knows of one connection, keyed by its peer `host:port`. */
interface Conn {
  /** Requests started and not yet completed. */
  inflight: number;
  /** True once a request arrived. */
  requested: boolean;
  /** Never closed: upgraded to a WebSocket, or another process's socket. */
  exempt: boolean;
  /** When first seen, or when its last response completed (`performance.now()`). */
  since: number;
}

const log = getLogger(["burrow", "server", "janitor"]);
/** How to release each upgraded connection, by the request that upgraded it ({@link releaseUpgrade}). */
const upgradeReleases = new WeakMap<Request, () => void>();

/**
 * The WebSocket `req` upgraded its connection to is over, but the connection
 * may still be open: Deno has no way to end a server WebSocket whose peer
 * never answers the close frame (seen on Deno 2.9.6: still open after 48 s,
 * the client never read EOF). The connection is no longer exempt, and the
 * janitor of its port shuts it down at its next sweep if it is still there.
 * Nothing happens for a request no janitor saw upgrade.
 *
 * @example
 * ```ts ignore
 * await socketClosed(socket, 1000);
 * if (socket.readyState !== WebSocket.CLOSED) releaseUpgrade(req);
 * ```
 */
export function releaseUpgrade(req: Request): void {
  upgradeReleases.get(req)?.();
}
/** Whether the janitor being unavailable was logged (once per process). */
let unavailableLogged = false;

/** Closes idle and never-used connections of one listening port. */
export class Janitor {
  readonly #timeouts: JanitorTimeouts;
  readonly #libc: Deno.DynamicLibrary<typeof SHUTDOWN_SYMBOLS>;
  readonly #conns = new Map<string, Conn>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** No sweep before this time (`performance.now()`): see {@link MAX_SHARE}. */
  #nextSweep = 0;
  #stopped = false;
  /** The sweep whose table read is in flight, if any. */
  #sweeping: Promise<void> | null = null;
  /** Connections closed so far, by reason. */
  readonly closed: Record<CloseReason, number> = { head: 0, idle: 0 };

  private constructor(
    timeouts: JanitorTimeouts,
    libc: Deno.DynamicLibrary<typeof SHUTDOWN_SYMBOLS>,
  ) {
    this.#timeouts = timeouts;
    this.#libc = libc;
  }

  /**
   * A janitor, or null (logged once) when not on Linux or without the
   * permissions to read `/proc` and call libc.
   *
   * @example
   * ```ts
   * const janitor = Janitor.create({ readTimeout: 10_000, idleTimeout: 60_000 });
   * const server = Deno.serve({ port: 8080 }, janitor?.wrap(handler) ?? handler);
   * janitor?.start(server.addr);
   * ```
   */
  static create(timeouts: JanitorTimeouts): Janitor | null {
    const { libc, tcpTable } = platform();
    if (!libc || !tcpTable) return null; // said once by the platform check
    try {
      if (Deno.build.os !== "linux") throw new Error(`not available on ${Deno.build.os}`);
      Deno.readTextFileSync("/proc/net/tcp");
      return new Janitor(timeouts, openLibc(SHUTDOWN_SYMBOLS));
    } catch (e) {
      if (!unavailableLogged) {
        unavailableLogged = true;
        const why = isPermissionError(e)
          ? "needs --allow-all: Deno reads /proc/net/tcp with nothing less"
          : String(e);
        log.info("Idle and silent client connections stay open (connection janitor: {why})", {
          why,
        });
      }
      return null;
    }
  }

  /**
   * `handler`, reporting each request's start, end and upgrade to this
   * janitor. The handler gets `info` with its getters read once: each read of
   * Deno's `remoteAddr` is a call into Rust.
   */
  wrap(handler: Handler): Handler {
    return (req, info) => {
      const remoteAddr = info.remoteAddr;
      const completed = info.completed;
      const remote = remoteAddr.hostname + ":" + remoteAddr.port;
      this.requestStarted(remote);
      const ended = () => this.requestEnded(remote);
      completed.then(ended, ended);
      const res = handler(req, { remoteAddr, completed });
      if (res instanceof Response) return this.#checkUpgrade(req, remote, res);
      return res.then((r) => this.#checkUpgrade(req, remote, r));
    };
  }

  /** A request arrived from `remote` (`host:port` as in `Deno.NetAddr`). */
  requestStarted(remote: string): void {
    const conn = this.#conns.get(remote);
    if (conn === undefined) {
      this.#conns.set(remote, { inflight: 1, requested: true, exempt: false, since: 0 });
    } else {
      conn.inflight++;
      conn.requested = true;
    }
  }

  /** A response to `remote` was sent in full, or the connection failed. */
  requestEnded(remote: string): void {
    const conn = this.#conns.get(remote);
    if (conn !== undefined && --conn.inflight <= 0) {
      conn.inflight = 0;
      conn.since = performance.now();
    }
  }

  /** The connection from `remote` became a WebSocket: never close it. */
  upgraded(remote: string): void {
    const conn = this.#conns.get(remote);
    if (conn !== undefined) conn.exempt = true;
  }

  /**
   * The WebSocket on the connection from `remote` is over: the connection is
   * no longer exempt and goes at the next sweep (see {@link releaseUpgrade}).
   */
  released(remote: string): void {
    const conn = this.#conns.get(remote);
    if (conn === undefined || !conn.exempt) return;
    conn.exempt = false;
    conn.requested = true;
    conn.inflight = 0;
    conn.since = -Infinity;
  }

  /** Sweeps the connections of `local` until {@link stop}: see {@link SWEEP_INTERVAL}. */
  start(local: Deno.NetAddr): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const { readTimeout, idleTimeout } = this.#timeouts;
    const interval = Math.min(
      SWEEP_INTERVAL.max,
      Math.max(SWEEP_INTERVAL.min, Math.min(readTimeout, idleTimeout) / 5),
    );
    const timer = setInterval(() => {
      const started = performance.now();
      if (started < this.#nextSweep || this.#sweeping !== null) return;
      this.#sweeping = this.#sweep(local).then((sockets) => {
        this.#sweeping = null;
        this.#nextSweep = started + sweepSpacing(sockets);
      });
    }, interval);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops sweeping (waiting for a table read in flight) and releases libc. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#sweeping;
    this.#libc.close();
  }

  #checkUpgrade(req: Request, remote: string, res: Response): Response {
    if (res.status === 101) {
      this.upgraded(remote);
      upgradeReleases.set(req, () => this.released(remote));
    }
    return res;
  }

  /**
   * Reads the table off the JavaScript thread, then decides on the state of
   * each connection as it is once the table is in: a request that started
   * meanwhile keeps its connection, a connection that closed meanwhile has no
   * socket left to shut down ({@link #shutdown} skips it). Resolves to the
   * number of sockets the table listed (0 when the sweep failed).
   */
  async #sweep(local: Deno.NetAddr): Promise<number> {
    try {
      const table = await readTcpTable(local);
      if (!this.#stopped) this.#act(table.connections);
      return table.sockets;
    } catch (e) {
      log.debug("Sweep failed (the table or this process's descriptors unreadable): {error}", {
        error: String(e),
      });
      return 0;
    }
  }

  /** Synchronous, so no request starts or ends between deciding and shutting down. */
  #act(connections: TcpConnection[]): void {
    const now = performance.now();
    const present = new Set<string>();
    const doomed = new Map<number, { remote: string; reason: CloseReason }>();
    for (const { remote, inode } of connections) {
      present.add(remote);
      const conn = this.#conns.get(remote);
      if (conn === undefined) {
        this.#conns.set(remote, { inflight: 0, requested: false, exempt: false, since: now });
      } else if (conn.inflight === 0 && !conn.exempt) {
        const reason = conn.requested ? "idle" : "head";
        const limit = conn.requested ? this.#timeouts.idleTimeout : this.#timeouts.readTimeout;
        if (now - conn.since >= limit) doomed.set(inode, { remote, reason });
      }
    }
    for (const [remote, conn] of this.#conns) {
      if (!present.has(remote) && (conn.inflight === 0 || conn.exempt)) this.#conns.delete(remote);
    }
    if (doomed.size > 0) this.#shutdown(doomed);
  }

  #shutdown(doomed: Map<number, { remote: string; reason: CloseReason }>): void {
    const fds = socketFds(new Set(doomed.keys()));
    for (const [inode, { remote, reason }] of doomed) {
      const fd = fds.get(inode);
      if (fd === undefined) {
        this.#conns.get(remote)!.exempt = true; // another process's socket on the port
        continue;
      }
      this.#conns.delete(remote);
      if (this.#libc.symbols.shutdown(fd, SHUT_RDWR) !== 0) continue; // e.g. reset meanwhile
      this.closed[reason]++;
      log.debug("Closed the connection from {remote}: {why}", {
        remote,
        why: reason === "head"
          ? `no request within readTimeout (${this.#timeouts.readTimeout} ms)`
          : `idle longer than idleTimeout (${this.#timeouts.idleTimeout} ms)`,
      });
    }
  }
}
