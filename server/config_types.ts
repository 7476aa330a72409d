/**
 * Typed server configuration, as produced by `server/config.ts` after
 * parsing, defaults and validation. Durations are in milliseconds, sizes in
 * bytes. The JSONC keys are documented in `docs/config.md`.
 *
 * @module
 */

import type { CidrSet } from "../shared/net/cidr.ts";
import type { LogConfig } from "../shared/log/config_types.ts";
import type { AuditConfig } from "./audit/config.ts";
import type { OperatorLimits } from "./operator/config.ts";
import type { PublishEntry } from "./publish/publish_config.ts";

/** A certificate and key, as PEM file paths. */
export interface CertificatePair {
  /** Path of the PEM certificate chain. */
  cert: string;
  /** Path of the PEM private key. */
  key: string;
}

/** The `agentCertificates` section (`server/agent_cert_config.ts`), parsed. */
export interface AgentCertificatesConfig extends CertificatePair {
  /** Host part of the address. */
  hostname: string;
  /** TCP port (0: any free one, for tests). */
  port: number;
  /** Path of the PEM file of the CA(s) agent certificates must be signed by. */
  ca: string;
}

/** One SNI rule: server names matching `pattern` (or `regex`) get `pair`. */
export interface SniRule extends CertificatePair {
  /**
   * Hostname pattern, lower case: an exact name (`www.example.com`), a
   * wildcard (`*.example.com`: one label), or `*` (fallback). For a `regex`
   * rule, the expression's source (for logs).
   */
  pattern: string;
  /**
   * A regular expression (groom's form), tested case-insensitively against
   * the requested server name; never matches a connection without one.
   * Absent for `pattern` rules.
   */
  regex?: RegExp;
}

/** One listening address. */
export interface ListenConfig {
  /** Host part of the address (`0.0.0.0`, `::`, `127.0.0.1`, …). */
  hostname: string;
  /** TCP port. */
  port: number;
  /**
   * TLS on this listener: a single pair, its own list of SNI rules
   * (`certificates` in the entry), `"sni"` to use the server's
   * `certificates` list, or `"self-signed"` for a certificate made at start
   * (samples and demos). Null only for a plain-HTTP listener (`plain: true`).
   */
  tls: CertificatePair | SniRule[] | "sni" | "self-signed" | null;
}

/** Global limits and timeouts (ms, bytes). */
export interface ServerLimits {
  /** Largest request head (request line + headers), as UTF-8 bytes. Default and most 64 KiB. */
  headerSize: number;
  /** Largest request body. Default 8 MiB; a domain may override. */
  bodySize: number;
  /** Longest wait for the request body to make progress. Default 10 s. */
  readTimeout: number;
  /** Longest wait for the client to take response bytes. Default 20 s. */
  writeTimeout: number;
  /** Longest a stream (body or WebSocket) may stay silent both ways. Default 60 s. */
  idleTimeout: number;
  /**
   * Slowest average rate of a request body, bytes per second, after
   * `readTimeout` of grace; 0 turns the check off. Default 1 KiB/s.
   */
  bodyMinRate: number;
  /** Lockouts after failed authentications (agent secrets, Basic auth). */
  authFailures: AuthFailureLimits;
}

/**
 * `limits.authFailures`: how many failed authentications (wrong agent
 * secrets, wrong Basic-auth passwords) a source address or an account may
 * have before it is locked out. A locked-out attempt is refused like a wrong
 * secret, without checking the secret at all.
 */
export interface AuthFailureLimits {
  /** Failures from one address (an IPv6 /64) within `window` before a lockout; 0 never. Default 10. */
  perAddress: number;
  /** Failures against one account (a domain's agent secret, a domain's user) within `window`; 0 never. Default 50. */
  perAccount: number;
  /** Window failures are counted in (ms). Default 1 min. */
  window: number;
  /** First lockout (ms); each repeat doubles it. Default 1 min. */
  lockout: number;
  /** Longest lockout (ms). Default 1 h. */
  maxLockout: number;
  /** Addresses and accounts remembered at most, each; the least recently seen go first. Default 10,000. */
  tableSize: number;
}

/** Bounds on agent connections (ms). */
export interface AgentLimits {
  /** An agent connection must register something (a domain, or its identity) within this long. Default 10 s. */
  registerTimeout: number;
  /** A stream opened to an agent must be acknowledged within this long, or the agent is suspect. Default 5 s. */
  openTimeout: number;
  /** Most agent connections in all. Default 10,000. */
  maxConnections: number;
  /** Most agent connections from one address. Default 100. */
  maxPerAddress: number;
  /** Most agent connections not registered yet (TLS, upgrade, secret check under way). Default 1,000. */
  maxPending: number;
  /** `Retry-After` of the 503 answering an upgrade over a cap. Default 10 s. */
  retryAfter: number;
  /** How long requests for a domain whose agent lost its connection wait for it to return. Default 5 s; 0 off. */
  holdTime: number;
}

/** The server's main configuration. */
export interface ServerConfig {
  /** File it came from (absolute). */
  file: string;
  /** Listening addresses. */
  listen: ListenConfig[];
  /** Ordered SNI rules for listeners with `tls: "sni"`; first match wins. */
  certificates: SniRule[];
  /** URL path agents connect to. Default `/.well-known/burrow-agent`. */
  agentPath: string;
  /** URL path operators connect to. Default `/.well-known/burrow-operator`; not `agentPath`. */
  operatorPath: string;
  /** Folder of per-domain files (absolute). */
  domains: string;
  /**
   * Folder of agent identity files, `<name>.jsonc` (absolute); null when the
   * key is absent: no agent identity is accepted.
   */
  agentFiles: string | null;
  /**
   * Folder of operator files, `<name>.jsonc` (absolute); null when the key
   * is absent: no operator token is accepted.
   */
  operatorFiles: string | null;
  /** Status answered when a domain is unavailable or a rule refuses. Default 404. */
  unavailableStatus: number;
  /** Send X-Transaction-Id to clients. Default true; a domain may override. */
  transactionId: boolean;
  /** Limits and timeouts. */
  limits: ServerLimits;
  /** Bounds on agent connections. */
  agents: AgentLimits;
  /** Bounds on operator connections. */
  operators: OperatorLimits;
  /** Logging. */
  log: LogConfig;
  /** Folder of the server's own data (the audit database), absolute. Default `data` beside the file. */
  dataDir: string;
  /** Audit database writing, retention and session grace. */
  audit: AuditConfig;
  /** Published ports: public TCP ports carried to a target through an agent. Default none. */
  publish: PublishEntry[];
  /**
   * The listener where agents identify by a client certificate (CN = name),
   * the mux directly over TLS; null (the default) when there is none.
   */
  agentCertificates: AgentCertificatesConfig | null;
}

/** One basic-auth credential; `password` is plain or a `$6$` hash. */
export interface Credential {
  /** User name. */
  user: string;
  /** Password: plain text or a crypt `$6$` hash. */
  password: string;
}

/** Rules a client must pass to reach a domain. Empty lists allow everyone. */
export interface ClientRules {
  /** Client networks allowed. */
  networks: CidrSet | null;
  /** UTC time ranges allowed (groom syntax, parsed). */
  ranges: import("./time_range.ts").TimeRange[];
  /** Credentials, one of which must be presented (basic auth). */
  credentials: Credential[];
  /** Realm shown in the credentials prompt. Default "burrow". */
  realm: string;
}

/** A server-side domain file. */
export interface ServerDomain {
  /** The domain name (from the file name, lower case). */
  name: string;
  /** File it came from. */
  file: string;
  /** Agents may connect only when true. Default false. */
  active: boolean;
  /** Shared secret with the agent: plain or `$6$` hash. Empty refuses agents. */
  secret: string;
  /** Most concurrent client requests; more get 429. Default 20. */
  concurrency: number;
  /** Largest request body (overrides the global one). */
  bodySize: number;
  /** Send X-Transaction-Id to clients (overrides the global one). */
  transactionId: boolean;
  /** Networks trusted to send X-Forwarded-For. */
  trustedForwarders: CidrSet | null;
  /** Networks agents may connect from; null allows any. */
  agentNetworks: CidrSet | null;
  /** Client rules. */
  clients: ClientRules;
}
