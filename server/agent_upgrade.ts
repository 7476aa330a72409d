/**
 * The WebSocket side of an agent connection: which upgrade requests on the
 * agent path are refused before any work (no WebSocket upgrade, another
 * protocol version), and waiting for a socket's close handshake on shutdown.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { SUBPROTOCOL } from "../shared/protocol.ts";

/**
 * The 426 answer to a request on the agent path that is no WebSocket upgrade
 * or does not offer {@linkcode SUBPROTOCOL} (logged at WARN: an agent of
 * another version); null when the upgrade may go ahead.
 *
 * @example
 * ```ts
 * const refusal = upgradeRefusal(req, "203.0.113.7", log);
 * if (refusal !== null) return refusal;
 * ```
 */
export function upgradeRefusal(req: Request, remote: string, log: Logger): Response | null {
  const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim())
    .filter((s) => s !== "");
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("Burrow agents connect with a WebSocket upgrade\n", { status: 426 });
  }
  if (offered.includes(SUBPROTOCOL)) return null;
  log.warn(
    "Agent at {remote} refused: offered subprotocol {offered}, server speaks {ours}",
    {
      remote,
      offered: offered.join(", ") || "none",
      ours: SUBPROTOCOL,
    },
  );
  return new Response(
    `This Burrow server speaks ${SUBPROTOCOL}; the agent offered ${
      offered.join(", ") || "no subprotocol"
    }. Upgrade the older side.\n`,
    { status: 426, headers: { "upgrade": "websocket" } },
  );
}

/**
 * Resolves once `ws` is closed, or after `ms`.
 *
 * @example
 * ```ts
 * await socketClosed(socket, 1000);
 * ```
 */
export async function socketClosed(ws: WebSocket, ms: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onClose: (() => void) | undefined;
  await new Promise<void>((resolve) => {
    onClose = resolve;
    timer = setTimeout(resolve, ms);
    ws.addEventListener("close", onClose, { once: true });
  });
  clearTimeout(timer);
  ws.removeEventListener("close", onClose!);
}
