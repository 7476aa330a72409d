/**
 * A mux transport over a WebSocket carrying binary messages, client or
 * server side (`new WebSocket(url)` or `Deno.upgradeWebSocket`).
 *
 * @module
 */

import type { Conn, ConnSink } from "./conn.ts";

/** Limits of the WebSocket adapter. */
export interface WebSocketConnOptions {
  /** A write waits while more than this many bytes are queued for sending. Default 4 MiB. */
  highWaterMark?: number;
  /**
   * Most bytes of received messages held for the reader before the socket is
   * closed (the receive side of a WebSocket cannot push back; the mux window
   * normally bounds this). Default 64 MiB.
   */
  maxQueued?: number;
}

/** Milliseconds between checks of `bufferedAmount` while a write waits (there is no drain event). */
const DRAIN_POLL_MS = 1;

/**
 * Resolves, once `ws` is open, with a transport over its binary messages.
 * Each write becomes one message; a text message from the peer errors the
 * readable. Closing the writable or cancelling the readable closes the socket.
 *
 * @throws {Error} when the socket closes or fails before it opens.
 * @example
 * ```ts
 * const ws = new WebSocket("wss://example.com/.well-known/burrow-agent", "burrow.v1");
 * const session = new Session(await fromWebSocket(ws), { client: true });
 * ```
 */
export async function fromWebSocket(
  ws: WebSocket,
  options: WebSocketConnOptions = {},
): Promise<Conn> {
  const highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024;
  const maxQueued = options.maxQueued ?? 64 * 1024 * 1024;
  ws.binaryType = "arraybuffer";
  if (ws.readyState === WebSocket.CONNECTING) await opened(ws);
  if (ws.readyState !== WebSocket.OPEN) throw new Error("WebSocket is closed");

  let done = false;
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      ws.addEventListener("message", (e: MessageEvent) => {
        if (done) return;
        if (typeof e.data === "string") {
          fail(controller, ws, 1003, "Burrow expects binary WebSocket messages, got text");
          return;
        }
        const chunk = new Uint8Array(e.data as ArrayBuffer);
        // desiredSize is minus the bytes queued and not yet read.
        if (chunk.length - (controller.desiredSize ?? 0) > maxQueued) {
          fail(controller, ws, 1009, `More than ${maxQueued} bytes received and not read`);
          return;
        }
        controller.enqueue(chunk);
      });
      ws.addEventListener("close", (e: CloseEvent) => {
        if (done) return;
        done = true;
        if (e.wasClean || e.code === 1000) controller.close();
        else controller.error(new Error(`WebSocket closed (code ${e.code}${reasonOf(e)})`));
      });
    },
    cancel() {
      done = true;
      ws.close(1000);
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: 0 }));

  const sink: ConnSink = {
    async write(chunk) {
      if (ws.readyState !== WebSocket.OPEN) throw new Error("WebSocket is closed");
      ws.send(chunk);
      while (ws.bufferedAmount > highWaterMark && ws.readyState === WebSocket.OPEN) {
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      }
    },
    close() {
      ws.close(1000);
      return Promise.resolve();
    },
    abort() {
      ws.close(1000);
      return Promise.resolve();
    },
  };
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => sink.write(chunk),
    close: () => sink.close(),
    abort: () => sink.abort(),
  });

  function fail(
    controller: ReadableStreamDefaultController<Uint8Array>,
    socket: WebSocket,
    code: number,
    message: string,
  ): void {
    done = true;
    controller.error(new Error(message));
    socket.close(code, message.slice(0, 120));
  }

  // WebSocket.send() copies the bytes before it returns.
  return { readable, writable, sink, reuseWriteBuffers: true };
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onOpen = () => {
      cleanup();
      resolve();
    };
    const onClose = (e: Event) => {
      cleanup();
      const code = e instanceof CloseEvent ? ` (code ${e.code}${reasonOf(e)})` : "";
      reject(new Error(`WebSocket failed to open${code}`));
    };
    const cleanup = () => {
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("close", onClose);
    };
    ws.addEventListener("open", onOpen);
    ws.addEventListener("close", onClose);
  });
}

function reasonOf(e: CloseEvent): string {
  return e.reason ? `: ${e.reason}` : "";
}
