/**
 * What the command line and the environment say about an agent to start
 * (`burrow agent --server … --name …`), each value with the flag or variable
 * it came from, and the parsers of the values that need one (the server URL,
 * target URLs). `cli/agent_flags.ts` fills these in; `launch_settings.ts`
 * merges them over the config file.
 *
 * @module
 */

import { AGENT_PATH } from "../shared/protocol.ts";
import { parseHostPort } from "../shared/net/address.ts";
import type { TargetUrl } from "./config_types.ts";
import { partsOf } from "./config.ts";

/** A value with where it came from: a flag (`--name`) or a variable (`BURROW_NAME`). */
export interface Sourced<T> {
  /** The value. */
  value: T;
  /** The flag or environment variable that gave it, for errors and `burrow check`. */
  from: string;
}

/** A secret as given: a file whose first line it is, or the text itself (environment, prompt). */
export type SecretInput = { file: string } | { text: string };

/** The agent settings of the command line and environment (flags already preferred over variables). */
export interface LaunchInputs {
  /** `--server` / `BURROW_SERVER`: `wss://host[:port][/path]`. */
  server?: Sourced<string>;
  /** `--name` / `BURROW_NAME`: the identity's name. */
  name?: Sourced<string>;
  /** `--domain` / `BURROW_DOMAIN`: one domain to serve. */
  domain?: Sourced<string>;
  /** `--target` / `BURROW_TARGET`: the domain's backend URLs. */
  targets?: Sourced<string[]>;
  /** `--secret-file`, `BURROW_SECRET_FILE`, `BURROW_SECRET`: the identity's, or the domain's. */
  secret?: Sourced<SecretInput>;
  /** `--domain-secret-file`, `BURROW_DOMAIN_SECRET_FILE`, `BURROW_DOMAIN_SECRET`. */
  domainSecret?: Sourced<SecretInput>;
  /** `--ca-file` / `BURROW_CA_FILE`: extra CA certificate (PEM) for the server. */
  caFile?: Sourced<string>;
  /** `--insecure` / `BURROW_INSECURE`: skip the server certificate check. */
  insecure?: Sourced<boolean>;
}

/**
 * A command-line or environment setting that is wrong or missing; the
 * message starts with the flag or variable at fault.
 *
 * @example
 * ```ts
 * import { LaunchError } from "./launch_inputs.ts";
 * const error = new LaunchError("BURROW_SERVER", 'is not a URL: "x y"');
 * // error.message === 'BURROW_SERVER: is not a URL: "x y"'
 * ```
 */
export class LaunchError extends Error {
  override name = "LaunchError";
  /** Machine-readable condition code. */
  readonly code = "launch";
  /** The flag or variable at fault. */
  readonly from: string;

  /** Creates the error for the setting `from` with a sentence-case `detail`. */
  constructor(from: string, detail: string) {
    super(`${from}: ${detail}`);
    this.from = from;
  }
}

/** Where the server is: its `host:port` and the agent path on it. */
export interface ServerPlace {
  /** `host:port` (IPv6 in brackets). */
  remote: string;
  /** URL path. */
  service: string;
}

/**
 * Parses a `--server` value: `wss://host[:port][/path]` (`https://` is taken
 * as the same; no scheme means `wss://`). The port defaults to 443, the
 * path to `/.well-known/burrow-agent`.
 *
 * @throws {LaunchError} naming the setting when the URL is not one the agent can dial.
 * @example
 * ```ts
 * import { parseServerUrl } from "./launch_inputs.ts";
 * parseServerUrl({ value: "wss://tunnel.example.com", from: "--server" });
 * // { remote: "tunnel.example.com:443", service: "/.well-known/burrow-agent" }
 * ```
 */
export function parseServerUrl(server: Sourced<string>): ServerPlace {
  const text = server.value.includes("://") ? server.value : `wss://${server.value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LaunchError(
      server.from,
      `${JSON.stringify(server.value)} is not a URL (like "wss://tunnel.example.com")`,
    );
  }
  if (url.protocol !== "wss:" && url.protocol !== "https:") {
    throw new LaunchError(
      server.from,
      `${JSON.stringify(server.value)} must start with wss:// (the agent dials over TLS only)`,
    );
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw new LaunchError(
      server.from,
      `${JSON.stringify(server.value)} must not have a user, password, query or fragment`,
    );
  }
  const remote = `${url.hostname}:${url.port === "" ? "443" : url.port}`;
  try {
    parseHostPort(remote);
  } catch (error) {
    throw new LaunchError(server.from, (error as TypeError).message);
  }
  const service = url.pathname === "/" ? AGENT_PATH : url.pathname;
  return { remote, service };
}

/**
 * Parses the `--target` values: `http://` or `https://` base URLs, balanced
 * with equal weights when there are several.
 *
 * @throws {LaunchError} naming the setting for a value that is not such a URL.
 * @example
 * ```ts
 * import { parseTargetUrls } from "./launch_inputs.ts";
 * parseTargetUrls({ value: ["http://127.0.0.1:3000"], from: "--target" })[0]!.url.port; // "3000"
 * ```
 */
export function parseTargetUrls(targets: Sourced<string[]>): TargetUrl[] {
  if (targets.value.length === 0) throw new LaunchError(targets.from, "needs at least one URL");
  return targets.value.map((text) => {
    let url: URL | null = null;
    try {
      url = new URL(text);
    } catch {
      // reported below
    }
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new LaunchError(
        targets.from,
        `${JSON.stringify(text)} is not an http:// or https:// URL (like "http://127.0.0.1:3000")`,
      );
    }
    return { url, parts: partsOf(url), weight: 1 };
  });
}

/**
 * The settings given, by flag or variable name, in a fixed order (for
 * "nothing to run" errors).
 */
export function givenSettings(inputs: LaunchInputs): string[] {
  return Object.values(inputs).filter((v) => v !== undefined).map((v) =>
    (v as Sourced<unknown>).from
  );
}
