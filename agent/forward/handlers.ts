/**
 * The agent's forward stream handlers, keyed by kind, for its dispatch table.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { type StreamHandler, StreamKind } from "../../shared/open/mod.ts";
import type { AgentConfig } from "../config_types.ts";
import { createTcpForwardHandler } from "./tcp.ts";
import { createUdpForwardHandler } from "./udp.ts";

/**
 * The TcpForward and UdpForward handlers for `config` (its `forward`
 * allowlist and UDP idle timeout, its `connectTimeout`), torn down when
 * `signal` aborts.
 *
 * @example
 * ```ts
 * const handlers = new Map([[StreamKind.Http, http], ...forwardHandlers(config, log, signal)]);
 * ```
 */
export function forwardHandlers(
  config: Pick<AgentConfig, "forward" | "connectTimeout">,
  log: Logger,
  signal: AbortSignal,
): [number, StreamHandler][] {
  const options = {
    allowlist: config.forward.allowlist,
    connectTimeout: config.connectTimeout,
    log: log.getChild("forward"),
    signal,
  };
  return [
    [StreamKind.TcpForward, createTcpForwardHandler(options)],
    [
      StreamKind.UdpForward,
      createUdpForwardHandler({ ...options, idleTimeout: config.forward.udpIdleTimeout }),
    ],
  ];
}
