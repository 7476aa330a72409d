/**
 * The layering rules of the project, checked on the real module
 * graph (`deno info --json`): no import cycle among the project's own files
 * nor between its top folders, and `shared/` never imports from the role
 * folders or the command line.
 *
 * The graph is read once, rooted at every `.ts` file of the project, so
 * tests, benches and test helpers count too. Type-only imports count: a
 * cycle of types is still two files that cannot be read apart.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath as fromFileUrl, pathToFileURL } from "node:url";

/** The project's root folder. */
const ROOT = fromFileUrl(new URL("..", import.meta.url));

/** Folders `shared/` must not import from. */
const ABOVE_SHARED = [
  "server/",
  "agent/",
  "operator/",
  "cli/",
  "demo/",
  "tests/",
  "bench/",
  "main.ts",
];

/** Every `.ts` file of the project, relative to {@linkcode ROOT}. */
async function projectFiles(dir = ROOT): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (entry.name.startsWith(".") || entry.name === "dist" || entry.name === "node_modules") {
        continue;
      }
      out.push(...await projectFiles(path));
    } else if (entry.isFile && entry.name.endsWith(".ts")) {
      out.push(relative(ROOT, path));
    }
  }
  return out.sort();
}

/** The project's import graph: file → files it imports (code or types), all relative. */
async function importGraph(): Promise<Map<string, Set<string>>> {
  const files = await projectFiles();
  const dir = await Deno.makeTempDir({ prefix: "burrow-structure-" });
  try {
    const root = join(dir, "root.ts");
    await Deno.writeTextFile(
      root,
      files.map((f) => `import "${pathToFileURL(join(ROOT, f)).href}";\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(ROOT, "deno.json"), root],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
      }[];
    };
    const own = (specifier: string | undefined): string | null => {
      if (specifier === undefined || !specifier.startsWith("file://")) return null;
      const path = relative(ROOT, fromFileUrl(specifier));
      return path.startsWith("..") || path === "" ? null : path;
    };
    const graph = new Map<string, Set<string>>();
    for (const m of info.modules) {
      const from = own(m.specifier);
      if (from === null) continue;
      const to = new Set<string>();
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) {
          const path = own(s);
          if (path !== null && path !== from) to.add(path);
        }
      }
      graph.set(from, to);
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The strongly connected components of `graph` with more than one file (Tarjan),
 * each named by its files sorted and joined with " -> ", plus, inside a larger
 * component, every pair of files importing each other directly.
 */
function findCycles(graph: Map<string, Set<string>>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  const cycles = new Set<string>();
  for (const c of components) {
    cycles.add(c.join(" -> "));
    if (c.length <= 2) continue;
    for (const a of c) {
      for (const b of graph.get(a) ?? []) {
        if (a < b && graph.get(b)?.has(a)) cycles.add(`${a} -> ${b}`);
      }
    }
  }
  return [...cycles].sort();
}

const graph = await importGraph();

Deno.test("no import cycle among the project's files", () => {
  assert.deepEqual(findCycles(graph), []);
});

Deno.test("shared/ imports nothing from the roles, the CLI, tests or benches", () => {
  const wrong: string[] = [];
  for (const [from, deps] of graph) {
    if (!from.startsWith("shared/")) continue;
    for (const to of deps) {
      // A test beside its module may use the project's test helpers.
      if (from.endsWith("_test.ts") && to.startsWith("tests/helpers/")) continue;
      if (ABOVE_SHARED.some((p) => to === p || to.startsWith(p))) wrong.push(`${from} -> ${to}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("operator/ (the operator client) imports only shared/", () => {
  const wrong: string[] = [];
  for (const [from, deps] of graph) {
    if (!from.startsWith("operator/") || from.endsWith("_test.ts")) continue;
    for (const to of deps) {
      if (!to.startsWith("operator/") && !to.startsWith("shared/")) wrong.push(`${from} -> ${to}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("no import cycle between the top folders (main.ts -> cli -> roles -> shared)", () => {
  // Tests and benches may import from anywhere; the program's own files may not loop.
  const folders = new Map<string, Set<string>>();
  const folderOf = (path: string) => path.split("/")[0]!;
  for (const [from, deps] of graph) {
    if (from.endsWith("_test.ts") || from.startsWith("tests/") || from.startsWith("bench/")) {
      continue;
    }
    const to = folders.get(folderOf(from)) ?? new Set<string>();
    for (const d of deps) if (folderOf(d) !== folderOf(from)) to.add(folderOf(d));
    folders.set(folderOf(from), to);
  }
  assert.deepEqual(findCycles(folders), []);
});

Deno.test("findCycles names a cycle of two, a cycle of three and its direct pairs", () => {
  const g = new Map<string, Set<string>>([
    ["a", new Set(["b"])],
    ["b", new Set(["a", "c"])],
    ["c", new Set()],
    ["x", new Set(["y"])],
    ["y", new Set(["z", "x"])],
    ["z", new Set(["x"])],
  ]);
  assert.deepEqual(findCycles(g), ["a -> b", "x -> y", "x -> y -> z"]);
});
