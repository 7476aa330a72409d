/**
 * `burrow socks` (`ssh -D`): a local SOCKS5 server whose every CONNECT
 * becomes a TcpForward stream `{ agent, host, port, kind: "socks" }` on the
 * operator session. Names go to the agent unresolved; the agent's answer
 * becomes the SOCKS reply code (and one line for the operator when it is a
 * refusal).
 *
 * @module
 */

import { formatHostPort } from "../shared/forward/target.ts";
import { openTcpForward } from "../shared/forward/open.ts";
import { connChannel, muxChannel, splice } from "../shared/forward/splice.ts";
import type { SessionSource } from "./link.ts";
import {
  encodeSocksReply,
  readSocksRequest,
  SocksError,
  SocksReply,
  socksReplyFor,
  type SocksRequest,
  writeAll,
} from "./socks5.ts";
import type { ListenSpec } from "./spec.ts";
import { countWrites, ForwardStats } from "./stats.ts";
import { TcpFront } from "./tcp_front.ts";

/** Default {@linkcode SocksServerOptions.handshakeTimeout}: 10 s. */
export const SOCKS_HANDSHAKE_TIMEOUT = 10_000;

/** Options of {@linkcode SocksServer.listen}. */
export interface SocksServerOptions {
  /** Where streams are opened. */
  link: SessionSource;
  /** The agent's name. */
  agent: string;
  /** Where to listen. */
  spec: ListenSpec;
  /** Told one line per connection that failed. */
  report: (line: string) => void;
  /** Milliseconds a client has for its greeting and request. Default 10,000. */
  handshakeTimeout?: number;
  /** Milliseconds to wait for the open reply (after the agent's dial). Default 30,000. */
  openTimeout?: number;
}

/**
 * A SOCKS5 front end to one agent.
 *
 * @example
 * ```ts
 * const socks = SocksServer.listen({ link, agent: "db1", spec: parseListenSpec("1080"), report: console.error });
 * // curl --socks5-hostname 127.0.0.1:1080 http://intranet.lan/
 * await socks.close();
 * ```
 */
export class SocksServer {
  /** Counters, labelled `socks 127.0.0.1:1080 -> db1`. */
  readonly stats: ForwardStats;
  readonly #front: TcpFront;
  readonly #options: SocksServerOptions;

  private constructor(options: SocksServerOptions) {
    this.#options = options;
    this.stats = new ForwardStats("");
    this.#front = TcpFront.listen(options.spec, (conn, signal) => this.#handle(conn, signal));
    this.stats.label = `socks ${
      formatHostPort(options.spec.bind, this.#front.addr.port)
    } -> ${options.agent}`;
  }

  /**
   * Binds the local address and starts serving.
   *
   * @throws {Deno.errors.AddrInUse} and the like when it cannot be bound.
   */
  static listen(options: SocksServerOptions): SocksServer {
    return new SocksServer(options);
  }

  /** The local address bound. */
  get addr(): Deno.NetAddr {
    return this.#front.addr;
  }

  /** Stops listening and ends every connection. */
  close(): Promise<void> {
    return this.#front.close();
  }

  async #handle(conn: Deno.TcpConn, signal: AbortSignal): Promise<void> {
    const { stats } = this;
    const options = this.#options;
    const request = await this.#handshake(conn);
    if (request === null) return;
    const where = `${stats.label} ${formatHostPort(request.host, request.port)}`;
    stats.open++;
    stats.total++;
    try {
      let forward;
      try {
        forward = await openTcpForward(await options.link.session(), request.host, request.port, {
          params: { agent: options.agent, kind: "socks" },
          ...(options.openTimeout === undefined ? {} : { timeout: options.openTimeout }),
        });
      } catch (e) {
        stats.failed++;
        const code = (e as { code?: unknown }).code;
        await writeAll(conn, encodeSocksReply(socksReplyFor(typeof code === "string" ? code : "")))
          .catch(() => {});
        if (!signal.aborted) options.report(`${where}: ${(e as Error).message}`);
        return;
      }
      try {
        await writeAll(conn, encodeSocksReply(SocksReply.Succeeded));
        if (request.early.length > 0) await forward.stream.write(request.early);
        stats.up += request.early.length;
      } catch {
        forward.stream.reset();
        return;
      }
      await splice(
        countWrites(muxChannel(forward.stream), (n) => stats.up += n),
        countWrites(connChannel(conn), (n) => stats.down += n),
        signal,
      );
    } finally {
      stats.open--;
    }
  }

  /** Reads the request within the time bound; answers and reports a bad one; null then. */
  async #handshake(conn: Deno.TcpConn): Promise<SocksRequest | null> {
    const timeout = this.#options.handshakeTimeout ?? SOCKS_HANDSHAKE_TIMEOUT;
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }, timeout);
    try {
      return await readSocksRequest(conn);
    } catch (e) {
      if (late) {
        this.#options.report(
          `${this.stats.label}: a client sent no SOCKS5 request within ${timeout} ms`,
        );
      } else if (e instanceof SocksError) {
        if (e.reply !== null) await writeAll(conn, encodeSocksReply(e.reply)).catch(() => {});
        this.#options.report(`${this.stats.label}: ${e.message}`);
      }
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
