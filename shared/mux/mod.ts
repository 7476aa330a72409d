/**
 * Burrow's multiplexer: many streams over one connection, speaking the
 * hashicorp/yamux wire format (see `docs/protocol.md`). It runs over any
 * `Conn` (`shared/transport/conn.ts`); the adapters that make one from a
 * WebSocket or a Deno connection live in `shared/transport/`.
 *
 * @example
 * ```ts
 * import { Session } from "./shared/mux/mod.ts";
 * import { fromWebSocket } from "./shared/transport/websocket.ts";
 * const session = new Session(await fromWebSocket(ws), { client: true });
 * const stream = await session.open();
 * const writer = stream.writable.getWriter();
 * await writer.write(new TextEncoder().encode("hello"));
 * await writer.close(); // FIN
 * ```
 *
 * @module
 */

export { Session } from "./session.ts";
export { MuxStream } from "./stream.ts";
export { defaultConfig, type SessionConfig, type SessionOptions, verifyConfig } from "./config.ts";
export { MuxError, type MuxErrorCode, ProtocolError, type ProtocolErrorCode } from "./errors.ts";
