/**
 * The release smoke script, run for real with `deno run -A main.ts` standing
 * in for the compiled binary: version, check on the samples, one proxied
 * request and one forwarded connection through `burrow demo`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { printedLine, splitShellLine } from "./smoke.ts";
import { buildVersion } from "../shared/version.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** This process's environment without `BURROW_*` variables (a shell's would outrank the samples). */
function ownEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !name.startsWith("BURROW_")),
  );
}

async function smoke(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const run = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "packaging/smoke.ts",
      ...args,
      "--",
      Deno.execPath(),
      "run",
      "-A",
      "main.ts",
    ],
    cwd: ROOT,
    env: ownEnv(),
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: run.code, out: text(run.stdout), err: text(run.stderr) };
}

Deno.test({
  name: "smoke.ts passes against deno run main.ts: version, check, proxied request, forward",
  // Off Windows the demo and forward stop on SIGINT and must exit 0; on Windows they are terminated.
  async fn() {
    const run = await smoke("--version", buildVersion(), "--target", Deno.build.target);
    assert.equal(run.code, 0, run.out + run.err);
    const steps = run.out.split("\n").filter(Boolean).map((l) => l.split(" ok")[0]);
    assert.deepEqual(steps, [
      "smoke: version",
      "smoke: check",
      "smoke: proxied request",
      "smoke: forwarded connection",
      "smoke: all",
    ]);
  },
});

Deno.test("smoke.ts fails when the binary reports another version", async () => {
  const run = await smoke("--version", "9.9.9");
  assert.equal(run.code, 1);
  assert.match(run.err, /smoke: FAILED: version is \S+, expected 9\.9\.9/);
});

Deno.test("splitShellLine reads the words of a printed line, quoted Windows paths included", () => {
  assert.deepEqual(splitShellLine("/usr/bin/burrow forward demo 1:127.0.0.1:2"), [
    "/usr/bin/burrow",
    "forward",
    "demo",
    "1:127.0.0.1:2",
  ]);
  assert.deepEqual(
    splitShellLine(`'C:\\Program Files\\burrow.exe' --config 'C:\\T\\it'"'"'s.jsonc' x`),
    ["C:\\Program Files\\burrow.exe", "--config", "C:\\T\\it's.jsonc", "x"],
  );
});

Deno.test("printedLine finds a labelled line of the demo's banner", () => {
  const banner = "\nReach it:\n  Forward   burrow forward demo 1:h:2\n            then: nc\n";
  assert.equal(printedLine(banner, "Forward"), "burrow forward demo 1:h:2");
  assert.throws(() => printedLine(banner, "SOCKS"), /No SOCKS line/);
});
