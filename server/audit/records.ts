/**
 * What callers hand the audit store: plain records of agent sessions,
 * channels and authentication refusals, and the write operations they turn
 * into. Times are milliseconds since the Unix epoch; a record without `at`
 * takes the store's clock when it is enqueued (not when it is written).
 *
 * @module
 */

/** An agent session starting: the first connection of an agent (or after its grace ran out). */
export interface SessionStart {
  /** Agent name: its identity, or what names a domain-only agent. */
  agent: string;
  /** Remote address of the connection (`ip:port` or `ip`). */
  remote: string;
  /** Burrow version the agent reported; empty when unknown. */
  version?: string;
  /** Operating system the agent reported; empty when unknown. */
  os?: string;
  /** Host name the agent reported; empty when unknown. */
  host?: string;
  /** When it connected; default: now. */
  at?: number;
}

/** An agent back within its grace period: the same session goes on. */
export interface SessionResume {
  /** Remote address of the new connection. */
  remote: string;
  /** When it reconnected; default: now. */
  at?: number;
}

/** What an agent said about its process, learnt after its session started (a certificate agent). */
export interface SessionInfo {
  /** Burrow version the agent reported. */
  version: string;
  /** Operating system the agent reported. */
  os: string;
  /** Host name the agent reported. */
  host: string;
}

/** The end of an agent session. */
export interface SessionEnd {
  /** Why it ended (the last disconnect's reason, "server stopped", …). */
  reason: string;
  /** When it ended; default: now. */
  at?: number;
}

/** Channel kinds operators open (issue 10; `shell`, `services`, `diagnostics` are reserved). */
export type ChannelKind =
  | "forward"
  | "udp"
  | "socks"
  | "published"
  | "admin"
  | "shell"
  | "services"
  | "diagnostics";

/** A channel opening: an operator (or a published port's client) reaching a target through an agent. */
export interface ChannelStart {
  /** Operator name; `""` for a published port (no operator). */
  operator: string;
  /** Agent name. */
  agent: string;
  /** Channel kind. */
  kind: ChannelKind;
  /** Target as asked for (`127.0.0.1:5432`, `db.internal:22`). */
  target: string;
  /** Address the operator or client came from. */
  source?: string;
  /** The agent session it runs in, when known. */
  sessionId?: number;
  /** When it opened; default: now. */
  at?: number;
}

/** How a channel ended: `ok` (ran and closed), `refused` (policy), `failed` (error). */
export type ChannelResult = "ok" | "refused" | "failed";

/** A channel's end, with its byte counts. */
export interface ChannelEnd {
  /** How it ended. */
  result: ChannelResult;
  /** The line the operator saw ("refused by agent policy", "connection refused by …"). */
  detail?: string;
  /** Bytes from the operator side to the target. */
  bytesUp?: number;
  /** Bytes from the target to the operator side. */
  bytesDown?: number;
  /** When it closed; default: now. */
  at?: number;
}

/** Who was being authenticated when a refusal happened. */
export type RefusalKind = "agent" | "domain" | "operator" | "basic-auth" | "admin" | "certificate";

/** An authentication refusal (or `count` of them folded into one rate-limit window). */
export interface AuthRefusal {
  /** Who was being authenticated. */
  kind: RefusalKind;
  /** Identity claimed (agent name, operator, domain, user); `""` when none. */
  identity?: string;
  /** Source address. */
  source: string;
  /** The real reason (logs and audit only; the peer got the stealth answer). */
  reason: string;
  /** Refusals this row stands for (one per rate-limit window). Default 1. */
  count?: number;
  /** When; default: now. */
  at?: number;
}

/** One queued write: an insert with its id chosen in advance, or an update of an open row. */
export type WriteOp =
  | { op: "session-start"; id: number; at: number; record: SessionStart }
  | { op: "session-resume"; id: number; at: number; record: SessionResume }
  | { op: "session-info"; id: number; at: number; record: SessionInfo }
  | { op: "session-end"; id: number; at: number; record: SessionEnd }
  | { op: "channel-start"; id: number; at: number; record: ChannelStart }
  | { op: "channel-end"; id: number; at: number; record: ChannelEnd }
  | { op: "refusal"; id: number; at: number; record: AuthRefusal };
