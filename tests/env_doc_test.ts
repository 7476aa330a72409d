/**
 * The `BURROW_*` environment variables the code reads against the ones the
 * documents name, both ways: a variable read but documented nowhere, or
 * documented and read nowhere, fails here.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { ROOT } from "./helpers/burrow.ts";

/** Folders of shipped code whose variables users set. */
const CODE = ["main.ts", "dev.ts", "cli", "server", "agent", "operator", "shared", "packaging"];

/** `BURROW_*` words that are no variable: the service host's usage placeholder. */
const NOT_SETTINGS = new Set(["BURROW_EXE"]);

/** Files under `path` (a file or a folder), tests and their helpers left out. */
async function files(path: string): Promise<string[]> {
  const stat = await Deno.stat(path);
  if (stat.isFile) return [path];
  const out: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    const child = join(path, entry.name);
    if (entry.isDirectory) out.push(...await files(child));
    else if (/\.(ts|sh|ps1|service|md)$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) {
      out.push(child);
    }
  }
  return out;
}

/** The `BURROW_*` names in the files, each with the first file naming it. */
async function variables(paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const path of paths) {
    for (const m of (await Deno.readTextFile(path)).matchAll(/\bBURROW_[A-Z][A-Z_]*[A-Z]\b/g)) {
      if (!out.has(m[0])) out.set(m[0], relative(ROOT, path));
    }
  }
  return out;
}

Deno.test("every BURROW_* variable the code reads is documented, and every documented one is read", async () => {
  const code = await variables(
    (await Promise.all(CODE.map((p) => files(join(ROOT, p))))).flat(),
  );
  const docs = await variables([
    join(ROOT, "README.md"),
    ...(await files(join(ROOT, "docs"))).filter((f) => f.endsWith(".md")),
  ]);
  const undocumented = [...code].filter(([name]) => !docs.has(name) && !NOT_SETTINGS.has(name));
  const unread = [...docs].filter(([name]) => !code.has(name));
  assert.deepEqual(undocumented, [], "read by the code, in no document");
  assert.deepEqual(unread, [], "in a document, read by no code");
  assert.ok(code.has("BURROW_SERVER") && code.has("BURROW_TOKEN"), "the code was read");
});
