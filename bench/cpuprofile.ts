/**
 * Summarises a V8 CPU profile (`deno run --cpu-prof …` writes one per process
 * at exit): the busy time only (idle samples left out), the functions with
 * the most self time, then the call tree down to a depth, each with its share
 * of the busy time. How the per-request costs in the session notes were found.
 *
 * Run: `deno run -R bench/cpuprofile.ts FILE.cpuprofile [top=25] [depth=4] [min%=1]`
 *
 * A way to profile the tunnel under load: start `bench/http_backend.ts`, then
 * `deno run -A --cpu-prof --cpu-prof-dir=prof bench/http_tunnel.ts server` and
 * the agent role (see `http_tunnel.ts`), run wrk, stop them with SIGTERM.
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function nameOf(frame: CallFrame, withLine: boolean): string {
  const where = frame.url.split("/").slice(-2).join("/");
  const line = withLine && where !== "" ? `:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"} ${where}${line}`;
}

/** Self time per node id, in µs. */
function selfTimes(profile: Profile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return self;
}

function main(): void {
  const [file, top = "25", depth = "4", minPct = "1"] = Deno.args;
  if (file === undefined) {
    console.error("usage: deno run -R bench/cpuprofile.ts FILE.cpuprofile [top] [depth] [min%]");
    Deno.exit(2);
  }
  const profile = JSON.parse(Deno.readTextFileSync(file)) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = selfTimes(profile);
  const isIdle = (id: number) => nodes.get(id)!.callFrame.functionName === "(idle)";
  let busy = 0;
  const byName = new Map<string, number>();
  for (const [id, t] of self) {
    if (isIdle(id)) continue;
    busy += t;
    const name = nameOf(nodes.get(id)!.callFrame, false);
    byName.set(name, (byName.get(name) ?? 0) + t);
  }
  const pct = (t: number) => `${(100 * t / busy).toFixed(1).padStart(5)}%`;
  console.log(`busy ${(busy / 1000).toFixed(0)} ms (idle left out)\n\nself time:`);
  for (const [name, t] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
    console.log(`${pct(t)}  ${name}`);
  }
  const total = new Map<number, number>();
  const sum = (id: number): number => {
    let t = isIdle(id) ? 0 : self.get(id) ?? 0;
    for (const c of nodes.get(id)!.children ?? []) t += sum(c);
    total.set(id, t);
    return t;
  };
  const root = profile.nodes[0]!.id;
  sum(root);
  console.log("\ncall tree:");
  const show = (id: number, level: number) => {
    const t = total.get(id)!;
    if (100 * t / busy < Number(minPct)) return;
    if (id !== root) {
      console.log(`${"  ".repeat(level - 1)}${pct(t)}  ${nameOf(nodes.get(id)!.callFrame, true)}`);
    }
    if (level >= Number(depth)) return;
    const children = [...(nodes.get(id)!.children ?? [])].sort((a, b) =>
      total.get(b)! - total.get(a)!
    );
    for (const c of children) show(c, level + 1);
  };
  show(root, 0);
}

if (import.meta.main) main();
