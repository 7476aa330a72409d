/**
 * Every command's `--help` against the flags it accepts: each flag a help
 * text names is accepted by its command, and no command accepts a flag that
 * some help text or document names while its own help leaves it out (a flag
 * added to a command's options without its line of help fails here).
 *
 * A flag counts as accepted when `burrow CMD FLAG --help` (or with a value,
 * `FLAG 1 --help`) prints the help and exits 0; `parseArgs` refuses unknown
 * options with exit 2 before anything runs, so nothing starts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../main.ts";
import { ROOT } from "./helpers/burrow.ts";

/** Every command word of `main.ts` (`burrow --help` lists them; checked below). */
const COMMANDS = [
  "server",
  "agent",
  "demo",
  "forward",
  "socks",
  "check",
  "password",
  "token",
  "agents",
  "sessions",
  "channels",
  "audit",
  "version",
  "help",
];

/** Flags of other programs that help texts and documents quote (curl, deno, ssh, install.sh). */
const FOREIGN = /^--(socks5-hostname|watch|cacert|unsafely-ignore-certificate-errors)$/;

/** Runs `burrow ...args` in this process with its output captured. */
async function burrow(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const { log, error } = console;
  console.log = console.error = (...parts: unknown[]) => void (out += parts.join(" ") + "\n");
  try {
    return { code: await main(args), out };
  } finally {
    Object.assign(console, { log, error });
  }
}

/** The `--flags` a text names. */
function flagsIn(text: string): Set<string> {
  const found = [...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
  return new Set(found.filter((f) => !FOREIGN.test(f)));
}

/** Whether `command` accepts `flag`, alone or with a value. */
async function accepts(command: string, flag: string): Promise<boolean> {
  if ((await burrow([command, flag, "--help"])).code === 0) return true;
  return (await burrow([command, flag, "1", "--help"])).code === 0;
}

/** Each command's help text. */
async function helpTexts(): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const command of COMMANDS) {
    const run = await burrow([command, "--help"]);
    assert.equal(run.code, 0, `burrow ${command} --help`);
    texts.set(command, run.out);
  }
  return texts;
}

Deno.test("burrow --help lists every command this test walks", async () => {
  const { out } = await burrow(["--help"]);
  const listed = [...out.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), [...COMMANDS].sort());
});

Deno.test("every flag a command's --help names is one the command accepts", async () => {
  const refused: string[] = [];
  for (const [command, text] of await helpTexts()) {
    for (const flag of flagsIn(text)) {
      if (!(await accepts(command, flag))) refused.push(`burrow ${command} ${flag}`);
    }
  }
  assert.deepEqual(refused, [], "flags the help names but the command refuses");
});

Deno.test("no command accepts a flag its own --help leaves out", async () => {
  const texts = await helpTexts();
  const known = new Set<string>();
  for (const text of texts.values()) for (const flag of flagsIn(text)) known.add(flag);
  // Every option a command module declares for parseArgs, whether a help names it or not.
  for (const folder of ["cli", "operator"]) {
    for await (const entry of Deno.readDir(join(ROOT, folder))) {
      if (!entry.name.endsWith(".ts") || entry.name.endsWith("_test.ts")) continue;
      const source = await Deno.readTextFile(join(ROOT, folder, entry.name));
      for (const m of source.matchAll(/"?([a-z][a-z-]*)"?: \{ type: "(?:string|boolean)"/g)) {
        known.add(`--${m[1]}`);
      }
    }
  }
  for (
    const file of [
      "README.md",
      ...["config", "operator", "admin", "install"].map((d) => `docs/${d}.md`),
    ]
  ) {
    for (const flag of flagsIn(await Deno.readTextFile(join(ROOT, file)))) known.add(flag);
  }
  const hidden: string[] = [];
  for (const [command, text] of texts) {
    const own = flagsIn(text);
    for (const flag of known) {
      if (!own.has(flag) && await accepts(command, flag)) hidden.push(`burrow ${command} ${flag}`);
    }
  }
  assert.deepEqual(hidden, [], "flags a command accepts that its --help does not name");
});

Deno.test("every flag a document shows on a burrow command line is one that command accepts", async () => {
  const files = [
    "README.md",
    "conf/README.md",
    ...(await Array.fromAsync(Deno.readDir(join(ROOT, "docs"))))
      .map((e) => `docs/${e.name}`).filter((f) => f.endsWith(".md")),
  ];
  const refused: string[] = [];
  let lines = 0;
  for (const file of files) {
    const text = await Deno.readTextFile(join(ROOT, file));
    // `burrow CMD ...` or `main.ts CMD ...`, up to a comment, a pipe, `&&` or the end of a code span.
    for (const m of text.matchAll(/(?:\bburrow|main\.ts) ([a-z]+)((?: [^\n`#|&]*)?)/g)) {
      const [, command, rest] = m;
      if (!COMMANDS.includes(command!)) continue;
      lines++;
      for (const flag of flagsIn(rest!)) {
        if (!(await accepts(command!, flag))) refused.push(`${file}: burrow ${command} ${flag}`);
      }
    }
  }
  assert.deepEqual(refused, [], "command lines in the documents with flags the command refuses");
  assert.ok(lines > 40, `only ${lines} command lines found`);
});
