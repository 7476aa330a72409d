import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { concat } from "../bytes.ts";
import {
  isDomainFileName,
  listDomainFiles,
  MAX_DOMAIN_FILE_BYTES,
  readDomainFolder,
} from "./domain_folder.ts";
import { type DomainChange, DomainLoader } from "./domain_loader.ts";
import { ConfigError, domainNameOfFile, JsoncDocument } from "./jsonc.ts";

/** A minimal domain parser: the name, the file and the JSONC value. */
function parse(file: string, text: string) {
  JsoncDocument.parse(file, text);
  return { name: domainNameOfFile(file), file };
}

Deno.test("isDomainFileName() takes *.jsonc, not hidden or disabled names", () => {
  assert.equal(isDomainFileName("www.example.com.jsonc"), true);
  assert.equal(isDomainFileName(".www.example.com.jsonc"), false);
  assert.equal(isDomainFileName("_www.example.com.jsonc"), false);
  assert.equal(isDomainFileName("www.example.com.json"), false);
  assert.equal(isDomainFileName("www.example.com.jsonc.dpkg-old"), false);
});

Deno.test("listDomainFiles() lists files and links to files, sorted; a missing folder is a ConfigError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["b.jsonc", "a.jsonc", ".hidden.jsonc", "_off.jsonc", "notes.txt"]) {
      await Deno.writeTextFile(join(dir, name), "{}");
    }
    await Deno.mkdir(join(dir, "sub.jsonc"));
    await Deno.symlink(join(dir, "a.jsonc"), join(dir, "c.jsonc"));
    await Deno.symlink(join(dir, "sub.jsonc"), join(dir, "d.jsonc"));
    assert.deepEqual(await listDomainFiles(dir), [
      join(dir, "a.jsonc"),
      join(dir, "b.jsonc"),
      join(dir, "c.jsonc"),
    ]);
    await assert.rejects(() => listDomainFiles(join(dir, "none")), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `${join(dir, "none")}: Domain folder does not exist`);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDomainFolder() reports each file, and a second file for one domain", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "a.test.jsonc"), "{}");
    await Deno.writeTextFile(join(dir, "A.test.jsonc"), "{}");
    await Deno.writeTextFile(join(dir, "b.test.jsonc"), "{ nope");
    const results = await readDomainFolder(dir, parse);
    assert.deepEqual(results.map((r) => [r.file, r.domain?.name, r.error?.code]), [
      [join(dir, "A.test.jsonc"), "a.test", undefined],
      [join(dir, "a.test.jsonc"), undefined, "invalid"],
      [join(dir, "b.test.jsonc"), undefined, "syntax"],
    ]);
    assert.match(results[1]!.error!.message, /Same domain as .*A\.test\.jsonc$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDomainFolder() refuses a huge file unread, and reports a symlink loop as that file's error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Valid JSONC padded past the cap: the old loader read it whole, and it parsed.
    const encode = (t: string) => new TextEncoder().encode(t);
    const padding = new Uint8Array(MAX_DOMAIN_FILE_BYTES - 1).fill(0x20);
    await Deno.writeFile(join(dir, "huge.test.jsonc"), concat([padding, encode("{}\n")]));
    await Deno.symlink(join(dir, "loop2.test.jsonc"), join(dir, "loop1.test.jsonc"));
    await Deno.symlink(join(dir, "loop1.test.jsonc"), join(dir, "loop2.test.jsonc"));
    await Deno.writeTextFile(join(dir, "ok.test.jsonc"), "{}");
    const results = await readDomainFolder(dir, parse);
    assert.deepEqual(results.map((r) => [r.file, r.domain?.name, r.error?.code]), [
      [join(dir, "huge.test.jsonc"), undefined, "io"],
      [join(dir, "loop1.test.jsonc"), undefined, "io"],
      [join(dir, "loop2.test.jsonc"), undefined, "io"],
      [join(dir, "ok.test.jsonc"), "ok.test", undefined],
    ]);
    assert.match(results[0]!.error!.message, /Domain file too large: 16777218 bytes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DomainLoader.watch() ignores hidden and disabled files and rejects a second file for a domain", async () => {
  const dir = await Deno.makeTempDir();
  const loader = new DomainLoader(dir, { parse, log: getLogger(["burrow-test", "loader"]) });
  const seen: DomainChange<unknown>[][] = [];
  let wake = () => {};
  try {
    await loader.load();
    loader.watch((changes) => {
      seen.push(changes);
      wake();
    }, { debounceMs: 20 });
    const next = () => new Promise<void>((r) => wake = r);
    let changed = next();
    // Broken hidden/disabled files are not domain files: nothing is rejected.
    await Deno.writeTextFile(join(dir, ".x.test.jsonc"), "{ nope");
    await Deno.writeTextFile(join(dir, "_y.test.jsonc"), "{ nope");
    await Deno.writeTextFile(join(dir, "a.test.jsonc"), "{}");
    await changed;
    assert.deepEqual(seen.flat().map((c) => [c.name, c.after !== undefined]), [["a.test", true]]);
    assert.equal(loader.rejected, 0);

    changed = next();
    await Deno.writeTextFile(join(dir, "A.test.jsonc"), '{ "other": 1 }');
    await Deno.writeTextFile(join(dir, "b.test.jsonc"), "{}");
    await changed;
    assert.equal(loader.rejected, 1);
    assert.equal(loader.get("a.test")?.file, join(dir, "a.test.jsonc"));
    assert.deepEqual(loader.domains.map((d) => d.name), ["a.test", "b.test"]);

    // Disabling a file by renaming it removes its domain.
    changed = next();
    await Deno.rename(join(dir, "b.test.jsonc"), join(dir, "_b.test.jsonc"));
    await changed;
    assert.equal(loader.get("b.test"), undefined);
  } finally {
    await loader.close();
    await Deno.remove(dir, { recursive: true });
  }
});
