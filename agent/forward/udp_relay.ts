/**
 * One UDP flow on the agent: a connected UDP socket per UdpForward stream,
 * datagrams framed on the stream (`shared/forward/datagram.ts`) both ways,
 * expiring after a quiet spell.
 *
 * Bounded both ways: stream → socket sends one datagram at a time and reads
 * the stream only when it was sent (the stream's window holds the rest back);
 * socket → stream cannot push back on the kernel, so datagrams that find
 * `maxQueued` bytes already waiting for the stream's window are dropped, as a
 * full network queue would.
 *
 * @module
 */

import type { Socket } from "node:dgram";
import type { MuxStream } from "../../shared/mux/mod.ts";
import { DatagramDecoder, encodeDatagram } from "../../shared/forward/datagram.ts";

/** What a relay needs. */
export interface UdpRelayOptions {
  /** A flow with no datagram either way for this long (ms) is closed. */
  idleTimeout: number;
  /** Most framed bytes waiting for the stream's window before datagrams are dropped. */
  maxQueued: number;
  /** Aborted when the agent shuts down: the stream is reset. */
  signal?: AbortSignal;
}

/** How a flow went. */
export interface UdpRelayResult {
  /** Datagrams sent to the target, and received from it. */
  sent: number;
  received: number;
  /** Datagrams dropped: socket → stream queue full, or the socket refused them. */
  dropped: number;
  /** Why it ended: the opener's FIN, idle expiry, a reset, or shutdown. */
  reason: "closed" | "idle" | "reset" | "shutdown";
}

/** Relays between `stream` and the connected `socket` until the flow ends; closes the socket. */
export class UdpRelay {
  readonly #stream: MuxStream;
  readonly #socket: Socket;
  readonly #options: UdpRelayOptions;
  readonly #result: UdpRelayResult = { sent: 0, received: 0, dropped: 0, reason: "closed" };
  #queue: Uint8Array[] = [];
  #queued = 0;
  #pumping: Promise<void> | null = null;
  #lastActive = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;

  /** Takes over `socket` (connected to the target) and `stream` (accepted). */
  constructor(stream: MuxStream, socket: Socket, options: UdpRelayOptions) {
    this.#stream = stream;
    this.#socket = socket;
    this.#options = options;
  }

  /** Runs the flow to its end. Never throws. */
  async run(): Promise<UdpRelayResult> {
    const { signal } = this.#options;
    const abort = () => this.#end("shutdown");
    signal?.addEventListener("abort", abort);
    if (signal?.aborted) abort();
    this.#socket.on("message", (datagram: Uint8Array) => this.#fromTarget(datagram));
    // A connected socket reports an ICMP "port unreachable" as an error on a later call: a lost datagram.
    this.#socket.on("error", () => this.#result.dropped++);
    this.#arm(this.#options.idleTimeout);
    await this.#toTarget();
    signal?.removeEventListener("abort", abort);
    clearTimeout(this.#timer);
    await this.#pumping;
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // Closed already.
      }
    });
    return this.#result;
  }

  /** Stream → socket until the opener's FIN or a reset; after an end, drains until the FIN. */
  async #toTarget(): Promise<void> {
    const decoder = new DatagramDecoder();
    try {
      for (
        let chunk = await this.#stream.read();
        chunk !== null;
        chunk = await this.#stream.read()
      ) {
        if (this.#ended) continue; // Expired: drop until the opener's FIN.
        for (const datagram of decoder.push(chunk)) {
          this.#lastActive = performance.now();
          if (await this.#send(datagram)) this.#result.sent++;
          else this.#result.dropped++;
        }
      }
      this.#end("closed");
    } catch {
      this.#end("reset");
    }
  }

  #send(datagram: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      try {
        this.#socket.send(datagram, (error) => resolve(error === null || error === undefined));
      } catch {
        resolve(false);
      }
    });
  }

  #fromTarget(datagram: Uint8Array): void {
    if (this.#ended) return;
    this.#lastActive = performance.now();
    const framed = encodeDatagram(datagram);
    if (this.#queued + framed.length > this.#options.maxQueued) {
      this.#result.dropped++;
      return;
    }
    this.#result.received++;
    this.#queue.push(framed);
    this.#queued += framed.length;
    this.#pumping ??= this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#ended) {
        const framed = this.#queue.shift()!;
        await this.#stream.write(framed);
        this.#queued -= framed.length;
      }
    } catch {
      this.#end("reset");
    } finally {
      this.#pumping = null;
    }
  }

  /** Re-arms the idle timer to fire in `ms`; when it fires early, waits for the rest. */
  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const quiet = performance.now() - this.#lastActive;
      if (quiet >= this.#options.idleTimeout) this.#end("idle");
      else this.#arm(this.#options.idleTimeout - quiet);
    }, ms);
  }

  /** Ends the flow once: FIN after what is queued (closed, idle), or RST (reset, shutdown). */
  #end(reason: UdpRelayResult["reason"]): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#result.reason = reason;
    clearTimeout(this.#timer);
    this.#queue = [];
    if (reason === "reset" || reason === "shutdown") {
      this.#stream.reset();
      return;
    }
    const finish = () => this.#stream.closeWrite();
    if (this.#pumping === null) finish();
    else this.#pumping.then(finish);
    // An idle flow waits for the opener's FIN (reads continue and are dropped); the
    // opener closes on our FIN. One that never does is reset after another idle spell.
    if (reason === "idle") {
      this.#timer = setTimeout(() => this.#stream.reset(), this.#options.idleTimeout);
    }
  }
}
