/**
 * The agent main file's `forward` object: which targets forward streams
 * may reach, and how long a quiet UDP flow lives. Parse → defaults →
 * validate, each mistake a `ConfigError` at file:line:column. Keys in
 * `docs/config.md`, "Agent main file".
 *
 * @module
 */

import type { ObjectReader } from "../../shared/config/fields.ts";
import { Allowlist, DEFAULT_ALLOW, parseAllowEntry } from "./allowlist.ts";

const SECOND = 1000;

/** Default and bounds of `forward.udpIdleTimeout`, in ms: 60 s, 1 s to 1 h. */
export const UDP_IDLE_TIMEOUT = { default: 60 * SECOND, min: 1 * SECOND, max: 3600 * SECOND };

/** The `forward` settings of the agent. */
export interface ForwardConfig {
  /** Targets operators may reach; without `allow` in the file, the agent machine itself. */
  allowlist: Allowlist;
  /** A UDP flow quiet both ways this long (ms) is closed. Default 60 s. */
  udpIdleTimeout: number;
}

/** The `forward` settings when the file has none. */
export function defaultForwardConfig(): ForwardConfig {
  return { allowlist: new Allowlist(DEFAULT_ALLOW), udpIdleTimeout: UDP_IDLE_TIMEOUT.default };
}

/**
 * Reads the `forward` object (absent: every default). `allow` is an array of
 * entries (`"10.0.0.0/8:22"`, `"[::1]:5432"`, `"db.lan:5432-5433"`,
 * `"localhost"`); an empty array allows nothing.
 *
 * @throws {ConfigError} at the first malformed entry or out-of-range value.
 * @example
 * ```ts
 * const forward = parseForwardConfig(r.object("forward"));
 * forward.allowlist.check("127.0.0.1", 22).allowed; // true
 * ```
 */
export function parseForwardConfig(r: ObjectReader): ForwardConfig {
  const allowField = r.field("allow");
  let entries: string[] = [...DEFAULT_ALLOW];
  if (allowField !== null) {
    entries = allowField.array().map((field) => {
      const text = field.string();
      try {
        parseAllowEntry(text);
      } catch (e) {
        throw field.error((e as Error).message);
      }
      return text;
    });
  }
  const config: ForwardConfig = {
    allowlist: new Allowlist(entries),
    udpIdleTimeout: r.duration("udpIdleTimeout", UDP_IDLE_TIMEOUT),
  };
  r.finish();
  return config;
}
