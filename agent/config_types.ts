/**
 * Typed agent configuration, as produced by `agent/config.ts` after parsing,
 * defaults and validation. Durations are in milliseconds. The JSONC keys are
 * documented in `docs/config.md`.
 *
 * @module
 */

import type { LogConfig } from "../shared/log/config_types.ts";
import type { ForwardConfig } from "./forward/config.ts";

/** The agent's main configuration. */
export interface AgentConfig {
  /** File it came from (absolute). */
  file: string;
  /** Folder of per-domain files (absolute); null for an agent with an identity and no `domains` key. */
  domains: string | null;
  /** Longest wait to connect to a local backend. Default 5 s. */
  connectTimeout: number;
  /** Longest wait for the backend's response head. Default 60 s. */
  readTimeout: number;
  /** Longest a proxied body may stall. Default 60 s. */
  idleTimeout: number;
  /** Pacing of redials to the servers. */
  reconnect: ReconnectConfig;
  /** The agent's own identity (`name`, `secret`/`secretFile`, `remote`); null when not set. */
  identity: AgentIdentityConfig | null;
  /** Logging. */
  log: LogConfig;
  /** Forward streams (TcpForward, UdpForward): allowlist, UDP idle timeout. */
  forward: ForwardConfig;
}

/** How the agent redials a server it lost (ms). */
export interface ReconnectConfig {
  /** Largest delay between redials during the first `fastFor` of an outage. Default 1 s. */
  fastMax: number;
  /** How long redials stay within `fastMax`. Default 60 s. */
  fastFor: number;
  /** Largest delay between redials afterwards (with jitter). Default 30 s. */
  max: number;
  /** Longest a dial (TCP, TLS, WebSocket upgrade) may take. Default 10 s. */
  dialTimeout: number;
}

/**
 * The agent's identity: who it is to the server (the server's
 * `agents.d/<name>.jsonc`), and which server it identifies to.
 */
export interface AgentIdentityConfig {
  /** The agent's name, lower case. Default: the machine's host name. */
  name: string;
  /** The secret, plain; null when it comes from `secretFile`. */
  secret: string | null;
  /** File whose first line is the secret (absolute); null when `secret` is set. */
  secretFile: string | null;
  /** Server to identify to, `host:port`. */
  remote: string;
  /** URL path on the server. Default `/.well-known/burrow-agent`. */
  service: string;
  /** Skip verification of the server certificate (loud warning). Default false. */
  insecure: boolean;
  /** Extra CA certificate file (PEM) to trust for the server. */
  caFile: string | null;
  /**
   * The client certificate the agent identifies with instead of a secret
   * (`certFile` + `keyFile`, absolute): it dials `remote`, the server's
   * `agentCertificates` listener, with the mux directly over TLS. Null for a secret.
   */
  certificate?: { certFile: string; keyFile: string } | null;
}

/** What requests read from a backend's base URL, read once when the file is parsed (each `URL` getter builds a new string). */
export interface BaseParts {
  /** `url.protocol`. */
  protocol: string;
  /** `url.origin`. */
  origin: string;
  /** `url.host`. */
  host: string;
  /** `url.hostname` (IPv6 in brackets). */
  hostname: string;
  /** `url.port`, "" for the default. */
  port: string;
  /** The path, without a trailing slash. */
  prefix: string;
  /** The query, without its "?". */
  query: string;
}

/** One backend URL of a target, with its load-balancing weight. */
export interface TargetUrl {
  /** Base URL (`http://localhost:8000`, `https://host:4443/prefix?x=1`). */
  url: URL;
  /** The parts of `url` requests use (see `partsOf` in `config.ts`). */
  parts: BaseParts;
  /** Relative weight (1–100). Default 1. */
  weight: number;
}

/** One routing rule of an agent domain; the first matching rule wins. */
export interface Target {
  /** Name (for logs). */
  name: string;
  /** Method filter; null matches all. */
  method: RegExp | null;
  /** Path filter (path + query as sent by the client); null matches all. */
  path: RegExp | null;
  /** Host header sent to the backend; null sends the target URL's host. */
  host: string | null;
  /** Backends, balanced by weight, failing over when one refuses connections. */
  urls: TargetUrl[];
}

/** An agent-side domain file. */
export interface AgentDomain {
  /** The domain name (from the file name, lower case). */
  name: string;
  /** File it came from. */
  file: string;
  /** The agent connects this domain only when true. Default false. */
  active: boolean;
  /** Shared secret with the server (plain text). */
  secret: string;
  /** Server to dial, `host:port`. Default `<domain>:443`. */
  remote: string;
  /** URL path on the server. Default `/.well-known/burrow-agent`. */
  service: string;
  /** Most concurrent requests for this domain; more get 502. Default 20. */
  concurrency: number;
  /** Skip verification of the server certificate (loud warning). Default false. */
  insecure: boolean;
  /** Extra CA certificate file (PEM) to trust for the server. */
  caFile: string | null;
  /** Ordered routing rules. */
  targets: Target[];
}
