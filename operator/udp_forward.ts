/**
 * `burrow forward --udp`: a local UDP socket whose every source address
 * (`ip:port` of a local client) gets its own UdpForward stream
 * `{ agent, host, port }` on the operator session, so the agent's replies
 * go back to the source that asked. A flow quiet for the idle time is
 * closed; the number of flows is bounded; datagrams that find a flow's queue
 * full are dropped, as a full network queue would.
 *
 * Uses `node:dgram`: `Deno.listenDatagram` needs `--unstable-net` in Deno 2.9.6.
 *
 * @module
 */

import type { RemoteInfo, Socket } from "node:dgram";
import { openUdpForward, type UdpFlow } from "../shared/forward/open.ts";
import { formatHostPort } from "../shared/forward/target.ts";
import type { SessionSource } from "./link.ts";
import { describeForward, type ForwardSpec } from "./spec.ts";
import { ForwardStats } from "./stats.ts";

/** Default {@linkcode UdpForwarderOptions.idleTimeout}: 60 s. */
export const DEFAULT_UDP_IDLE = 60_000;
/** Default {@linkcode UdpForwarderOptions.maxFlows}. */
export const DEFAULT_UDP_FLOWS = 256;
/** Most bytes of datagrams one flow holds while its stream opens or its window is full. */
const MAX_FLOW_QUEUE = 256 * 1024;

/** Options of {@linkcode UdpForwarder.listen}. */
export interface UdpForwarderOptions {
  /** Where streams are opened. */
  link: SessionSource;
  /** The agent's name. */
  agent: string;
  /** The local socket and the target. */
  spec: ForwardSpec;
  /** Told one line per flow that failed, and when the flow limit is reached. */
  report: (line: string) => void;
  /** A flow with no datagram either way for this long (ms) is closed. Default 60,000. */
  idleTimeout?: number;
  /** Most flows (local sources) at once; datagrams from more sources are dropped. Default 256. */
  maxFlows?: number;
}

/** One local source and its stream. */
interface Flow {
  source: string;
  address: string;
  port: number;
  /** The stream once open. */
  udp: UdpFlow | null;
  /** Datagrams waiting for the stream to open or for `send()` to finish. */
  queue: Uint8Array[];
  queued: number;
  sending: boolean;
  lastActive: number;
  ended: boolean;
  /** When the flow was ended with a FIN (the agent's FIN is awaited), or -1. */
  finAt: number;
}

/**
 * One `--udp [BIND:]PORT:HOST:PORT` forward.
 *
 * @example
 * ```ts
 * const dns = await UdpForwarder.listen({ link, agent: "db1", spec: parseForwardSpec("5353:127.0.0.1:53"), report });
 * // dig @127.0.0.1 -p 5353 example.internal
 * await dns.close();
 * ```
 */
export class UdpForwarder {
  /** Counters: `open` and `total` count flows, `up`/`down` datagram bytes. */
  readonly stats: ForwardStats;
  /** Datagrams dropped (flow limit, full queue, failed flow). */
  dropped = 0;
  readonly #socket: Socket;
  readonly #options: UdpForwarderOptions;
  readonly #idle: number;
  readonly #flows = new Map<string, Flow>();
  /** Every flow whose task runs, expired ones waiting for the agent's FIN included. */
  readonly #live = new Set<Flow>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #full = false;
  #closed = false;

  private constructor(socket: Socket, options: UdpForwarderOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#idle = options.idleTimeout ?? DEFAULT_UDP_IDLE;
    this.stats = new ForwardStats(
      `udp ${describeForward(options.agent, { ...options.spec, port: this.addr.port })}`,
    );
    socket.on(
      "message",
      (datagram: Uint8Array, from: RemoteInfo) => this.#fromLocal(datagram, from),
    );
    socket.on("error", () => this.dropped++);
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(50, Math.min(1000, this.#idle / 4)));
  }

  /**
   * Binds the local UDP socket and starts forwarding.
   *
   * @throws {Error} (`EADDRINUSE`, ...) when it cannot be bound.
   */
  static async listen(options: UdpForwarderOptions): Promise<UdpForwarder> {
    const { createSocket } = await import("node:dgram");
    const socket = createSocket({ type: options.spec.bind.includes(":") ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(options.spec.port, options.spec.bind, () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch(async (e) => {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      throw e;
    });
    return new UdpForwarder(socket, options);
  }

  /** The local address bound. */
  get addr(): { address: string; port: number } {
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  /** `udp 127.0.0.1:5353 -> db1 127.0.0.1:53`. */
  get description(): string {
    return this.stats.label;
  }

  /** Flows open now. */
  get flows(): number {
    return this.#flows.size;
  }

  /** Closes the socket and every flow (RST), and waits for them. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearInterval(this.#sweeper);
      for (const flow of this.#live) this.#end(flow, true);
      await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    }
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #fromLocal(datagram: Uint8Array, from: RemoteInfo): void {
    if (this.#closed) return;
    const source = formatHostPort(from.address, from.port);
    let flow = this.#flows.get(source);
    if (flow === undefined) {
      const max = this.#options.maxFlows ?? DEFAULT_UDP_FLOWS;
      if (this.#flows.size >= max) {
        this.dropped++;
        if (!this.#full) {
          this.#full = true;
          this.#options.report(
            `${this.description}: ${max} flows open, dropping datagrams from new sources like ${source}`,
          );
        }
        return;
      }
      flow = this.#open(source, from);
    }
    flow.lastActive = performance.now();
    if (flow.queued + datagram.length > MAX_FLOW_QUEUE) {
      this.dropped++;
      return;
    }
    flow.queue.push(datagram);
    flow.queued += datagram.length;
    this.#pump(flow);
  }

  #open(source: string, from: RemoteInfo): Flow {
    const flow: Flow = {
      source,
      address: from.address,
      port: from.port,
      udp: null,
      queue: [],
      queued: 0,
      sending: false,
      lastActive: performance.now(),
      ended: false,
      finAt: -1,
    };
    this.#flows.set(source, flow);
    this.#live.add(flow);
    this.stats.open++;
    this.stats.total++;
    this.#track(this.#run(flow));
    return flow;
  }

  /** Opens the flow's stream, then relays the target's datagrams to the source until it ends. */
  async #run(flow: Flow): Promise<void> {
    const { link, agent, spec } = this.#options;
    try {
      try {
        flow.udp = await openUdpForward(await link.session(), spec.host, spec.targetPort, {
          params: { agent },
        });
      } catch (e) {
        this.stats.failed++;
        this.dropped += flow.queue.length;
        if (!this.#closed) {
          this.#options.report(
            `${this.description} (from ${flow.source}): ${(e as Error).message}`,
          );
        }
        return;
      }
      if (flow.ended) {
        flow.udp.reset();
        return;
      }
      this.#pump(flow);
      for (let d = await flow.udp.receive(); d !== null; d = await flow.udp.receive()) {
        flow.lastActive = performance.now();
        this.stats.down += d.length;
        if (!this.#closed) this.#socket.send(d.slice(), flow.port, flow.address);
      }
    } catch {
      // Reset (the session went away, or we closed): the flow is over.
    } finally {
      this.#end(flow, false);
      this.#live.delete(flow);
      this.stats.open--;
    }
  }

  /** Sends the flow's queued datagrams, one at a time (each waits for the stream's window). */
  async #pump(flow: Flow): Promise<void> {
    if (flow.sending || flow.udp === null || flow.ended) return;
    flow.sending = true;
    try {
      while (flow.queue.length > 0 && !flow.ended) {
        const datagram = flow.queue.shift()!;
        await flow.udp.send(datagram);
        flow.queued -= datagram.length;
        this.stats.up += datagram.length;
      }
    } catch {
      this.#end(flow, true);
    } finally {
      flow.sending = false;
    }
  }

  /** Closes flows quiet for the idle time: FIN, so the agent closes its socket too. */
  #sweep(): void {
    const now = performance.now();
    for (const flow of this.#flows.values()) {
      if (now - flow.lastActive >= this.#idle) this.#end(flow, false);
    }
    // An agent that never answers our FIN with its own would keep the stream for good.
    for (const flow of this.#live) {
      if (flow.finAt >= 0 && now - flow.finAt >= this.#idle) this.#end(flow, true);
    }
    if (this.#flows.size < (this.#options.maxFlows ?? DEFAULT_UDP_FLOWS)) this.#full = false;
  }

  /** Forgets the flow (its source starts a new one) and ends its stream: FIN, or RST with `reset`. */
  #end(flow: Flow, reset: boolean): void {
    if (this.#flows.get(flow.source) === flow) this.#flows.delete(flow.source);
    if (flow.ended) {
      if (reset) {
        flow.finAt = -1;
        flow.udp?.reset();
      }
      return;
    }
    flow.ended = true;
    this.dropped += flow.queue.length;
    flow.queue = [];
    flow.queued = 0;
    try {
      if (reset) flow.udp?.reset();
      else {
        flow.udp?.close();
        flow.finAt = performance.now();
      }
    } catch {
      // The stream is gone already.
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }
}
