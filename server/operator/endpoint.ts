/**
 * The operator path (`operatorPath`, default `/.well-known/burrow-operator`):
 * the WebSocket upgrade (426 without `burrow.v1`), the bearer token
 * (`token_auth.ts`: 401, 403, rate limits), a cap on connections (503), then
 * one mux session per connection whose TcpForward/UdpForward streams are
 * channels through agents (`channel_handlers.ts`). An operator whose file is
 * removed, or whose token changes, is disconnected (GoAway, then the
 * session closes).
 *
 * @module
 */

import { upgradeMuxSocket } from "../../shared/transport/upgrade.ts";
import { fromWebSocket } from "../../shared/transport/websocket.ts";
import { Session } from "../../shared/mux/mod.ts";
import { serveStream } from "../../shared/open/mod.ts";
import { SUBPROTOCOL } from "../../shared/protocol.ts";
import type { AccessChange } from "../access/access_folders.ts";
import type { OperatorFile } from "../access/types.ts";
import { WindowLog } from "../agent_gate.ts";
import { endUpgrade, socketClosed, upgradeRefusal } from "../agent_upgrade.ts";
import type { OperatorLimits } from "./config.ts";
import { authenticateOperator, type OperatorAuthDeps } from "./token_auth.ts";
import { type OperatorChannelDeps, operatorHandlers } from "./channel_handlers.ts";

/** Longest a stopping server waits for an operator's WebSocket close handshake, in ms. */
const SOCKET_CLOSE_WAIT_MS = 1000;

/**
 * Streams a session admits beyond `maxStreams` channels: refused streams
 * linger until the operator reads the ERROR, and each is one stream.
 */
const REFUSED_STREAM_SLACK = 64;

/** What the endpoint needs from the server. */
export interface OperatorEndpointDeps
  extends Omit<OperatorAuthDeps, "access">, Omit<OperatorChannelDeps, "access" | "audit"> {
  /** Operator files (by token and name) and agent files (their groups). */
  access: OperatorAuthDeps["access"] & OperatorChannelDeps["access"];
  /** The audit (refusals, refused channels); null records nothing. */
  audit: (OperatorAuthDeps["audit"] & OperatorChannelDeps["audit"]) | null;
  /** `operators.maxConnections`, `operators.maxStreams`. */
  limits: OperatorLimits;
  /** Keepalive ping interval and timeout, ms. Default 15,000 each (as for agents). */
  keepAlive?: { interval: number; timeout: number };
}

/** One operator connection. */
interface OperatorConn {
  id: string;
  operator: string;
  /** The token hash it authenticated with: a change of it disconnects. */
  token: string;
  session: Session;
}

/**
 * Serves the operator path.
 *
 * @example
 * ```ts ignore
 * const operators = new OperatorEndpoint({ access, auth, audit, log, openChannel, limits: config.operators });
 * access.watch((change) => operators.accessChanged(change));
 * // in the request handler:
 * if (isPath(target, config.operatorPath)) return operators.upgrade(req, info.remoteAddr);
 * // at shutdown, before the listeners stop:
 * await operators.close();
 * ```
 */
export class OperatorEndpoint {
  readonly #deps: OperatorEndpointDeps;
  readonly #conns = new Set<OperatorConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #badUpgrades: WindowLog;
  readonly #overCap: WindowLog;
  /** Connections admitted: running, or upgrading (a slot is taken before the upgrade). */
  #admitted = 0;
  #closing = false;

  /** An endpoint with no connection yet. */
  constructor(deps: OperatorEndpointDeps) {
    this.#deps = deps;
    this.#badUpgrades = new WindowLog(deps.log, "operator upgrade(s) refused or abandoned");
    this.#overCap = new WindowLog(deps.log, "operator connection(s) refused over the cap");
  }

  /** Operator connections open now. */
  get size(): number {
    return this.#conns.size;
  }

  /** Channels (streams) open on all operator sessions. */
  openStreams(): number {
    let n = 0;
    for (const c of this.#conns) n += c.session.numStreams;
    return n;
  }

  /**
   * Answers a request on the operator path: 426 without a WebSocket upgrade
   * offering {@linkcode SUBPROTOCOL}, 401/403/503 from the token check, 503
   * over `maxConnections` or while stopping; else the 101, and the session
   * runs until either side ends it.
   */
  async upgrade(req: Request, remote: Deno.NetAddr): Promise<Response> {
    const address = remote.hostname;
    const refused = upgradeRefusal(req, address, this.#badUpgrades, "operator");
    if (refused !== null) return refused;
    if (this.#closing) return new Response("Server is shutting down\n", { status: 503 });
    const admission = await authenticateOperator(req, address, this.#deps);
    if (!admission.ok) return admission.response;
    const operator = admission.operator;
    if (this.#closing) return new Response("Server is shutting down\n", { status: 503 });
    const max = this.#deps.limits.maxConnections;
    if (this.#admitted >= max) {
      this.#overCap.note(
        `Operator ${operator.name} from ${address} refused: ${max} operator connections open`,
      );
      return new Response("Too many operator connections; retry later\n", {
        status: 503,
        headers: { "retry-after": "10" },
      });
    }
    let upgraded;
    try {
      upgraded = upgradeMuxSocket(req, SUBPROTOCOL);
    } catch (e) {
      this.#badUpgrades.note(
        `Operator ${operator.name} at ${address} sent a bad upgrade: ${(e as Error).message}`,
      );
      return new Response("Bad WebSocket upgrade\n", { status: 400 });
    }
    this.#admitted++;
    const run = this.#run(upgraded.socket, operator, remote).finally(() => this.#admitted--);
    // A peer that ignores the close frame does not keep its connection.
    // (Not while the server stops: its janitor stops too, and Deno closes what is left.)
    const ended = run.catch(() => {}).then(() =>
      this.#closing ? undefined : endUpgrade(req, upgraded.socket)
    );
    for (const task of [run, ended]) {
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
    }
    return upgraded.response;
  }

  /**
   * Applies a change of the `operators.d` folder (wire it to
   * `AccessFolders.watch`): an operator whose file is gone, or whose token
   * changed, is disconnected; other changes apply to its next channel.
   */
  accessChanged(change: AccessChange): void {
    if (change.folder !== "operators") return;
    const { name, after } = change.change;
    for (const conn of this.#conns) {
      if (conn.operator !== name) continue;
      if (after !== undefined && after.token === conn.token) continue;
      const why = after === undefined ? "its file was removed" : "its token changed";
      this.#deps.log.info("operator#{id} ({operator}) disconnected: {why}", {
        id: conn.id,
        operator: name,
        why,
      });
      conn.session.close(); // GoAway, then every stream ends
    }
  }

  /** Closes every operator session (GoAway first) and waits for them. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#conns].map((c) => c.session.close()));
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  /** Runs one operator's session until it ends. */
  async #run(socket: WebSocket, operator: OperatorFile, remote: Deno.NetAddr): Promise<void> {
    const address = remote.hostname;
    let transport;
    try {
      transport = await fromWebSocket(socket);
    } catch (e) {
      this.#badUpgrades.note(
        `Operator ${operator.name} at ${address} went away during the upgrade: ${
          (e as Error).message
        }`,
      );
      return;
    }
    const keepAlive = this.#deps.keepAlive ?? { interval: 15_000, timeout: 15_000 };
    const maxStreams = this.#deps.limits.maxStreams;
    const session = new Session(transport, {
      client: false,
      keepAliveInterval: keepAlive.interval,
      pingTimeout: keepAlive.timeout,
      maxStreams: maxStreams + REFUSED_STREAM_SLACK,
      // The peer is a Burrow operator client: SYN, ACK and FIN ride on Data frames.
      foldFlags: true,
    });
    const conn: OperatorConn = {
      id: crypto.randomUUID().slice(0, 8),
      operator: operator.name,
      token: operator.token,
      session,
    };
    this.#conns.add(conn);
    const source = address.includes(":")
      ? `[${address}]:${remote.port}`
      : `${address}:${remote.port}`;
    this.#deps.log.info("operator#{id} ({operator}) connected from {source}", {
      id: conn.id,
      operator: operator.name,
      source,
    });
    if (this.#closing) session.close();
    const handlers = operatorHandlers(this.#deps, {
      operator: operator.name,
      address,
      source,
      maxStreams,
    });
    const serving = new Set<Promise<void>>();
    for (let s = await session.accept(); s !== null; s = await session.accept()) {
      const p = serveStream(s, handlers);
      serving.add(p);
      p.finally(() => serving.delete(p));
    }
    await session.closed;
    this.#conns.delete(conn);
    if (this.#closing) await socketClosed(socket, SOCKET_CLOSE_WAIT_MS);
    await Promise.all(serving);
    this.#deps.log.info("operator#{id} ({operator}) disconnected: {reason}", {
      id: conn.id,
      operator: operator.name,
      reason: session.closeReason?.message ?? "closed",
    });
  }
}
