/**
 * Merges the command line and environment ({@link LaunchInputs}) over an
 * agent's config file, or over the built-in defaults when there is no file:
 * flags over environment (done by the caller) over the file, key by key.
 *
 * - The identity (`name`, secret, `remote`, `service`, `caFile`,
 *   `insecure`) is on when `--name` is given, when the file has one, or when
 *   a secret is given without `--domain`. The name defaults to the file's,
 *   then to the machine's host name.
 * - `--domain` with `--target` is one in-memory domain file (active), served
 *   beside the folder's domains (replacing a folder domain of that name).
 *   Its remote is `--server`'s, else `<domain>:443`.
 * - `--server`, `--ca-file` and `--insecure` apply to both, so one
 *   connection carries both.
 * - The secret (`--secret-file`, `BURROW_SECRET_FILE`, `BURROW_SECRET`) is
 *   the identity's; with `--domain` and no `--name`, the domain's; with both,
 *   both unless `--domain-secret-file` (or `BURROW_DOMAIN_SECRET[_FILE]`)
 *   gives the domain its own. A secret that is needed and not given is asked
 *   for (`deps.prompt`, a terminal), once.
 *
 * @module
 */

import { resolve } from "node:path";
import { isIdentityName, NAME_HINT } from "../shared/auth/identity_name.ts";
import type { LogConfig } from "../shared/log/config_types.ts";
import { isHostname } from "../shared/net/address.ts";
import { CONCURRENCY, DEFAULT_SERVICE, parseAgentConfig } from "./config.ts";
import type { AgentConfig, AgentDomain, AgentIdentityConfig } from "./config_types.ts";
import { SecretSupply } from "./launch_secrets.ts";
import {
  givenSettings,
  LaunchError,
  type LaunchInputs,
  parseServerUrl,
  parseTargetUrls,
  type ServerPlace,
  type Sourced,
} from "./launch_inputs.ts";

/** What `config.file` says when the agent runs without a config file. */
export const NO_CONFIG_FILE = "(no config file)";

/** What the merge needs from outside. */
export interface LaunchDeps {
  /** Asks for a secret (a terminal, no echo); null when there is nobody to ask. */
  prompt: ((what: string) => Promise<string>) | null;
  /** The machine's host name, for the default `name`. Default `Deno.hostname()`. */
  hostname?: () => string;
  /** Folder relative paths are taken from. Default `Deno.cwd()`. */
  cwd?: string;
}

/** An agent ready to start: its config, the command-line domain, and where each setting came from. */
export interface AgentLaunch {
  /** The merged main config (`identity` included). */
  config: AgentConfig;
  /** Domains given on the command line, served beside the folder's. */
  pinned: AgentDomain[];
  /** `config.log` (the role command adjusts its level). */
  log: LogConfig;
  /** Setting (`identity.name`, `domain.secret`, …) → the flag, variable, file or default it came from. */
  sources: Map<string, string>;
}

/**
 * Merges `inputs` over `file` (a parsed config file, or null for none).
 *
 * @throws {LaunchError} naming the flag or variable at fault (never a config file error).
 * @example
 * ```ts
 * import { mergeLaunch } from "./launch_settings.ts";
 * const launch = await mergeLaunch(null, {
 *   server: { value: "wss://tunnel.example.com", from: "--server" },
 *   name: { value: "db1", from: "--name" },
 *   secret: { value: { text: "s3cret-s3cret" }, from: "BURROW_SECRET" },
 * }, { prompt: null });
 * // launch.config.identity!.remote === "tunnel.example.com:443"
 * ```
 */
export async function mergeLaunch(
  file: AgentConfig | null,
  inputs: LaunchInputs,
  deps: LaunchDeps,
): Promise<AgentLaunch> {
  const cwd = deps.cwd ?? Deno.cwd();
  const base = file ?? commandLineConfig(cwd);
  const sources = new Map<string, string>();
  const server = inputs.server === undefined ? null : parseServerUrl(inputs.server);
  const wantsIdentity = inputs.name !== undefined || base.identity !== null ||
    (inputs.domain === undefined && inputs.secret !== undefined);
  if (!wantsIdentity && inputs.domain === undefined) {
    const given = givenSettings(inputs);
    const what = base.domains === null
      ? "nothing to serve"
      : "applies to no domain file (each names its own server)";
    throw new LaunchError(
      given[0] ?? "burrow agent",
      `${what}: give an identity (--name, --secret-file) or a domain ` +
        "(--domain, --target, --secret-file)",
    );
  }
  for (const key of ["targets", "domainSecret"] as const) {
    const input = inputs[key];
    if (input !== undefined && inputs.domain === undefined) {
      throw new LaunchError(input.from, "is used only with --domain (or BURROW_DOMAIN)");
    }
  }
  const secrets = new SecretSupply(inputs, { prompt: deps.prompt, cwd });
  const identity = wantsIdentity
    ? await mergeIdentity(base.identity, inputs, { server, secrets, deps, cwd, sources, file })
    : null;
  const pinned = inputs.domain === undefined
    ? []
    : [await commandLineDomain(inputs.domain, inputs, { server, secrets, cwd, sources })];
  const config: AgentConfig = { ...base, identity };
  return { config, pinned, log: config.log, sources };
}

/** The built-in defaults, as from an empty file, with no domain folder. */
function commandLineConfig(cwd: string): AgentConfig {
  const config = parseAgentConfig(resolve(cwd, "agent.jsonc"), '{ "mode": "agent" }');
  return { ...config, file: NO_CONFIG_FILE, domains: null };
}

/** What the identity and domain merges share. */
interface MergeContext {
  server: ServerPlace | null;
  secrets: SecretSupply;
  cwd: string;
  sources: Map<string, string>;
}

/** The identity: inputs over the file's identity over the defaults. */
async function mergeIdentity(
  old: AgentIdentityConfig | null,
  inputs: LaunchInputs,
  context: MergeContext & { deps: LaunchDeps; file: AgentConfig | null },
): Promise<AgentIdentityConfig> {
  const { server, sources } = context;
  // A key not given comes from the file's identity, or from the defaults when the file has none.
  const fileLabel = old !== null && context.file !== null ? context.file.file : "defaults";
  const note = (key: string, from: string | undefined) =>
    sources.set(`identity.${key}`, from ?? fileLabel);
  const name = identityName(old, inputs, context.deps);
  note("name", inputs.name?.from ?? (old === null ? "host name" : undefined));
  // With --domain and no --name, the secret given is the domain's.
  const ownsSecret = inputs.name !== undefined || inputs.domain === undefined;
  let secret: { text: string | null; file: string | null };
  const given = ownsSecret ? await context.secrets.given() : null;
  if (given !== null) {
    // A file is read again at each connection, so a rotated file is picked up.
    secret = given.value.file !== null ? { text: null, file: given.value.file } : given.value;
    note("secret", given.from);
  } else if (old !== null) {
    secret = { text: old.secret, file: old.secretFile };
    note("secret", undefined);
  } else {
    const asked = await context.secrets.ask(`agent ${name}`);
    secret = { text: asked.value.text, file: null };
    note("secret", asked.from);
  }
  const place = server ?? old;
  if (place === null) {
    throw new LaunchError(
      "--server",
      `agent ${name} needs a server: give --server wss://HOST or BURROW_SERVER`,
    );
  }
  note("remote", inputs.server?.from);
  note("service", inputs.server?.from);
  const caFile = inputs.caFile === undefined
    ? old?.caFile ?? null
    : resolve(context.cwd, inputs.caFile.value);
  note("caFile", inputs.caFile?.from);
  note("insecure", inputs.insecure?.from);
  return {
    name,
    secret: secret.text,
    secretFile: secret.file,
    remote: place.remote,
    service: place.service,
    caFile,
    insecure: inputs.insecure?.value ?? old?.insecure ?? false,
  };
}

/** `--name`, else the file's name, else the machine's host name; lower case, checked. */
function identityName(
  old: AgentIdentityConfig | null,
  inputs: LaunchInputs,
  deps: LaunchDeps,
): string {
  if (inputs.name !== undefined) {
    const name = inputs.name.value.toLowerCase();
    if (!isIdentityName(name)) {
      throw new LaunchError(inputs.name.from, `${JSON.stringify(name)} is not ${NAME_HINT}`);
    }
    return name;
  }
  if (old !== null) return old.name;
  const host = (deps.hostname ?? Deno.hostname)().toLowerCase();
  if (!isIdentityName(host)) {
    throw new LaunchError(
      "--name",
      `the machine's host name ${JSON.stringify(host)} is not a valid agent name: ` +
        "give --name or BURROW_NAME",
    );
  }
  return host;
}

/** The `--domain` form: one active domain, as a domain file would give it. */
async function commandLineDomain(
  domain: Sourced<string>,
  inputs: LaunchInputs,
  context: MergeContext,
): Promise<AgentDomain> {
  const { server, sources } = context;
  const name = domain.value.toLowerCase();
  if (!isHostname(name)) {
    throw new LaunchError(domain.from, `${JSON.stringify(domain.value)} is not a domain name`);
  }
  if (inputs.targets === undefined) {
    throw new LaunchError(domain.from, "needs a backend: give --target URL or BURROW_TARGET");
  }
  const urls = parseTargetUrls(inputs.targets);
  const secret = inputs.domainSecret !== undefined
    ? await context.secrets.read(inputs.domainSecret)
    : await context.secrets.given() ?? await context.secrets.ask(`domain ${name}`);
  sources.set("domain.name", domain.from);
  sources.set("domain.targets", inputs.targets.from);
  sources.set("domain.secret", secret.from);
  for (const [key, input] of [["remote", inputs.server], ["caFile", inputs.caFile]] as const) {
    if (input !== undefined) sources.set(`domain.${key}`, input.from);
  }
  if (inputs.insecure !== undefined) sources.set("domain.insecure", inputs.insecure.from);
  return {
    name,
    file: domain.from,
    active: true,
    secret: secret.value.text,
    remote: server?.remote ?? `${name}:443`,
    service: server?.service ?? DEFAULT_SERVICE,
    concurrency: CONCURRENCY.default,
    insecure: inputs.insecure?.value ?? false,
    caFile: inputs.caFile === undefined ? null : resolve(context.cwd, inputs.caFile.value),
    targets: [{ name: "targets[0]", method: null, path: null, host: null, urls }],
  };
}
