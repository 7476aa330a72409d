/**
 * The one-line start of `burrow agent` (and `burrow check --agent`): its
 * flags, the environment variables that stand for them, and how the two
 * become {@link LaunchInputs} (a flag wins over its variable). A secret is
 * never taken from a flag's value, which `ps` would show: `--secret` is
 * refused with a usage error.
 *
 * @module
 */

import type { ParseArgsOptionsConfig } from "node:util";
import {
  LaunchError,
  type LaunchInputs,
  type SecretInput,
  type Sourced,
} from "../agent/launch_inputs.ts";
import { UsageError } from "./usage.ts";
import { parseEnvBoolean } from "../shared/config/env_boolean.ts";

/** The agent's own flags, besides `--config`, `--log-level` and `--help`. */
export const AGENT_FLAGS = {
  server: { type: "string" },
  name: { type: "string" },
  domain: { type: "string" },
  target: { type: "string", multiple: true },
  "secret-file": { type: "string" },
  "domain-secret-file": { type: "string" },
  "ca-file": { type: "string" },
  insecure: { type: "boolean" },
} as const satisfies ParseArgsOptionsConfig;

/** Parsed values of {@link AGENT_FLAGS}. */
export interface AgentFlagValues {
  server?: string;
  name?: string;
  domain?: string;
  target?: string[];
  "secret-file"?: string;
  "domain-secret-file"?: string;
  "ca-file"?: string;
  insecure?: boolean;
}

/** Usage lines of {@link AGENT_FLAGS} and the variables. */
export const AGENT_FLAGS_USAGE = `
One-line start (no config file needed; flags win over the environment, which wins over the file):
  --server <url>        Server: wss://HOST[:PORT][/PATH] (port 443, path /.well-known/burrow-agent)
  --name <name>         The agent's identity name (default: this machine's host name)
  --secret-file <file>  File whose first line is the secret: the identity's, or the domain's
                        with --domain and no --name
  --domain <domain>     Serve one domain (as a file in agent.d would)
  --target <url>        Its backend, http(s)://HOST:PORT (repeat to balance between several)
  --domain-secret-file <file>
                        The domain's own secret when --name is given too (default: the same)
  --ca-file <file>      Extra CA certificate (PEM) to trust for the server
  --insecure            Skip the server certificate check (logged loudly)

A secret is never taken from a flag's value (it would show in 'ps'): it comes from a file,
from BURROW_SECRET, or is asked on the terminal without echo.

Environment (an empty variable counts as unset):
  BURROW_CONFIG, BURROW_SERVER, BURROW_NAME, BURROW_SECRET_FILE, BURROW_SECRET,
  BURROW_DOMAIN, BURROW_TARGET (comma-separated), BURROW_DOMAIN_SECRET_FILE,
  BURROW_DOMAIN_SECRET, BURROW_CA_FILE, BURROW_INSECURE (1 or 0)

Examples:
  burrow agent --server wss://tunnel.example.com --name db1 --secret-file db1.secret
  burrow agent --server wss://tunnel.example.com --domain app.example.com \\
    --secret-file app.secret --target http://127.0.0.1:3000
`;

/** Flags refused because their value would show in `ps`. */
const SECRET_FLAGS = ["--secret", "--domain-secret", "--password"];

/**
 * Refuses `--secret VALUE` (and `--secret=VALUE`, `--domain-secret`) with a
 * usage error saying where a secret goes instead.
 *
 * @throws {UsageError} for a secret flag.
 * @example
 * ```ts
 * import { refuseSecretFlags } from "./agent_flags.ts";
 * refuseSecretFlags(["--name", "db1"], "Usage: …"); // fine
 * ```
 */
export function refuseSecretFlags(args: readonly string[], usage: string): void {
  for (const arg of args) {
    if (arg === "--") return;
    const flag = arg.split("=")[0]!;
    if (SECRET_FLAGS.includes(flag)) {
      throw new UsageError(
        `A secret is never taken from a command-line flag (${flag} would show in 'ps'): ` +
          "use --secret-file FILE, the BURROW_SECRET_FILE or BURROW_SECRET variable, " +
          "or type it when asked on a terminal",
        usage,
      );
    }
  }
}

/** A non-empty variable. */
function variable(env: Readonly<Record<string, string | undefined>>, name: string) {
  const value = env[name];
  return value === undefined || value === "" ? undefined : { value, from: name };
}

/** The flag's value, else the variable's. */
function pick(
  flag: string | undefined,
  flagName: string,
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): Sourced<string> | undefined {
  return flag !== undefined ? { value: flag, from: `--${flagName}` } : variable(env, name);
}

/** A secret: the flag's file, else the `*_FILE` variable or the variable itself (not both). */
function pickSecret(
  flag: string | undefined,
  flagName: string,
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): Sourced<SecretInput> | undefined {
  if (flag !== undefined) return { value: { file: flag }, from: `--${flagName}` };
  const file = variable(env, `${name}_FILE`);
  const text = variable(env, name);
  if (file !== undefined && text !== undefined) {
    throw new LaunchError(name, `cannot be set with ${name}_FILE: set one of them`);
  }
  if (file !== undefined) return { value: { file: file.value }, from: file.from };
  return text === undefined ? undefined : { value: { text: text.value }, from: name };
}

/** `BURROW_INSECURE`: 1/true or 0/false, as the operator commands read it (`operator/settings.ts`). */
function insecureVariable(env: Readonly<Record<string, string | undefined>>) {
  const given = variable(env, "BURROW_INSECURE");
  if (given === undefined) return undefined;
  const flag = parseEnvBoolean(given.value);
  if (flag !== null) return { value: flag, from: given.from };
  throw new LaunchError(given.from, `${JSON.stringify(given.value)} is not 1 or 0 (true or false)`);
}

/**
 * The launch inputs of `flags` and `env`, a flag winning over its variable;
 * empty variables count as unset.
 *
 * @throws {LaunchError} for a variable that cannot be read.
 * @example
 * ```ts
 * import { launchInputs } from "./agent_flags.ts";
 * const inputs = launchInputs({ name: "db1" }, { BURROW_NAME: "db2", BURROW_SERVER: "wss://t" });
 * // inputs.name === { value: "db1", from: "--name" }; inputs.server!.from === "BURROW_SERVER"
 * ```
 */
export function launchInputs(
  flags: AgentFlagValues,
  env: Readonly<Record<string, string | undefined>>,
): LaunchInputs {
  const inputs: LaunchInputs = {};
  const set = <K extends keyof LaunchInputs>(key: K, value: LaunchInputs[K] | undefined) => {
    if (value !== undefined) inputs[key] = value;
  };
  set("server", pick(flags.server, "server", env, "BURROW_SERVER"));
  set("name", pick(flags.name, "name", env, "BURROW_NAME"));
  set("domain", pick(flags.domain, "domain", env, "BURROW_DOMAIN"));
  const targetVar = variable(env, "BURROW_TARGET");
  set(
    "targets",
    flags.target !== undefined ? { value: flags.target, from: "--target" } : targetVar && {
      value: targetVar.value.split(",").map((t) => t.trim()).filter((t) => t !== ""),
      from: targetVar.from,
    },
  );
  set("secret", pickSecret(flags["secret-file"], "secret-file", env, "BURROW_SECRET"));
  set(
    "domainSecret",
    pickSecret(flags["domain-secret-file"], "domain-secret-file", env, "BURROW_DOMAIN_SECRET"),
  );
  set("caFile", pick(flags["ca-file"], "ca-file", env, "BURROW_CA_FILE"));
  set(
    "insecure",
    flags.insecure === true ? { value: true, from: "--insecure" } : insecureVariable(env),
  );
  return inputs;
}
