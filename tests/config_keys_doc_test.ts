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
import { parseDuration, parseSize } from "../shared/config/units.ts";
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

/** One row of a key table: the key, and its Default and Range cells (backticks kept). */
interface Row {
  key: string;
  default: string;
  range: string;
}

/** A section of a Markdown document: its text and its key tables. */
interface Section {
  text: string;
  tables: Row[][];
}

/** The cells of a table line, split on unescaped `|`. */
function cells(line: string): string[] {
  return line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
}

/** The `##` and `###` sections of `markdown`, by heading. */
function sections(markdown: string): Map<string, Section> {
  const out = new Map<string, Section>();
  let current: Section = { text: "", tables: [] };
  let table: Row[] | null = null;
  let header: string[] = [];
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
      header = cells(line);
      table = [];
      current.tables.push(table);
    } else if (table !== null && line.startsWith("|")) {
      const row = cells(line);
      const key = /^`([A-Za-z.]+)`$/.exec(row[0] ?? "");
      const cell = (name: RegExp) => row[header.findIndex((h) => name.test(h))] ?? "";
      if (key) table.push({ key: key[1]!, default: cell(/^Default$/), range: cell(/^Range/) });
    } else if (!line.startsWith("|")) table = null;
  }
  return out;
}

/** The bounds and default a loader gave for a number, duration (ms) or size (bytes). */
interface Bound {
  type: "int" | "duration" | "size";
  min?: number;
  max?: number;
  default?: number;
}

/** What the loaders asked for: key paths (array indices as `[]`), and the bounds of numbers. */
interface Reads {
  keys: Set<string>;
  bounds: Map<string, Bound>;
}

/** Starts recording what loaders ask the {@linkcode ObjectReader}s for; `stop()` ends it. */
function watchReads(): { reads: Reads; stop(): void } {
  const reads: Reads = { keys: new Set(), bounds: new Map() };
  const path = (r: ObjectReader, key: string) =>
    [...r.path, key].map((p) => typeof p === "number" ? "[]" : p).join(".");
  const proto = ObjectReader.prototype;
  const saved = { field: proto.field, int: proto.int, duration: proto.duration, size: proto.size };
  proto.field = function (this: ObjectReader, key: string) {
    reads.keys.add(path(this, key));
    return saved.field.call(this, key);
  };
  for (const type of ["int", "duration", "size"] as const) {
    // deno-lint-ignore no-explicit-any
    (proto as any)[type] = function (this: ObjectReader, key: string, options: Bound) {
      const { min, max, default: fallback } = options;
      reads.bounds.set(path(this, key), { type, min, max, default: fallback });
      // deno-lint-ignore no-explicit-any
      return (saved[type] as any).call(this, key, options);
    };
  }
  return { reads, stop: () => void Object.assign(proto, saved) };
}

/** Runs `parse` and returns what it asked for. */
function readsOf(parse: () => unknown): Reads {
  const watch = watchReads();
  try {
    parse();
  } finally {
    watch.stop();
  }
  return watch.reads;
}

/** What each loader reads from the full samples (plus the branches one file cannot hold). */
function readAll(): Record<Scope, Reads> {
  const text = (path: string) => Deno.readTextFileSync(join(ROOT, path));
  const file = (scope: Scope) => join(ROOT, SAMPLES[scope]);
  const server = readsOf(() => parseServerConfig(file("server"), text(SAMPLES.server)));
  // agentCertificates' own keys are read only when it is present.
  const mtls = `{ "mode": "server", "listen": [{ "address": "127.0.0.1:0", "cert": "c.pem",
    "key": "k.pem" }], "agentCertificates": { "listen": "127.0.0.1:0", "ca": "ca.pem" } }`;
  for (const key of readsOf(() => parseServerConfig(file("server"), mtls)).keys) {
    server.keys.add(key);
  }
  return {
    server,
    serverDomain: readsOf(() =>
      parseServerDomain(file("serverDomain"), text(SAMPLES.serverDomain))
    ),
    agent: readsOf(() => parseAgentConfig(file("agent"), text(SAMPLES.agent))),
    agentDomain: readsOf(() => parseAgentDomain(file("agentDomain"), text(SAMPLES.agentDomain))),
    agentFile: readsOf(() => parseAgentFile(file("agentFile"), text(SAMPLES.agentFile))),
    operatorFile: readsOf(() =>
      parseOperatorFile(file("operatorFile"), text(SAMPLES.operatorFile))
    ),
  };
}

/** The keys each loader reads. */
function readKeys(): Record<Scope, Set<string>> {
  const all = readAll();
  const out = {} as Record<Scope, Set<string>>;
  for (const scope of Object.keys(all) as Scope[]) out[scope] = all[scope].keys;
  return out;
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
      for (const { key } of section.tables[i]!) {
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
    const watch = watchReads();
    try {
      // The token file does not exist: the settings fail after the file is read.
      await resolveOperatorSettings({ config }, { env: () => undefined }).catch(() => {});
    } finally {
      watch.stop();
    }
    const keys = watch.reads.keys;
    const table = Deno.readTextFileSync(join(ROOT, "docs/operator.md"))
      .split("\n")
      .filter((line) => /^\| (server|token|CA|insecure)\s*\|/.test(line))
      .map((line) => /`"([A-Za-z]+)"`\s*\|$/.exec(line)?.[1]);
    assert.deepEqual([...keys].sort(), table.sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A documented value of a number, duration or size (`` `"10s"` ``, `1s`, `64kB`, `10000`, `0`)
 * in the loader's unit; undefined when the text is not a plain value (`` main `limits.bodySize` ``).
 */
function documentedValue(text: string, type: Bound["type"]): number | undefined {
  const value = text.replaceAll("`", "").replaceAll('"', "").trim();
  if (!/^\d+(\.\d+)?[A-Za-z]*$/.test(value)) return undefined;
  const bare = /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (type === "int") return typeof bare === "number" ? bare : undefined;
  return type === "duration" ? parseDuration(bare) : parseSize(bare);
}

Deno.test("docs/config.md gives the defaults and ranges the loaders use", () => {
  const docs = sections(Deno.readTextFileSync(join(ROOT, "docs/config.md")));
  const read = readAll();
  const wrong: string[] = [];
  let compared = 0;
  for (const [heading, tables] of Object.entries(TABLES)) {
    tables.forEach(({ scopes, prefix }, i) => {
      for (const row of docs.get(heading)!.tables[i]!) {
        for (const scope of scopes) {
          const bound = read[scope].bounds.get(prefix + row.key);
          if (bound === undefined) continue;
          const where = `${scope}: ${prefix + row.key}`;
          const fallback = documentedValue(row.default, bound.type);
          if (fallback !== undefined && bound.default !== undefined) {
            compared++;
            if (fallback !== bound.default) {
              wrong.push(`${where}: default ${row.default}, the loader's ${bound.default}`);
            }
          }
          // "1s–10m", "0–10000", "1s–24h, ≥ `lockout`": the bounds before any comma.
          const range = row.range.split(",")[0]!.split("–");
          if (range.length !== 2) {
            wrong.push(`${where}: no range documented (${bound.min}–${bound.max})`);
            continue;
          }
          const [min, max] = range.map((t) => documentedValue(t, bound.type));
          compared++;
          if (min !== bound.min || max !== bound.max) {
            wrong.push(`${where}: range ${row.range}, the loader's ${bound.min}–${bound.max}`);
          }
        }
      }
    });
  }
  assert.deepEqual(wrong, [], "documented defaults and ranges the loaders do not use");
  assert.ok(compared > 60, `only ${compared} values compared: the tables were not read`);
});
