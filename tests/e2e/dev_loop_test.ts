/**
 * The development loop as a developer runs it: `dev.ts` under `deno run
 * --watch`, restarted by a file change, comes back on the same ports with the
 * same folder, CA and token, so the lines it printed before the restart still
 * work after it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { childEnv } from "../helpers/burrow.ts";
import { within } from "../helpers/streams.ts";
import { splitShellLine } from "../../packaging/smoke.ts";
import { shellLine } from "../../cli/self_command.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BANNER_END = "Press Ctrl-C to stop.";

/**
 * A block of `n` consecutive ports free on 127.0.0.1 now, below Linux's
 * ephemeral range (32768+), so parallel tests binding port 0 cannot take them.
 */
function freeBlock(n: number): number {
  for (let tries = 0; tries < 200; tries++) {
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < n; i++) held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      return base;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error(`No ${n} consecutive free ports found`);
}

/** The banner's command lines (labels Open, Or run, Forward, UDP, SOCKS, Agents, Sessions). */
function printedLines(banner: string): string[] {
  return [...banner.matchAll(/^ {2}(Open|Or run|Forward|UDP|SOCKS|Agents|Sessions) +(.+)$/gm)]
    .map((m) => `${m[1]} ${m[2]!.trim()}`);
}

async function fetchPage(url: string, ca: string): Promise<string> {
  const client = Deno.createHttpClient({ caCerts: [ca] });
  try {
    const page = await fetch(url, { client });
    assert.equal(page.status, 200);
    return await page.text();
  } finally {
    client.close();
  }
}

Deno.test({
  name:
    "deno task dev: a restart on a file change keeps ports, folder, CA and token; printed lines work",
  // Windows has no SIGINT to send to a child process (demo_test.ts does the same).
  ignore: Deno.build.os === "windows",
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "burrow-dev-loop-" });
    const trigger = join(work, "trigger");
    const dir = join(work, "kept");
    await Deno.writeTextFile(trigger, "0");
    const port = freeBlock(7);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        `--watch=${trigger}`,
        "dev.ts",
        "--port",
        `${port}`,
        "--dir",
        dir,
      ],
      cwd: ROOT,
      env: childEnv({ NO_COLOR: "1" }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const errDrain = child.stderr.pipeTo(new WritableStream());
    let out = "";
    const banner = async (count: number) => {
      while (out.split(BANNER_END).length - 1 < count) {
        const { value, done } = await within(60_000, `banner #${count}`, stdout.read());
        if (done) throw new Error(`dev exited early:\n${out}`);
        out += value;
      }
      return out.split(BANNER_END)[count - 1]!;
    };
    try {
      const first = await banner(1);
      const lines = printedLines(first);
      assert.equal(lines.length, 7, first);
      const url = `https://localhost:${port}/`;
      assert.ok(
        lines.includes(`Open ${url}   (certificate made for this run: the browser will warn)`),
      );
      assert.ok(
        lines.includes(`Or run ${shellLine(["curl", "--cacert", join(dir, "ca.pem"), url])}`),
        lines.join("\n"),
      );
      assert.match(
        lines.find((l) => l.startsWith("Forward"))!,
        new RegExp(` ${port + 4}:127\\.0\\.0\\.1:${port + 2}$`),
      );
      const ca = await Deno.readTextFile(join(dir, "ca.pem"));
      const token = await Deno.readTextFile(join(dir, "operator.token"));
      assert.match(await fetchPage(url, ca), /came through a Burrow tunnel/);

      await Deno.writeTextFile(trigger, "1");
      const second = await banner(2);
      assert.deepEqual(printedLines(second), lines, "the same lines after the restart");
      assert.equal(await Deno.readTextFile(join(dir, "operator.token")), token);
      assert.match(
        await fetchPage(url, ca),
        /came through a Burrow tunnel/,
        "the old CA still works",
      );
      const agents = splitShellLine(
        printedLines(second).find((l) => l.startsWith("Agents "))!.slice(7),
      );
      const run = await new Deno.Command(agents[0]!, {
        args: agents.slice(1),
        env: childEnv(),
        clearEnv: true,
        stdin: "null",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.match(
        new TextDecoder().decode(run.stdout),
        /^demo +connected /m,
        "the old token works",
      );
    } finally {
      child.kill("SIGINT");
      await within(10_000, "dev to stop", child.status);
      await stdout.cancel();
      await errDrain;
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test("burrow demo --ports-from refuses a taken port (exit 1, naming the option) and a bad value (exit 2)", async () => {
  const base = freeBlock(6);
  const held = Deno.listen({ hostname: "127.0.0.1", port: base });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "demo", "--port", "0", "--ports-from", `${base}`],
      cwd: ROOT,
      env: childEnv(),
      clearEnv: true,
      stdin: "null",
    }).output();
    assert.equal(run.code, 1);
    assert.match(new TextDecoder().decode(run.stderr), new RegExp(`--ports-from ${base} is taken`));
  } finally {
    held.close();
  }
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "demo", "--ports-from", "65531"],
    cwd: ROOT,
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--ports-from must be a port from 1 to 65530/);
});
