import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { DomainLoader } from "./domain_loader.ts";
import { ConfigError, domainNameOfFile } from "./jsonc.ts";

interface Entry {
  name: string;
  file: string;
  value: number;
}

/** A loader of `{ "value": N }` files; any other text is invalid. */
function loader(folder: string): DomainLoader<Entry> {
  return new DomainLoader<Entry>(folder, {
    parse: (file, text) => {
      const value = JSON.parse(text).value;
      if (typeof value !== "number") {
        throw new ConfigError("value must be a number", { code: "invalid", file });
      }
      return { name: domainNameOfFile(file), file, value };
    },
    log: getLogger(["burrow", "test"]),
  });
}

Deno.test("DomainLoader.rescan() applies added, changed and removed files and skips unchanged ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-rescan-" });
  try {
    await Deno.writeTextFile(join(dir, "a.test.jsonc"), '{ "value": 1 }');
    await Deno.writeTextFile(join(dir, "b.test.jsonc"), '{ "value": 2 }');
    const folder = loader(dir);
    await folder.load();
    const seen: string[] = [];
    // The watcher's callback also receives a rescan's changes. The watcher
    // itself waits far longer than the test: only the rescan applies them.
    folder.watch((changes) => {
      seen.push(...changes.map((c) => `${c.name}:${c.after?.value ?? "gone"}`));
    }, { debounceMs: 600_000 });
    try {
      assert.deepEqual((await folder.rescan()).changes, []);
      await Deno.writeTextFile(join(dir, "a.test.jsonc"), '{ "value": 10 }');
      await Deno.remove(join(dir, "b.test.jsonc"));
      await Deno.writeTextFile(join(dir, "c.test.jsonc"), '{ "value": 3 }');
      const r = await folder.rescan();
      assert.deepEqual(r.changes.map((c) => c.name).sort(), ["a.test", "b.test", "c.test"]);
      assert.equal(r.rejected, 0);
      assert.deepEqual(seen.sort(), ["a.test:10", "b.test:gone", "c.test:3"]);
      assert.deepEqual(folder.domains.map((d) => d.value), [10, 3]);
    } finally {
      await folder.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DomainLoader.rescan() keeps the previous version of an invalid file and survives a missing folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-rescan-" });
  try {
    const inner = join(dir, "d");
    await Deno.mkdir(inner);
    await Deno.writeTextFile(join(inner, "a.test.jsonc"), '{ "value": 1 }');
    const folder = loader(inner);
    await folder.load();
    await Deno.writeTextFile(join(inner, "a.test.jsonc"), '{ "value": "x" }');
    const bad = await folder.rescan();
    assert.deepEqual(bad, { changes: [], rejected: 1 });
    assert.equal(folder.get("a.test")?.value, 1);
    await Deno.remove(inner, { recursive: true });
    assert.deepEqual(await folder.rescan(), { changes: [], rejected: 1 });
    assert.equal(folder.get("a.test")?.value, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
