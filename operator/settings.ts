/**
 * Where an operator command connects and with what token: the server URL,
 * the bearer token, the CA to trust and whether to skip verification, taken
 * from flags, then the environment, then an operator config file (the first
 * that sets a value wins).
 *
 * | value    | flag                | environment                          | file (JSONC)  |
 * | -------- | ------------------- | ------------------------------------ | ------------- |
 * | server   | `--server URL`      | `BURROW_SERVER`                      | `"server"`    |
 * | token    | `--token-file FILE` | `BURROW_TOKEN`, `BURROW_TOKEN_FILE`  | `"tokenFile"` |
 * | CA       | `--ca-file FILE`    | `BURROW_CA_FILE`                     | `"caFile"`    |
 * | insecure | `--insecure`        | `BURROW_INSECURE=1`                  | `"insecure"`  |
 *
 * The file is `--config FILE`, else `BURROW_CONFIG`, else
 * `$XDG_CONFIG_HOME/burrow/operator.jsonc` (`~/.config/burrow/operator.jsonc`)
 * when it exists. A token is never taken from a flag's value: command lines
 * show in `ps` and shell history.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { ObjectReader } from "../shared/config/fields.ts";
import { ConfigError, JsoncDocument, readConfigText } from "../shared/config/jsonc.ts";
import { OPERATOR_PATH } from "../shared/protocol.ts";
import { parseEnvBoolean } from "../shared/config/env_boolean.ts";

/** The operator flags as parsed from the command line (all optional). */
export interface OperatorFlags {
  /** `--server URL`. */
  server?: string | undefined;
  /** `--token-file FILE`. */
  "token-file"?: string | undefined;
  /** `--ca-file FILE`. */
  "ca-file"?: string | undefined;
  /** `--insecure`. */
  insecure?: boolean | undefined;
  /** `--config FILE`. */
  config?: string | undefined;
}

/** Where and how an operator command connects. */
export interface OperatorSettings {
  /** The operator endpoint, `wss://host[:port]/.well-known/burrow-operator` (or `ws://`). */
  server: URL;
  /** The bearer token. */
  token: string;
  /** PEM file of a CA to trust besides the default roots, or null. */
  caFile: string | null;
  /** Skip verification of the server's certificate. */
  insecure: boolean;
}

/**
 * The `parseArgs` options of the operator flags, for commands to spread into
 * their own (`cli/usage.ts` `parseFlags`).
 */
export const OPERATOR_FLAG_OPTIONS = {
  server: { type: "string" },
  "token-file": { type: "string" },
  "ca-file": { type: "string" },
  insecure: { type: "boolean" },
  config: { type: "string" },
} as const;

/** Usage lines of the operator flags, for commands' help texts. */
export const OPERATOR_FLAGS_USAGE = `Connection (flags > environment > config file):
  --server <url>       Server, wss://host[:port] or https://... (env BURROW_SERVER)
  --token-file <file>  File holding the operator token (env BURROW_TOKEN_FILE, or
                       the token itself in BURROW_TOKEN; never as a flag value)
  --ca-file <file>     CA certificate to trust for the server (env BURROW_CA_FILE)
  --insecure           Do not verify the server's certificate (env BURROW_INSECURE=1)
  --config <file>      Operator config file (env BURROW_CONFIG; default
                       ~/.config/burrow/operator.jsonc when it exists):
                       { "server", "tokenFile", "caFile", "insecure" }`;

/** What is missing or wrong in the operator settings (not in the file: that is a {@linkcode ConfigError}). */
export type SettingsErrorCode = "no-server" | "no-token" | "bad-server" | "bad-token" | "bad-env";

/**
 * The operator settings are incomplete or wrong; the message says where the
 * value can come from: `no server: pass --server, set BURROW_SERVER or add
 * "server" to ~/.config/burrow/operator.jsonc`.
 */
export class SettingsError extends Error {
  /** Always "SettingsError". */
  override name = "SettingsError";
  /** Machine-readable reason. */
  readonly code: SettingsErrorCode;

  /** Creates a settings error. */
  constructor(message: string, code: SettingsErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Where {@linkcode resolveOperatorSettings} reads what is not in the flags. */
export interface SettingsSources {
  /** Environment lookup. Default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/** What the config file says; paths resolved against its folder. */
interface FileSettings {
  file: string;
  server: { text: string; error: (detail: string) => ConfigError } | null;
  tokenFile: string | null;
  caFile: string | null;
  insecure: boolean | null;
}

/**
 * Resolves the operator settings from `flags`, the environment and the
 * config file, flags first.
 *
 * @throws {SettingsError} when no server or no token is given, the server is
 * not a URL, the token file cannot be read or is empty, or an environment
 * value is malformed.
 * @throws {ConfigError} at the file, line and column of a mistake in the config file.
 * @example
 * ```ts
 * const settings = await resolveOperatorSettings({ server: "https://tunnel.example.com" });
 * settings.server.href; // "wss://tunnel.example.com/.well-known/burrow-operator"
 * ```
 */
export async function resolveOperatorSettings(
  flags: OperatorFlags,
  sources: SettingsSources = {},
): Promise<OperatorSettings> {
  const env = (name: string) => {
    const value = (sources.env ?? ((n: string) => Deno.env.get(n)))(name);
    return value === undefined || value === "" ? undefined : value;
  };
  const file = await readFileSettings(flags.config ?? env("BURROW_CONFIG") ?? null, env);
  const where = file === null ? defaultConfigPath(env) ?? "an operator config file" : file.file;

  let server: URL;
  if (flags.server !== undefined) server = operatorUrl(flags.server, "--server");
  else if (env("BURROW_SERVER") !== undefined) {
    server = operatorUrl(env("BURROW_SERVER")!, "BURROW_SERVER");
  } else if (file?.server) {
    try {
      server = operatorUrl(file.server.text, "server");
    } catch (e) {
      throw file.server.error((e as Error).message.replace(/^server: /, ""));
    }
  } else {
    throw new SettingsError(
      `no server: pass --server, set BURROW_SERVER or add "server" to ${where}`,
      "no-server",
    );
  }

  let token: string;
  if (flags["token-file"] !== undefined) {
    token = await readToken(flags["token-file"], "--token-file");
  } else if (env("BURROW_TOKEN") !== undefined) {
    token = checkToken(env("BURROW_TOKEN")!, "BURROW_TOKEN");
  } else if (env("BURROW_TOKEN_FILE") !== undefined) {
    token = await readToken(env("BURROW_TOKEN_FILE")!, "BURROW_TOKEN_FILE");
  } else if (file?.tokenFile) token = await readToken(file.tokenFile, `tokenFile of ${file.file}`);
  else {
    throw new SettingsError(
      `no token: pass --token-file, set BURROW_TOKEN or BURROW_TOKEN_FILE, or add "tokenFile" to ${where}`,
      "no-token",
    );
  }

  const caFile = flags["ca-file"] ?? env("BURROW_CA_FILE") ?? file?.caFile ?? null;
  const insecure = flags.insecure === true ||
    (env("BURROW_INSECURE") !== undefined ? envFlag(env("BURROW_INSECURE")!) : file?.insecure) ===
      true;
  return { server, token, caFile, insecure };
}

/**
 * The operator endpoint for a server as a user writes it: `https://` becomes
 * `wss://` and `http://` `ws://`; a bare `host[:port]` is `wss://`; a URL
 * with no path gets {@linkcode OPERATOR_PATH}; a path given is kept.
 *
 * @throws {SettingsError} code `bad-server` naming `source` when it is not such a URL.
 * @example
 * ```ts
 * operatorUrl("https://t.example.com:8443", "--server").href;
 * // "wss://t.example.com:8443/.well-known/burrow-operator"
 * ```
 */
export function operatorUrl(text: string, source: string): URL {
  const written = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `wss://${text}`;
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    throw new SettingsError(`${source}: ${JSON.stringify(text)} is not a URL`, "bad-server");
  }
  const scheme = { "https:": "wss:", "http:": "ws:", "wss:": "wss:", "ws:": "ws:" }[url.protocol];
  if (scheme === undefined) {
    throw new SettingsError(
      `${source}: ${JSON.stringify(text)} must be a wss://, https://, ws:// or http:// URL`,
      "bad-server",
    );
  }
  if (url.username !== "" || url.password !== "" || url.hash !== "") {
    throw new SettingsError(
      `${source}: ${JSON.stringify(text)} must not hold credentials or a #fragment`,
      "bad-server",
    );
  }
  // URL's protocol setter refuses special → non-special switches; rebuild instead.
  const out = new URL(`${scheme}//${url.host}${url.pathname}${url.search}`);
  if (out.pathname === "/" || out.pathname === "") out.pathname = OPERATOR_PATH;
  return out;
}

/** Largest token file read, in bytes: a token is 49 characters. */
const MAX_TOKEN_FILE = 4096;

async function readToken(path: string, source: string): Promise<string> {
  let text: string;
  try {
    const bytes = await Deno.readFile(path);
    if (bytes.length > MAX_TOKEN_FILE) throw new Error(`larger than ${MAX_TOKEN_FILE} bytes`);
    text = new TextDecoder().decode(bytes);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new SettingsError(
      `cannot read the token file ${path} (${source}): ${reason}`,
      "bad-token",
      {
        cause: e,
      },
    );
  }
  return checkToken(text.trim(), `the token file ${path} (${source})`);
}

function checkToken(token: string, source: string): string {
  if (token === "") throw new SettingsError(`${source} is empty`, "bad-token");
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new SettingsError(
      `${source} holds spaces or characters a token cannot have`,
      "bad-token",
    );
  }
  return token;
}

function envFlag(value: string): boolean {
  const flag = parseEnvBoolean(value);
  if (flag !== null) return flag;
  throw new SettingsError(
    `BURROW_INSECURE must be 1 or 0, got ${JSON.stringify(value)}`,
    "bad-env",
  );
}

/** `$XDG_CONFIG_HOME/burrow/operator.jsonc`, else under `$HOME/.config`; null without either. */
function defaultConfigPath(env: (name: string) => string | undefined): string | null {
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg !== undefined) return join(xdg, "burrow", "operator.jsonc");
  const home = env("HOME") ?? env("USERPROFILE");
  return home === undefined ? null : join(home, ".config", "burrow", "operator.jsonc");
}

/**
 * Reads the config file named (an error when it cannot be read), or the
 * default one when it exists; null when there is none.
 */
async function readFileSettings(
  named: string | null,
  env: (name: string) => string | undefined,
): Promise<FileSettings | null> {
  let file = named;
  if (file === null) {
    file = defaultConfigPath(env);
    if (file === null) return null;
    try {
      if (!(await Deno.stat(file)).isFile) return null;
    } catch {
      return null;
    }
  }
  return parseOperatorConfig(file, await readConfigText(file));
}

/**
 * Parses an operator config file's text: `{ "server", "tokenFile",
 * "caFile", "insecure" }`, all optional, paths relative to the file's folder.
 *
 * @throws {ConfigError} at the first mistake (syntax, type, unknown key).
 */
function parseOperatorConfig(file: string, text: string): FileSettings {
  const baseDir = dirname(resolve(file));
  const r = ObjectReader.root(JsoncDocument.parse(file, text));
  const serverField = r.field("server");
  const server = serverField === null ? null : {
    text: serverField.string({ nonEmpty: true }),
    error: (detail: string) => serverField.error(detail),
  };
  const settings: FileSettings = {
    file,
    server,
    tokenFile: r.field("tokenFile")?.filePath(baseDir) ?? null,
    caFile: r.field("caFile")?.filePath(baseDir) ?? null,
    insecure: r.field("insecure")?.bool() ?? null,
  };
  r.finish();
  return settings;
}
