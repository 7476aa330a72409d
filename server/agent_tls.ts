/**
 * The agent-certificate listener (`agentCertificates` in the server's main
 * file): a `node:tls` server, since `Deno.listenTls` cannot ask for a
 * client certificate (`docs/protocol.md`, "Client certificates (mTLS)").
 * Only peers whose certificate is signed by the configured CA finish the
 * handshake; the certificate's CN, which must be a valid agent name, is the
 * agent's identity, and Burrow's mux runs directly over the TLS connection.
 * `node:tls` is loaded only when the key is set. Its files are followed
 * while it runs (`agent_tls_reload.ts`): a new CA, certificate or key on
 * disk, or a reload, applies to new handshakes; connected agents stay.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { isIdentityName } from "../shared/auth/identity_name.ts";
import { fromByteSocket } from "../shared/transport/byte_conn.ts";
import { NodeSocket } from "../shared/transport/node_socket.ts";
import type { AgentCertificatesConfig } from "./agent_cert_config.ts";
import { readAgentTlsFiles } from "./agent_tls_files.ts";
import { AgentTlsReload, type AgentTlsReloadResult } from "./agent_tls_reload.ts";
import { WindowLog } from "./agent_gate.ts";
import type { AgentRegistry } from "./agents.ts";
import type { Audit } from "./audit/mod.ts";

/** Longest a TLS handshake on the agent-certificate listener may take, in ms. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** A running agent-certificate listener. */
export interface AgentTlsListener {
  /** The bound address. */
  addr: Deno.NetAddr;
  /**
   * Re-reads the CA, certificate and key files now (SIGHUP): changed and
   * valid, they apply to new handshakes; a bad file keeps the previous ones
   * (logged, naming it). The files are also watched.
   */
  reload(): Promise<AgentTlsReloadResult>;
  /** Stops accepting and drops its connections (call after the registry closed its sessions). */
  close(): Promise<void>;
}

/**
 * Starts the agent-certificate listener: accepted connections become agent
 * sessions of `agents` holding the certificate's identity.
 *
 * @throws {AgentTlsFileError} naming a file that cannot be read or used.
 * @throws {Error} when the address cannot be bound.
 * @example
 * ```ts
 * const listener = await listenAgentTls(config.agentCertificates!, {
 *   agents, audit, log, maxPending: config.agents.maxPending,
 * });
 * ```
 */
export async function listenAgentTls(
  config: AgentCertificatesConfig,
  { agents, audit, log, maxPending }: {
    agents: AgentRegistry;
    audit: Audit | null;
    log: Logger;
    /** Most connections still in their TLS handshake (`agents.maxPending`); more are dropped. */
    maxPending: number;
  },
): Promise<AgentTlsListener> {
  const files = { ca: config.ca, cert: config.cert, key: config.key };
  const pem = await readAgentTlsFiles(files);
  const tls = await import("node:tls");
  const refused = new WindowLog(log, "agent certificate connection(s) refused");
  const sockets = new Set<Socket>();
  /** Connections whose TLS handshake is not done, by peer: a flood of slow handshakes is bounded. */
  const handshaking = new Map<string, Socket>();
  const peer = (s: Socket) => `${s.remoteAddress}:${s.remotePort}`;
  const server = tls.createServer({
    ...pem,
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  server.on("tlsClientError", (e: Error, socket: TLSSocket) => {
    refused.note(
      `Agent certificate handshake from ${socket.remoteAddress ?? "?"} failed: ${e.message}`,
    );
    socket.destroy();
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    handshaking.delete(peer(socket));
    const remote = plainAddress(socket.remoteAddress ?? "");
    const cn = socket.getPeerCertificate()?.subject?.CN;
    const name = typeof cn === "string" ? cn.toLowerCase() : "";
    // rejectUnauthorized: an unverified certificate never gets here; checked again all the same.
    if (!socket.authorized || !isIdentityName(name)) {
      const why = !socket.authorized
        ? `certificate not verified (${socket.authorizationError ?? "?"})`
        : `CN ${JSON.stringify(cn ?? null)} is not a valid agent name`;
      refused.note(`Agent certificate connection from ${remote} refused: ${why}`);
      audit?.refusals.refused({ kind: "certificate", identity: name, source: remote, reason: why });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn = fromByteSocket(new NodeSocket(socket));
    agents.certificateSession(conn, remote, name);
  });
  server.on("connection", (socket: Socket) => {
    if (handshaking.size >= maxPending) {
      refused.note(
        `Agent certificate connection from ${socket.remoteAddress ?? "?"} dropped: ` +
          `${maxPending} handshakes under way (agents.maxPending)`,
      );
      socket.destroy();
      return;
    }
    const key = peer(socket);
    sockets.add(socket);
    handshaking.set(key, socket);
    socket.once("close", () => {
      sockets.delete(socket);
      if (handshaking.get(key) === socket) handshaking.delete(key);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on(
    "error",
    (e: Error) => log.error("Agent certificate listener: {error}", { error: e.message }),
  );
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  log.info("Agents with certificates connect on {addr}", { addr: `${config.hostname}:${port}` });
  const follow = new AgentTlsReload({
    files,
    initial: pem,
    // Only new handshakes use it: established connections keep their session.
    apply: (next) => server.setSecureContext(next),
    log,
  });
  follow.watch();
  return {
    addr: { transport: "tcp", hostname: config.hostname, port },
    reload: () => follow.reload(),
    close: async () => {
      await follow.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Sessions were closed by the registry; what is left (handshakes) goes now.
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) as plain IPv4. */
function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
