/**
 * A stand-in Burrow server for the agent's tests: a TLS `Deno.serve` on
 * 127.0.0.1 that upgrades the agent path, runs a server-side mux session per
 * agent, answers Control streams by a policy, and lets the test open Http
 * streams to the agent. Everything it opens is released by `close()`.
 *
 * @module
 */

import { join } from "node:path";
import { Session } from "../../shared/mux/mod.ts";
import {
  type IncomingStream,
  type Params,
  readTextReply,
  serveStream,
  type StreamHandler,
  StreamKind,
} from "../../shared/open/mod.ts";
import { fromWebSocket } from "../../shared/transport/websocket.ts";
import { type Certificates, makeCertificates } from "../../shared/tls/self_signed.ts";
import { decodeResponseHead, type HttpRequestHead } from "../../shared/http/head_codec.ts";
import { AGENT_PATH, encodeHttpOpen, SUBPROTOCOL } from "../../shared/protocol.ts";

/** A Control stream the fake server received. */
export interface ReceivedRegistration {
  /** The register request's parameters. */
  params: Params;
  /** True when it was accepted. */
  accepted: boolean;
  /** The session it arrived on. */
  session: FakeSession;
  /** For accepted ones: resolves with how the agent ended it ("fin" or "reset"). */
  ended: Promise<"fin" | "reset">;
  /** The Control stream. */
  incoming: IncomingStream;
  /** True once an accepted registration ended. */
  done: boolean;
}

/** One agent connection. */
export interface FakeSession {
  /** The server side of the mux session. */
  session: Session;
  /** Sequence number, from 1. */
  n: number;
}

/** Answer to a registration: accept, or refuse with a code and message. */
export type Policy = (params: Params, attempt: number) => true | { code: string; message: string };

/** The outcome of an Http stream opened by {@linkcode request}. */
export type HttpResult =
  | {
    ok: true;
    status: number;
    headers: [string, string][];
    protocol?: unknown;
    body: string;
    bytes: Uint8Array;
  }
  | { ok: false; code: string; message: string };

let certificates: Promise<Certificates> | undefined;
/** One CA and leaf for 127.0.0.1 per test process. */
function testCertificates(): Promise<Certificates> {
  certificates ??= makeCertificates({ hostnames: ["127.0.0.1"] });
  return certificates;
}

/**
 * The fake server. `policy` decides on registrations (default: accept all);
 * `subprotocol` is what it answers the upgrade with (default {@linkcode SUBPROTOCOL},
 * null for none).
 */
export class FakeServer {
  /** `127.0.0.1:<port>`, for an agent domain's `remote`. */
  readonly remote: string;
  /** File holding the CA certificate, for an agent domain's `caFile`. */
  readonly caFile: string;
  /** Every registration received, in order. */
  readonly registrations: ReceivedRegistration[] = [];
  /** Every session, in order. */
  readonly sessions: FakeSession[] = [];
  /** ReceivedRegistration policy; tests may swap it. */
  policy: Policy = () => true;
  /** When each upgrade request arrived (`performance.now()`), refused ones included. */
  readonly dials: number[] = [];
  /**
   * Answers upgrade number `n` (from 1) with a refusal instead, when it
   * returns one; tests may swap it. Default: accept every upgrade.
   */
  refuse: (n: number) => Response | null = () => null;

  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #dir: string;
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #sockets = new Set<WebSocket>();
  readonly #attempts = new Map<string, number>();
  #waiters: (() => void)[] = [];

  private constructor(server: Deno.HttpServer<Deno.NetAddr>, dir: string, caFile: string) {
    this.#server = server;
    this.#dir = dir;
    this.caFile = caFile;
    this.remote = `127.0.0.1:${server.addr.port}`;
  }

  /** Starts a fake server on 127.0.0.1, on `port` (default: any free one). */
  static async start(
    options: { subprotocol?: string | null; port?: number } = {},
  ): Promise<FakeServer> {
    const { caCert, cert, key } = await testCertificates();
    const dir = await Deno.makeTempDir({ prefix: "burrow-agent-test-" });
    const caFile = join(dir, "ca.pem");
    await Deno.writeTextFile(caFile, caCert);
    const subprotocol = options.subprotocol === undefined ? SUBPROTOCOL : options.subprotocol;
    const ref: { self?: FakeServer } = {};
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      cert,
      key,
      onListen() {},
    }, (req) => {
      if (new URL(req.url).pathname !== AGENT_PATH || req.headers.get("upgrade") !== "websocket") {
        return new Response("not here\n", { status: 404 });
      }
      const self = ref.self!;
      self.dials.push(performance.now());
      self.notify();
      const refusal = self.refuse(self.dials.length);
      if (refusal !== null) return refusal;
      const { socket, response } = Deno.upgradeWebSocket(
        req,
        subprotocol === null ? {} : { protocol: subprotocol },
      );
      ref.self!.#accept(socket);
      return response;
    });
    ref.self = new FakeServer(server, dir, caFile);
    return ref.self;
  }

  /** Resolves once `predicate` holds, checked after every event; rejects after `ms`. */
  async until(what: string, predicate: () => boolean, ms = 5000): Promise<void> {
    const deadline = Promise.withResolvers<never>();
    const timer = setTimeout(() => deadline.reject(new Error(`Timed out waiting: ${what}`)), ms);
    try {
      while (!predicate()) {
        const next = new Promise<void>((resolve) => this.#waiters.push(resolve));
        await Promise.race([next, deadline.promise]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Accepted registrations of `domain` that are still held. */
  held(domain: string): ReceivedRegistration[] {
    return this.registrations.filter((r) => r.params.domain === domain && r.accepted && !r.done);
  }

  /** Stops serving, closes every session and socket, removes the CA file. */
  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.session.close()));
    for (const ws of this.#sockets) ws.close();
    await Promise.all([...this.#sockets].map(closed));
    await this.#server.shutdown();
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    await Deno.remove(this.#dir, { recursive: true });
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Wakes `until()` callers; called by tests after they change something. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #accept(socket: WebSocket): void {
    this.#sockets.add(socket);
    socket.addEventListener("close", () => {
      this.#sockets.delete(socket);
      this.notify();
    });
    this.#track(this.#run(socket));
  }

  async #run(socket: WebSocket): Promise<void> {
    const session = new Session(await fromWebSocket(socket), {
      client: false,
      enableKeepAlive: false,
    });
    const fake: FakeSession = { session, n: this.sessions.length + 1 };
    this.sessions.push(fake);
    this.notify();
    const handlers = new Map<number, StreamHandler>([
      [StreamKind.Control, (incoming) => this.#register(fake, incoming)],
    ]);
    for (let s = await session.accept(); s !== null; s = await session.accept()) {
      this.#track(serveStream(s, handlers));
    }
    await session.closed;
    this.notify();
  }

  async #register(session: FakeSession, incoming: IncomingStream): Promise<void> {
    const domain = String(incoming.params.domain);
    const attempt = (this.#attempts.get(domain) ?? 0) + 1;
    this.#attempts.set(domain, attempt);
    const verdict = this.policy(incoming.params, attempt);
    const ended = Promise.withResolvers<"fin" | "reset">();
    const reg: ReceivedRegistration = {
      params: incoming.params,
      accepted: verdict === true,
      session,
      ended: ended.promise,
      incoming,
      done: false,
    };
    this.registrations.push(reg);
    if (verdict !== true) {
      await incoming.refuse(verdict.code, verdict.message);
      this.notify();
      return;
    }
    await incoming.accept({ domain });
    this.notify();
    const how = await incoming.readable.pipeTo(new WritableStream()).then(
      () => "fin" as const,
      () => "reset" as const,
    );
    reg.done = true;
    ended.resolve(how);
    await incoming.writable.close().catch(() => {});
    this.notify();
  }
}

/**
 * Opens an Http stream to the agent on `session` with a request head
 * (defaults filled in), sends `body` then FIN, and reads the whole answer.
 */
export async function request(
  session: Session,
  head: Partial<HttpRequestHead> & { domain: string },
  body?: string,
): Promise<HttpResult> {
  const reply = await (await openHttp(session, head, body)).reply;
  if (!reply.value.ok) return { ok: false, code: reply.value.code, message: reply.value.message };
  const bytes = await readAll(reply.readable);
  const data = decodeResponseHead(reply.value.text);
  return {
    ok: true,
    status: data.status,
    headers: data.headers,
    protocol: data.protocol,
    body: new TextDecoder().decode(bytes),
    bytes,
  };
}

/**
 * Opens an Http stream and sends the head (and `body`, then FIN unless
 * `head.ws`); resolves with the stream and a promise of the agent's reply.
 */
export async function openHttp(
  session: Session,
  head: Partial<HttpRequestHead> & { domain: string },
  body?: string,
) {
  const full: HttpRequestHead = {
    method: "GET",
    target: "/",
    headers: [],
    client: "203.0.113.7",
    tid: crypto.randomUUID(),
    ws: false,
    body: body !== undefined,
    ...head,
  };
  const stream = await session.open();
  const writer = stream.writable.getWriter();
  await writer.write(encodeHttpOpen(full, 1 << 20));
  // Read the reply while the body goes out, as the server does: an agent that refuses
  // resets the stream, and only a waiting reader is sure to see the ERROR first.
  const reply = readTextReply(stream, { maxBody: 1 << 20 }).then((value) => ({
    value,
    readable: stream.readable,
  }));
  // The test may reset the stream instead of waiting; that rejection is expected.
  reply.catch(() => {});
  try {
    if (body !== undefined) await writer.write(new TextEncoder().encode(body));
    if (!full.ws) await writer.close();
  } catch {
    // Refused before the body was taken.
  } finally {
    writer.releaseLock();
  }
  return { stream, reply };
}

/** Reads a stream to its end (`new Response()` refuses a stream already read from). */
async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of readable) chunks.push(chunk);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const chunk of chunks) {
    out.set(chunk, off);
    off += chunk.length;
  }
  return out;
}

/** Resolves once `ws` is CLOSED. */
function closed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
}
