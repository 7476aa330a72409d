/**
 * What each role loads at start: the modules `main.ts` evaluates before the
 * role's code asks for more, read from Deno's own module graph (`deno info
 * --json`). A role must not load the other roles' code, nor the packages only
 * some configurations use: @peculiar/x509 (with reflect-metadata) makes the
 * self-signed certificates, @logtape/file writes log files. Each costs RSS
 * for the life of the process (about 20 MB and 5 MB), which is why they are
 * loaded with `import()` when needed. Nor `node:net`/`node:tls` (Deno's Node
 * stream and socket layer, about 3 MB): only an `insecure` dial uses them.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const MAIN = new URL("main.ts", ROOT).href;

/** One module of `deno info --json`, as far as this test reads it. */
interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** The module graph of `main.ts`, dynamic imports included, as `deno info --json` prints it. */
async function moduleGraph(): Promise<
  { modules: InfoModule[]; redirects: Record<string, string> }
> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", MAIN],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * The modules loaded when `roots` are loaded: the roots and everything they
 * import statically, transitively (type-only and dynamic imports excluded).
 */
function staticClosure(
  graph: { modules: InfoModule[]; redirects: Record<string, string> },
  roots: string[],
): Set<string> {
  const byUrl = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...roots];
  for (let url = todo.pop(); url !== undefined; url = todo.pop()) {
    url = graph.redirects[url] ?? url;
    if (seen.has(url)) continue;
    seen.add(url);
    for (const dep of byUrl.get(url)?.dependencies ?? []) {
      if (dep.code !== undefined && dep.isDynamic !== true) todo.push(dep.code.specifier);
    }
  }
  return seen;
}

/**
 * Modules of `loaded` under one of `paths` (a folder ending in `/` or a file,
 * relative to the project) or from an npm package named in `packages`.
 */
function offending(loaded: Set<string>, paths: string[], packages: string[]): string[] {
  return [...loaded].filter((url) =>
    paths.some((path) => url.startsWith(new URL(path, ROOT).href)) ||
    packages.some((name) => url.startsWith(`npm:/${name}@`) || url === name)
  ).sort();
}

/** Code of the server role, of the agent role, and of the commands that are neither. */
const SERVER = ["server/", "cli/server.ts"];
const AGENT = ["agent/", "cli/agent.ts"];
const OTHERS = ["demo/", "cli/demo.ts", "cli/check.ts", "cli/password.ts"];

/** Packages no role needs at start. */
const ON_DEMAND = [
  "@peculiar/x509",
  "reflect-metadata",
  "@logtape/file",
  "@logtape/syslog",
  "jsonc-parser",
  // Deno's Node socket layer: about 3 MB RSS each (node:tls includes node:net).
  // node:tls serves only `insecure` dials, node:net nothing a role needs.
  "node:net",
  "node:tls",
  // Agent forwards and identity: loaded by the first UDP forward, name lookup, secret file read.
  "node:dgram",
  "node:dns/promises",
  "node:fs/promises",
];

Deno.test("main.ts loads no role's module before the command word picks one", async () => {
  const loaded = staticClosure(await moduleGraph(), [MAIN]);
  assert.deepEqual(offending(loaded, [...SERVER, ...AGENT, ...OTHERS], ON_DEMAND), []);
});

Deno.test("the server role loads neither the agent's code nor x509, @logtape/file or jsonc-parser at start", async () => {
  const graph = await moduleGraph();
  const loaded = staticClosure(graph, [MAIN, new URL("cli/server.ts", ROOT).href]);
  assert.ok(loaded.has(new URL("server/server.ts", ROOT).href), "the graph reaches server.ts");
  assert.deepEqual(offending(loaded, [...AGENT, ...OTHERS], ON_DEMAND), []);
});

Deno.test("the agent role loads neither the server's code nor x509, @logtape/file or jsonc-parser at start", async () => {
  const graph = await moduleGraph();
  const loaded = staticClosure(graph, [MAIN, new URL("cli/agent.ts", ROOT).href]);
  assert.ok(loaded.has(new URL("agent/agent.ts", ROOT).href), "the graph reaches agent.ts");
  assert.deepEqual(offending(loaded, [...SERVER, ...OTHERS], ON_DEMAND), []);
});
