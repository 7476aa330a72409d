/**
 * Opening and serving typed streams over a session: the opener sends an open
 * message and waits for OK; the acceptor dispatches by kind through a table
 * and answers OK or ERROR before any payload flows.
 *
 * @module
 */

import type { MuxStream, Session } from "../mux/mod.ts";
import {
  encodeOpen,
  encodeReply,
  kindName,
  OpenError,
  type OpenMessage,
  type Params,
} from "./message.ts";
import { readOpen, type ReadOptions, readReply } from "./read.ts";

/** How long a refused stream waits for the opener to end it before resetting it. */
const REFUSED_LINGER_MS = 10_000;

/**
 * Most UTF-16 units of an ERROR reply's reason (and 1/10 of that for its
 * code): a reason may quote the peer's parameters, and even at 6 JSON bytes
 * a unit the reply stays well within the 16 KiB body limit.
 */
const MAX_REASON_UNITS = 1000;

/** `text` cut to `max` UTF-16 units (not inside a surrogate pair), with "…" when cut. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** A stream whose open was accepted. */
export interface OpenedStream {
  /** The underlying mux stream (for `reset()`). */
  stream: MuxStream;
  /** The peer's bytes after its OK reply. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
  /** Data the acceptor sent with its OK. */
  data: Params;
}

/**
 * Opens a stream of `message.kind` and waits for the acceptor's answer.
 *
 * @throws {OpenError} "refused" (with the acceptor's code) on an ERROR reply,
 * or a codec error; the stream is reset in both cases.
 * @example
 * ```ts
 * const { readable, writable } = await openStream(session, {
 *   kind: StreamKind.TcpForward,
 *   params: { host: "127.0.0.1", port: 22 },
 * });
 * ```
 */
export async function openStream(
  session: Session,
  message: OpenMessage,
  options: ReadOptions = {},
): Promise<OpenedStream> {
  const request = encodeOpen(message, options.maxBody);
  const stream = await session.open();
  try {
    await stream.write(request);
    const reply = await readReply(stream, options);
    if (!reply.ok) {
      throw new OpenError(
        `${kindName(message.kind)} stream refused: ${reply.message} (${reply.code})`,
        "refused",
        reply.code,
      );
    }
    return { stream, readable: stream.readable, writable: stream.writable, data: reply.data };
  } catch (e) {
    stream.reset();
    throw e;
  }
}

/** An accepted stream awaiting its handler's verdict. */
export interface IncomingStream {
  /** The underlying mux stream. */
  stream: MuxStream;
  /** Kind from the open message. */
  kind: number;
  /** Parameters from the open message (JSON kinds). */
  params: Params;
  /** Body of the open message (text kinds, see `TEXT_KINDS`). */
  text: string;
  /** The opener's bytes after its open message. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the opener; write only after `accept()`. */
  writable: WritableStream<Uint8Array>;
  /**
   * Answers OK, with optional data: a JSON object, or for a text kind its
   * text body; payload may flow afterwards.
   */
  accept(data?: Params | string): Promise<void>;
  /** Answers ERROR with a code and a reason, then ends the stream. */
  refuse(code: string, message: string): Promise<void>;
}

/** Serves one kind of stream. Must call `accept()` or `refuse()`. */
export type StreamHandler = (incoming: IncomingStream) => Promise<void>;

/**
 * Reads the open message of an accepted stream and runs the handler for its
 * kind. Unknown kinds and malformed messages are answered with ERROR; a
 * handler that throws before answering is answered with ERROR "internal".
 * Never throws.
 */
export async function serveStream(
  stream: MuxStream,
  handlers: ReadonlyMap<number, StreamHandler>,
  options: ReadOptions = {},
): Promise<void> {
  const incoming = new Incoming(stream, options.maxBody);
  try {
    const opened = await readOpen(stream, options);
    incoming.kind = opened.kind;
    incoming.params = opened.params;
    incoming.text = opened.text;
  } catch (e) {
    if (e instanceof OpenError && e.code !== "timeout" && e.code !== "truncated") {
      await incoming.refuse(e.code, e.message);
    } else stream.reset();
    return;
  }
  const handler = handlers.get(incoming.kind);
  if (handler === undefined) {
    await incoming.refuse("unknown-kind", `Unknown stream kind ${kindName(incoming.kind)}`);
    return;
  }
  try {
    await handler(incoming);
  } catch (e) {
    if (!incoming.answered) await incoming.refuse("internal", (e as Error).message ?? String(e));
    else stream.reset();
  }
}

/** No parameters (before the open message is read). */
const NO_PARAMS: Params = Object.freeze({});

/**
 * The {@linkcode IncomingStream} handed to a handler: a class, so that a
 * stream costs one object, not an object with getters and closures.
 */
class Incoming implements IncomingStream {
  readonly stream: MuxStream;
  kind = 0;
  params: Params = NO_PARAMS;
  text = "";
  /** OK or ERROR was sent (or is being sent). */
  answered = false;
  readonly #maxBody: number | undefined;

  constructor(stream: MuxStream, maxBody: number | undefined) {
    this.stream = stream;
    this.#maxBody = maxBody;
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.stream.readable;
  }

  get writable(): WritableStream<Uint8Array> {
    return this.stream.writable;
  }

  accept(data: Params | string = {}): Promise<void> {
    if (this.answered) return Promise.reject(new Error("Stream was already answered"));
    this.answered = true;
    // The largest message this side reads is also the largest it answers with.
    return this.stream.write(
      encodeReply(
        typeof data === "string" ? { ok: true, text: data } : { ok: true, data },
        this.#maxBody,
      ),
    );
  }

  async refuse(code: string, message: string): Promise<void> {
    if (this.answered) throw new Error("Stream was already answered");
    this.answered = true;
    const stream = this.stream;
    try {
      // Cut to fit: a reason that quotes an oversized parameter must not turn ERROR into a reset.
      await stream.write(encodeReply({
        ok: false,
        code: cut(code, MAX_REASON_UNITS / 10),
        message: cut(message, MAX_REASON_UNITS),
      }));
      stream.closeWrite();
    } catch {
      // The stream is gone already; nothing to tell.
      stream.reset();
      return;
    }
    // No reset right away: a RST would discard the ERROR before the opener read
    // it. The opener resets or closes after reading; a stuck one is reset later.
    const timer = setTimeout(() => stream.reset(), REFUSED_LINGER_MS);
    stream.closed.then(() => clearTimeout(timer));
    drain(stream);
  }
}

/** Reads and drops whatever the opener still sends, until its FIN (or a reset). */
async function drain(stream: MuxStream): Promise<void> {
  try {
    while ((await stream.read()) !== null) {
      // dropped
    }
  } catch {
    // Reset: nothing left to drain.
  }
}
