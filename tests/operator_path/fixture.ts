/**
 * A three-hop fixture for the server's operator side without a whole
 * server: an operator session (client) ⇄ the server's operator session
 * (serving `operatorHandlers`) and the server's session to an agent ⇄ the
 * agent's session (serving the real forward handlers), each pair over
 * loopback TCP; a directory holding that one agent; a real audit database in
 * a temp folder; operator and agent files parsed from JSON.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type MuxStream, Session } from "../../shared/mux/mod.ts";
import assert from "node:assert/strict";
import { OpenError, openStream, serveStream, StreamKind } from "../../shared/open/mod.ts";
import { hashToken } from "../../shared/auth/token.ts";
import { CONN_TYPES, type ConnPair } from "../helpers/conn_types.ts";
import { withForwardSessions } from "../forward/helpers.ts";
import type { Lookup } from "../../agent/forward/dial.ts";
import { parseOperatorFile } from "../../server/access/operator_file.ts";
import { parseAgentFile } from "../../server/access/agent_file.ts";
import type { AgentDirectory, ConnectedAgent } from "../../server/agent_directory.ts";
import { makeOpenChannel } from "../../server/channels.ts";
import { type Audit, openAudit } from "../../server/audit/mod.ts";
import type { ChannelRow } from "../../server/audit/query.ts";
import { operatorHandlers } from "../../server/operator/channel_handlers.ts";

/** Options of {@linkcode withOperatorChannels}. */
export interface OperatorFixtureOptions {
  /** The operator file's body besides `token` (default: agents `["*"]`, kinds forward/udp/socks). */
  operator?: Record<string, unknown>;
  /** The agent file's groups. */
  groups?: string[];
  /** The agent's allowlist (default: loopback). */
  allow?: string[];
  /** Channels per operator connection. Default 1024. */
  maxStreams?: number;
  /** The operator's address as the server sees it. Default 127.0.0.1. */
  address?: string;
  /** The agent's name resolver. */
  lookup?: Lookup;
  /** The agent's connect (and lookup) timeout, ms. Default 2,000. */
  connectTimeout?: number;
}

/** What a test body gets. */
export interface OperatorFixture {
  /** The operator's session: opens TcpForward/UdpForward streams. */
  operator: Session;
  /** The server's session to the agent (its streams are the agent side of each channel). */
  toAgent: Session;
  /** The server's session facing the operator. */
  fromOperator: Session;
  /** Streams the agent accepted, in order. */
  agentStreams: MuxStream[];
  /** Streams the server accepted from the operator, in order. */
  operatorStreams: MuxStream[];
  /** The audit (a real database in a temp folder). */
  audit: Audit;
  /** Every channel row written so far (flushes first), oldest first. */
  channels(): ChannelRow[];
}

/** The agent's name in the fixture. */
export const AGENT = "db1";

/** Opens a forward stream as an operator client does; resolves with the stream or rejects with OpenError. */
export function openForward(
  operator: Session,
  params: Record<string, unknown>,
  udp = false,
): ReturnType<typeof openStream> {
  return openStream(operator, {
    kind: udp ? StreamKind.UdpForward : StreamKind.TcpForward,
    params,
  });
}

/** Rejection check: an OpenError "refused" carrying `code` and `message`. */
export function refusedWith(code: string, message: string | RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof OpenError, `expected OpenError, got ${e}`);
    assert.equal(e.remoteCode, code);
    if (typeof message === "string") assert.ok(e.message.includes(message), e.message);
    else assert.match(e.message, message);
    return true;
  };
}

/** Runs `body` with the fixture; releases sockets, sessions and the temp folder afterwards. */
export async function withOperatorChannels(
  options: OperatorFixtureOptions,
  body: (fixture: OperatorFixture) => Promise<void>,
): Promise<void> {
  const tcp = CONN_TYPES.find((t) => t.name === "tcp")!;
  const dir = await Deno.makeTempDir({ prefix: "burrow-operator-" });
  const log = getLogger(["burrow-test", "operator"]);
  const audit = openAudit({
    dataDir: dir,
    audit: {
      retentionDays: 0,
      flushInterval: 60_000,
      batchSize: 1000,
      queueSize: 10_000,
      sessionGrace: 1000,
    },
    limits: { authFailures: { window: 60_000 } },
  }, log);
  const pairs: ConnPair[] = [];
  try {
    const agentPair = await tcp.make();
    pairs.push(agentPair);
    const operatorPair = await tcp.make();
    pairs.push(operatorPair);
    await withForwardSessions(
      agentPair.a,
      agentPair.b,
      {
        ...(options.allow && { allow: options.allow }),
        ...(options.lookup && { lookup: options.lookup }),
        ...(options.connectTimeout && { connectTimeout: options.connectTimeout }),
      },
      async ({ opener, agentStreams }) => {
        await runOperatorSide(options, operatorPair, opener, agentStreams, audit, body);
      },
    );
  } finally {
    for (const p of pairs) await p.close();
    audit.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function runOperatorSide(
  options: OperatorFixtureOptions,
  pair: ConnPair,
  toAgent: Session,
  agentStreams: MuxStream[],
  audit: Audit,
  body: (fixture: OperatorFixture) => Promise<void>,
): Promise<void> {
  const log = getLogger(["burrow-test", "operator"]);
  const operatorFile = parseOperatorFile(
    "/operators.d/alice.jsonc",
    JSON.stringify({
      agents: ["*"],
      kinds: ["forward", "udp", "socks"],
      ...options.operator,
      token: hashToken("burrow_test"),
    }),
  );
  const agentFile = parseAgentFile(
    `/agents.d/${AGENT}.jsonc`,
    JSON.stringify({ secret: "s3cret", groups: options.groups ?? [] }),
  );
  const connected: ConnectedAgent = {
    name: AGENT,
    groups: agentFile.groups,
    address: "127.0.0.1",
    agent: { id: "a1", version: "test", host: "h", os: "linux" },
    since: new Date(),
    session: toAgent,
  };
  const directory: AgentDirectory = {
    get: (name) => (name === AGENT ? connected : undefined),
    list: () => [connected],
  };
  const access = {
    operator: (name: string) => (name === "alice" ? operatorFile : undefined),
    agent: (name: string) => (name === AGENT ? agentFile : undefined),
  };
  const openChannel = makeOpenChannel({ directory, audit, log, openTimeout: 10_000 });
  const handlers = operatorHandlers({ access, openChannel, audit, log }, {
    operator: "alice",
    address: options.address ?? "127.0.0.1",
    source: `${options.address ?? "127.0.0.1"}:40000`,
    maxStreams: options.maxStreams ?? 1024,
  });
  const operator = new Session(pair.a, { client: true, foldFlags: true });
  const fromOperator = new Session(pair.b, { client: false, foldFlags: true });
  const served: Promise<void>[] = [];
  const operatorStreams: MuxStream[] = [];
  const accepting = (async () => {
    for (let s = await fromOperator.accept(); s !== null; s = await fromOperator.accept()) {
      operatorStreams.push(s);
      served.push(serveStream(s, handlers));
    }
  })();
  try {
    await body({
      operator,
      toAgent,
      fromOperator,
      agentStreams,
      operatorStreams,
      audit,
      channels() {
        audit.store.flush();
        return audit.store.query.channels({ limit: 1000 }).items.sort((a, b) => a.id - b.id);
      },
    });
  } finally {
    await operator.close();
    await fromOperator.close();
    await accepting;
    await Promise.all(served);
  }
}
