/**
 * Test harness for the hashicorp/yamux peer (`go/yamux_peer/main.go`): runs
 * the Go process against a Burrow {@linkcode Session} over loopback TCP.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Session, type SessionOptions } from "../../shared/mux/mod.ts";
import type { Conn } from "../../shared/transport/conn.ts";
import { fromDenoConn } from "../../shared/transport/deno_conn.ts";
import { FrameDecoder } from "../../shared/frame/decoder.ts";
import type { Frame } from "../../shared/frame/header.ts";
import { within } from "../helpers/streams.ts";
import { buildGoPeer } from "./go_build.ts";

/** How long any single wait of an interop test may take. */
export const WAIT_MS = 20_000;
/** Default keepalive interval of both sides, short so keepalives run during longer tests. */
const KEEPALIVE_MS = 100;

/** One JSON line the Go peer printed. */
export type PeerEvent = { event: string } & Record<string, unknown>;

/** Settings of the Go side's yamux session. */
export interface GoPeerOptions {
  /** KeepAliveInterval in ms. */
  keepAliveMs?: number;
  /** MaxStreamWindowSize in bytes (yamux's default is 256 KiB). */
  window?: number;
}

interface Waiter {
  match: (e: PeerEvent) => boolean;
  resolve: (e: PeerEvent) => void;
  reject: (e: Error) => void;
}

/**
 * The Go peer process: commands in on stdin, events out on stdout, yamux's log on stderr.
 *
 * @example
 * ```ts
 * const peer = new GoPeer(await buildGoPeer(), "127.0.0.1:4000");
 * await peer.send({ cmd: "ping" });
 * const { ok } = await peer.next("ping");
 * ```
 */
export class GoPeer {
  /** Settles when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #events: PeerEvent[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #pumps: Promise<unknown>;
  #stderr = "";
  #stdoutDone = false;

  /** Starts the peer dialling `addr`. */
  constructor(binary: string, addr: string, options: GoPeerOptions = {}) {
    const args = ["-addr", addr, "-keepalive", `${options.keepAliveMs ?? KEEPALIVE_MS}ms`];
    if (options.window !== undefined) args.push("-window", String(options.window));
    this.#child = new Deno.Command(binary, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.status = this.#child.status;
    this.#stdin = this.#child.stdin.getWriter();
    this.#pumps = Promise.all([this.#readEvents(), this.#readLog()]);
  }

  /** What the Go side logged so far (all of it once `stop()` resolved). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Sends one command line. */
  async send(command: Record<string, unknown>): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
  }

  /** Takes the first unconsumed event named `event` (and matching `match`), waiting up to `ms`. */
  next(
    event: string,
    match: (e: PeerEvent) => boolean = () => true,
    ms = WAIT_MS,
  ): Promise<PeerEvent> {
    const test = (e: PeerEvent) => e.event === event && match(e);
    const i = this.#events.findIndex(test);
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0]!);
    if (this.#stdoutDone) return Promise.reject(this.#exitedError(event));
    const { promise, resolve, reject } = Promise.withResolvers<PeerEvent>();
    const waiter: Waiter = { match: test, resolve, reject };
    this.#waiters.add(waiter);
    const timer = setTimeout(() => {
      this.#waiters.delete(waiter);
      reject(new Error(`Timed out after ${ms} ms waiting for Go event "${event}"${this.#log()}`));
    }, ms);
    return promise.finally(() => clearTimeout(timer));
  }

  /** Takes `count` events named `event`. */
  async take(event: string, count: number): Promise<PeerEvent[]> {
    const out: PeerEvent[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next(event));
    return out;
  }

  /** Closes stdin and waits for the process to exit (killing it after `WAIT_MS`). */
  async stop(): Promise<Deno.CommandStatus> {
    await this.#stdin.close().catch(() => {});
    const status = await within(WAIT_MS, "Go peer to exit", this.status).catch(() => {
      this.#child.kill("SIGKILL");
      return this.status;
    });
    await this.#pumps;
    return status;
  }

  async #readEvents(): Promise<void> {
    let buf = "";
    for await (const text of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += text;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line !== "") this.#deliver(JSON.parse(line) as PeerEvent);
      }
    }
    this.#stdoutDone = true;
    for (const w of this.#waiters) w.reject(this.#exitedError("any"));
    this.#waiters.clear();
  }

  async #readLog(): Promise<void> {
    for await (const text of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
      this.#stderr += text;
    }
  }

  #deliver(e: PeerEvent): void {
    for (const w of this.#waiters) {
      if (w.match(e)) {
        this.#waiters.delete(w);
        w.resolve(e);
        return;
      }
    }
    this.#events.push(e);
  }

  #exitedError(event: string): Error {
    return new Error(`The Go peer closed stdout before event "${event}"${this.#log()}`);
  }

  #log(): string {
    return this.#stderr === "" ? "" : `\nGo peer stderr:\n${this.#stderr}`;
  }
}

/**
 * Holds back bytes from the peer while held, so a test can make Burrow act
 * before it has seen frames the peer already sent.
 */
export class Gate {
  #held: PromiseWithResolvers<void> | null = null;

  /** Bytes that arrive from now on wait until `release()`. */
  hold(): void {
    this.#held ??= Promise.withResolvers<void>();
  }

  /** Lets held and later bytes through. */
  release(): void {
    this.#held?.resolve();
    this.#held = null;
  }

  /** Wraps a transport's readable side. */
  wrap(conn: Conn): Conn {
    const reader = conn.readable.getReader();
    const readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const { value, done } = await reader.read();
        // Waits after the read, so bytes that arrive during a hold are held.
        while (this.#held !== null) await this.#held.promise;
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
    return { readable, writable: conn.writable };
  }
}

/** Which way a frame went: from the Go peer to Burrow, or from Burrow to Go. */
export type Direction = "from-go" | "to-go";

/** Calls `onFrame` with the header of every frame that crosses `conn`, both ways. */
function watchFrames(conn: Conn, onFrame: (direction: Direction, frame: Frame) => void): Conn {
  const watch = (direction: Direction) => {
    const decoder = new FrameDecoder(2 ** 32 - 1);
    return new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        for (const frame of decoder.decode(chunk)) onFrame(direction, frame);
        controller.enqueue(chunk);
      },
    });
  };
  const out = watch("to-go");
  out.readable.pipeTo(conn.writable).catch(() => {}); // The session sees write errors itself.
  return { readable: conn.readable.pipeThrough(watch("from-go")), writable: out.writable };
}

/** Options of {@linkcode startPair}. */
export interface PairOptions {
  /** Options of Burrow's session (`client: false` is fixed). */
  session?: Partial<SessionOptions>;
  /** Settings of the Go side's session. */
  go?: GoPeerOptions;
  /** Sees the header of every frame, both ways. */
  onFrame?: (direction: Direction, frame: Frame) => void;
}

/** A Burrow session (server side) connected to a Go yamux client. */
export interface Pair extends AsyncDisposable {
  session: Session;
  peer: GoPeer;
  gate: Gate;
  /** Closes from Burrow's side and checks both ends shut down cleanly. */
  finish(): Promise<void>;
}

/** Starts the Go peer, accepts its TCP connection and runs a Burrow session on it. */
export async function startPair(options: PairOptions = {}): Promise<Pair> {
  const binary = await buildGoPeer();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = new GoPeer(binary, `127.0.0.1:${listener.addr.port}`, options.go);
  let conn: Deno.TcpConn | undefined;
  try {
    const exited = peer.status.then((s) => {
      throw new Error(`The Go peer exited (${s.code}) before connecting\n${peer.stderr}`);
    });
    conn = await within(WAIT_MS, "Go peer to connect", Promise.race([listener.accept(), exited]));
    await peer.next("ready");
  } catch (e) {
    conn?.close();
    await peer.stop();
    throw e;
  } finally {
    listener.close();
  }
  const gate = new Gate();
  let transport = gate.wrap(fromDenoConn(conn));
  if (options.onFrame !== undefined) transport = watchFrames(transport, options.onFrame);
  const session = new Session(transport, {
    keepAliveInterval: KEEPALIVE_MS,
    ...options.session,
    client: false,
  });
  let finished = false;
  return {
    session,
    peer,
    gate,
    async finish() {
      assert.equal(session.closeReason, null, "Burrow's session failed before the test closed it");
      assert.equal(session.isClosed, false, "Burrow's session closed before the test closed it");
      await within(WAIT_MS, "Burrow session.close()", session.close());
      await peer.next("session-closed");
      const status = await peer.stop();
      finished = true;
      assert.equal(status.code, 0, `Go peer exit code\n${peer.stderr}`);
      assert.equal(session.closeReason, null);
      const errors = peer.stderr.split("\n").filter((l) => l.includes("[ERR]"));
      assert.deepEqual(errors, [], `hashicorp/yamux logged errors:\n${peer.stderr}`);
    },
    async [Symbol.asyncDispose]() {
      if (finished) return;
      gate.release();
      await within(WAIT_MS, "Burrow session.close()", session.close()).catch(() => {});
      await peer.stop();
    },
  };
}
