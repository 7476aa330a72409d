/**
 * The reverse proxy: one client request becomes one Http stream to an agent
 * serving the request's domain; bodies stream both ways.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AccessEntry } from "../shared/log/setup.ts";
import type { ServerConfig, ServerDomain } from "./config_types.ts";
import type { DomainRegistry } from "./domains.ts";
import type { AgentRegistry, Registration } from "./agents.ts";
import { admit, challenge } from "./rules.ts";
import { Watchdog } from "../shared/time/watchdog.ts";
import { countingBody, pumpBody, readSmall, SMALL_BODY } from "./bodies.ts";
import type { MuxStream } from "../shared/mux/mod.ts";
import { encodeOpen, readTextReply, StreamKind } from "../shared/open/mod.ts";
import {
  decodeResponseHead,
  encodeRequestHead,
  HTTP_ERROR_STATUS,
} from "../shared/http/exchange.ts";
import {
  endToEndPairs,
  forwardedHeaders,
  PairList,
  transactionId,
} from "../shared/http/headers.ts";
import { relayWebSocket } from "../shared/http/ws_relay.ts";

/** What the proxy needs from the rest of the server. */
export interface ProxyDeps {
  /** Server configuration. */
  config: ServerConfig;
  /** Domain files. */
  domains: DomainRegistry;
  /** Connected agents. */
  agents: AgentRegistry;
  /** System log. */
  log: Logger;
  /** Writes one access log entry. */
  access(entry: AccessEntry): void;
}

/** Statuses whose responses carry no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** Per-request bookkeeping for the access log. */
interface Exchange {
  start: number;
  domain: string;
  client: string;
  method: string;
  path: string;
  tid: string;
  agent: string | null;
  bytesIn: number;
  bytesOut: number;
}

/** Handles client requests for every listener. */
export class Proxy {
  readonly #deps: ProxyDeps;
  readonly #inflight = new Map<string, number>();
  readonly #watchdog: Watchdog;
  readonly #relays = new Set<Promise<void>>();

  /** A proxy over the server's registries. */
  constructor(deps: ProxyDeps) {
    this.#deps = deps;
    const { readTimeout, writeTimeout } = deps.config.limits;
    this.#watchdog = new Watchdog(Watchdog.intervalFor(Math.min(readTimeout, writeTimeout)), {
      linger: true,
    });
  }

  /** Stops timers and waits for WebSocket relays to end. */
  async close(): Promise<void> {
    this.#watchdog.close();
    await Promise.all([...this.#relays]);
  }

  /** The request handler given to every listener. */
  handle(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    proto: "https" | "http",
  ): Response | Promise<Response> {
    const { config, agents } = this.#deps;
    const remote = info.remoteAddr;
    const url = new URL(req.url);
    if (url.pathname === config.agentPath) return agents.upgrade(req, remote.hostname);
    const host = hostOf(req, url);
    const x: Exchange = {
      start: performance.now(),
      domain: host,
      client: remote.hostname,
      method: req.method,
      path: url.pathname + url.search,
      tid: transactionId(),
      agent: null,
      bytesIn: 0,
      bytesOut: 0,
    };
    const domain = this.#deps.domains.get(host);
    if (domain === undefined || !domain.active) {
      return this.#refuse(x, domain === undefined ? "unknown domain" : "domain inactive", null);
    }
    return this.#forDomain(req, x, domain, info, proto);
  }

  async #forDomain(
    req: Request,
    x: Exchange,
    domain: ServerDomain,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    proto: "https" | "http",
  ): Promise<Response> {
    const { config } = this.#deps;
    const remote = info.remoteAddr;
    // Start line ("GET /path HTTP/1.1\r\n") and final blank line, then every header.
    const size = { bytes: x.method.length + x.path.length + 14 };
    const headers = new PairList(endToEndPairs(req.headers, size));
    if (size.bytes > config.limits.headerSize) {
      return this.#fail(x, domain, 431, "request head too large");
    }
    const ws = isUpgrade(req);
    if (ws) {
      headers.set("upgrade", req.headers.get("upgrade")!);
      headers.set("connection", "Upgrade");
    }
    const forwarded = forwardedHeaders({
      headers,
      clientIp: remote.hostname,
      trusted: (ip) => domain.trustedForwarders?.contains(ip) ?? false,
      proto,
      host: headers.get("host") ?? x.domain,
    });
    x.client = forwarded.clientIp;
    const verdict = admit(domain.clients, x.client, headers.get("authorization"), new Date());
    if (!verdict.ok) {
      if (verdict.challenge) {
        this.#log(x, 401, verdict.reason);
        return new Response("Authentication required\n", {
          status: 401,
          headers: { "www-authenticate": challenge(domain.clients.realm) },
        });
      }
      return this.#refuse(x, verdict.reason, domain);
    }
    if (domain.clients.credentials.length > 0) headers.delete("authorization");
    const length = Number(headers.get("content-length") ?? "0");
    if (length > domain.bodySize) return this.#fail(x, domain, 413, "request body too large");
    const inflight = this.#inflight.get(domain.name) ?? 0;
    if (inflight >= domain.concurrency) {
      return this.#fail(x, domain, 429, `over ${domain.concurrency} concurrent requests`);
    }
    const reg = this.#deps.agents.pick(domain.name);
    if (reg === undefined) return this.#refuse(x, "no agent connected", domain);
    x.agent = reg.agent;
    this.#inflight.set(domain.name, inflight + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.#inflight.get(domain.name) ?? 1) - 1;
      if (n === 0) this.#inflight.delete(domain.name);
      else this.#inflight.set(domain.name, n);
    };
    if (domain.transactionId) headers.set("x-transaction-id", x.tid);
    const opened: { stream?: MuxStream } = {};
    try {
      return await this.#exchange(req, x, domain, reg, headers.pairs, ws, {
        completed: info.completed,
        release,
        opened,
      });
    } catch (e) {
      // Whatever failed (a bad response head from the agent, a head too large to
      // send…), the stream must not linger on the agent's session.
      opened.stream?.reset();
      release();
      return this.#fail(x, domain, 502, `agent exchange failed: ${(e as Error).message}`);
    }
  }

  async #exchange(
    req: Request,
    x: Exchange,
    domain: ServerDomain,
    reg: Registration,
    headers: [string, string][],
    ws: boolean,
    life: { completed: Promise<void>; release: () => void; opened: { stream?: MuxStream } },
  ): Promise<Response> {
    const { config } = this.#deps;
    const { completed, release, opened } = life;
    const hasBody = !ws && req.body !== null;
    const head = encodeRequestHead({
      domain: domain.name,
      method: req.method,
      target: x.path,
      headers,
      client: x.client,
      tid: x.tid,
      ws,
      body: hasBody,
    });
    const maxHead = config.limits.headerSize + 4096;
    const stream = await reg.session.open();
    opened.stream = stream;
    // A client that goes away before the response is delivered aborts the exchange.
    // Once the response (or upgrade) is handed to Deno, a client that leaves is
    // seen through the body's cancel; resetting here would error a body Deno
    // is still reading and show up as an unhandled handler error.
    let responded = false;
    let clientGone = false;
    completed.catch(() => {
      clientGone = true;
      if (!responded) stream.reset();
    });
    await stream.write(encodeOpen({ kind: StreamKind.Http, text: head }, maxHead));
    let aborted: { status: number; reason: string } | null = null;
    if (hasBody) {
      pumpBody(req.body!, stream, {
        watchdog: this.#watchdog,
        readTimeout: config.limits.readTimeout,
        maxBytes: domain.bodySize,
        onBytes: (n) => x.bytesIn += n,
        abort: (status, reason) => {
          aborted = { status, reason };
          stream.reset();
        },
      });
    } else if (!ws) {
      stream.closeWrite();
    }
    let reply;
    try {
      reply = await readTextReply(stream, {
        maxBody: maxHead,
        timeout: config.limits.idleTimeout,
      });
    } catch (e) {
      stream.reset();
      release();
      const why = aborted as { status: number; reason: string } | null;
      if (why !== null) return this.#fail(x, domain, why.status, why.reason);
      if (clientGone) return this.#fail(x, domain, 499, "client went away");
      throw e;
    }
    if (!reply.ok) {
      stream.reset();
      release();
      const status = HTTP_ERROR_STATUS[reply.code] ?? 502;
      return this.#fail(x, domain, status, `agent: ${reply.code}: ${reply.message}`);
    }
    const response = decodeResponseHead(reply.text);
    responded = true;
    if (ws) return this.#upgrade(req, x, domain, stream, response, release);
    const out = new PairList(endToEndPairs(response.headers));
    if (domain.transactionId) out.set("x-transaction-id", x.tid);
    const finish = (status: number, reason: string | null) => {
      release();
      this.#log(x, status, reason);
    };
    if (NULL_BODY.has(response.status) || req.method === "HEAD") {
      stream.cancelRead();
      finish(response.status, null);
      return new Response(null, { status: response.status, headers: out.pairs });
    }
    const length = Number(out.get("content-length") ?? "NaN");
    if (length <= SMALL_BODY) {
      // A small body goes out in one write with the head: Deno's TLS server
      // sockets keep Nagle's algorithm on, so a head and a body written apart
      // would wait for the client's delayed ACK (40 ms).
      const small = await readSmall(stream, SMALL_BODY);
      if (small !== null) {
        x.bytesOut = small.length;
        finish(response.status, null);
        return new Response(small as Uint8Array<ArrayBuffer>, {
          status: response.status,
          headers: out.pairs,
        });
      }
    }
    const body = countingBody(stream, {
      watchdog: this.#watchdog,
      writeTimeout: config.limits.writeTimeout,
      onBytes: (n) => x.bytesOut += n,
      onTimeout: () => stream.reset(),
      onDone: (error) => {
        finish(response.status, error === null ? null : `response aborted: ${error}`);
      },
    });
    return new Response(body, { status: response.status, headers: out.pairs });
  }

  #upgrade(
    req: Request,
    x: Exchange,
    domain: ServerDomain,
    stream: MuxStream,
    response: { status: number; headers: [string, string][]; protocol?: string },
    release: () => void,
  ): Response {
    if (response.status !== 101) {
      stream.reset();
      release();
      return this.#fail(
        x,
        domain,
        response.status === 200 ? 502 : response.status,
        "backend refused the WebSocket upgrade",
      );
    }
    const { socket, response: upgraded } = Deno.upgradeWebSocket(req, {
      ...(response.protocol ? { protocol: response.protocol } : {}),
    });
    const relay = relayWebSocket(socket, { readable: stream.readable, writable: stream.writable })
      .catch((e) => {
        this.#deps.log.debug("WebSocket relay for {domain} ended: {error}", {
          domain: domain.name,
          error: String(e),
        });
        stream.reset();
      })
      .finally(() => {
        release();
        this.#log(x, 101, null);
      });
    this.#relays.add(relay);
    relay.finally(() => this.#relays.delete(relay));
    return upgraded;
  }

  /** A stealth refusal: the configured "unavailable" status, the reason in the log only. */
  #refuse(x: Exchange, reason: string, domain: ServerDomain | null): Response {
    const status = this.#deps.config.unavailableStatus;
    if (domain !== null || this.#deps.config.log.unavailable) this.#log(x, status, reason);
    return new Response(statusText(status), { status });
  }

  #fail(x: Exchange, domain: ServerDomain, status: number, reason: string): Response {
    this.#log(x, status, reason);
    const headers = domain.transactionId ? { "x-transaction-id": x.tid } : undefined;
    return new Response(statusText(status), { status: status === 499 ? 400 : status, headers });
  }

  #log(x: Exchange, status: number, reason: string | null): void {
    this.#deps.access({
      time: isoNow(),
      domain: x.domain,
      client: x.client,
      method: x.method,
      path: x.path,
      status,
      bytesIn: x.bytesIn,
      bytesOut: x.bytesOut,
      durationMs: Math.round((performance.now() - x.start) * 10) / 10,
      tid: x.tid,
      agent: x.agent,
      reason,
    });
  }
}

/** The last ISO time string made, and the millisecond it is for. */
let isoCache = { ms: 0, text: "" };

/** `new Date().toISOString()`, made once per millisecond at most. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoCache.ms) isoCache = { ms, text: new Date(ms).toISOString() };
  return isoCache.text;
}

/** True for a WebSocket upgrade request. */
function isUpgrade(req: Request): boolean {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** The request's host name: lower case, without port or trailing dot. */
export function hostOf(req: Request, url: URL): string {
  const raw = req.headers.get("host") ?? url.host;
  let host = raw.startsWith("[") ? raw.slice(0, raw.indexOf("]") + 1) : raw.split(":")[0]!;
  host = host.toLowerCase();
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    404: "Not Found",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  return `${texts[status] ?? "Error"}\n`;
}
