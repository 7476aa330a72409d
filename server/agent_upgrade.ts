/**
 * The WebSocket side of an agent connection: which upgrade requests on the
 * agent path are refused before any work (no WebSocket upgrade, another
 * protocol version), and waiting for a socket's close handshake on shutdown.
 *
 * @module
 */

import { SUBPROTOCOL } from "../shared/protocol.ts";
import type { WindowLog } from "./agent_gate.ts";
import { releaseUpgrade } from "./janitor.ts";

/**
 * The 426 answer to a request on the agent path (or, with `role`
 * "operator", the operator path) that is no WebSocket upgrade or does not
 * offer {@linkcode SUBPROTOCOL} (noted on `refusals`, a log that writes once
 * per window: a peer of another version, or anyone flooding the path); null
 * when the upgrade may go ahead.
 *
 * @example
 * ```ts
 * const refusal = upgradeRefusal(req, "203.0.113.7", refusals);
 * if (refusal !== null) return refusal;
 * ```
 */
export function upgradeRefusal(
  req: Request,
  remote: string,
  refusals: WindowLog,
  role: "agent" | "operator" = "agent",
): Response | null {
  const noun = role === "agent" ? "Agent" : "Operator";
  const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim())
    .filter((s) => s !== "");
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response(`Burrow ${role}s connect with a WebSocket upgrade\n`, { status: 426 });
  }
  if (offered.includes(SUBPROTOCOL)) return null;
  refusals.note(
    `${noun} at ${remote} refused: offered subprotocol ${
      offered.join(", ") || "none"
    }, server speaks ${SUBPROTOCOL}`,
  );
  return new Response(
    `This Burrow server speaks ${SUBPROTOCOL}; the ${role} offered ${
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

/**
 * How long a WebSocket whose session ended may take to finish its close
 * handshake before its connection is left to the janitor (ms).
 */
export const CLOSE_HANDSHAKE_GRACE_MS = 5000;

/**
 * After the session on `ws` ended: waits up to `ms` for the close handshake,
 * then, if the peer never finished it, hands the connection `req` upgraded
 * to the janitor ({@link releaseUpgrade}), which shuts it down. Without this
 * a client that upgrades and then ignores the close frame (say, one that
 * never registers) would hold its connection for as long as it likes.
 *
 * @example
 * ```ts ignore
 * run.finally(() => endUpgrade(req, socket));
 * ```
 */
export async function endUpgrade(
  req: Request,
  ws: WebSocket,
  ms = CLOSE_HANDSHAKE_GRACE_MS,
): Promise<void> {
  await socketClosed(ws, ms);
  if (ws.readyState !== WebSocket.CLOSED) releaseUpgrade(req);
}
