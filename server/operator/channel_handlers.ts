/**
 * The streams an operator opens: TcpForward and UdpForward, each one
 * channel through an agent. The server reads the params strictly, asks
 * `authorizeOperator` (the operator's file as it is now: a file changed
 * since the operator connected applies to its next stream), opens the
 * channel to the agent, answers the operator with the agent's reply as it
 * came (or its own ERROR: `bad-params`, `unauthorized`, `busy`,
 * `agent-offline`), then splices the two streams: bytes both ways with no
 * buffer of its own beyond one chunk each way, half-close carried, a reset
 * on either side resetting the other, and backpressure end to end through
 * the two mux windows.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { ForwardError, muxChannel, splice } from "../../shared/forward/mod.ts";
import { type IncomingStream, type StreamHandler, StreamKind } from "../../shared/open/mod.ts";
import type { MuxStream } from "../../shared/mux/mod.ts";
import type { AccessFolders } from "../access/access_folders.ts";
import { authorizeOperator } from "../access/authorize.ts";
import type { ChannelRequest, OpenChannel } from "../agent_directory.ts";
import { type OpenChannelOptions, recordRefusedChannel } from "../channels.ts";
import { type OperatorForward, parseOperatorForward } from "./forward_params.ts";

/** What the handlers need from the server. */
export interface OperatorChannelDeps {
  /** Operator files (by name) and agent files (for their groups). */
  access: Pick<AccessFolders, "operator" | "agent">;
  /** Opens the agent's side of a channel (and keeps its audit row). */
  openChannel: OpenChannel;
  /** Where channels the server refuses itself are recorded; null records nothing. */
  audit: OpenChannelOptions["audit"];
  /** System log. */
  log: Logger;
}

/** The operator connection the handlers serve. */
export interface OperatorPeer {
  /** The operator's name (its `operators.d` file). */
  operator: string;
  /** Its address (IP), for `networks`. */
  address: string;
  /** Its address and port, for the audit (`192.0.2.7:50123`). */
  source: string;
  /** Most channels open at once on this connection; more are answered ERROR `busy`. */
  maxStreams: number;
}

/** Channels open on one operator connection. */
interface PeerState {
  open: number;
}

/**
 * The TcpForward and UdpForward handlers of one operator connection, for
 * `serveStream`.
 *
 * @example
 * ```ts ignore
 * const handlers = operatorHandlers(deps, { operator: "alice", address, source, maxStreams: 256 });
 * for (let s = await session.accept(); s !== null; s = await session.accept()) serveStream(s, handlers);
 * ```
 */
export function operatorHandlers(
  deps: OperatorChannelDeps,
  peer: OperatorPeer,
): Map<number, StreamHandler> {
  const state: PeerState = { open: 0 };
  return new Map<number, StreamHandler>([
    [StreamKind.TcpForward, (incoming) => serveChannel(deps, peer, state, incoming, false)],
    [StreamKind.UdpForward, (incoming) => serveChannel(deps, peer, state, incoming, true)],
  ]);
}

/** Serves one operator stream from its params to the end of the splice. */
async function serveChannel(
  deps: OperatorChannelDeps,
  peer: OperatorPeer,
  state: PeerState,
  incoming: IncomingStream,
  udp: boolean,
): Promise<void> {
  let forward: OperatorForward;
  try {
    forward = parseOperatorForward(incoming.params, udp);
  } catch (e) {
    if (!(e instanceof ForwardError)) throw e;
    return await incoming.refuse("bad-params", e.message);
  }
  const request: ChannelRequest = { ...forward, operator: peer.operator, source: peer.source };
  const denied = authorize(deps, peer, forward);
  if (denied !== null) {
    deps.log.info("Channel {operator} → {agent} {host}:{port} ({kind}) refused: {reason}", {
      ...request,
      reason: denied,
    });
    recordRefusedChannel(deps.audit, request, denied);
    return await incoming.refuse("unauthorized", denied);
  }
  if (state.open >= peer.maxStreams) {
    return await incoming.refuse(
      "busy",
      `operator connection has ${peer.maxStreams} channels open (operators.maxStreams)`,
    );
  }
  state.open++;
  try {
    await relay(deps, incoming, request);
  } finally {
    state.open--;
  }
}

/** Null when `peer` may open `forward`, else the reason it may not. */
function authorize(
  deps: OperatorChannelDeps,
  peer: OperatorPeer,
  forward: OperatorForward,
): string | null {
  const file = deps.access.operator(peer.operator);
  if (file === undefined) return `operator ${peer.operator} is no longer configured`;
  const answer = authorizeOperator(file, {
    kind: forward.kind,
    agentName: forward.agent,
    agentGroups: deps.access.agent(forward.agent)?.groups ?? [],
    clientAddr: peer.address,
  });
  return answer.allowed ? null : answer.message;
}

/** Opens the agent's side, passes its answer on, and splices the two streams until both end. */
async function relay(
  deps: OperatorChannelDeps,
  incoming: IncomingStream,
  request: ChannelRequest,
): Promise<void> {
  // The operator resetting its stream (or its session ending) gives up a pending open.
  const gone = new AbortController();
  incoming.stream.closed.then(() => gone.abort());
  // What the operator sent behind its open request goes on to the agent behind ours,
  // before the agent's answer: a round trip less for the first bytes.
  let early: Promise<number> = Promise.resolve(0);
  const opened = await deps.openChannel(request, gone.signal, (stream) => {
    early = passBuffered(incoming.stream, stream);
  });
  const earlyBytes = await early;
  if (!opened.ok) return await incoming.refuse(opened.code, opened.message);
  try {
    await incoming.accept({ address: opened.target.address, port: opened.target.port });
  } catch (e) {
    opened.stream.reset();
    opened.end("failed", { up: 0, down: 0 }, `operator went away: ${(e as Error).message}`);
    return;
  }
  const result = await splice(muxChannel(incoming.stream), muxChannel(opened.stream));
  opened.end(
    result.aborted ? "failed" : "ok",
    { up: earlyBytes + result.aToB, down: result.bToA },
    result.aborted ? "reset before both sides ended" : undefined,
  );
}

/**
 * Writes to `to` what `from` holds already (never waits for more, never reads
 * its end), and resolves with the bytes passed; stops quietly when `to` fails
 * (the agent refused or went away: the bytes were the operator's to lose).
 * Only what was held when it started: reading grants the operator window for
 * more, and passing that too kept the relay here (not reading the agent's
 * side) for as long as the operator kept sending, for good with a target that
 * stops reading while its answer is not read (an echo).
 */
async function passBuffered(from: MuxStream, to: MuxStream): Promise<number> {
  const held = from.buffered;
  let passed = 0;
  try {
    while (passed < held && from.buffered > 0) {
      const chunk = await from.read();
      if (chunk === null) break;
      await to.write(chunk);
      passed += chunk.length;
    }
  } catch {
    // The agent's stream is gone: its open fails, or the splice sees it.
  }
  return passed;
}
