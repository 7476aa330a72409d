/**
 * `burrow forward`'s TCP side (`ssh -L`): a local listener whose every
 * connection becomes a TcpForward stream `{ agent, host, port }` on the
 * operator session. The agent's (or the server's) refusal is told as one
 * line and closes that connection; an accepted one is spliced both ways.
 *
 * @module
 */

import { openTcpForward } from "../shared/forward/open.ts";
import { connChannel, EarlySplice } from "../shared/forward/splice.ts";
import type { SessionSource } from "./link.ts";
import { describeForward, type ForwardSpec } from "./spec.ts";
import { countWrites, ForwardStats } from "./stats.ts";
import { TcpFront } from "./tcp_front.ts";

/** Options of {@linkcode TcpForwarder.listen}. */
export interface TcpForwarderOptions {
  /** Where streams are opened. */
  link: SessionSource;
  /** The agent's name. */
  agent: string;
  /** The listener and the target. */
  spec: ForwardSpec;
  /** Told one line per connection that failed. */
  report: (line: string) => void;
  /** Milliseconds to wait for the open reply (after the agent's dial). Default 30,000. */
  openTimeout?: number;
}

/**
 * One `[BIND:]PORT:HOST:PORT` forward.
 *
 * @example
 * ```ts
 * const forwarder = TcpForwarder.listen({ link, agent: "db1", spec, report: console.error });
 * // ... psql -h 127.0.0.1 -p 15432
 * await forwarder.close();
 * ```
 */
export class TcpForwarder {
  /** Counters, labelled with the forward as described. */
  readonly stats: ForwardStats;
  readonly #front: TcpFront;

  private constructor(options: TcpForwarderOptions) {
    this.stats = new ForwardStats("");
    this.#front = TcpFront.listen(
      options.spec,
      (conn, signal) => this.#handle(conn, signal, options),
    );
    this.stats.label = describeForward(options.agent, {
      ...options.spec,
      port: this.#front.addr.port,
    });
  }

  /**
   * Binds the local address and starts forwarding.
   *
   * @throws {Deno.errors.AddrInUse} and the like when it cannot be bound.
   */
  static listen(options: TcpForwarderOptions): TcpForwarder {
    return new TcpForwarder(options);
  }

  /** The local address bound. */
  get addr(): Deno.NetAddr {
    return this.#front.addr;
  }

  /** `127.0.0.1:15432 -> db1 127.0.0.1:5432`. */
  get description(): string {
    return this.stats.label;
  }

  /** Stops listening and ends every connection (RST to the agent's side). */
  close(): Promise<void> {
    return this.#front.close();
  }

  async #handle(conn: Deno.TcpConn, signal: AbortSignal, options: TcpForwarderOptions) {
    const stats = this.stats;
    stats.open++;
    stats.total++;
    // The splice starts with the open request, before the answer (EarlySplice).
    const early = new EarlySplice((remote) => [
      countWrites(remote, (n) => stats.up += n),
      countWrites(connChannel(conn), (n) => stats.down += n),
    ], signal);
    try {
      try {
        await openTcpForward(
          await options.link.session(),
          options.spec.host,
          options.spec.targetPort,
          {
            params: { agent: options.agent },
            onOpen: early.onOpen,
            ...(options.openTimeout === undefined ? {} : { timeout: options.openTimeout }),
          },
        );
      } catch (e) {
        await early.settle(false);
        stats.failed++;
        if (!signal.aborted) options.report(`forward ${this.description}: ${(e as Error).message}`);
        return;
      }
      await early.settle(true);
    } finally {
      stats.open--;
    }
  }
}
