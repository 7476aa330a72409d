/**
 * What the rest of the server may know about identified agents: who is
 * connected now (by name, from its Identify stream), and how to open a
 * channel to one of them. Operator channels (`server/operator/`), published
 * ports (`server/publish/`) and the admin API (`server/admin/`) depend on
 * these types only, never on `server/agents.ts`; `startServer` wires them.
 *
 * @module
 */

import type { AgentInfo } from "../shared/identify.ts";
import type { MuxStream, Session } from "../shared/mux/mod.ts";
import type { ForwardReplyData } from "../shared/forward/mod.ts";
import type { ChannelResult } from "./audit/records.ts";

/** An agent connected now with an accepted identity. */
export interface ConnectedAgent {
  /** The agent's name (its `agents.d` file). */
  readonly name: string;
  /** Groups (labels) from its `agents.d` file. */
  readonly groups: readonly string[];
  /** The agent's address (IP) as the server sees it. */
  readonly address: string;
  /** What the agent said about its process: id, version, host, os. */
  readonly agent: AgentInfo;
  /** When the identity was accepted. */
  readonly since: Date;
  /** The agent's mux session: open forward streams on it. */
  readonly session: Session;
  /** Audit session id (stable across reconnects inside the grace period); undefined without audit. */
  readonly sessionId?: number;
  /**
   * Aborted when this identity ends (revoked by a change of its agent file,
   * replaced by a newer connection, or released by the agent): the channels
   * opened through it are reset then, so a rotated secret cuts an impostor
   * off its open channels too, not only off new ones.
   */
  readonly ended?: AbortSignal;
}

/** Identified agents connected now. */
export interface AgentDirectory {
  /** The connected agent `name`, if any. */
  get(name: string): ConnectedAgent | undefined;
  /** Every connected identified agent, sorted by name. */
  list(): ConnectedAgent[];
  /**
   * The agent `name` once it is back, when it lost its connection within
   * `agents.holdTime` (it is probably redialling); undefined at once for an
   * agent that did not, or when the hold time passes or `signal` aborts first.
   */
  waitFor?(name: string, signal?: AbortSignal): Promise<ConnectedAgent | undefined>;
}

/** Channel kinds that reach a target through an agent. */
export type AgentChannelKind = "forward" | "udp" | "socks" | "published";

/** A channel to open through an agent (already authorised by the caller). */
export interface ChannelRequest {
  /** The agent's name. */
  agent: string;
  /** What kind of channel: decides the stream kind (`udp` → UdpForward, others → TcpForward) and the audit row. */
  kind: AgentChannelKind;
  /** Target host (name or address) as asked for; the agent resolves and checks it. */
  host: string;
  /** Target port. */
  port: number;
  /** Operator name; `""` for a published port. */
  operator: string;
  /** Where the operator or client came from (`ip:port`). */
  source: string;
}

/** Why a channel could not be opened, with one line a person can act on. */
export interface ChannelRefusal {
  ok: false;
  /**
   * `agent-offline` (no such agent connected), a {@linkcode ForwardErrorCode}
   * from the agent (`policy`, `connection-refused`, …), or `open-failed`.
   */
  code: string;
  /** "agent db1 is not connected", "refused by agent policy: …", "connection refused by 127.0.0.1:5432". */
  message: string;
}

/** An opened channel: the agent's stream after its OK. */
export interface OpenedChannel {
  ok: true;
  /** The stream to the agent: raw bytes (TcpForward) or length-prefixed datagrams (UdpForward). */
  stream: MuxStream;
  /** The address the agent dialled. */
  target: ForwardReplyData;
  /** Records the channel's end in the audit log (call exactly once). */
  end(result: ChannelResult, bytes: { up: number; down: number }, detail?: string): void;
}

/**
 * Opens a channel through an agent: finds it in the directory, opens the
 * forward stream, writes the audit rows (a refusal is recorded as a channel
 * with result `refused`/`failed`, its end included). `onOpen` (TCP kinds)
 * is handed the agent's stream as soon as the open request is queued, before
 * the agent's answer, for the caller's first bytes to follow it at once (see
 * `OpenForwardOptions.onOpen`); it may be called after a refusal was
 * returned (a `signal` that gave up the open), and must then drop the stream.
 */
export type OpenChannel = (
  request: ChannelRequest,
  signal?: AbortSignal,
  onOpen?: (stream: MuxStream) => void,
) => Promise<OpenedChannel | ChannelRefusal>;
