/**
 * Parsing the server's operator files, `operators.d/<name>.jsonc`: one file
 * per operator, loaded and hot-reloaded by the shared domain-folder loader
 * (`access_folders.ts`).
 *
 * ```jsonc
 * {
 *   "token": "sha256:…",                  // required: from `burrow token` (or a $6$ hash)
 *   "agents": ["db1", "group:customer-*"], // which agents (see selector.ts); none when absent
 *   "kinds": ["forward", "socks"],         // which channel kinds; none when absent
 *   "networks": ["203.0.113.0/24"],        // optional: client networks allowed
 * }
 * ```
 *
 * The token must be stored hashed: a plain token is refused, so a file that
 * leaks does not hand out access.
 *
 * @module
 */

import { resolve } from "node:path";
import { identityNameOfFile } from "../../shared/auth/identity_name.ts";
import { isSha512CryptHash } from "../../shared/auth/secret.ts";
import { isTokenHash, SHA256_PREFIX } from "../../shared/auth/token.ts";
import { describe, type Field } from "../../shared/config/field.ts";
import { ObjectReader } from "../../shared/config/fields.ts";
import { JsoncDocument } from "../../shared/config/jsonc.ts";
import { type AgentSelector, parseAgentSelector } from "./selector.ts";
import { CHANNEL_KINDS, type ChannelKind, type OperatorFile } from "./types.ts";

/** The `token` value: a whole `sha256:` or `$6$` hash. */
function parseTokenHash(field: Field): string {
  const token = field.string({ nonEmpty: true });
  if (token.startsWith(SHA256_PREFIX)) {
    if (!isTokenHash(token)) {
      throw field.error('starts with "sha256:" but is not 64 lower-case hex digits after it');
    }
  } else if (token.startsWith("$6$")) {
    if (!isSha512CryptHash(token)) {
      throw field.error("starts with $6$ but is not a valid SHA-512 crypt hash");
    }
  } else {
    throw field.error(
      'must be a hash, not the token itself: "sha256:…" from \'burrow token\', or "$6$…"',
    );
  }
  return token;
}

/** The `agents` list. */
function parseSelectors(r: ObjectReader): AgentSelector[] {
  return r.array("agents").map((item) => {
    try {
      return parseAgentSelector(item.string());
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      throw item.error(error.message);
    }
  });
}

/** The `kinds` list, without repeats, in {@link CHANNEL_KINDS} order. */
function parseKinds(r: ObjectReader): ChannelKind[] {
  const kinds = new Set<ChannelKind>();
  for (const item of r.array("kinds")) {
    const text = item.string();
    const kind = CHANNEL_KINDS.find((k) => k === text);
    if (kind === undefined) {
      const names = CHANNEL_KINDS.map((k) => `"${k}"`).join(", ");
      throw item.error(`${describe(text)} is not one of ${names}`);
    }
    kinds.add(kind);
  }
  return CHANNEL_KINDS.filter((k) => kinds.has(k));
}

/**
 * Parses the text of an operator file. The operator's name is the file name
 * without `.jsonc`, lower-cased.
 *
 * @throws {ConfigError} at the first mistake, or when the file name is not a valid name.
 * @example
 * ```ts
 * import { parseOperatorFile } from "./operator_file.ts";
 * import { hashToken } from "../../shared/auth/token.ts";
 * const operator = parseOperatorFile("conf/operators.d/alice.jsonc", JSON.stringify({
 *   token: hashToken("burrow_example"), agents: ["db1"], kinds: ["forward"],
 * }));
 * // operator.name === "alice", operator.kinds[0] === "forward"
 * ```
 */
export function parseOperatorFile(file: string, text: string): OperatorFile {
  const name = identityNameOfFile(file);
  const r = ObjectReader.root(JsoncDocument.parse(file, text));
  const operator: OperatorFile = {
    name,
    file: resolve(file),
    token: parseTokenHash(r.required("token")),
    agents: parseSelectors(r),
    kinds: parseKinds(r),
    networks: r.cidrs("networks"),
  };
  r.finish();
  return operator;
}
