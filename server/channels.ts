/**
 * Channels through agents: the server's {@linkcode OpenChannel}. It finds
 * the agent in the directory, opens a TcpForward or UdpForward stream on its
 * session, waits for the agent's verdict (its dial), and keeps the audit's
 * channel row: opened when asked for, closed at once for a refusal (result
 * `refused` for the agent's policy, `failed` otherwise), or by the caller's
 * `end()` with the bytes each way. Operator channels (`server/operator/`)
 * and published ports share it.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import {
  formatHostPort,
  ForwardError,
  type ForwardReplyData,
  openTcpForward,
  openUdpForward,
} from "../shared/forward/mod.ts";
import type { MuxStream, Session } from "../shared/mux/mod.ts";
import type {
  AgentDirectory,
  ChannelRefusal,
  ChannelRequest,
  OpenChannel,
  OpenedChannel,
} from "./agent_directory.ts";
import type { AuditStore, ChannelResult } from "./audit/mod.ts";

/** Default of {@linkcode OpenChannelOptions.openTimeout}: above any agent's `connectTimeout`. */
export const CHANNEL_OPEN_TIMEOUT = 30_000;

/** What {@linkcode makeOpenChannel} needs. */
export interface OpenChannelOptions {
  /** Identified agents connected now. */
  directory: AgentDirectory;
  /** The audit (only its store is used); null records nothing. */
  audit: { store: Pick<AuditStore, "channelOpened" | "channelClosed"> } | null;
  /** System log: refusals at info, opens and ends at debug. */
  log: Logger;
  /**
   * Milliseconds to wait for the agent's reply, which comes after its dial
   * (keep it above the agents' `connectTimeout`). Default {@linkcode CHANNEL_OPEN_TIMEOUT}.
   */
  openTimeout?: number;
}

/**
 * The server's {@linkcode OpenChannel}: one per server, shared by operator
 * channels and published ports.
 *
 * @example
 * ```ts ignore
 * const openChannel = makeOpenChannel({ directory, audit, log });
 * const opened = await openChannel({
 *   agent: "db1", kind: "forward", host: "127.0.0.1", port: 5432,
 *   operator: "alice", source: "192.0.2.7:50123",
 * });
 * if (!opened.ok) console.log(opened.message); // "agent db1 is not connected"
 * ```
 */
export function makeOpenChannel(options: OpenChannelOptions): OpenChannel {
  const timeout = options.openTimeout ?? CHANNEL_OPEN_TIMEOUT;
  return async (request, signal, onOpen) => {
    // An agent redialling after a lost link is waited for (agents.holdTime).
    const agent = options.directory.get(request.agent) ??
      await options.directory.waitFor?.(request.agent, signal);
    const row = new ChannelRow(options, request, agent?.sessionId);
    if (agent === undefined) {
      return row.refuse("agent-offline", `agent ${request.agent} is not connected`);
    }
    if (signal?.aborted) return row.refuse("aborted", "the channel was given up before it opened");
    const opening = openOn(agent.session, request, timeout, onOpen);
    let stream: MuxStream;
    let target: ForwardReplyData;
    try {
      ({ stream, target } = signal === undefined
        ? await opening
        : await raceAbort(opening, signal));
    } catch (e) {
      if (e === ABORTED) {
        // The open goes on without us: drop its stream when it comes.
        opening.then(({ stream }) => stream.reset(), () => {});
        return row.refuse("aborted", "the channel was given up before it opened");
      }
      if (e instanceof ForwardError) return row.refuse(e.code, e.message);
      return row.refuse("open-failed", (e as Error).message ?? String(e));
    }
    // The identity ending (revoked, replaced) ends the channels through it.
    const ended = agent.ended;
    const cut = () => stream.reset();
    if (ended?.aborted) cut();
    else ended?.addEventListener("abort", cut, { once: true });
    options.log.debug("Channel {id} open: {operator} → {agent} {target} ({address})", {
      id: row.id,
      operator: request.operator || "(published)",
      agent: request.agent,
      target: row.target,
      address: formatHostPort(target.address, target.port),
    });
    const opened: OpenedChannel = {
      ok: true,
      stream,
      target,
      end: (result, bytes, detail) => {
        ended?.removeEventListener("abort", cut);
        row.end(result, bytes, detail);
      },
    };
    return opened;
  };
}

/**
 * Records a channel the server itself refused before asking the agent (an
 * operator not authorised for it): a channel row opened and closed at once
 * with result `refused` and `detail`.
 *
 * @example
 * ```ts ignore
 * recordRefusedChannel(audit, request, "operator alice may not use kind udp");
 * ```
 */
export function recordRefusedChannel(
  audit: OpenChannelOptions["audit"],
  request: ChannelRequest,
  detail: string,
): void {
  if (audit === null) return;
  const id = audit.store.channelOpened({
    operator: request.operator,
    agent: request.agent,
    kind: request.kind,
    target: formatHostPort(request.host, request.port),
    source: request.source,
  });
  audit.store.channelClosed(id, { result: "refused", detail, bytesUp: 0, bytesDown: 0 });
}

/** The agent's stream after its OK, and where it connected. */
interface AgentStream {
  stream: MuxStream;
  target: ForwardReplyData;
}

/** Opens the forward stream the request's kind calls for. */
async function openOn(
  session: Session,
  request: ChannelRequest,
  timeout: number,
  onOpen: ((stream: MuxStream) => void) | undefined,
): Promise<AgentStream> {
  if (request.kind === "udp") {
    const flow = await openUdpForward(session, request.host, request.port, { timeout });
    return { stream: flow.stream, target: flow.target };
  }
  const forward = await openTcpForward(session, request.host, request.port, {
    timeout,
    ...(onOpen === undefined ? {} : { onOpen }),
  });
  return { stream: forward.stream, target: forward.target };
}

/** What {@linkcode raceAbort} rejects with when the signal wins. */
const ABORTED = Symbol("aborted");

/** `promise`, or a rejection with {@linkcode ABORTED} as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => reject(ABORTED);
  signal.addEventListener("abort", onAbort, { once: true });
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener("abort", onAbort)
  );
}

/** One channel's audit row (none without audit) and its log lines. */
class ChannelRow {
  readonly id: number | null;
  readonly target: string;
  readonly #options: OpenChannelOptions;
  readonly #request: ChannelRequest;
  #ended = false;

  constructor(options: OpenChannelOptions, request: ChannelRequest, sessionId?: number) {
    this.#options = options;
    this.#request = request;
    this.target = formatHostPort(request.host, request.port);
    this.id = options.audit?.store.channelOpened({
      operator: request.operator,
      agent: request.agent,
      kind: request.kind,
      target: this.target,
      source: request.source,
      ...(sessionId === undefined ? {} : { sessionId }),
    }) ?? null;
  }

  /** Closes the row as refused (agent policy) or failed (anything else); the refusal to return. */
  refuse(code: string, message: string): ChannelRefusal {
    const request = this.#request;
    // A published port logs its refusals itself, once per window: a flood of clients to an
    // offline agent must not write a line each.
    const level = request.kind === "published" ? "debug" : "info";
    this.#options.log[level](
      "Channel {operator} → {agent} {target} ({kind}) not opened: {message} ({code})",
      {
        operator: request.operator || "(published)",
        agent: request.agent,
        target: this.target,
        kind: request.kind,
        message,
        code,
      },
    );
    this.end(code === "policy" ? "refused" : "failed", { up: 0, down: 0 }, message);
    return { ok: false, code, message };
  }

  /** Closes the row with its result and bytes; later calls do nothing. */
  end(result: ChannelResult, bytes: { up: number; down: number }, detail?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.id !== null) {
      this.#options.audit?.store.channelClosed(this.id, {
        result,
        bytesUp: bytes.up,
        bytesDown: bytes.down,
        ...(detail === undefined ? {} : { detail }),
      });
    }
    this.#options.log.debug("Channel {id} ended: {result}, {up} bytes up, {down} down", {
      id: this.id,
      result,
      up: bytes.up,
      down: bytes.down,
    });
  }
}
