/**
 * The secret prompt of `burrow agent` on a real terminal: util-linux
 * `script` gives the agent a pseudo-terminal (Deno has no PTY API), the test
 * types the secret at the prompt, and the agent identifies without the
 * secret ever being echoed. Linux only: macOS's `script` takes other
 * arguments and Windows has none (the prompt's line editor, `HiddenLine`, is
 * tested everywhere in `cli/password_test.ts`).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { until, World } from "./world.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SECRET = "typed-at-the-prompt";

/** A shell word. */
function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Reads `stream` into `out.text` until it ends. */
async function collect(stream: ReadableStream<Uint8Array>, out: { text: string }): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) out.text += decoder.decode(chunk, { stream: true });
}

Deno.test({
  name: "burrow agent asks for a missing secret on a terminal, without echo",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const world = await World.create();
  try {
    await world.agentFile("db1", { secret: SECRET });
    const agent = [Deno.execPath(), "run", "-A", "--quiet", "--config", join(ROOT, "deno.json")]
      .concat([join(ROOT, "main.ts"), "agent", "--server", `wss://127.0.0.1:${world.port}`])
      .concat(["--name", "db1", "--ca-file", world.caFile]);
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("BURROW_")),
    );
    const child = new Deno.Command("script", {
      // `exec`: the agent replaces the shell, so Ctrl-C reaches the agent
      // alone. Without it dash (Debian's /bin/sh, `script`'s shell when
      // SHELL is unset, as in CI) stays the terminal's foreground process,
      // dies of the SIGINT and `script -e` reports 130.
      args: ["-q", "-e", "-c", `exec ${agent.map(quote).join(" ")}`, "/dev/null"],
      cwd: world.dir,
      env: { ...env, SHELL: "/bin/sh", BURROW_DEV: "1" },
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = { text: "" };
    const reading = Promise.all([collect(child.stdout, out), collect(child.stderr, out)]);
    const keys = child.stdin.getWriter();
    try {
      await until("the prompt", () => out.text.includes("Secret for agent db1: "), 20_000);
      await keys.write(new TextEncoder().encode(`${SECRET}\r`));
      await until("db1 identified", () => world.server.directory.get("db1") !== undefined, 20_000);
    } finally {
      // Ctrl-C on the terminal: SIGINT to the agent, which stops cleanly.
      await keys.write(new TextEncoder().encode("\x03"));
      await keys.close();
      const status = await child.status;
      await reading;
      assert.equal(status.code, 0, out.text);
    }
    assert.ok(!out.text.includes(SECRET), `the secret was echoed: ${out.text}`);
  } finally {
    await world.close();
  }
});
