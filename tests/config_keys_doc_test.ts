/**
 * The configuration keys the parsers accept against the keys the documents
 * tell users about: every key a loader reads is documented in
 * `docs/config.md` (or `docs/operator.md` for the operator's own file) and
 * named in the role's `conf/*.full*` sample, and every key a table of
 * `docs/config.md` documents is one a loader reads. A key added to a parser
 * without its documentation, or documented and never read, fails here.
 *
 * The keys a loader reads are collected by watching
 * {@linkcode ObjectReader.prototype.field}, through which every accessor
 * asks for its key (so an absent key counts: the loader would accept it),
 * while the real loaders parse the full samples.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ObjectReader } from "../shared/config/fields.ts";
import { parseServerConfig, parseServerDomain } from "../server/config.ts";
import { parseAgentConfig, parseAgentDomain } from "../agent/config.ts";
import { parseAgentFile } from "../server/access/agent_file.ts";
import { parseOperatorFile } from "../server/access/operator_file.ts";
import { resolveOperatorSettings } from "../operator/settings.ts";
import { ROOT } from "./helpers/burrow.ts";

/** The kinds of config file, each read by its own loader. */
type Scope = "server" | "serverDomain" | "agent" | "agentDomain" | "agentFile" | "operatorFile";

/** Each scope's full sample, relative to the root. */
const SAMPLES: Record<Scope, string> = {
  server: "conf/server.full.jsonc",
  serverDomain: "conf/server.full.d/www.example.com.jsonc",
  agent: "conf/agent.full.jsonc",
  agentDomain: "conf/agent.full.d/www.example.com.jsonc",
  agentFile: "conf/agents.full.d/db1.jsonc",
  operatorFile: "conf/operators.full.d/alice.jsonc",
};

/** What the tables of each section of `docs/config.md` document: scopes and key prefix, per table. */
const TABLES: Record<string, { scopes: Scope[]; prefix: string }[]> = {
  "Server main file": [{ scopes: ["server"], prefix: "" }],
  "Agent certificates (mTLS)": [{ scopes: ["server"], prefix: "agentCertificates." }],
  "Sessions and audit": [{ scopes: ["server"], prefix: "" }],
  "Published ports": [{ scopes: ["server"], prefix: "publish.[]." }],
  "Agent connections": [{ scopes: ["server"], prefix: "" }],
  "Operator connections": [{ scopes: ["server"], prefix: "" }],
  "Server domain files": [{ scopes: ["serverDomain"], prefix: "" }],
  "Agent files": [{ scopes: ["agentFile"], prefix: "" }],
  "Operator files": [{ scopes: ["operatorFile"], prefix: "" }],
  "Agent main file": [{ scopes: ["agent"], prefix: "" }, { scopes: ["agent"], prefix: "forward." }],
  "Reconnecting": [{ scopes: ["agent"], prefix: "" }, { scopes: ["agent"], prefix: "" }],
  "Agent domain files": [{ scopes: ["agentDomain"], prefix: "" }],
  "Targets": [{ scopes: ["agentDomain"], prefix: "targets.[]." }],
  "Logging": [{ scopes: ["server", "agent"], prefix: "log." }],
};

/**
 * Keys of array entries documented in a section's prose rather than a table
 * (listener entries, certificate entries, log sinks, weighted backends): a
 * key read under `pattern` must appear there as `"key"` or `` `key` ``.
 */
const PROSE: { pattern: RegExp; section: string }[] = [
  { pattern: /^(listen\.\[\]\.)?certificates\.\[\]\.[^.]+$/, section: "Certificates" },
  { pattern: /^listen\.\[\]\.[^.]+$/, section: "Listeners" },
  { pattern: /^log\.(system|access)\.\[\]\.[^.]+$/, section: "Logging" },
  { pattern: /^targets\.\[\]\.target\.\[\]\.[^.]+$/, section: "Targets" },
];

/** A section of a Markdown document: its heading and text, and the key column of its tables. */
interface Section {
  text: string;
  tables: string[][];
}

/** The `##` and `###` sections of `markdown`, by heading. */
function sections(markdown: string): Map<string, Section> {
  const out = new Map<string, Section>();
  let current: Section = { text: "", tables: [] };
  let table: string[] | null = null;
  for (const line of markdown.split("\n")) {
    const heading = /^#{2,3} (.+)$/.exec(line);
    if (heading) {
      current = { text: "", tables: [] };
      out.set(heading[1]!, current);
      table = null;
      continue;
    }
    current.text += line + "\n";
    if (/^\| Key\s*\|/.test(line)) {
      table = [];
      current.tables.push(table);
    } else if (table !== null && line.startsWith("|")) {
      const key = /^\| `([A-Za-z.]+)`/.exec(line);
      if (key) table.push(key[1]!);
    } else if (!line.startsWith("|")) table = null;
  }
  return out;
}

/** Starts recording the key paths loaders ask for (array indices as `[]`); `stop()` ends it. */
function watchKeys(): { seen: Set<string>; stop(): void } {
  const seen = new Set<string>();
  const field = ObjectReader.prototype.field;
  ObjectReader.prototype.field = function (this: ObjectReader, key: string) {
    seen.add([...this.path, key].map((p) => typeof p === "number" ? "[]" : p).join("."));
    return field.call(this, key);
  };
  return { seen, stop: () => void (ObjectReader.prototype.field = field) };
}

/** Runs `parse` and returns the key paths it asked for. */
function keysRead(parse: () => unknown): Set<string> {
  const watch = watchKeys();
  try {
    parse();
  } finally {
    watch.stop();
  }
  return watch.seen;
}

/** The keys each loader reads from the full samples (plus the branches one file cannot hold). */
function readKeys(): Record<Scope, Set<string>> {
  const text = (path: string) => Deno.readTextFileSync(join(ROOT, path));
  const file = (scope: Scope) => join(ROOT, SAMPLES[scope]);
  const server = keysRead(() => parseServerConfig(file("server"), text(SAMPLES.server)));
  // agentCertificates' own keys are read only when it is present.
  const mtls = `{ "mode": "server", "listen": [{ "address": "127.0.0.1:0", "cert": "c.pem",
    "key": "k.pem" }], "agentCertificates": { "listen": "127.0.0.1:0", "ca": "ca.pem" } }`;
  for (const key of keysRead(() => parseServerConfig(file("server"), mtls))) server.add(key);
  return {
    server,
    serverDomain: keysRead(() =>
      parseServerDomain(file("serverDomain"), text(SAMPLES.serverDomain))
    ),
    agent: keysRead(() => parseAgentConfig(file("agent"), text(SAMPLES.agent))),
    agentDomain: keysRead(() => parseAgentDomain(file("agentDomain"), text(SAMPLES.agentDomain))),
    agentFile: keysRead(() => parseAgentFile(file("agentFile"), text(SAMPLES.agentFile))),
    operatorFile: keysRead(() =>
      parseOperatorFile(file("operatorFile"), text(SAMPLES.operatorFile))
    ),
  };
}

/** The keys `docs/config.md`'s tables document, per scope, with their prefixes. */
function documentedKeys(docs: Map<string, Section>): Record<Scope, Set<string>> {
  const out = {} as Record<Scope, Set<string>>;
  for (const scope of Object.keys(SAMPLES) as Scope[]) out[scope] = new Set();
  for (const [heading, tables] of Object.entries(TABLES)) {
    const section = docs.get(heading);
    assert.ok(section, `docs/config.md has no section "${heading}"`);
    assert.equal(section.tables.length, tables.length, `key tables under "${heading}"`);
    tables.forEach(({ scopes, prefix }, i) => {
      for (const key of section.tables[i]!) {
        for (const scope of scopes) out[scope].add(prefix + key);
      }
    });
  }
  // Server-only logging keys are marked so in the table; the agent refuses them.
  out.agent.delete("log.access");
  out.agent.delete("log.unavailable");
  return out;
}

/** Whether `key` is documented: in a table, as a parent of documented keys, or in its prose. */
function isDocumented(key: string, documented: Set<string>, docs: Map<string, Section>): boolean {
  if (documented.has(key)) return true;
  if ([...documented].some((k) => k.startsWith(key + "."))) return true;
  const rule = PROSE.find((p) => p.pattern.test(key));
  if (rule === undefined) return false;
  const name = key.slice(key.lastIndexOf(".") + 1);
  const text = docs.get(rule.section)?.text ?? "";
  return text.includes(`"${name}"`) || text.includes(`\`${name}\``);
}

Deno.test("every config key a loader reads is documented in docs/config.md", () => {
  const docs = sections(Deno.readTextFileSync(join(ROOT, "docs/config.md")));
  const documented = documentedKeys(docs);
  const missing: string[] = [];
  for (const [scope, keys] of Object.entries(readKeys()) as [Scope, Set<string>][]) {
    for (const key of keys) {
      if (!isDocumented(key, documented[scope], docs)) missing.push(`${scope}: ${key}`);
    }
  }
  assert.deepEqual(missing, [], "keys read but not documented");
});

Deno.test("every key docs/config.md documents in a table is read by its loader", () => {
  const docs = sections(Deno.readTextFileSync(join(ROOT, "docs/config.md")));
  const read = readKeys();
  const unread: string[] = [];
  for (const [scope, keys] of Object.entries(documentedKeys(docs)) as [Scope, Set<string>][]) {
    for (const key of keys) if (!read[scope].has(key)) unread.push(`${scope}: ${key}`);
  }
  assert.deepEqual(unread, [], "keys documented but never read (so refused as unknown)");
});

Deno.test("every config key a loader reads is named in the role's full sample", () => {
  const missing: string[] = [];
  for (const [scope, keys] of Object.entries(readKeys()) as [Scope, Set<string>][]) {
    const sample = Deno.readTextFileSync(join(ROOT, SAMPLES[scope]));
    for (const key of keys) {
      const name = key.slice(key.lastIndexOf(".") + 1);
      if (!sample.includes(`"${name}"`)) missing.push(`${SAMPLES[scope]}: ${key}`);
    }
  }
  assert.deepEqual(missing, [], "keys the full samples do not mention");
});

Deno.test("the operator config file's keys are the ones docs/operator.md lists", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-keys-" });
  try {
    const config = join(dir, "operator.jsonc");
    await Deno.writeTextFile(config, "{}");
    const watch = watchKeys();
    try {
      // The token file does not exist: the settings fail after the file is read.
      await resolveOperatorSettings({ config }, { env: () => undefined }).catch(() => {});
    } finally {
      watch.stop();
    }
    const table = Deno.readTextFileSync(join(ROOT, "docs/operator.md"))
      .split("\n")
      .filter((line) => /^\| (server|token|CA|insecure)\s*\|/.test(line))
      .map((line) => /`"([A-Za-z]+)"`\s*\|$/.exec(line)?.[1]);
    assert.deepEqual([...watch.seen].sort(), table.sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
