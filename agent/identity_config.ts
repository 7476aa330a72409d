/**
 * The agent's own identity in its main file: `name` (default: the machine's
 * host name), `secret` or `secretFile`, and the server it identifies to
 * (`remote`, with `service`, `caFile` and `insecure` as in domain files).
 * The identity is on when `secret` or `secretFile` is set; the other keys
 * then apply to it and are refused without one (they would do nothing).
 *
 * The agent identifies on the connection to `remote` (one Identify stream,
 * `docs/protocol.md`); a domain with the same remote, service and TLS
 * settings shares that connection, so an agent runs with an identity only,
 * domains only, or both on one connection.
 *
 * @module
 */

import { isIdentityName, NAME_HINT } from "../shared/auth/identity_name.ts";
import { URL_PATH } from "../shared/config/bounds.ts";
import { type LoadOptions, ObjectReader } from "../shared/config/fields.ts";
import { ConfigError } from "../shared/config/jsonc.ts";
import { AGENT_PATH } from "../shared/protocol.ts";
import type { AgentIdentityConfig } from "./config_types.ts";

/** Options of the agent config parser. */
export interface AgentConfigOptions extends LoadOptions {
  /** The machine's host name, for the default `name`. Default `Deno.hostname()`. */
  hostname?: () => string;
}

/** Keys that only mean something with an identity (a secret or a certificate). */
const IDENTITY_KEYS = ["name", "remote", "service", "caFile", "insecure"] as const;

/** The `secret` value: plain text only (the server keeps the hash). */
function plainSecret(r: ObjectReader): string | null {
  const field = r.field("secret");
  if (field === null) return null;
  const secret = field.string({ nonEmpty: true });
  if (secret.startsWith("$6$")) {
    throw field.error("must be the secret itself: only the server's copy may be a $6$ hash");
  }
  return secret;
}

/** The `name`, or the machine's host name lower-cased. */
function identityName(r: ObjectReader, options: AgentConfigOptions): string {
  const field = r.field("name");
  if (field !== null) {
    const name = field.string().toLowerCase();
    if (!isIdentityName(name)) throw field.error(`${JSON.stringify(name)} is not ${NAME_HINT}`);
    return name;
  }
  const host = (options.hostname ?? Deno.hostname)().toLowerCase();
  if (!isIdentityName(host)) {
    throw r.error(
      "name",
      `the machine's host name ${JSON.stringify(host)} is not a valid agent name: set "name"`,
      "missing",
    );
  }
  return host;
}

/**
 * Reads the identity keys of an agent main file (`r` is its root); null
 * when neither `secret` nor `secretFile` is set.
 *
 * @throws {ConfigError} at the first mistake.
 * @example
 * ```ts
 * import { parseIdentityConfig } from "./identity_config.ts";
 * const identity = parseIdentityConfig(r, "/etc/burrow");
 * // { name: "db1", secret: null, secretFile: "/etc/burrow/agent.secret", remote: "tunnel.example.com:443", … }
 * ```
 */
export function parseIdentityConfig(
  r: ObjectReader,
  baseDir: string,
  options: AgentConfigOptions = {},
): AgentIdentityConfig | null {
  const secret = plainSecret(r);
  const fileField = r.field("secretFile");
  const certificate = parseCertificate(r, baseDir, options);
  if (secret === null && fileField === null && certificate === null) {
    for (const key of IDENTITY_KEYS) {
      if (r.has(key)) {
        throw r.error(key, 'is used only with "secret", "secretFile" or "certFile"');
      }
    }
    return null;
  }
  if (secret !== null && fileField !== null) {
    throw fileField.error('cannot be used with "secret": set one of them');
  }
  if (certificate !== null) {
    for (const key of ["secret", "secretFile", "service", "insecure"]) {
      if (r.has(key)) {
        throw r.error(key, 'cannot be used with "certFile": the certificate is the identity');
      }
    }
  }
  const remoteField = r.required("remote");
  remoteField.hostPort();
  return {
    name: identityName(r, options),
    secret,
    secretFile: fileField?.filePath(baseDir, options) ?? null,
    remote: remoteField.string(),
    service: r.string("service", { ...URL_PATH, default: AGENT_PATH }),
    insecure: r.bool("insecure", false),
    caFile: r.field("caFile")?.filePath(baseDir, options) ?? null,
    ...(certificate !== null && { certificate }),
  };
}

/** `certFile` and `keyFile` (both or neither); null when neither is set. */
function parseCertificate(
  r: ObjectReader,
  baseDir: string,
  options: LoadOptions,
): { certFile: string; keyFile: string } | null {
  const certField = r.field("certFile");
  const keyField = r.field("keyFile");
  if (certField === null && keyField === null) return null;
  if (certField === null) throw r.error("certFile", 'is required with "keyFile"', "missing");
  if (keyField === null) throw r.error("keyFile", 'is required with "certFile"', "missing");
  return {
    certFile: certField.filePath(baseDir, options),
    keyFile: keyField.filePath(baseDir, options),
  };
}

/**
 * The identity's secret: `secret` itself, or the first line of `secretFile`
 * (read now, so a rotated file is picked up at the next connection).
 *
 * @throws {ConfigError} when the file cannot be read, is empty, or holds a `$6$` hash.
 * @example
 * ```ts
 * import { readIdentitySecret } from "./identity_config.ts";
 * const secret = await readIdentitySecret(config.identity!);
 * ```
 */
export async function readIdentitySecret(identity: AgentIdentityConfig): Promise<string> {
  if (identity.secret !== null) return identity.secret;
  return await readSecretFile(identity.secretFile ?? "");
}

/**
 * The secret in `file`: its first line, which must not be empty nor a `$6$` hash.
 *
 * @throws {ConfigError} naming `file` when it cannot be read, is empty, or holds a hash.
 * @example
 * ```ts
 * import { readSecretFile } from "./identity_config.ts";
 * const secret = await readSecretFile("/etc/burrow/agent.secret");
 * ```
 */
export async function readSecretFile(file: string): Promise<string> {
  let text: string;
  try {
    // Loaded here, not at start: Deno's Node fs layer costs MBs of RSS.
    const { readFile } = await import("node:fs/promises");
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`Cannot read secret file: ${reason}`, { code: "io", file, cause: error });
  }
  const secret = text.split(/\r?\n/)[0] ?? "";
  if (secret === "") {
    throw new ConfigError("Secret file is empty", { code: "invalid", file });
  }
  if (secret.startsWith("$6$")) {
    throw new ConfigError(
      "Secret file holds a $6$ hash: the agent needs the secret itself",
      { code: "invalid", file },
    );
  }
  return secret;
}
