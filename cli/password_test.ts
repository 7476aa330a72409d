/**
 * Tests of `burrow password`: the hidden-line editor in-process, and the
 * command end to end in a `deno run main.ts` subprocess (argument, piped
 * stdin, and a real terminal through `script` when it is installed).
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { verifySecret } from "../shared/auth/secret.ts";
import { HiddenLine } from "./password.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const HASH = /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/;

/** What a finished `burrow` process left behind. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A main.ts ...args` with `input` on stdin (or none). */
async function burrow(args: string[], input?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Feeds `keys` to a fresh HiddenLine; returns the state and the value. */
function type(keys: string): [string, string] {
  const line = new HiddenLine();
  const state = line.feed(new TextEncoder().encode(keys));
  return [state, line.value];
}

Deno.test("HiddenLine handles Enter, Backspace, Ctrl-U, Ctrl-C, Ctrl-D and escapes", () => {
  const cases: [string, string, string][] = [
    ["secret\r", "done", "secret"],
    ["secret\n", "done", "secret"],
    ["secret", "more", "secret"],
    ["secrex\x7ft\r", "done", "secret"],
    ["se\x08\x08\x08\x08x\r", "done", "x"],
    ["pässé\x7f\r", "done", "päss"],
    ["€\x7f\r", "done", ""],
    ["junk\x15secret\r", "done", "secret"],
    ["abc\x03", "abort", "abc"],
    ["\x04", "abort", ""],
    ["ab\x04c\r", "done", "abc"],
    ["a\x1b[Db\x1b[1;5Cc\x1bOd\r", "done", "abc"],
    ["a\tb\x00c\r", "done", "abc"],
    ["first\rsecond", "done", "first"],
  ];
  for (const [keys, state, value] of cases) {
    assert.deepEqual(type(keys), [state, value], JSON.stringify(keys));
  }
});

Deno.test("burrow password SECRET prints a $6$ hash of it", async () => {
  const run = await burrow(["password", "change-me-please"]);
  assert.equal(run.code, 0, run.stderr);
  const hash = run.stdout.trim();
  assert.match(hash, HASH);
  assert.equal(verifySecret("change-me-please", hash), true);
  assert.equal(verifySecret("change-me-pleasE", hash), false);
});

Deno.test("burrow password reads the first line of a piped stdin", async () => {
  const run = await burrow(["password"], "from stdin\r\nsecond line\n");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  const hash = run.stdout.trim();
  assert.match(hash, HASH);
  assert.equal(verifySecret("from stdin", hash), true);
});

Deno.test("burrow password refuses an empty secret", async () => {
  for (const input of ["\n", ""]) {
    const run = await burrow(["password"], input);
    assert.equal(run.code, 1, JSON.stringify(input));
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /refusing an empty secret/);
  }
  const arg = await burrow(["password", ""]);
  assert.equal(arg.code, 1);
  assert.match(arg.stderr, /refusing an empty secret/);
});

Deno.test("burrow password rejects extra arguments and unknown flags with exit 2", async () => {
  const extra = await burrow(["password", "a", "b"]);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /Too many arguments/);
  assert.match(extra.stderr, /Usage: burrow password/);
  const flag = await burrow(["password", "--salt", "x"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /'--salt'/);
  const help = await burrow(["password", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: burrow password \[secret\]/);
});

/** Whether `script` (util-linux), which runs a command on a pseudo-terminal, is installed. */
function hasScript(): boolean {
  try {
    return Deno.statSync("/usr/bin/script").isFile && Deno.build.os === "linux";
  } catch {
    return false;
  }
}

/**
 * Runs `burrow password` on a pseudo-terminal, typing each of `entries` once
 * the prompt before it has appeared. Resolves to the exit code and everything
 * the terminal showed.
 */
async function onTerminal(entries: string[]): Promise<{ code: number; screen: string }> {
  const command = `exec '${Deno.execPath()}' run -A --quiet '${MAIN}' password`;
  const child = new Deno.Command("script", {
    args: ["-q", "-e", "-c", command, "/dev/null"],
    cwd: ROOT,
    // `script -c` runs the command with $SHELL -c: name a shell that takes `-c`,
    // whatever the user's (unset in CI, /usr/sbin/nologin for a system account).
    env: { NO_COLOR: "1", TERM: "dumb", SHELL: "/bin/sh" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // A prompt that never comes must fail the test, not hang it.
  const deadline = setTimeout(() => child.kill(), 30_000);
  const writer = child.stdin.getWriter();
  const decoder = new TextDecoder();
  let screen = "";
  const prompts = ["Secret: ", "Again: "];
  let next = 0;
  try {
    for await (const chunk of child.stdout) {
      screen += decoder.decode(chunk, { stream: true });
      while (next < entries.length && screen.includes(prompts[next] ?? "\0")) {
        await writer.write(new TextEncoder().encode(entries[next]));
        next++;
      }
    }
    await writer.close().catch(() => {});
    const { code } = await child.status;
    return { code, screen };
  } finally {
    clearTimeout(deadline);
  }
}

Deno.test({
  name: "burrow password on a terminal asks twice without echo and prints the hash",
  ignore: !hasScript(),
  fn: async () => {
    const { code, screen } = await onTerminal(["tty-secret\r", "tty-secret\r"]);
    assert.equal(code, 0, screen);
    assert.ok(!screen.includes("tty-secret"), `the secret was echoed: ${screen}`);
    const hash = /\$6\$\S+/.exec(screen)?.[0] ?? "";
    assert.equal(verifySecret("tty-secret", hash), true, screen);
  },
});

Deno.test({
  name: "burrow password on a terminal fails when the two entries differ",
  ignore: !hasScript(),
  fn: async () => {
    const { code, screen } = await onTerminal(["one\r", "two\r"]);
    assert.equal(code, 1, screen);
    assert.match(screen, /the two entries differ/);
    assert.doesNotMatch(screen, /\$6\$/);
  },
});

Deno.test({
  name: "burrow password on a terminal stops on Ctrl-C with exit 130",
  ignore: !hasScript(),
  fn: async () => {
    const { code, screen } = await onTerminal(["abc\x03"]);
    assert.equal(code, 130, screen);
    assert.doesNotMatch(screen, /\$6\$/);
  },
});
