/**
 * Forward streams, TcpForward (`0x10`) and UdpForward (`0x11`): their open
 * parameters, the datagram framing, and the opener's side.
 *
 * @module
 */

export * from "./target.ts";
export * from "./datagram.ts";
export * from "./open.ts";
