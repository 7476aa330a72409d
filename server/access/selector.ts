/**
 * Agent selectors of operator files (`agents: [...]`): which agents an
 * operator may reach.
 *
 * | selector           | matches                                              |
 * | ------------------ | ---------------------------------------------------- |
 * | `db1`              | the agent named `db1`                                |
 * | `web-*`, `db?`     | agents whose name matches the glob                   |
 * | `group:customer-*` | agents with a group matching the glob                |
 * | `*`                | every agent                                          |
 *
 * Globs: `*` is any run of characters (none included), `?` exactly one;
 * every other character stands for itself. Names and groups are
 * lower-case, so selectors are lower-cased when read. The whole name (or
 * group) must match: `db` does not match `db1`.
 *
 * @module
 */

/** Prefix of a group selector. */
export const GROUP_PREFIX = "group:";

/** One parsed selector. */
export interface AgentSelector {
  /** As written (lower-cased), for messages. */
  text: string;
  /** What the glob is tested against. */
  on: "name" | "group";
  /** The glob as an anchored regular expression. */
  pattern: RegExp;
}

const GLOB = /^[a-z0-9._*?-]{1,253}$/;

/** An anchored regular expression for `glob`. */
function globPattern(glob: string): RegExp {
  const source = glob.replace(/[.*?-]/g, (c) => c === "*" ? ".*" : c === "?" ? "." : `\\${c}`);
  return new RegExp(`^${source}$`);
}

/**
 * Parses one selector.
 *
 * @throws {TypeError} saying what is wrong.
 * @example
 * ```ts
 * import { matchesAgent, parseAgentSelector } from "./selector.ts";
 * const s = parseAgentSelector("group:customer-*");
 * matchesAgent([s], "db1", ["customer-acme"]); // true
 * ```
 */
export function parseAgentSelector(text: string): AgentSelector {
  const lower = text.toLowerCase();
  const on = lower.startsWith(GROUP_PREFIX) ? "group" : "name";
  const glob = on === "group" ? lower.slice(GROUP_PREFIX.length) : lower;
  if (!GLOB.test(glob)) {
    throw new TypeError(
      `${JSON.stringify(text)} is not an agent selector (a name or glob like "db1" or "web-*", ` +
        `"group:<glob>", or "*")`,
    );
  }
  return { text: lower, on, pattern: globPattern(glob) };
}

/**
 * Whether any of `selectors` matches the agent `name` with `groups`.
 *
 * @example
 * ```ts
 * import { matchesAgent, parseAgentSelector } from "./selector.ts";
 * matchesAgent([parseAgentSelector("web-*")], "web-2", []); // true
 * ```
 */
export function matchesAgent(
  selectors: readonly AgentSelector[],
  name: string,
  groups: readonly string[],
): boolean {
  return selectors.some((s) =>
    s.on === "name" ? s.pattern.test(name) : groups.some((group) => s.pattern.test(group))
  );
}
