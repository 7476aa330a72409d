/**
 * The agent's UdpForward handler (kind `0x11`): check the target against the
 * allowlist, open a UDP socket connected to it, answer OK with the address
 * or ERROR, then relay datagrams (`udp_relay.ts`). Wire format in
 * `docs/protocol.md`, "Forward streams".
 *
 * Uses `node:dgram`: `Deno.listenDatagram` needs `--unstable-net` in Deno
 * 2.9.6 (without it the function does not exist), and `node:dgram` can also
 * `connect()` a socket, so the kernel drops datagrams from anyone but the target.
 *
 * @module
 */

import type { Socket } from "node:dgram";
import type { StreamHandler } from "../../shared/open/mod.ts";
import { formatHostPort, ForwardError, parseForwardTarget } from "../../shared/forward/target.ts";
import { CidrSet } from "../../shared/net/cidr.ts";
import { resolveTarget } from "./dial.ts";
import type { ForwardHandlerOptions } from "./tcp.ts";
import { UdpRelay } from "./udp_relay.ts";

/** Default {@linkcode UdpForwardOptions.maxQueued}: 256 KiB of datagrams waiting for the stream. */
export const DEFAULT_UDP_QUEUE = 256 * 1024;

/** What the UdpForward handler needs beyond the TCP one. */
export interface UdpForwardOptions extends ForwardHandlerOptions {
  /** A flow quiet both ways for this long (ms) is closed. Config `forward.udpIdleTimeout`. */
  idleTimeout: number;
  /** Most framed bytes from the target waiting for the stream. Default {@linkcode DEFAULT_UDP_QUEUE}. */
  maxQueued?: number;
}

const LOOPBACK = new CidrSet(["127.0.0.0/8", "::1"]);

/**
 * Opens a UDP socket connected to `address:port`: bound to loopback for a
 * loopback target, else to the family's wildcard address (the kernel picks
 * the source). `node:dgram` is loaded here, on the first UDP forward, not
 * at the agent's start (Deno's Node socket layer: MBs of RSS).
 *
 * @throws {ForwardError} `connect-failed` when the socket cannot be bound or connected.
 */
export async function connectUdp(address: string, port: number): Promise<Socket> {
  const { createSocket } = await import("node:dgram");
  const v6 = address.includes(":");
  const socket = createSocket({ type: v6 ? "udp6" : "udp4" });
  const local = LOOPBACK.contains(address) ? (v6 ? "::1" : "127.0.0.1") : (v6 ? "::" : "0.0.0.0");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, local, () => {
        socket.connect(port, address, () => {
          socket.off("error", reject);
          resolve();
        });
      });
    });
    return socket;
  } catch (e) {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    throw new ForwardError(
      `cannot open a UDP socket to ${formatHostPort(address, port)}: ${(e as Error).message}`,
      "connect-failed",
    );
  }
}

/**
 * The address a UDP flow uses among a name's allowed addresses: the first
 * IPv4 one if any (UDP has no connect to fall back on, and many services
 * listen on IPv4 only, as Go's resolver also prefers), else the first.
 */
export function pickUdpAddress(addresses: readonly string[]): string {
  return addresses.find((a) => !a.includes(":")) ?? addresses[0]!;
}

/**
 * Creates the UdpForward handler.
 *
 * @example
 * ```ts
 * const handlers = new Map([[StreamKind.UdpForward, createUdpForwardHandler({
 *   allowlist: new Allowlist(), connectTimeout: 5000, idleTimeout: 60_000, log })]]);
 * ```
 */
export function createUdpForwardHandler(options: UdpForwardOptions): StreamHandler {
  const { log } = options;
  return async (incoming) => {
    let socket: Socket;
    let asked = "";
    let address: string;
    let port: number;
    try {
      const target = parseForwardTarget(incoming.params);
      asked = formatHostPort(target.host, target.port);
      address = pickUdpAddress(await resolveTarget(target, options));
      port = target.port;
      socket = await connectUdp(address, port);
    } catch (e) {
      if (!(e instanceof ForwardError)) throw e;
      log.info("UDP forward to {target} refused: {reason}", { target: asked, reason: e.message });
      await incoming.refuse(e.code, e.message);
      return;
    }
    try {
      await incoming.accept({ address, port });
    } catch {
      socket.close();
      incoming.stream.reset();
      return;
    }
    const relay = new UdpRelay(incoming.stream, socket, {
      idleTimeout: options.idleTimeout,
      maxQueued: options.maxQueued ?? DEFAULT_UDP_QUEUE,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const result = await relay.run();
    log.debug(
      "UDP forward {id} to {where} closed ({reason}): {sent} sent, {received} received, {dropped} dropped",
      {
        id: incoming.stream.id,
        where: formatHostPort(address, port),
        ...result,
      },
    );
  };
}
