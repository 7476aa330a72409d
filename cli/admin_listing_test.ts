import assert from "node:assert/strict";
import { agentsCommand } from "./agents.ts";
import { sessionsCommand } from "./sessions.ts";
import type { ListingIo } from "./admin_listing.ts";

/** Runs a listing command with its output captured (no server: usage errors come first). */
async function run(
  command: (args: string[], io?: ListingIo) => Promise<number>,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: ListingIo = { out: (t) => void (out += t + "\n"), err: (t) => void (err += t + "\n") };
  const code = await command([...args, "--server", "https://127.0.0.1:1", "--insecure"], io);
  return { code, out, err };
}

Deno.test("burrow agents --connected --offline is a usage error, not one of the two", async () => {
  const both = await run(agentsCommand, ["--connected", "--offline"]);
  assert.equal(both.code, 2);
  assert.match(both.err, /^burrow: --connected and --offline exclude each other: give one\n/);
  assert.equal(both.out, "");
});

Deno.test("burrow sessions --open --closed is a usage error, not one of the two", async () => {
  const both = await run(sessionsCommand, ["--open", "--closed"]);
  assert.equal(both.code, 2);
  assert.match(both.err, /^burrow: --open and --closed exclude each other: give one\n/);
  assert.equal(both.out, "");
});
