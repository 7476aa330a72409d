/**
 * Loading the server's configuration: the main file (`mode: "server"`) and
 * the per-domain files of its `domains` folder. Each is parse → fill
 * defaults → validate; every mistake is a {@link ConfigError} naming
 * file:line:column and key. The keys are documented in `docs/config.md`.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { isSha512CryptHash } from "../shared/auth/secret.ts";
import { CONCURRENCY, URL_PATH } from "../shared/config/bounds.ts";
import { type Field, type LoadOptions, ObjectReader, readMode } from "../shared/config/fields.ts";
import {
  ConfigError,
  domainNameOfFile,
  JsoncDocument,
  readConfigText,
} from "../shared/config/jsonc.ts";
import { parseLogConfig } from "../shared/log/config.ts";
import type {
  AgentLimits,
  AuthFailureLimits,
  ClientRules,
  Credential,
  ServerConfig,
  ServerDomain,
  ServerLimits,
} from "./config_types.ts";
import { parseListeners, parseSniRules } from "./config_listen.ts";
import { parseTimeRange } from "./time_range.ts";
import { AGENT_PATH, OPERATOR_PATH } from "../shared/protocol.ts";
import { parseOperatorLimits } from "./operator/config.ts";
import { DEFAULT_DATA_DIR, parseAuditConfig } from "./audit/config.ts";
import { parsePublish } from "./publish/publish_config.ts";
import { formatAddress } from "../shared/net/address.ts";
import { listenOverlaps } from "../shared/net/listen_overlap.ts";
import { parseAgentCertificates } from "./agent_cert_config.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** URL path agents connect to unless `agentPath` says otherwise. */
export const DEFAULT_AGENT_PATH = AGENT_PATH;

/** Defaults and bounds of `limits`: sizes in bytes, timeouts in ms. */
export const LIMITS = {
  // Deno's HTTP server answers 400 itself to a head over about 64 KiB: no higher limit can work.
  headerSize: { default: 64 * KiB, min: 1 * KiB, max: 64 * KiB },
  bodySize: { default: 8 * MiB, min: 64 * KiB, max: 1 * GiB },
  readTimeout: { default: 10 * SECOND, min: 1 * SECOND, max: 10 * MINUTE },
  writeTimeout: { default: 20 * SECOND, min: 1 * SECOND, max: 10 * MINUTE },
  idleTimeout: { default: 60 * SECOND, min: 1 * SECOND, max: 10 * MINUTE },
  bodyMinRate: { default: 1 * KiB, min: 0, max: 1 * GiB },
} as const;

/** Defaults and bounds of `limits.authFailures`: counts, durations in ms, table entries. */
export const AUTH_FAILURES = {
  perAddress: { default: 10, min: 0, max: 10_000 },
  perAccount: { default: 50, min: 0, max: 1_000_000 },
  window: { default: 1 * MINUTE, min: 1 * SECOND, max: 24 * 60 * MINUTE },
  lockout: { default: 1 * MINUTE, min: 1 * SECOND, max: 24 * 60 * MINUTE },
  maxLockout: { default: 60 * MINUTE, min: 1 * SECOND, max: 24 * 60 * MINUTE },
  tableSize: { default: 10_000, min: 100, max: 1_000_000 },
} as const;

export { CONCURRENCY, URL_PATH } from "../shared/config/bounds.ts";

/** Defaults and bounds of `agents`: durations in ms. */
export const AGENT_LIMITS = {
  registerTimeout: { default: 10 * SECOND, min: 100, max: 10 * MINUTE },
  openTimeout: { default: 5 * SECOND, min: 100, max: 10 * MINUTE },
  maxConnections: { default: 10_000, min: 1, max: 1_000_000 },
  maxPerAddress: { default: 100, min: 1, max: 1_000_000 },
  maxPending: { default: 1000, min: 1, max: 1_000_000 },
  retryAfter: { default: 10 * SECOND, min: 1 * SECOND, max: 60 * MINUTE },
  holdTime: { default: 5 * SECOND, min: 0, max: 1 * MINUTE },
} as const;

export type { LoadOptions } from "../shared/config/fields.ts";

/** Values a domain file inherits from the main file when it does not set them. */
export interface ServerDomainDefaults {
  /** Largest request body. Default 8 MiB. */
  bodySize: number;
  /** Send X-Transaction-Id. Default true. */
  transactionId: boolean;
}

/** The `limits` section. */
function parseLimits(r: ObjectReader): ServerLimits {
  const limits: ServerLimits = {
    headerSize: r.size("headerSize", LIMITS.headerSize),
    bodySize: r.size("bodySize", LIMITS.bodySize),
    readTimeout: r.duration("readTimeout", LIMITS.readTimeout),
    writeTimeout: r.duration("writeTimeout", LIMITS.writeTimeout),
    idleTimeout: r.duration("idleTimeout", LIMITS.idleTimeout),
    bodyMinRate: r.size("bodyMinRate", LIMITS.bodyMinRate),
    authFailures: parseAuthFailures(r.object("authFailures")),
  };
  r.finish();
  return limits;
}

/** The `limits.authFailures` section. */
function parseAuthFailures(r: ObjectReader): AuthFailureLimits {
  const limits: AuthFailureLimits = {
    perAddress: r.int("perAddress", AUTH_FAILURES.perAddress),
    perAccount: r.int("perAccount", AUTH_FAILURES.perAccount),
    window: r.duration("window", AUTH_FAILURES.window),
    lockout: r.duration("lockout", AUTH_FAILURES.lockout),
    maxLockout: r.duration("maxLockout", AUTH_FAILURES.maxLockout),
    tableSize: r.int("tableSize", AUTH_FAILURES.tableSize),
  };
  if (limits.maxLockout < limits.lockout) {
    throw r.error("maxLockout", "must not be shorter than lockout");
  }
  r.finish();
  return limits;
}

/** The `agents` section: how agent connections are bounded. */
function parseAgentLimits(r: ObjectReader): AgentLimits {
  const limits: AgentLimits = {
    registerTimeout: r.duration("registerTimeout", AGENT_LIMITS.registerTimeout),
    openTimeout: r.duration("openTimeout", AGENT_LIMITS.openTimeout),
    maxConnections: r.int("maxConnections", AGENT_LIMITS.maxConnections),
    maxPerAddress: r.int("maxPerAddress", AGENT_LIMITS.maxPerAddress),
    maxPending: r.int("maxPending", AGENT_LIMITS.maxPending),
    retryAfter: r.duration("retryAfter", AGENT_LIMITS.retryAfter),
    holdTime: r.duration("holdTime", AGENT_LIMITS.holdTime),
  };
  r.finish();
  return limits;
}

/**
 * An optional folder key (`agentFiles`, `operatorFiles`): the folder resolved
 * against the main file's, or null when the key is absent (the feature is
 * off: no file, so nothing is accepted).
 */
function optionalFolder(r: ObjectReader, key: string, baseDir: string): string | null {
  const folder = r.optionalString(key, { nonEmpty: true });
  return folder === null ? null : resolve(baseDir, folder);
}

/**
 * Parses the text of a server main file. `file` names it in errors and
 * anchors relative paths (`domains`, certificates, log files).
 *
 * @throws {ConfigError} at the first mistake.
 * @example
 * ```ts
 * import { parseServerConfig } from "./config.ts";
 * const config = parseServerConfig("conf/server.jsonc", `{
 *   "mode": "server",
 *   "listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }],
 * }`);
 * // config.limits.bodySize === 8 * 1024 * 1024
 * ```
 */
export function parseServerConfig(
  file: string,
  text: string,
  options: LoadOptions = {},
): ServerConfig {
  const baseDir = dirname(resolve(file));
  const r = ObjectReader.root(JsoncDocument.parse(file, text));
  readMode(r, "server");
  const listenField = r.required("listen");
  const listen = parseListeners(listenField, baseDir, options);
  if (listen.length === 0) throw listenField.error("needs at least one listener");
  const certificatesField = r.field("certificates");
  const certificates = certificatesField === null
    ? []
    : parseSniRules(certificatesField, baseDir, options);
  if (listen.some((l) => l.tls === "sni") && certificates.length === 0) {
    throw r.error("certificates", 'is required by a listener with "sni": true', "missing");
  }
  const config: ServerConfig = {
    file: resolve(file),
    listen,
    certificates,
    agentPath: r.string("agentPath", { ...URL_PATH, default: DEFAULT_AGENT_PATH }),
    operatorPath: r.string("operatorPath", { ...URL_PATH, default: OPERATOR_PATH }),
    domains: resolve(baseDir, r.string("domains", { default: "server.d", nonEmpty: true })),
    agentFiles: optionalFolder(r, "agentFiles", baseDir),
    operatorFiles: optionalFolder(r, "operatorFiles", baseDir),
    unavailableStatus: r.int("unavailableStatus", { default: 404, min: 200, max: 599 }),
    transactionId: r.bool("transactionId", true),
    limits: parseLimits(r.object("limits")),
    agents: parseAgentLimits(r.object("agents")),
    operators: parseOperatorLimits(r.object("operators")),
    log: parseLogConfig(r.object("log"), { baseDir, server: true }),
    dataDir: resolve(baseDir, r.string("dataDir", { default: DEFAULT_DATA_DIR, nonEmpty: true })),
    audit: parseAuditConfig(r.object("audit")),
    publish: parsePublish(r.field("publish"), listen),
    agentCertificates: parseAgentCertificates(
      r.field("agentCertificates"),
      listen,
      baseDir,
      options,
    ),
  };
  if (config.operatorPath === config.agentPath) {
    throw r.error("operatorPath", `must differ from agentPath (${config.agentPath})`);
  }
  const mtls = config.agentCertificates;
  const published = mtls && config.publish.find((p) => listenOverlaps(p.listen, mtls));
  if (published) {
    throw r.object("agentCertificates").error(
      "listen",
      `${formatAddress(mtls!)} collides with the published port ${published.key}`,
    );
  }
  r.finish();
  return config;
}

/**
 * Reads and parses a server main file.
 *
 * @throws {ConfigError} when it cannot be read or does not validate.
 * @example
 * ```ts
 * import { loadServerConfig } from "./config.ts";
 * const config = await loadServerConfig("conf/server.jsonc");
 * ```
 */
export async function loadServerConfig(
  file: string,
  options: LoadOptions = {},
): Promise<ServerConfig> {
  return parseServerConfig(file, await readConfigText(file), options);
}

/**
 * Checks a stored secret or password (domain files, `agents.d` files): plain
 * text is accepted, but a `$6$` value must be a whole SHA-512 crypt hash.
 *
 * @throws {ConfigError} at `field` for a malformed `$6$` hash.
 */
export function checkStoredSecret(field: Field, value: string): void {
  if (value.startsWith("$6$") && !isSha512CryptHash(value)) {
    throw field.error("starts with $6$ but is not a valid SHA-512 crypt hash");
  }
}

/** One `clients.credentials` entry: `user:password`. */
function parseCredential(field: Field): Credential {
  const text = field.string();
  const colon = text.indexOf(":");
  const user = colon < 0 ? "" : text.slice(0, colon);
  const password = colon < 0 ? "" : text.slice(colon + 1);
  if (user === "" || password === "") {
    throw field.error(`${JSON.stringify(text)} is not "user:password"`);
  }
  checkStoredSecret(field, password);
  return { user, password };
}

/** The `clients` section of a domain. */
function parseClientRules(r: ObjectReader): ClientRules {
  const rules: ClientRules = {
    networks: r.cidrs("networks"),
    ranges: r.array("ranges").map((item) => {
      try {
        return parseTimeRange(item.string());
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        throw item.error((error as Error).message);
      }
    }),
    credentials: r.array("credentials").map(parseCredential),
    realm: r.string("realm", {
      default: "burrow",
      // deno-lint-ignore no-control-regex -- the realm goes into a quoted header value
      pattern: /^[^"\\\x00-\x1f\x7f]*$/,
      hint: "a realm without quotes, backslashes or control characters",
    }),
  };
  r.finish();
  return rules;
}

/**
 * Parses the text of a server domain file. The domain is the file name
 * without `.jsonc`, lower-cased. `defaults` carries the main file's
 * `limits.bodySize` and `transactionId` (built-in defaults when omitted).
 *
 * @throws {ConfigError} at the first mistake, or when the file name is not a domain.
 * @example
 * ```ts
 * import { parseServerDomain } from "./config.ts";
 * const domain = parseServerDomain("conf/server.d/localhost.jsonc", '{ "active": true }');
 * // domain.name === "localhost", domain.concurrency === 20
 * ```
 */
export function parseServerDomain(
  file: string,
  text: string,
  defaults: ServerDomainDefaults = {
    bodySize: LIMITS.bodySize.default,
    transactionId: true,
  },
): ServerDomain {
  const name = domainNameOfFile(file);
  const r = ObjectReader.root(JsoncDocument.parse(file, text));
  const secretField = r.field("secret");
  const secret = secretField?.string() ?? "";
  if (secretField !== null) checkStoredSecret(secretField, secret);
  const domain: ServerDomain = {
    name,
    file: resolve(file),
    active: r.bool("active", false),
    secret,
    concurrency: r.int("concurrency", CONCURRENCY),
    bodySize: r.size("bodySize", { ...LIMITS.bodySize, default: defaults.bodySize }),
    transactionId: r.bool("transactionId", defaults.transactionId),
    trustedForwarders: r.cidrs("trustedForwarders"),
    agentNetworks: r.cidrs("agentNetworks"),
    clients: parseClientRules(r.object("clients")),
  };
  r.finish();
  return domain;
}

/**
 * The parser of server domain files under `config`: the main file's
 * `limits.bodySize` and `transactionId` fill what a domain file leaves out.
 *
 * @example
 * ```ts
 * import { loadServerConfig, serverDomainParser } from "./config.ts";
 * const config = await loadServerConfig("conf/server.jsonc");
 * const domain = serverDomainParser(config)("conf/server.d/localhost.jsonc", "{}");
 * // domain.bodySize === config.limits.bodySize
 * ```
 */
export function serverDomainParser(
  config: Pick<ServerConfig, "limits" | "transactionId">,
): (file: string, text: string) => ServerDomain {
  const defaults: ServerDomainDefaults = {
    bodySize: config.limits.bodySize,
    transactionId: config.transactionId,
  };
  return (file, text) => parseServerDomain(file, text, defaults);
}
