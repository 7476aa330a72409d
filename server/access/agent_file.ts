/**
 * Parsing the server's agent files, `agents.d/<name>.jsonc`: one file per
 * agent identity, loaded and hot-reloaded by the shared domain-folder loader
 * (`access_folders.ts`).
 *
 * ```jsonc
 * {
 *   "secret": "$6$…",                 // plain or $6$, as in domain files; absent: certificate only
 *   "networks": ["198.51.100.0/24"],  // optional: where the agent may connect from
 *   "groups": ["customer-acme"],      // optional: for operators' "group:" selectors
 * }
 * ```
 *
 * @module
 */

import { resolve } from "node:path";
import { identityNameOfFile, isIdentityName, NAME_HINT } from "../../shared/auth/identity_name.ts";
import { ObjectReader } from "../../shared/config/fields.ts";
import { JsoncDocument } from "../../shared/config/jsonc.ts";
import { checkStoredSecret } from "../config.ts";
import type { AgentFile } from "./types.ts";

/** The `groups` list: names, lower-cased, sorted, without repeats. */
function parseGroups(r: ObjectReader): string[] {
  const groups = new Set<string>();
  for (const item of r.array("groups")) {
    const group = item.string().toLowerCase();
    if (!isIdentityName(group)) {
      throw item.error(`${JSON.stringify(item.value)} is not a group: expected ${NAME_HINT}`);
    }
    groups.add(group);
  }
  return [...groups].sort();
}

/**
 * Parses the text of an agent file. The agent's name is the file name
 * without `.jsonc`, lower-cased. The secret may be plain or a `$6$` hash (the
 * rule of server domain files; `burrow password` makes one); without one the
 * agent can identify only by a client certificate (`agentCertificates`).
 *
 * @throws {ConfigError} at the first mistake, or when the file name is not a valid name.
 * @example
 * ```ts
 * import { parseAgentFile } from "./agent_file.ts";
 * const agent = parseAgentFile("conf/agents.d/db1.jsonc", '{ "secret": "s3cret", "groups": ["Linux"] }');
 * // agent.name === "db1", agent.groups[0] === "linux", agent.networks === null
 * ```
 */
export function parseAgentFile(file: string, text: string): AgentFile {
  const name = identityNameOfFile(file);
  const r = ObjectReader.root(JsoncDocument.parse(file, text));
  // Without a secret the agent can identify only by a certificate (`agentCertificates`).
  const secretField = r.field("secret");
  const secret = secretField === null ? null : secretField.string({ nonEmpty: true });
  if (secretField !== null && secret !== null) checkStoredSecret(secretField, secret);
  const agent: AgentFile = {
    name,
    file: resolve(file),
    secret,
    networks: r.cidrs("networks"),
    groups: parseGroups(r),
  };
  r.finish();
  return agent;
}
