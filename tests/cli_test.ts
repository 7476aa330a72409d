/**
 * End-to-end tests of the `burrow` command line: each case runs `main.ts` in a
 * fresh Deno subprocess and checks its exit code, stdout and stderr.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { VERSION } from "../shared/version.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** What a finished `burrow` process left behind. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A main.ts ...args` from the project root and collects its output. */
async function burrow(...args: string[]): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("burrow --help prints the command list to stdout and exits 0", async () => {
  const run = await burrow("--help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow <command>/);
  for (const command of ["server", "agent", "version", "help"]) {
    assert.match(run.stdout, new RegExp(`^  ${command} `, "m"));
  }
  assert.equal(run.stderr, "");
});

Deno.test("burrow -h is the same as --help", async () => {
  const run = await burrow("-h");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow <command>/);
});

Deno.test("burrow help prints the command list to stdout and exits 0", async () => {
  const run = await burrow("help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow <command>/);
  assert.match(run.stdout, /^ {2}server /m);
});

Deno.test("burrow with no arguments prints usage to stderr and exits 2", async () => {
  const run = await burrow();
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /Usage: burrow <command>/);
});

Deno.test("burrow version prints version, Deno version and target", async () => {
  const run = await burrow("version");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    `burrow ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target})\n`,
  );
});

Deno.test("VERSION matches the version in deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assert.equal(config.version, VERSION);
});

Deno.test("burrow server --help prints server usage to stdout and exits 0", async () => {
  const run = await burrow("server", "--help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow server/);
  assert.match(run.stdout, /--config <file>/);
  assert.match(run.stdout, /conf\/server\.jsonc/);
  assert.match(run.stdout, /--log-level/);
});

Deno.test("burrow agent --help prints agent usage to stdout and exits 0", async () => {
  const run = await burrow("agent", "--help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow agent/);
  assert.match(run.stdout, /conf\/agent\.jsonc/);
});

Deno.test("burrow with an unknown command names it on stderr and exits 2", async () => {
  const run = await burrow("frobnicate");
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /Unknown command 'frobnicate'/);
  assert.match(run.stderr, /Usage: burrow <command>/);
});

Deno.test("burrow server with an unknown flag names it on stderr and exits 2", async () => {
  const run = await burrow("server", "--frobnicate");
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /'--frobnicate'/);
  assert.match(run.stderr, /Usage: burrow server/);
});

Deno.test("burrow agent rejects an unknown --log-level with exit 2", async () => {
  const run = await burrow("agent", "--log-level", "loud");
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--log-level: 'loud'/);
});

Deno.test("burrow server with a missing config file names it and exits 1", async () => {
  const run = await burrow("server", "--config", "missing-x.jsonc", "--log-level", "debug");
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /burrow server: .*missing-x\.jsonc/);
});

Deno.test("burrow agent with an invalid config names file:line:col and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/agent.jsonc`;
    await Deno.writeTextFile(file, '{\n  "mode": "agent",\n  "connectTimeout": "soon"\n}\n');
    const run = await burrow("agent", "--config", file);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /agent\.jsonc:3:\d+: .*connectTimeout/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
