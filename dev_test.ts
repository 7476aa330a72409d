/** `deno task dev`'s dispatcher: a command runs as given, no command runs the kept-state demo. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEV_DEMO_DIR, devArgs } from "./dev.ts";

const DIR = join("/tmp", DEV_DEMO_DIR);

Deno.test("devArgs runs the demo on 8443 and 8444-8449 with a kept folder when given nothing", () => {
  assert.deepEqual(devArgs([], "/tmp"), [
    "demo",
    "--port",
    "8443",
    "--ports-from",
    "8444",
    "--dir",
    DIR,
  ]);
});

Deno.test("devArgs passes a command and its arguments through unchanged", () => {
  const args = ["server", "--config", "conf/server.jsonc"];
  assert.deepEqual(devArgs(args, "/tmp"), args);
  assert.deepEqual(devArgs(["help"], "/tmp"), ["help"]);
});

Deno.test("devArgs appends demo options, moving the other ports along with --port", () => {
  assert.deepEqual(devArgs(["--port", "9443"], "/tmp").slice(1), [
    "--port",
    "8443",
    "--ports-from",
    "9444",
    "--dir",
    DIR,
    "--port",
    "9443",
  ]);
  assert.equal(devArgs(["--port=20000"], "/tmp")[4], "20001");
  assert.equal(devArgs(["--port", "0"], "/tmp")[4], "8444", "port 0 keeps the default others");
  assert.deepEqual(devArgs(["--dir", "/x"], "/tmp").slice(-2), ["--dir", "/x"]);
});

Deno.test("dev.ts with a command runs that command as main.ts does", async () => {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "dev.ts", "version"],
    cwd: import.meta.dirname!,
    stdin: "null",
  }).output();
  assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
  assert.match(new TextDecoder().decode(run.stdout), /^burrow \S+-dev \(deno /);
});
