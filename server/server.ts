/**
 * The server role as a library: `startServer(config, logging)` brings up the
 * listeners, the domain registry and the agent registry; `close()` stops it all.
 *
 * @module
 */

import { dirname } from "node:path";
import type { Logger } from "@logtape/logtape";
import type { AccessEntry } from "../shared/log/setup.ts";
import type { ServerConfig } from "./config_types.ts";
import { DomainRegistry } from "./domains.ts";
import { AccessFolders } from "./access/access_folders.ts";
import { AgentRegistry } from "./agents.ts";
import type { AgentDirectory, OpenChannel } from "./agent_directory.ts";
import { makeOpenChannel } from "./channels.ts";
import { OperatorEndpoint } from "./operator/endpoint.ts";
import { type Publishing, startPublishing } from "./publish/mod.ts";
import { type Audit, openAudit } from "./audit/mod.ts";
import { AuthGuard } from "./auth_guard.ts";
import { Proxy } from "./proxy.ts";
import { AdminApi } from "./admin/admin_api.ts";
import { ResponseAborted } from "./bodies.ts";
import { CertificateStore } from "./tls.ts";
import { listenHttp, listenHttps, type Listening, setErrorReporter } from "./listen.ts";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { type Watch, watchPaths } from "../shared/fs/watch.ts";
import type { ConfigReload } from "../shared/config/config_reload.ts";
import type { PublishChanges } from "./publish/mod.ts";
import type { AgentTlsListener } from "./agent_tls.ts";

/** Logging the server writes to. */
export interface ServerLogging {
  /** System log. */
  system: Logger;
  /** Access log writer. */
  access(entry: AccessEntry): void;
}

/** A running server. */
export interface ServerHandle {
  /** Bound addresses, in the order of `config.listen`. */
  addrs: Deno.NetAddr[];
  /** Domain files in force. */
  domains: DomainRegistry;
  /** Agent identity and operator files in force (`agentFiles`, `operatorFiles` folders). */
  access: AccessFolders;
  /** Connected agents. */
  agents: AgentRegistry;
  /** Identified agents connected now (by name). */
  directory: AgentDirectory;
  /** The audit database (`dataDir`): agent sessions, channels, refusals. */
  audit: Audit;
  /** Opens channels through identified agents (operator channels, published ports). */
  openChannel: OpenChannel;
  /** The operator path (`operatorPath`): operator connections and their channels. */
  operators: OperatorEndpoint;
  /** Published ports (`publish`), re-applied when the main file changes. */
  publishing: Publishing;
  /** The agent-certificate listener's address (`agentCertificates`); null without one. */
  agentTlsAddr: Deno.NetAddr | null;
  /** CA of the self-signed certificate made at start, when a listener asked for one. */
  selfSignedCa: string | null;
  /**
   * Re-reads now what the watchers apply on a change (SIGHUP, `systemctl
   * reload`): domain, agent and operator files, certificate files, and the
   * main file's `publish` key; the main file's other changed keys are
   * reported as waiting for a restart.
   */
  reloadConfig(): Promise<ConfigReload>;
  /** Stops listeners, agent sessions and watchers. */
  close(): Promise<void>;
}

/**
 * Starts a server. Fails (and releases what it opened) when a domain, agent
 * or operator file is invalid (or a folder the config names is missing), a
 * certificate cannot be read, or an address is taken.
 */
export async function startServer(
  config: ServerConfig,
  logging: ServerLogging,
): Promise<ServerHandle> {
  const log = logging.system;
  setErrorReporter((e) => {
    // A response body cut short is in the access log's reason, not an error.
    if (e instanceof ResponseAborted) return;
    log.error("Unhandled error in request handler: {error}", {
      error: e instanceof Error ? e.stack ?? e.message : String(e),
    });
  });
  const domains = new DomainRegistry(config, log);
  await domains.load();
  const access = new AccessFolders(config, { log });
  await access.load();
  const sni = new CertificateStore(config.certificates);
  await sni.load();
  // Opened last before the listeners: everything that can fail before them has.
  const audit = openAudit(config, log);
  const auth = new AuthGuard(config.limits.authFailures, log);
  const agents = new AgentRegistry(domains, log, {
    auth,
    limits: config.agents,
    access,
    audit,
  });
  const openChannel = makeOpenChannel({ directory: agents.identities, audit, log });
  const operators = new OperatorEndpoint({
    access,
    auth,
    audit,
    log,
    openChannel,
    limits: config.operators,
  });
  const admin = new AdminApi({ access, directory: agents.identities, audit, auth, log });
  const proxy = new Proxy({
    config,
    domains,
    agents,
    auth,
    admin,
    log,
    access: logging.access,
    operators,
  });
  const stores: CertificateStore[] = [sni];
  const listening: Listening[] = [];
  const reloadable: { store: CertificateStore; reload(): Promise<void> }[] = [];
  /** Re-reads every certificate file; resolves to the number of stores that failed. */
  const reloadCertificates = async (): Promise<number> => {
    const reloaded = new Set<CertificateStore>();
    for (const store of stores) {
      try {
        await store.load();
        reloaded.add(store);
      } catch (e) {
        log.error("Certificate reload failed, previous certificates stay: {error}", {
          error: (e as Error).message,
        });
      }
    }
    for (const r of reloadable) if (reloaded.has(r.store)) await r.reload();
    if (reloaded.size > 0) log.info("Certificates reloaded");
    return stores.length - reloaded.size;
  };
  let selfSignedCa: string | null = null;
  let certWatch: Watch | null = null;
  let publishing: Publishing | null = null;
  let agentTls: AgentTlsListener | null = null;
  try {
    for (const l of config.listen) {
      if (l.tls === null) {
        const s = listenHttp(
          { ...l, timeouts: config.limits },
          (req, info) => proxy.handle(req, info, "http"),
        );
        listening.push(s);
        log.warn("Plain HTTP on {addr}: use only behind a TLS-terminating proxy", {
          addr: `${s.addr.hostname}:${s.addr.port}`,
        });
        continue;
      }
      let store: CertificateStore;
      if (l.tls === "sni") store = sni;
      else if (Array.isArray(l.tls)) {
        store = new CertificateStore(l.tls);
        await store.load();
        stores.push(store);
      } else if (l.tls === "self-signed") {
        const made = await makeCertificates({ hostnames: ["localhost", "127.0.0.1", "::1"] });
        selfSignedCa = made.caCert;
        store = CertificateStore.fromPem(made);
        log.warn("Listener {addr} uses a self-signed certificate made at start", {
          addr: `${l.hostname}:${l.port}`,
        });
      } else {
        store = CertificateStore.single(l.tls);
        await store.load();
        stores.push(store);
      }
      const s = listenHttps(
        { ...l, timeouts: config.limits },
        store,
        (req, info) => proxy.handle(req, info, "https"),
      );
      listening.push(s);
      reloadable.push({ store, reload: () => s.reload() });
      log.info("Listening on https://{addr}", { addr: `${s.addr.hostname}:${s.addr.port}` });
    }
    const certFiles = [...new Set(stores.flatMap((s) => s.files))];
    if (certFiles.length > 0) {
      // Not recursively: a folder holding certificates may hold the data folder too
      // (`dataDir`, default `data` beside the main file), whose SQLite WAL changes with
      // every audit batch; a recursive watch woke the server for each write.
      certWatch = watchPaths([...new Set(certFiles.map((f) => dirname(f)))], async (changed) => {
        if ([...changed].some((p) => certFiles.includes(p))) await reloadCertificates();
      }, { recursive: false });
    }
    domains.watch();
    access.watch((change) => {
      if (change.folder === "agents") agents.identities.review(change.change.name);
      operators.accessChanged(change);
    });
    if (config.agentCertificates !== null) {
      // Loaded only when configured: node:tls costs memory.
      const { listenAgentTls } = await import("./agent_tls.ts");
      agentTls = await listenAgentTls(config.agentCertificates, {
        agents,
        audit,
        log,
        maxPending: config.agents.maxPending,
      });
    }
    // Last: it cleans up after itself when a port cannot listen.
    publishing = await startPublishing(config, { openChannel, log });
  } catch (e) {
    await agentTls?.close();
    await Promise.all(listening.map((s) => s.shutdown()));
    await certWatch?.close();
    await domains.close();
    await access.close();
    auth.close();
    audit.close();
    throw e;
  }
  const published = publishing;
  log.info("Server up: {count} domain(s) configured, agents connect on {path}", {
    count: domains.size,
    path: config.agentPath,
  });
  return {
    addrs: listening.map((s) => s.addr),
    domains,
    access,
    agents,
    directory: agents.identities,
    audit,
    openChannel,
    operators,
    publishing: published,
    agentTlsAddr: agentTls?.addr ?? null,
    selfSignedCa,
    async reloadConfig() {
      const domainFiles = await domains.rescan();
      const accessFiles = await access.rescan();
      const certFailures = stores.some((s) => s.files.length > 0) ? await reloadCertificates() : -1;
      const publish = await published.reload();
      const agentCerts = await agentTls?.reload() ?? "unchanged";
      const changed = [
        ...domainFiles.changes.map((c) => `domain ${c.name}`),
        ...accessFiles.changed,
        ...(certFailures === 0 ? ["certificates (re-read)"] : []),
        ...(agentCerts === "changed" ? ["agentCertificates files"] : []),
        ...(publish.ok ? publishChanged(publish.changes) : []),
      ];
      const rejected = domainFiles.rejected + accessFiles.rejected + Math.max(certFailures, 0) +
        (agentCerts === "failed" ? 1 : 0) + (publish.ok ? publish.changes.failed.length : 1);
      return { changed, rejected, restart: publish.ok ? publish.restartKeys : [] };
    },
    async close() {
      // First: its connections' channel rows are closed before the audit is.
      await published.close();
      await domains.close();
      await access.close();
      await certWatch?.close();
      await operators.close();
      await agents.close();
      await agentTls?.close();
      await Promise.all(listening.map((s) => s.shutdown()));
      await proxy.close();
      auth.close();
      audit.close();
    },
  };
}

/** Published ports a reload touched, as `publish KEY`. */
function publishChanged(changes: PublishChanges): string[] {
  const { added, removed, changed } = changes;
  return [...added, ...removed, ...changed].map((key) => `publish ${key}`);
}
