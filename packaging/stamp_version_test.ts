/**
 * The release stamp: a tag that matches the tree's version turns the build
 * into a release build whose `burrow version` says that version; any other tag
 * is refused and changes nothing.
 */
import assert from "node:assert/strict";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StampError, stampVersionSource, tagVersion } from "./stamp_version.ts";
import { VERSION } from "../shared/version.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = await Deno.readTextFile(join(ROOT, "shared", "version.ts"));

Deno.test("tagVersion takes v<semver> tags and refuses others", () => {
  assert.equal(tagVersion("v1.2.3"), "1.2.3");
  assert.equal(tagVersion("v1.2.3-rc.1"), "1.2.3-rc.1");
  for (const bad of ["1.2.3", "v1.2", "v1.2.3.4", "release-1", "v1.2.3-"]) {
    assert.throws(() => tagVersion(bad), StampError, bad);
  }
});

Deno.test("stampVersionSource marks a matching tree as a release and refuses a mismatch", () => {
  const stamped = stampVersionSource(SOURCE, `v${VERSION}`, VERSION);
  assert.match(stamped, /^export const BUILD: "dev" \| "release" = "release";$/m);
  assert.equal(stamped.split("\n").length, SOURCE.split("\n").length, "one line changed");
  assert.throws(() => stampVersionSource(SOURCE, "v9.9.9", VERSION), /says 9\.9\.9/);
  assert.throws(
    () => stampVersionSource(SOURCE, `v${VERSION}`, "9.9.9"),
    /deno\.json says 9\.9\.9/,
  );
  assert.throws(() => stampVersionSource(stamped, `v${VERSION}`, VERSION), /stamped twice/);
});

/** A copy of the code `burrow version` runs, in a temporary folder. */
async function copyTree(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-stamp-" });
  for (const entry of ["main.ts", "deno.json", "deno.lock", "cli", "shared", "packaging"]) {
    await cp(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  return dir;
}

async function run(cwd: string, ...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), { args, cwd, stdin: "null", stderr: "piped" })
    .output();
}

Deno.test("a stamped tree's burrow version prints the tag's version; a wrong tag changes nothing", async () => {
  const dir = await copyTree();
  try {
    const refused = await run(dir, "run", "-A", "packaging/stamp_version.ts", "v99.0.0");
    assert.equal(refused.code, 1);
    assert.match(new TextDecoder().decode(refused.stderr), /Tag "v99\.0\.0" says 99\.0\.0/);
    assert.equal(await Deno.readTextFile(join(dir, "shared", "version.ts")), SOURCE);

    const stamp = await run(dir, "run", "-A", "packaging/stamp_version.ts", `v${VERSION}`);
    assert.equal(stamp.code, 0, new TextDecoder().decode(stamp.stderr));
    assert.equal(new TextDecoder().decode(stamp.stdout), `${VERSION}\n`);
    const version = await run(dir, "run", "-A", "main.ts", "version");
    assert.equal(version.code, 0, new TextDecoder().decode(version.stderr));
    assert.equal(
      new TextDecoder().decode(version.stdout),
      `burrow ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target})\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
