/**
 * End-to-end tests of the `burrow` command line: each case runs `main.ts` in a
 * fresh Deno subprocess and checks its exit code, stdout and stderr.
 *
 * @module
 */

import assert from "node:assert/strict";
import { burrow, ROOT, type Run } from "./helpers/burrow.ts";
import { buildVersion, VERSION } from "../shared/version.ts";

/** Runs `deno run -A main.ts ...args` from the project root and collects its output. */
function cli(...args: string[]): Promise<Run> {
  return burrow(args);
}

Deno.test("burrow --help prints the command list to stdout and exits 0", async () => {
  const run = await cli("--help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow <command>/);
  for (const command of ["server", "agent", "version", "help"]) {
    assert.match(run.stdout, new RegExp(`^  ${command} `, "m"));
  }
  assert.equal(run.stderr, "");
});

Deno.test("burrow -h is the same as --help", async () => {
  const [short, long] = await Promise.all([cli("-h"), cli("--help")]);
  assert.equal(short.code, 0, short.stderr);
  assert.match(short.stdout, /Usage: burrow <command>/);
  assert.deepEqual(short, long);
});

Deno.test("burrow help prints the command list to stdout and exits 0", async () => {
  const run = await cli("help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow <command>/);
  assert.match(run.stdout, /^ {2}server /m);
});

Deno.test("burrow with no arguments prints usage to stderr and exits 2", async () => {
  const run = await cli();
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /Usage: burrow <command>/);
});

Deno.test("burrow version prints version, Deno version and target", async () => {
  const run = await cli("version");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(buildVersion(), `${VERSION}-dev`, "a source checkout is a dev build");
  assert.equal(
    run.stdout,
    `burrow ${VERSION}-dev (deno ${Deno.version.deno}, ${Deno.build.target})\n`,
  );
});

Deno.test("VERSION matches the version in deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assert.equal(config.version, VERSION);
});

Deno.test("burrow server --help prints server usage to stdout and exits 0", async () => {
  const run = await cli("server", "--help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow server/);
  assert.match(run.stdout, /--config <file>/);
  assert.match(run.stdout, /conf\/server\.jsonc/);
  assert.match(run.stdout, /--log-level/);
});

Deno.test("burrow agent --help prints agent usage to stdout and exits 0", async () => {
  const run = await cli("agent", "--help");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Usage: burrow agent/);
  assert.match(run.stdout, /conf\/agent\.jsonc/);
});

Deno.test("burrow with an unknown command names it on stderr and exits 2", async () => {
  const run = await cli("frobnicate");
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /Unknown command 'frobnicate'/);
  assert.match(run.stderr, /Usage: burrow <command>/);
});

Deno.test("burrow server with an unknown flag names it on stderr and exits 2", async () => {
  const run = await cli("server", "--frobnicate");
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /'--frobnicate'/);
  assert.match(run.stderr, /Usage: burrow server/);
});

Deno.test("burrow agent rejects an unknown --log-level with exit 2", async () => {
  const run = await cli("agent", "--log-level", "loud");
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--log-level: 'loud'/);
});

Deno.test("burrow server with a missing config file names it and exits 1", async () => {
  const run = await cli("server", "--config", "missing-x.jsonc", "--log-level", "debug");
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /burrow server: .*missing-x\.jsonc/);
});

Deno.test("burrow agent with an invalid config names file:line:col and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/agent.jsonc`;
    await Deno.writeTextFile(file, '{\n  "mode": "agent",\n  "connectTimeout": "soon"\n}\n');
    const run = await cli("agent", "--config", file);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /agent\.jsonc:3:\d+: .*connectTimeout/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
