/**
 * Loading the agent's configuration: the main file (`mode: "agent"`) and the
 * per-domain files of its `domains` folder, each parse → fill defaults →
 * validate, every mistake a {@link ConfigError} naming file:line:column and
 * key. The keys are documented in `docs/config.md`.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { CONCURRENCY, URL_PATH } from "../shared/config/bounds.ts";
import { type Field, type LoadOptions, ObjectReader, readMode } from "../shared/config/fields.ts";
import { domainNameOfFile, JsoncDocument, readConfigText } from "../shared/config/jsonc.ts";
import { parseLogConfig } from "../shared/log/config.ts";
import { AGENT_PATH } from "../shared/protocol.ts";
import type {
  AgentConfig,
  AgentDomain,
  BaseParts,
  ReconnectConfig,
  Target,
  TargetUrl,
} from "./config_types.ts";
import { parseForwardConfig } from "./forward/config.ts";
import { type AgentConfigOptions, parseIdentityConfig } from "./identity_config.ts";

export type { LoadOptions } from "../shared/config/fields.ts";
export type { AgentConfigOptions } from "./identity_config.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Defaults and bounds of the agent's timeouts, in ms. */
export const TIMEOUTS = {
  connectTimeout: { default: 5 * SECOND, min: 1 * SECOND, max: 10 * MINUTE },
  readTimeout: { default: 60 * SECOND, min: 1 * SECOND, max: 10 * MINUTE },
  idleTimeout: { default: 60 * SECOND, min: 1 * SECOND, max: 10 * MINUTE },
} as const;

/**
 * Defaults and bounds of `reconnect`, in ms: redials stay within `fastMax`
 * for the first `fastFor` of an outage, then back off to `max`; a dial
 * (TCP, TLS, upgrade) is given up after `dialTimeout`.
 */
export const RECONNECT = {
  fastMax: { default: 1 * SECOND, min: 100, max: 1 * MINUTE },
  fastFor: { default: 90 * SECOND, min: 0, max: 1 * HOUR },
  max: { default: 30 * SECOND, min: 1 * SECOND, max: 1 * HOUR },
  dialTimeout: { default: 10 * SECOND, min: 1 * SECOND, max: 10 * MINUTE },
} as const;

/** The `reconnect` section. */
function parseReconnect(r: ObjectReader): ReconnectConfig {
  const reconnect: ReconnectConfig = {
    fastMax: r.duration("fastMax", RECONNECT.fastMax),
    fastFor: r.duration("fastFor", RECONNECT.fastFor),
    max: r.duration("max", RECONNECT.max),
    dialTimeout: r.duration("dialTimeout", RECONNECT.dialTimeout),
  };
  if (reconnect.fastMax > reconnect.max) {
    throw r.error("fastMax", "must not be larger than max");
  }
  r.finish();
  return reconnect;
}

/** URL path on the server unless `service` says otherwise. */
export const DEFAULT_SERVICE = AGENT_PATH;

export { CONCURRENCY } from "../shared/config/bounds.ts";

/** Schemes a target URL may have. */
const TARGET_PROTOCOLS = ["http:", "https:"] as const;

/**
 * Parses the text of an agent main file. `file` names it in errors and
 * anchors relative paths (`domains`, log files). `options.hostname` gives
 * the default `name` (tests); `options.checkFiles`, whether named files must
 * exist.
 *
 * @throws {ConfigError} at the first mistake.
 * @example
 * ```ts
 * import { parseAgentConfig } from "./config.ts";
 * const config = parseAgentConfig("conf/agent.jsonc", '{ "mode": "agent" }');
 * // config.connectTimeout === 5000, config.domains ends with "conf/agent.d"
 * ```
 */
export function parseAgentConfig(
  file: string,
  text: string,
  options: AgentConfigOptions = {},
): AgentConfig {
  const baseDir = dirname(resolve(file));
  const r = ObjectReader.root(JsoncDocument.parse(file, text));
  readMode(r, "agent");
  const identity = parseIdentityConfig(r, baseDir, options);
  // An agent with an identity and no "domains" key serves no domains: no folder needed.
  const domains = identity !== null && !r.has("domains")
    ? null
    : resolve(baseDir, r.string("domains", { default: "agent.d", nonEmpty: true }));
  const config: AgentConfig = {
    file: resolve(file),
    domains,
    connectTimeout: r.duration("connectTimeout", TIMEOUTS.connectTimeout),
    readTimeout: r.duration("readTimeout", TIMEOUTS.readTimeout),
    idleTimeout: r.duration("idleTimeout", TIMEOUTS.idleTimeout),
    reconnect: parseReconnect(r.object("reconnect")),
    identity,
    log: parseLogConfig(r.object("log"), { baseDir, server: false }),
    forward: parseForwardConfig(r.object("forward")),
  };
  r.finish();
  return config;
}

/**
 * Reads and parses an agent main file.
 *
 * @throws {ConfigError} when it cannot be read or does not validate.
 * @example
 * ```ts
 * import { loadAgentConfig } from "./config.ts";
 * const config = await loadAgentConfig("conf/agent.jsonc");
 * ```
 */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  return parseAgentConfig(file, await readConfigText(file));
}

/** One backend of a `target` list: `"http://…"` or `{ "url": "http://…", "weight": 3 }`. */
function parseTargetUrl(field: Field): TargetUrl {
  if (field.type === "string") {
    const url = field.url(TARGET_PROTOCOLS);
    return { url, parts: partsOf(url), weight: 1 };
  }
  if (field.type !== "object") throw field.typeError('a URL or { "url": …, "weight": … }');
  const r = ObjectReader.of(field);
  const url = r.required("url").url(TARGET_PROTOCOLS);
  const weight = r.int("weight", { default: 1, min: 1, max: 100 });
  r.finish();
  return { url, parts: partsOf(url), weight };
}

/**
 * The parts of a backend's base URL that requests read.
 *
 * @example
 * ```ts
 * partsOf(new URL("http://[::1]:8000/api/")); // { hostname: "[::1]", port: "8000", prefix: "/api", … }
 * ```
 */
export function partsOf(base: URL): BaseParts {
  const path = base.pathname;
  return {
    protocol: base.protocol,
    origin: base.origin,
    host: base.host,
    hostname: base.hostname,
    port: base.port,
    prefix: path.endsWith("/") ? path.slice(0, -1) : path,
    query: base.search.slice(1),
  };
}

/** One `targets` entry. */
function parseTarget(field: Field, index: number): Target {
  const r = ObjectReader.of(field);
  const name = r.string("name", { default: `targets[${index}]`, nonEmpty: true });
  const method = r.field("method")?.regex("i") ?? null;
  const path = r.field("path")?.regex() ?? null;
  const host = r.optionalString("host", {
    pattern: /^[^\s/]+$/,
    hint: "a Host header value (a name, with an optional port)",
  });
  const targetField = r.required("target");
  const urls = targetField.type === "array"
    ? targetField.array().map(parseTargetUrl)
    : [parseTargetUrl(targetField)];
  if (urls.length === 0) throw targetField.error("needs at least one URL");
  r.finish();
  return { name, method, path, host, urls };
}

/**
 * Parses the text of an agent domain file. The domain is the file name
 * without `.jsonc`, lower-cased; `remote` defaults to `<domain>:443`. An
 * active domain needs a secret and at least one target.
 *
 * @throws {ConfigError} at the first mistake, or when the file name is not a domain.
 * @example
 * ```ts
 * import { parseAgentDomain } from "./config.ts";
 * const domain = parseAgentDomain("conf/agent.d/localhost.jsonc", `{
 *   "active": true,
 *   "secret": "change-me-please",
 *   "targets": [{ "target": "http://127.0.0.1:8000" }],
 * }`);
 * // domain.remote === "localhost:443"
 * ```
 */
export function parseAgentDomain(
  file: string,
  text: string,
  options: LoadOptions = {},
): AgentDomain {
  const name = domainNameOfFile(file);
  const baseDir = dirname(resolve(file));
  const r = ObjectReader.root(JsoncDocument.parse(file, text));
  const active = r.bool("active", false);
  const secretField = r.field("secret");
  const secret = secretField?.string() ?? "";
  if (secretField !== null && secret.startsWith("$6$")) {
    throw secretField.error(
      "must be the secret itself: only the server's copy may be a $6$ hash",
    );
  }
  if (active && secret === "") {
    throw r.error("secret", "is required when active is true", "missing");
  }
  const remoteField = r.field("remote");
  if (remoteField !== null) remoteField.hostPort();
  const targetsField = r.field("targets");
  const targets = targetsField?.array().map(parseTarget) ?? [];
  if (active && targets.length === 0) {
    throw r.error("targets", "an active domain needs at least one target", "missing");
  }
  const domain: AgentDomain = {
    name,
    file: resolve(file),
    active,
    secret,
    remote: remoteField?.string() ?? `${name}:443`,
    service: r.string("service", { ...URL_PATH, default: DEFAULT_SERVICE }),
    concurrency: r.int("concurrency", CONCURRENCY),
    insecure: r.bool("insecure", false),
    caFile: r.field("caFile")?.filePath(baseDir, options) ?? null,
    targets,
  };
  r.finish();
  return domain;
}
