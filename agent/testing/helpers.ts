/**
 * Small helpers for the agent's tests: a loopback backend, typed config and
 * domain values, captured log records and a bounded wait on a condition.
 *
 * @module
 */

import { configure, getLogger, type Logger, type LogRecord } from "@logtape/logtape";
import type { AgentConfig, AgentDomain, Target } from "../config_types.ts";
import type { AgentTuning } from "../agent.ts";
import { partsOf } from "../config.ts";
import { defaultForwardConfig } from "../forward/config.ts";
import { AGENT_PATH } from "../../shared/protocol.ts";

/** Fast timing for tests: retries within tens of ms, nothing else changed. */
export const TEST_TUNING: Partial<AgentTuning> = {
  backoffMin: 20,
  backoffMax: 100,
  dialTimeout: 3000,
};

/** An agent config with short backend timeouts. */
export function testConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    file: "/nonexistent/agent.jsonc",
    domains: "/nonexistent/agent.d",
    connectTimeout: 2000,
    readTimeout: 3000,
    idleTimeout: 3000,
    reconnect: { fastMax: 1000, fastFor: 90_000, max: 30_000, dialTimeout: 10_000 },
    identity: null,
    log: { level: "debug", system: [], access: [], unavailable: false },
    forward: defaultForwardConfig(),
    ...overrides,
  };
}

/** A target sending everything to `urls` (equal weights unless given). */
export function testTarget(
  urls: (string | [string, number])[],
  fields: Partial<Target> = {},
): Target {
  return {
    name: "default",
    method: null,
    path: null,
    host: null,
    urls: urls.map((u) => {
      const [href, weight] = typeof u === "string" ? [u, 1] : u;
      const url = new URL(href);
      return { url, parts: partsOf(url), weight };
    }),
    ...fields,
  };
}

/** An active domain served through `server` (`{ remote, caFile }`). */
export function testDomain(
  name: string,
  server: { remote: string; caFile: string },
  fields: Partial<AgentDomain> = {},
): AgentDomain {
  return {
    name,
    file: `/nonexistent/${name}.jsonc`,
    active: true,
    secret: `secret-of-${name}`,
    remote: server.remote,
    service: AGENT_PATH,
    concurrency: 20,
    insecure: false,
    caFile: server.caFile,
    targets: [],
    ...fields,
  };
}

/** A request the backend received. */
export interface Seen {
  method: string;
  /** Path and query. */
  target: string;
  headers: Headers;
  body: string;
}

/** A loopback HTTP backend that records what it receives. */
export interface Backend {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Requests received, in order. */
  seen: Seen[];
  /** Stops it. */
  close(): Promise<void>;
}

/** Starts a backend on 127.0.0.1 answering with `handler` after recording the request. */
export function startBackend(
  handler: (req: Request, seen: Seen) => Response | Promise<Response>,
): Backend {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const upgrade = req.headers.get("upgrade") === "websocket";
    const entry: Seen = {
      method: req.method,
      target: url.pathname + url.search,
      headers: new Headers(req.headers),
      body: upgrade || req.body === null ? "" : await req.text(),
    };
    seen.push(entry);
    return await handler(req, entry);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

/** A port nothing listens on (it was free a moment ago). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Log records of the current test. */
export const records: LogRecord[] = [];

let configured: Promise<void> | undefined;

/** A logger whose records land in {@linkcode records}; call once per test file. */
export async function testLogger(): Promise<Logger> {
  configured ??= configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["test"], sinks: ["memory"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  await configured;
  return getLogger(["test", "agent"]);
}

/** The rendered messages of the captured records at `level`. */
export function messages(level?: LogRecord["level"]): string[] {
  return records.filter((r) => level === undefined || r.level === level).map((r) =>
    r.message.map((part) => typeof part === "string" ? part : String(part)).join("")
  );
}

/**
 * Polls `predicate` every 10 ms until it holds; rejects after `ms`. For state
 * that has no event to wait on (the agent's status as the agent sees it).
 */
export async function eventually(what: string, predicate: () => boolean, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
