/**
 * A minimal RFC 6455 WebSocket client over a Node-style socket (`node:tls`
 * or `node:net`), the one `dial.ts` uses for every dial: Deno's `WebSocket`
 * can neither turn Nagle's algorithm off (TCP_NODELAY) nor skip certificate
 * checks (`insecure` mode), and a Node socket can do both. Binary messages
 * only; no extensions. The socket's own flow control is the backpressure
 * both ways.
 *
 * @module
 */

import type { Socket } from "node:net";
import type { Conn } from "../mux/session.ts";
import { VERSION } from "../version.ts";
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  MessageAssembler,
  Opcode,
  WebSocketProtocolError,
  type WsFrame,
  WsFrameDecoder,
} from "./ws_frame.ts";

/** Why a dial failed. */
export type DialErrorCode =
  | "timeout"
  | "aborted"
  | "connect"
  | "certificate"
  | "refused"
  | "handshake"
  | "subprotocol";

/**
 * A WebSocket could not be opened. `code` says which step failed; for
 * `"refused"` (the server answered something other than 101), `status` is
 * the HTTP status when it is known.
 *
 * @example
 * ```ts
 * try {
 *   await dialWebSocket(url, { protocols: ["burrow.v1"] });
 * } catch (e) {
 *   if (e instanceof DialError && e.status === 401) console.error("Check the agent token");
 * }
 * ```
 */
export class DialError extends Error {
  /** Always "DialError". */
  override name = "DialError";
  /** Machine-readable reason. */
  readonly code: DialErrorCode;
  /** HTTP status of a refused upgrade, when known. */
  readonly status: number | undefined;

  /** Creates a dial error; `options.cause` keeps the underlying error. */
  constructor(
    message: string,
    code: DialErrorCode,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }
}

/** Options of {@linkcode connectWebSocket}. */
export interface WebSocketClientOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols: string[];
  /** Extra request headers (not the ones the handshake sets itself). */
  headers?: HeadersInit;
  /** Largest message accepted, in bytes; a bigger one closes with 1009. Default 64 MiB. */
  maxMessageSize?: number;
  /** Bytes of received messages queued for the reader before the socket stops reading. Default 1 MiB. */
  highWaterMark?: number;
  /** Milliseconds the close handshake may take before the socket is dropped. Default 2,000. */
  closeTimeout?: number;
}

/** An open WebSocket client connection. */
export interface WebSocketClient {
  /** Binary messages both ways: each write is one message, each read one message's payload. */
  conn: Conn;
  /** The subprotocol the server chose; "" when it chose none. */
  protocol: string;
  /** Starts the close handshake (status `code`, default 1000); safe to call more than once. */
  close(code?: number, reason?: string): void;
  /** Resolves once the socket is closed and released. Never rejects. */
  closed: Promise<void>;
}

/** Headers the handshake sets itself; a caller may not pass them. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);

/** An HTTP token (RFC 9110 §5.6.2), what a subprotocol name must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Fixed GUID of RFC 6455 §1.3, hashed with the key into Sec-WebSocket-Accept. */
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Most bytes of response head read before the handshake gives up. */
const MAX_HEAD_SIZE = 16 * 1024;

/** Most characters of a refusal's body quoted in the error. */
const MAX_BODY_QUOTE = 200;

/**
 * Checks subprotocol names and extra headers before a dial: names must be
 * distinct HTTP tokens, and no header may be one the handshake sets itself.
 * Returns the headers as a `Headers` object.
 *
 * @throws {TypeError} on an invalid subprotocol name or a reserved header.
 */
export function checkHandshakeOptions(protocols: string[], headers?: HeadersInit): Headers {
  for (const p of protocols) {
    if (!TOKEN.test(p)) throw new TypeError(`Invalid subprotocol name "${p}"`);
  }
  if (new Set(protocols).size !== protocols.length) {
    throw new TypeError(`Duplicate subprotocol in "${protocols.join(", ")}"`);
  }
  const extra = new Headers(headers);
  for (const name of extra.keys()) {
    if (RESERVED_HEADERS.has(name)) {
      throw new TypeError(`Cannot set header "${name}": the WebSocket handshake sets it`);
    }
  }
  return extra;
}

/**
 * Runs the opening handshake on `socket` (connected or still connecting:
 * writes queue until it is) and resolves with the open connection. On any
 * failure the socket is destroyed. Socket errors (a failed TLS handshake,
 * say) reject with that error as is; a response other than a valid 101
 * rejects with a {@linkcode DialError}. The caller bounds the time: destroy
 * the socket to give up.
 *
 * @example
 * ```ts
 * import { connect } from "node:tls";
 * const url = new URL("wss://tunnel.example.com/.well-known/burrow-agent");
 * const socket = connect({ host: url.hostname, port: 443, servername: url.hostname });
 * const client = await connectWebSocket(socket, url, { protocols: ["burrow.v1"] });
 * const session = new Session(client.conn, { client: true });
 * ```
 */
export async function connectWebSocket(
  socket: Socket,
  url: URL,
  options: WebSocketClientOptions,
): Promise<WebSocketClient> {
  let extra: Headers;
  try {
    extra = checkHandshakeOptions(options.protocols, options.headers);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  // Listen before anything else: a socket error with no listener would be thrown.
  const client = new ClientSocket(socket, options);
  const key = base64(crypto.getRandomValues(new Uint8Array(16)));
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + ACCEPT_GUID));
  // The response can only come after the request, which goes out once the answer is known.
  client.start(base64(new Uint8Array(digest)), requestHead(url, key, options.protocols, extra));
  const protocol = await client.opened;
  return {
    conn: { readable: client.readable, writable: client.writable, reuseWriteBuffers: true },
    protocol,
    close: (code, reason) => client.close(code, reason),
    closed: client.closed,
  };
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function requestHead(url: URL, key: string, protocols: string[], extra: Headers): string {
  const lines = [
    `GET ${url.pathname || "/"}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(", ")}`);
  if (!extra.has("user-agent")) lines.push(`User-Agent: burrow/${VERSION}`);
  for (const [name, value] of extra) lines.push(`${name}: ${value}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

type Phase = "handshake" | "refused" | "open" | "closed";

/** One client connection through its phases: handshake, open (then closing), closed. */
class ClientSocket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly #opened = Promise.withResolvers<string>();
  readonly #closed = Promise.withResolvers<void>();
  readonly #socket: Socket;
  #accept = "";
  readonly #offered: string[];
  readonly #closeTimeout: number;
  readonly #decoder: WsFrameDecoder;
  readonly #assembler: MessageAssembler;
  readonly #handlers: ((frame: WsFrame) => void)[] = [];
  #phase: Phase = "handshake";
  #head: Uint8Array = new Uint8Array(0);
  #refusal: { status: number; text: string; body: Uint8Array; want: number } | null = null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #readDone = false;
  #broken = false;
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #error: Error | null = null;
  #drain: PromiseWithResolvers<void> | null = null;
  #masks = new Uint8Array(0);
  #maskAt = 0;

  constructor(socket: Socket, options: WebSocketClientOptions) {
    this.#socket = socket;
    this.#offered = options.protocols;
    this.#closeTimeout = options.closeTimeout ?? 2_000;
    const maxMessageSize = options.maxMessageSize ?? 64 * 1024 * 1024;
    this.#decoder = new WsFrameDecoder({ maxPayload: maxMessageSize, masked: false });
    this.#assembler = new MessageAssembler(maxMessageSize);
    this.#handlers[Opcode.Continuation] = (f) => this.#onData(f);
    this.#handlers[Opcode.Text] = (f) => this.#onData(f);
    this.#handlers[Opcode.Binary] = (f) => this.#onData(f);
    this.#handlers[Opcode.Close] = (f) => this.#onClose(f);
    this.#handlers[Opcode.Ping] = (f) => this.#send(Opcode.Pong, f.payload);
    this.#handlers[Opcode.Pong] = () => {};
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        if (this.#phase === "open") socket.resume();
      },
      cancel: () => {
        this.#readDone = true;
        // Keep reading (and dropping data) until the peer's close frame.
        socket.resume();
        this.close(CloseCode.Normal);
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: options.highWaterMark ?? 1024 * 1024 }));
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => this.close(CloseCode.Normal),
      abort: () => this.close(CloseCode.Normal),
    });
    // Settled only through #opened.promise; a rejection nobody awaits is not unhandled.
    this.#opened.promise.catch(() => {});
    // A plain Uint8Array view of each Buffer: readers get what other transports give.
    socket.on(
      "data",
      (b: Uint8Array) => this.#onChunk(new Uint8Array(b.buffer, b.byteOffset, b.length)),
    );
    socket.on("drain", () => this.#drain?.resolve());
    socket.on("end", () => this.#onEnd());
    socket.on("error", (e: Error) => this.#onError(e));
    socket.on("close", () => this.#onSocketClose());
  }

  /** Sends the upgrade request; `accept` is the Sec-WebSocket-Accept it must be answered with. */
  start(accept: string, request: string): void {
    if (this.#phase !== "handshake") return;
    this.#accept = accept;
    this.#socket.write(request);
  }

  /** Resolves with the chosen subprotocol once the server accepted the upgrade. */
  get opened(): Promise<string> {
    return this.#opened.promise;
  }

  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.#phase !== "open") {
      this.#socket.destroy();
      return;
    }
    if (this.#closeSent) return;
    this.#send(Opcode.Close, encodeClosePayload(code, reason));
    this.#closeSent = true;
    this.#armCloseTimer();
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#phase !== "open" || this.#closeSent) {
      throw this.#error ?? new Error("WebSocket is closed");
    }
    if (this.#socket.write(encodeFrame(Opcode.Binary, chunk, { mask: this.#nextMask() }))) return;
    this.#drain = Promise.withResolvers();
    await this.#drain.promise;
    this.#drain = null;
    if (this.#socket.destroyed) throw this.#error ?? new Error("WebSocket is closed");
  }

  /** Writes one control frame at once, ignoring backpressure (it is at most 131 bytes). */
  #send(opcode: Opcode, payload: Uint8Array): void {
    if (this.#closeSent || this.#phase !== "open") return;
    this.#socket.write(encodeFrame(opcode, payload, { mask: this.#nextMask() }));
  }

  /** A fresh random masking key, taken from a pool refilled 1,024 keys at a time. */
  #nextMask(): Uint8Array {
    if (this.#maskAt === this.#masks.length) {
      this.#masks = crypto.getRandomValues(new Uint8Array(4096));
      this.#maskAt = 0;
    }
    this.#maskAt += 4;
    return this.#masks.subarray(this.#maskAt - 4, this.#maskAt);
  }

  #onChunk(chunk: Uint8Array): void {
    try {
      if (this.#phase === "handshake") chunk = this.#readHead(chunk);
      else if (this.#phase === "refused") return this.#readRefusal(chunk);
      // After a protocol error the rest of the stream cannot be framed: drop it.
      if (this.#phase !== "open" || this.#broken || chunk.length === 0) return;
      for (const frame of this.#decoder.decode(chunk)) this.#handlers[frame.opcode]!(frame);
      if (!this.#readDone && (this.#controller.desiredSize ?? 1) <= 0) this.#socket.pause();
    } catch (e) {
      if (!(e instanceof WebSocketProtocolError)) throw e;
      this.#fail(e);
    }
  }

  /** Collects the response head; once complete, checks it and returns the bytes after it. */
  #readHead(chunk: Uint8Array): Uint8Array {
    const head = new Uint8Array(this.#head.length + chunk.length);
    head.set(this.#head);
    head.set(chunk, this.#head.length);
    const end = indexOfBlankLine(head, Math.max(0, this.#head.length - 3));
    if (end < 0) {
      this.#head = head;
      if (head.length > MAX_HEAD_SIZE) {
        this.#reject(
          new DialError(`Response head longer than ${MAX_HEAD_SIZE} bytes`, "handshake"),
        );
      }
      return new Uint8Array(0);
    }
    this.#head = new Uint8Array(0);
    const rest = head.subarray(end + 4);
    const response = parseHead(new TextDecoder().decode(head.subarray(0, end)));
    if (!response) {
      this.#reject(new DialError("Invalid HTTP response to the WebSocket upgrade", "handshake"));
      return new Uint8Array(0);
    }
    if (response.status !== 101) {
      const length = Number(response.headers.get("content-length") ?? "0");
      const want = Number.isInteger(length) ? Math.min(length, MAX_BODY_QUOTE + 1) : 0;
      this.#phase = "refused";
      this.#refusal = { status: response.status, text: response.text, body: rest, want };
      this.#readRefusal(new Uint8Array(0));
      return new Uint8Array(0);
    }
    const problem = this.#checkUpgrade(response.headers);
    if (problem) {
      this.#reject(problem);
      return new Uint8Array(0);
    }
    this.#phase = "open";
    this.#opened.resolve(response.headers.get("sec-websocket-protocol") ?? "");
    return rest;
  }

  #checkUpgrade(headers: Headers): DialError | null {
    if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new DialError(`101 response has Upgrade "${headers.get("upgrade")}"`, "handshake");
    }
    const connection = (headers.get("connection") ?? "").toLowerCase().split(/\s*,\s*/);
    if (!connection.includes("upgrade")) {
      return new DialError(
        `101 response has Connection "${headers.get("connection")}"`,
        "handshake",
      );
    }
    if (headers.get("sec-websocket-accept") !== this.#accept) {
      return new DialError("101 response has a wrong Sec-WebSocket-Accept", "handshake");
    }
    if (headers.has("sec-websocket-extensions")) {
      const ext = headers.get("sec-websocket-extensions");
      return new DialError(`Server chose extension "${ext}", none was offered`, "handshake");
    }
    const protocol = headers.get("sec-websocket-protocol");
    if (protocol !== null && !this.#offered.includes(protocol)) {
      return new DialError(
        `Server chose subprotocol "${protocol}", not one of "${this.#offered.join(", ")}"`,
        "subprotocol",
      );
    }
    return null;
  }

  /** Gathers up to `want` body bytes of a refusal, then rejects with its status. */
  #readRefusal(chunk: Uint8Array): void {
    const r = this.#refusal!;
    if (chunk.length > 0) {
      const body = new Uint8Array(r.body.length + chunk.length);
      body.set(r.body);
      body.set(chunk, r.body.length);
      r.body = body;
    }
    if (r.body.length < r.want) return;
    this.#rejectRefusal();
  }

  #rejectRefusal(): void {
    const r = this.#refusal!;
    const text = new TextDecoder().decode(r.body).replace(/\s+/g, " ").trim();
    const quote = text.length > MAX_BODY_QUOTE ? `${text.slice(0, MAX_BODY_QUOTE)}…` : text;
    const status = `HTTP ${r.status}${r.text ? ` ${r.text}` : ""}`;
    this.#reject(
      new DialError(
        `Server refused the WebSocket upgrade: ${status}${
          quote ? ` (${JSON.stringify(quote)})` : ""
        }`,
        "refused",
        { status: r.status },
      ),
    );
  }

  /** Fails the handshake; `opened` rejects once the socket is closed. */
  #reject(error: Error): void {
    this.#error = error;
    this.#socket.destroy();
  }

  #onData(frame: WsFrame): void {
    if (frame.opcode === Opcode.Text) {
      throw new WebSocketProtocolError(
        "Burrow expects binary WebSocket messages, got text",
        "text-message",
      );
    }
    const message = this.#assembler.push(frame);
    if (message && !this.#readDone) this.#controller.enqueue(message.data);
  }

  #onClose(frame: WsFrame): void {
    const { code, reason } = decodeClosePayload(frame.payload);
    if (!this.#closeSent) {
      // Echo the status (RFC 6455 §5.5.1); an empty close gets an empty one back.
      this.#send(Opcode.Close, code === CloseCode.NoStatus ? new Uint8Array(0) : frame.payload);
      this.#closeSent = true;
    }
    const clean = code === CloseCode.Normal || code === CloseCode.NoStatus;
    const why = `WebSocket closed (code ${code}${reason ? `: ${reason}` : ""})`;
    this.#finishRead(clean ? null : new Error(why));
    this.#socket.end();
    this.#armCloseTimer();
  }

  #fail(error: WebSocketProtocolError): void {
    this.#broken = true;
    this.#error = error;
    this.#send(Opcode.Close, encodeClosePayload(error.closeCode, error.message));
    this.#closeSent = true;
    this.#finishRead(error);
    this.#socket.end();
    this.#armCloseTimer();
  }

  #finishRead(error: Error | null): void {
    if (this.#readDone) return;
    this.#readDone = true;
    if (error) this.#controller.error(error);
    else this.#controller.close();
    // Nobody reads any more: drain the socket so the close handshake can finish.
    this.#socket.resume();
  }

  #armCloseTimer(): void {
    this.#closeTimer ??= setTimeout(() => this.#socket.destroy(), this.#closeTimeout);
  }

  #onEnd(): void {
    if (this.#phase === "refused") this.#rejectRefusal();
  }

  #onError(error: Error): void {
    this.#error ??= error;
  }

  #onSocketClose(): void {
    const phase = this.#phase;
    this.#phase = "closed";
    clearTimeout(this.#closeTimer);
    if (phase === "refused") this.#rejectRefusal();
    const dropped = new Error(`WebSocket connection closed without a close frame (code 1006)`);
    const error = this.#error ?? dropped;
    this.#opened.reject(
      phase === "handshake" && !this.#error
        ? new DialError("Connection closed during the WebSocket handshake", "handshake")
        : error,
    );
    this.#finishRead(this.#error ?? dropped);
    this.#drain?.resolve();
    this.#closed.resolve();
  }
}

/** Index of the first CRLFCRLF at or after `from`, or -1. */
function indexOfBlankLine(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** Status line and headers of an HTTP/1.1 response head; null when malformed. */
function parseHead(head: string): { status: number; text: string; headers: Headers } | null {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) return null;
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return null;
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      return null;
    }
  }
  return { status: Number(match[1]), text: match[2] ?? "", headers };
}
