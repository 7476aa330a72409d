/**
 * Relays a WebSocket's messages over a tunnel byte stream and back, so a
 * WebSocket upgrade can be proxied through a mux stream. Each end of the
 * tunnel runs one relay: the server with the public client's socket, the
 * agent with its socket to the local service. Frame format: `relay_frame.ts`.
 *
 * @module
 */

import { ProtocolError } from "../frame/errors.ts";
import {
  decodeClosePayload,
  encodeCloseFrame,
  encodeRelayFrame,
  NO_STATUS,
  type RelayFrame,
  RelayFrameDecoder,
  RelayFrameType,
} from "./relay_frame.ts";

/** Limits of {@link relayWebSocket}. */
export interface RelayOptions {
  /** Largest message relayed either way, in bytes; a larger one closes with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Most bytes of received messages waiting for the tunnel stream; more
   * closes the socket with 1008. Default twice `maxMessageSize`.
   */
  maxQueuedBytes?: number;
  /** Sending to the socket waits while more than this many bytes are unsent. Default 1 MiB. */
  maxBufferedAmount?: number;
  /**
   * Once this side's Close frame is sent, how long to wait for the peer's
   * before giving up on the stream, in milliseconds. Default 5000.
   */
  closeTimeout?: number;
}

/** Close codes (RFC 6455 §7.4.1) that the relay itself sends. */
export const CloseCode = {
  /** The message is larger than `maxMessageSize`. */
  MessageTooBig: 1009,
  /** Messages arrive faster than the tunnel takes them. */
  PolicyViolation: 1008,
  /** The tunnel stream failed or broke the frame format. */
  InternalError: 1011,
  /** The socket closed without a close frame (never sent on a WebSocket). */
  Abnormal: 1006,
} as const;

/** Milliseconds between checks of `bufferedAmount` (a WebSocket has no drain event). */
const DRAIN_POLL_MS = 1;

/**
 * Relays messages between `ws` and `stream` until both directions are done.
 *
 * Messages from `ws` become frames on `stream.writable`, written one at a
 * time (each write awaited); as a WebSocket cannot stop incoming messages,
 * they queue up to `maxQueuedBytes`. Frames from `stream.readable` are sent on
 * `ws` once its `bufferedAmount` is low, so a slow client slows the stream.
 * When `ws` closes, a Close frame with its code and reason ends the
 * writable; a Close frame from the stream closes `ws` with that code (codes a
 * socket cannot send, such as 1005 and 1006, and those a client socket may not
 * use, close it without a code). A stream that fails, ends early or breaks the
 * format closes `ws` with 1011. Never rejects.
 *
 * @example
 * ```ts
 * const { socket, response } = Deno.upgradeWebSocket(request);
 * const stream = await session.open();
 * relayWebSocket(socket, stream).then(() => stream.readable.cancel().catch(() => {}));
 * return response;
 * ```
 */
export async function relayWebSocket(
  ws: WebSocket,
  stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  options: RelayOptions = {},
): Promise<void> {
  const maxMessageSize = options.maxMessageSize ?? 16 * 1024 * 1024;
  const limits: Limits = {
    maxMessageSize,
    maxQueuedBytes: options.maxQueuedBytes ?? 2 * maxMessageSize,
    maxBufferedAmount: options.maxBufferedAmount ?? 1024 * 1024,
    closeTimeout: options.closeTimeout ?? 5000,
  };
  await new Relay(ws, stream, limits).run();
}

type Limits = Required<RelayOptions>;

class Relay {
  readonly #ws: WebSocket;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #limits: Limits;
  readonly #closed = Promise.withResolvers<CloseEvent | null>();
  #closeEvent: CloseEvent | null | undefined = undefined;
  /** The code and reason this side decided on, sent in its Close frame. */
  #closeWith: { code: number; reason: string } | null = null;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #wake: PromiseWithResolvers<void> | null = null;
  #streamBroken = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(
    ws: WebSocket,
    stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
    limits: Limits,
  ) {
    this.#ws = ws;
    this.#reader = stream.readable.getReader();
    this.#writer = stream.writable.getWriter();
    this.#limits = limits;
    ws.binaryType = "arraybuffer";
  }

  async run(): Promise<void> {
    const onMessage = (e: MessageEvent) => this.#onMessage(e.data);
    const onClose = (e: CloseEvent) => this.#onClose(e);
    this.#ws.addEventListener("message", onMessage);
    this.#ws.addEventListener("close", onClose);
    if (this.#ws.readyState === WebSocket.CLOSED) this.#onClose(null);
    try {
      await Promise.all([this.#pumpOut(), this.#pumpIn()]);
    } finally {
      clearTimeout(this.#closeTimer);
      this.#ws.removeEventListener("message", onMessage);
      this.#ws.removeEventListener("close", onClose);
    }
  }

  // ---- WebSocket → stream ----------------------------------------------

  #onMessage(data: unknown): void {
    if (this.#closeWith !== null || this.#closeEvent !== undefined) return;
    const text = typeof data === "string";
    const payload = text ? new TextEncoder().encode(data) : new Uint8Array(data as ArrayBuffer);
    const { maxMessageSize, maxQueuedBytes } = this.#limits;
    if (payload.length > maxMessageSize) {
      this.#closeWs(CloseCode.MessageTooBig, `Message over ${maxMessageSize} bytes`);
      return;
    }
    if (this.#queued + payload.length > maxQueuedBytes) {
      this.#closeWs(CloseCode.PolicyViolation, "Messages arrive faster than the tunnel takes them");
      return;
    }
    const frame = encodeRelayFrame(text ? RelayFrameType.Text : RelayFrameType.Binary, payload);
    this.#queue.push(frame);
    this.#queued += frame.length;
    this.#wake?.resolve();
  }

  #onClose(e: CloseEvent | null): void {
    if (this.#closeEvent !== undefined) return;
    this.#closeEvent = e;
    this.#closed.resolve(e);
    this.#wake?.resolve();
  }

  /** Writes queued messages until the socket closes, then the Close frame and FIN. */
  async #pumpOut(): Promise<void> {
    while (true) {
      const frame = this.#queue.shift();
      if (frame !== undefined) {
        if (!this.#streamBroken) await this.#write(frame);
        this.#queued -= frame.length;
        continue;
      }
      if (this.#closeEvent !== undefined) break;
      this.#wake = Promise.withResolvers();
      await this.#wake.promise;
      this.#wake = null;
    }
    if (!this.#streamBroken) {
      const e = this.#closeEvent;
      const code = this.#closeWith?.code ?? (e && e.code > 0 ? e.code : CloseCode.Abnormal);
      const reason = this.#closeWith?.reason ?? e?.reason ?? "";
      await this.#write(encodeCloseFrame(code, reason));
    }
    if (this.#streamBroken) await this.#writer.abort().catch(() => {});
    else await this.#writer.close().catch(() => {});
    // The peer answers with its own Close frame and FIN; do not wait forever.
    this.#closeTimer = setTimeout(() => {
      this.#reader.cancel().catch(() => {});
    }, this.#limits.closeTimeout);
  }

  async #write(frame: Uint8Array): Promise<void> {
    try {
      await this.#writer.write(frame);
    } catch {
      this.#streamBroken = true;
      this.#queue.length = 0;
      this.#closeWs(CloseCode.InternalError, "Tunnel stream failed");
    }
  }

  // ---- stream → WebSocket ----------------------------------------------

  /** Sends frames from the stream to the socket; after a Close frame or an error, discards. */
  async #pumpIn(): Promise<void> {
    const decoder = new RelayFrameDecoder(this.#limits.maxMessageSize);
    let discard = false;
    try {
      if (this.#ws.readyState === WebSocket.CONNECTING) await this.#opened();
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        if (discard) continue;
        try {
          for (const frame of decoder.decode(value)) {
            if (await this.#deliver(frame)) discard = true;
            if (discard) break;
          }
        } catch (err) {
          discard = true;
          const tooBig = err instanceof ProtocolError && err.code === "frame-too-large";
          this.#closeWs(tooBig ? CloseCode.MessageTooBig : CloseCode.InternalError, messageOf(err));
        }
      }
      if (!discard) this.#closeWs(CloseCode.InternalError, "Tunnel stream ended without a close");
    } catch (err) {
      this.#closeWs(CloseCode.InternalError, `Tunnel stream failed: ${messageOf(err)}`);
    } finally {
      this.#reader.releaseLock();
    }
  }

  /** Sends one frame to the socket; true when it was the Close frame. */
  async #deliver(frame: RelayFrame): Promise<boolean> {
    if (frame.type === RelayFrameType.Close) {
      const { code, reason } = decodeClosePayload(frame.payload);
      this.#closeWs(code, reason);
      return true;
    }
    const ws = this.#ws;
    while (ws.bufferedAmount > this.#limits.maxBufferedAmount && ws.readyState === WebSocket.OPEN) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    if (ws.readyState !== WebSocket.OPEN) return false;
    if (frame.type === RelayFrameType.Text) {
      ws.send(this.#utf8.decode(frame.payload));
    } else {
      ws.send(frame.payload);
    }
    return false;
  }

  /** Resolves when the socket opens or closes. */
  async #opened(): Promise<void> {
    const open = Promise.withResolvers<void>();
    const onOpen = () => open.resolve();
    this.#ws.addEventListener("open", onOpen);
    try {
      await Promise.race([open.promise, this.#closed.promise]);
    } finally {
      this.#ws.removeEventListener("open", onOpen);
    }
  }

  /** Closes the socket once, remembering the code for this side's Close frame. */
  #closeWs(code: number, reason: string): void {
    if (this.#closeWith !== null || this.#closeEvent !== undefined) return;
    this.#closeWith = { code, reason };
    const ws = this.#ws;
    if (ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
    const text = truncate(reason, 123);
    if (sendable(code)) {
      try {
        ws.close(code, text);
        return;
      } catch {
        // Client sockets accept only 1000 and 3000–4999.
      }
    }
    ws.close();
  }
}

/** Codes a close frame may carry on the wire (RFC 6455 §7.4, IANA registry). */
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== NO_STATUS &&
    code !== CloseCode.Abnormal) || (code >= 3000 && code <= 4999);
}

/** `text` cut to at most `max` UTF-8 bytes without splitting a character. */
function truncate(text: string, max: number): string {
  const buf = new Uint8Array(Math.min(max, text.length * 3));
  const { read } = new TextEncoder().encodeInto(text, buf);
  return text.slice(0, read);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
