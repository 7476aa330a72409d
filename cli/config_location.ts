/**
 * Where `burrow server`, `burrow agent` and `burrow check --agent` look for
 * their main file when `--config` is not given: `conf/` under
 * `deno task dev` (its task sets `BURROW_DEV=1`), else the platform's place
 * for system-wide configuration: `/etc/burrow/` on Linux (and other Unixes),
 * `%ProgramData%\Burrow\` on Windows, `~/Library/Application Support/Burrow/`
 * on macOS.
 *
 * @module
 */

import { posix, win32 } from "node:path";

/** The environment variable `deno task dev` sets to `1`. */
export const DEV_ENV = "BURROW_DEV";

/** What the default location depends on; {@link currentPlace} gives this process's. */
export interface ConfigPlace {
  /** `Deno.build.os`. */
  os: typeof Deno.build.os;
  /** Environment variables (`BURROW_DEV`, `ProgramData`, `HOME`). */
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * The folder of the main files: `conf` (relative) in development, else the
 * platform's place (absolute).
 *
 * @example
 * ```ts
 * import { defaultConfigDir } from "./config_location.ts";
 * defaultConfigDir({ os: "linux", env: {} }); // "/etc/burrow"
 * defaultConfigDir({ os: "windows", env: { ProgramData: "D:\\PD" } }); // "D:\\PD\\Burrow"
 * defaultConfigDir({ os: "darwin", env: { HOME: "/Users/ann" } });
 * // "/Users/ann/Library/Application Support/Burrow"
 * defaultConfigDir({ os: "linux", env: { BURROW_DEV: "1" } }); // "conf"
 * ```
 */
export function defaultConfigDir(place: ConfigPlace): string {
  const dev = place.env[DEV_ENV];
  if (dev !== undefined && dev !== "" && dev !== "0") return "conf";
  if (place.os === "windows") {
    // Windows variable names ignore case; Deno keeps the spelling the system gave.
    const programData = place.env["ProgramData"] || place.env["PROGRAMDATA"];
    return win32.join(programData || "C:\\ProgramData", "Burrow");
  }
  if (place.os === "darwin") {
    return posix.join(place.env["HOME"] || "/", "Library", "Application Support", "Burrow");
  }
  return "/etc/burrow";
}

/**
 * The main file of `role` (`<dir>/<role>.jsonc`) read when `--config` is
 * not given.
 *
 * @example
 * ```ts
 * import { defaultConfigFile } from "./config_location.ts";
 * defaultConfigFile("agent", { os: "linux", env: {} }); // "/etc/burrow/agent.jsonc"
 * ```
 */
export function defaultConfigFile(role: "server" | "agent", place: ConfigPlace): string {
  const dir = defaultConfigDir(place);
  const join = place.os === "windows" ? win32.join : posix.join;
  return dir === "conf" ? `conf/${role}.jsonc` : join(dir, `${role}.jsonc`);
}

/** This process's {@link ConfigPlace}. */
export function currentPlace(): ConfigPlace {
  return { os: Deno.build.os, env: Deno.env.toObject() };
}

/**
 * The lines of `--help` that state the default location of `role`'s main
 * file on every platform, and the one this process would read.
 *
 * @example
 * ```ts
 * import { configLocationHelp } from "./config_location.ts";
 * configLocationHelp("server", "/etc/burrow/server.jsonc");
 * // "Without --config, the main file is read from:\n  Linux: /etc/burrow/server.jsonc …"
 * ```
 */
export function configLocationHelp(role: "server" | "agent", current: string): string {
  return `Without --config, the main file is read from:
  Linux:    /etc/burrow/${role}.jsonc
  Windows:  %ProgramData%\\Burrow\\${role}.jsonc
  macOS:    ~/Library/Application Support/Burrow/${role}.jsonc
  deno task dev (${DEV_ENV}=1): conf/${role}.jsonc
Here: ${current}`;
}

/** Where the config file named comes from. */
export interface ConfigChoice {
  /** The file to read: `--config`'s, `BURROW_CONFIG`'s, or the default. */
  file: string;
  /** Whether it was named (`--config`, `BURROW_CONFIG`): then it must exist. */
  explicit: boolean;
}

/**
 * Which config file to read: `--config`, else `BURROW_CONFIG`, else `fallback`.
 *
 * @example
 * ```ts
 * import { chooseConfig } from "./config_location.ts";
 * chooseConfig(undefined, { BURROW_CONFIG: "a.jsonc" }, "/etc/burrow/agent.jsonc");
 * // { file: "a.jsonc", explicit: true }
 * ```
 */
export function chooseConfig(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  fallback: string,
): ConfigChoice {
  if (flag !== undefined) return { file: flag, explicit: true };
  const named = env["BURROW_CONFIG"];
  if (named !== undefined && named !== "") return { file: named, explicit: true };
  return { file: fallback, explicit: false };
}
