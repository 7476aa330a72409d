/**
 * The multiplexer's place in the layers (issue 9, "the house"): it knows no
 * transport, transports know no multiplexer, and its modules import no cycle.
 * Read from the module graph `deno info --json` reports.
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** Local module → the local modules it imports (code and type imports), as paths from the root. */
async function graph(entry: string): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", fileURLToPath(new URL(entry, ROOT))],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, `deno info ${entry} failed`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
    }[];
  };
  const local = (s: string | undefined) =>
    s?.startsWith(ROOT.href) ? s.slice(ROOT.href.length) : undefined;
  const edges = new Map<string, string[]>();
  for (const m of info.modules) {
    const from = local(m.specifier);
    if (from === undefined) continue;
    const to = new Set<string>();
    for (const d of m.dependencies ?? []) {
      for (const s of [d.code?.specifier, d.type?.specifier]) {
        const path = local(s);
        if (path !== undefined) to.add(path);
      }
    }
    edges.set(from, [...to]);
  }
  return edges;
}

/** The first import cycle found, as the modules along it; null when there is none. */
function findCycle(edges: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (v: string): string[] | null => {
    state.set(v, "open");
    path.push(v);
    for (const w of edges.get(v) ?? []) {
      if (state.get(w) === "open") return [...path.slice(path.indexOf(w)), w];
      if (state.get(w) === undefined) {
        const found = visit(w);
        if (found !== null) return found;
      }
    }
    path.pop();
    state.set(v, "done");
    return null;
  };
  for (const v of edges.keys()) {
    if (state.get(v) !== undefined) continue;
    const found = visit(v);
    if (found !== null) return found;
  }
  return null;
}

Deno.test("the mux imports no cycle and no transport but the Conn interface", async () => {
  const edges = await graph("shared/mux/mod.ts");
  assert.deepEqual(findCycle(edges), null);
  for (const [from, to] of edges) {
    if (!from.startsWith("shared/mux/")) continue;
    const transports = to.filter((t) => t.startsWith("shared/transport/"));
    assert.deepEqual(transports.filter((t) => t !== "shared/transport/conn.ts"), [], from);
  }
});

Deno.test("transport adapters do not import the mux", async () => {
  const adapters = ["websocket.ts", "deno_conn.ts", "memory.ts", "conn.ts", "dial.ts"]
    .map((name) => `shared/transport/${name}`);
  for (const adapter of [...adapters, "shared/platform/ws_client.ts"]) {
    const edges = await graph(adapter);
    const mux = [...edges.keys()].filter((m) => m.startsWith("shared/mux/"));
    assert.deepEqual(mux, [], adapter);
  }
});
