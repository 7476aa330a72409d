/**
 * The agent's TcpForward handler (kind `0x10`): check the target against the
 * allowlist, dial it, answer OK with the address dialled or ERROR with a
 * code and one readable line, then splice. Wire format in
 * `docs/protocol.md`, "Forward streams".
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { StreamHandler } from "../../shared/open/mod.ts";
import { formatHostPort, ForwardError, parseForwardTarget } from "../../shared/forward/target.ts";
import { type DialOptions, dialTcp, resolveTarget } from "./dial.ts";
import { connChannel, muxChannel, splice } from "../../shared/forward/splice.ts";

/** What the forward handlers need. */
export interface ForwardHandlerOptions extends DialOptions {
  /** Logger of the agent's scope. */
  log: Logger;
  /** Aborted when the agent shuts down: every forward is torn down. */
  signal?: AbortSignal;
}

/**
 * Creates the TcpForward handler.
 *
 * @example
 * ```ts
 * const handlers = new Map([[StreamKind.TcpForward, createTcpForwardHandler({
 *   allowlist: new Allowlist(), connectTimeout: 5000, log })]]);
 * ```
 */
export function createTcpForwardHandler(options: ForwardHandlerOptions): StreamHandler {
  const { log } = options;
  return async (incoming) => {
    let conn: Deno.TcpConn;
    let asked = "";
    try {
      const target = parseForwardTarget(incoming.params);
      asked = formatHostPort(target.host, target.port);
      conn = await dialTcp(await resolveTarget(target, options), target.port, options);
    } catch (e) {
      if (!(e instanceof ForwardError)) throw e;
      log.info("TCP forward to {target} refused: {reason}", { target: asked, reason: e.message });
      await incoming.refuse(e.code, e.message);
      return;
    }
    const remote = conn.remoteAddr;
    try {
      await incoming.accept({ address: remote.hostname, port: remote.port });
    } catch {
      // The opener is gone already.
      conn.close();
      incoming.stream.reset();
      return;
    }
    const where = formatHostPort(remote.hostname, remote.port);
    log.debug("TCP forward {id} to {target} ({where}) open", {
      id: incoming.stream.id,
      target: asked,
      where,
    });
    const result = await splice(muxChannel(incoming.stream), connChannel(conn), options.signal);
    log.debug("TCP forward {id} to {where} closed: {to} bytes to it, {from} from it{how}", {
      id: incoming.stream.id,
      where,
      to: result.aToB,
      from: result.bToA,
      how: result.aborted ? ", aborted" : "",
    });
  };
}
