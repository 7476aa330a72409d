/**
 * A minimal RFC 6455 WebSocket client over a {@linkcode ByteSocket}: a Deno
 * TCP or TLS connection, or a Node one (`dial.ts` picks). Deno's `WebSocket`
 * can neither turn Nagle's algorithm off (TCP_NODELAY) nor skip certificate
 * checks (`insecure` mode). Binary messages only; no extensions. The
 * socket's own flow control is the backpressure both ways.
 *
 * @module
 */

import type { Conn, ConnSink } from "../transport/conn.ts";
import type { ByteSocket } from "../transport/byte_socket.ts";
import { DialError } from "../transport/dial_error.ts";
import {
  checkHandshakeOptions,
  checkUpgrade,
  indexOfBlankLine,
  makeKey,
  parseHead,
  requestHead,
} from "./ws_handshake.ts";
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  FrameEncoder,
  Opcode,
  WebSocketProtocolError,
  type WsFrame,
} from "./ws_frame.ts";
import { MessageAssembler, WsFrameDecoder } from "./ws_frame_decode.ts";

export { DialError, type DialErrorCode } from "../transport/dial_error.ts";
export { checkHandshakeOptions } from "./ws_handshake.ts";

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

/** Most bytes of response head read before the handshake gives up. */
const MAX_HEAD_SIZE = 16 * 1024;

/** Most characters of a refusal's body quoted in the error. */
const MAX_BODY_QUOTE = 200;

/** Size of the buffer the socket is read into, again and again. */
const READ_BUFFER_SIZE = 64 * 1024;

/** Fewest bytes of a payload still missing for which a read goes straight into the payload. */
const DIRECT_READ_MIN = 16 * 1024;

/**
 * Runs the opening handshake on `socket` and resolves with the open
 * connection. On any failure the socket is closed. Socket errors (a failed
 * TLS handshake, say) reject with that error as is; a response other than a
 * valid 101 rejects with a {@linkcode DialError}. The caller bounds the time:
 * close the socket to give up.
 *
 * @example
 * ```ts
 * const url = new URL("ws://127.0.0.1:8080/.well-known/burrow-agent");
 * const tcp = await Deno.connect({ hostname: url.hostname, port: 8080 });
 * const client = await connectWebSocket(new DenoSocket(tcp), url, { protocols: ["burrow.v1"] });
 * const session = new Session(client.conn, { client: true });
 * ```
 */
export async function connectWebSocket(
  socket: ByteSocket,
  url: URL,
  options: WebSocketClientOptions,
): Promise<WebSocketClient> {
  let extra: Headers;
  try {
    extra = checkHandshakeOptions(options.protocols, options.headers);
  } catch (e) {
    socket.close();
    throw e;
  }
  const client = new ClientSocket(socket, options);
  const { key, accept } = await makeKey();
  // The response can only come after the request, which goes out once the answer is known.
  client.start(accept, requestHead(url, key, options.protocols, extra));
  const protocol = await client.opened;
  return {
    conn: {
      readable: client.readable,
      writable: client.writable,
      sink: client.sink,
      reuseWriteBuffers: true,
    },
    protocol,
    close: (code, reason) => client.close(code, reason),
    closed: client.closed,
  };
}

type Phase = "handshake" | "refused" | "open" | "closed";

/** One client connection through its phases: handshake, open (then closing), closed. */
class ClientSocket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** The writes of `writable` as plain calls (for the mux session). */
  readonly sink: ConnSink;
  readonly #opened = Promise.withResolvers<string>();
  readonly #closed = Promise.withResolvers<void>();
  readonly #socket: ByteSocket;
  #accept = "";
  readonly #offered: string[];
  readonly #closeTimeout: number;
  readonly #decoder: WsFrameDecoder;
  readonly #assembler: MessageAssembler;
  readonly #encoder = new FrameEncoder();
  readonly #handlers: ((frame: WsFrame) => void)[] = [];
  #phase: Phase = "handshake";
  #head: Uint8Array = new Uint8Array(0);
  #refusal: {
    status: number;
    text: string;
    body: Uint8Array;
    want: number;
    retryAfter: number | undefined;
  } | null = null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #readDone = false;
  #broken = false;
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #error: Error | null = null;
  /** Wakes the read loop, waiting for the reader to want more (or for the end). */
  #wake: (() => void) | null = null;
  #dropped = false;
  #masks = new Uint8Array(0);
  #maskAt = 0;

  constructor(socket: ByteSocket, options: WebSocketClientOptions) {
    this.#socket = socket;
    this.#offered = options.protocols;
    this.#closeTimeout = options.closeTimeout ?? 2_000;
    const maxMessageSize = options.maxMessageSize ?? 64 * 1024 * 1024;
    // The read buffer is reused: payloads must not be views into it.
    this.#decoder = new WsFrameDecoder({
      maxPayload: maxMessageSize,
      masked: false,
      copyPayloads: true,
    });
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
      pull: () => this.#wakeReader(),
      cancel: () => {
        this.#readDone = true;
        // Keep reading (and dropping data) until the peer's close frame.
        this.#wakeReader();
        this.close(CloseCode.Normal);
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: options.highWaterMark ?? 1024 * 1024 }));
    this.sink = {
      write: (chunk) => this.#write(chunk),
      close: () => {
        this.close(CloseCode.Normal);
        return Promise.resolve();
      },
      abort: () => {
        this.close(CloseCode.Normal);
        return Promise.resolve();
      },
    };
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.sink.write(chunk),
      close: () => this.sink.close(),
      abort: () => this.sink.abort(),
    });
    // Settled only through #opened.promise; a rejection nobody awaits is not unhandled.
    this.#opened.promise.catch(() => {});
    // Reads from the start: a socket error before the request went out is seen too.
    this.#readLoop();
  }

  /** Sends the upgrade request; `accept` is the Sec-WebSocket-Accept it must be answered with. */
  start(accept: string, request: string): void {
    if (this.#phase !== "handshake") return;
    this.#accept = accept;
    // A failed write fails the socket, which the read loop reports.
    this.#socket.write(new TextEncoder().encode(request)).catch(() => {});
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
      this.#drop();
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
    // Header and payload in one write, from a buffer used again for the next
    // message: the write resolves only once the socket is done with it.
    const frame = this.#encoder.encode(Opcode.Binary, chunk, { mask: this.#nextMask() });
    try {
      await this.#socket.write(frame);
    } catch (e) {
      throw this.#error ?? e;
    }
  }

  /** Queues one control frame, ignoring backpressure (it is at most 131 bytes). */
  #send(opcode: Opcode, payload: Uint8Array): void {
    if (this.#closeSent || this.#phase !== "open") return;
    // A failed write fails the socket, which the read loop reports.
    this.#socket.write(encodeFrame(opcode, payload, { mask: this.#nextMask() })).catch(() => {});
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

  /**
   * Reads the socket until it ends, into one buffer, while the reader wants
   * more; then closes it. Every end of the socket comes through here.
   */
  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_SIZE);
    try {
      while (!this.#dropped) {
        if (this.#readerIsFull()) {
          await new Promise<void>((resolve) => this.#wake = resolve);
          continue;
        }
        // The rest of a big payload is read straight into the payload's own buffer.
        const pending = this.#phase === "open" && !this.#broken
          ? this.#decoder.pendingPayload
          : null;
        const direct = pending !== null && pending.length >= DIRECT_READ_MIN;
        const bytes = await this.#socket.read(direct ? pending : buffer);
        if (bytes === null) break;
        if (!direct) this.#onChunk(bytes);
        else {
          // A socket that held the bytes already hands out its own buffer.
          if (bytes.buffer !== pending.buffer || bytes.byteOffset !== pending.byteOffset) {
            pending.set(bytes);
          }
          this.#onPayloadBytes(bytes.length);
        }
      }
      if (!this.#dropped) await this.#onEnd();
    } catch (e) {
      this.#error ??= e instanceof Error ? e : new Error(String(e));
    } finally {
      this.#socket.close();
      this.#onSocketClose();
    }
  }

  /** True while the reader has all it wants queued: reading waits for its next pull. */
  #readerIsFull(): boolean {
    return this.#phase === "open" && !this.#readDone && (this.#controller.desiredSize ?? 1) <= 0;
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Drops the connection now; the read loop ends and reports it. */
  #drop(): void {
    this.#dropped = true;
    this.#socket.close();
    this.#wakeReader();
  }

  #onChunk(chunk: Uint8Array): void {
    try {
      if (this.#phase === "handshake") chunk = this.#readHead(chunk);
      else if (this.#phase === "refused") return this.#readRefusal(chunk);
      // After a protocol error the rest of the stream cannot be framed: drop it.
      if (this.#phase !== "open" || this.#broken || chunk.length === 0) return;
      for (const frame of this.#decoder.decode(chunk)) this.#handlers[frame.opcode]!(frame);
    } catch (e) {
      if (!(e instanceof WebSocketProtocolError)) throw e;
      this.#fail(e);
    }
  }

  /** Counts `n` bytes read into the decoder's pending payload; handles the frame they complete. */
  #onPayloadBytes(n: number): void {
    try {
      const frame = this.#decoder.filled(n);
      if (frame) this.#handlers[frame.opcode]!(frame);
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
      const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
      this.#refusal = {
        status: response.status,
        text: response.text,
        body: rest,
        want,
        retryAfter,
      };
      this.#readRefusal(new Uint8Array(0));
      return new Uint8Array(0);
    }
    const problem = checkUpgrade(response.headers, this.#accept, this.#offered);
    if (problem) {
      this.#reject(problem);
      return new Uint8Array(0);
    }
    this.#phase = "open";
    this.#opened.resolve(response.headers.get("sec-websocket-protocol") ?? "");
    return rest;
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
        { status: r.status, ...(r.retryAfter !== undefined ? { retryAfter: r.retryAfter } : {}) },
      ),
    );
  }

  /** Fails the handshake; `opened` rejects once the socket is closed. */
  #reject(error: Error): void {
    this.#error = error;
    this.#drop();
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
    this.#socket.closeWrite();
    this.#armCloseTimer();
  }

  #fail(error: WebSocketProtocolError): void {
    this.#broken = true;
    this.#error = error;
    this.#send(Opcode.Close, encodeClosePayload(error.closeCode, error.message));
    this.#closeSent = true;
    this.#finishRead(error);
    this.#socket.closeWrite();
    this.#armCloseTimer();
  }

  #finishRead(error: Error | null): void {
    if (this.#readDone) return;
    this.#readDone = true;
    if (error) this.#controller.error(error);
    else this.#controller.close();
    // Nobody reads any more: drain the socket so the close handshake can finish.
    this.#wakeReader();
  }

  #armCloseTimer(): void {
    this.#closeTimer ??= setTimeout(() => this.#drop(), this.#closeTimeout);
  }

  /**
   * The peer ended its side. Like a Node socket that does not allow half-open
   * connections: what is queued goes out, then our FIN (closeTimeout at most).
   */
  async #onEnd(): Promise<void> {
    if (this.#phase === "refused") this.#rejectRefusal();
    this.#armCloseTimer();
    await this.#socket.closeWrite();
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
    this.#closed.resolve();
  }
}

/** A `Retry-After` value (delay-seconds or an HTTP date) in ms; undefined when absent or invalid. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
