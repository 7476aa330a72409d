/**
 * The server's certificate watch looks at the certificates' own folder, not
 * below it: the audit's data folder (`dataDir`, default `data` beside the
 * main file) often sits in that folder, and its SQLite WAL changes with every
 * audit batch. A recursive watch woke the server for each of those writes
 * (an inotify event, a file-watcher thread that stats and re-reads paths,
 * and a debounce timer in JS per event) while it carried connections.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { until, World } from "./world.ts";

/** Records the paths of every event delivered by the watchers made while `fn` runs. */
async function recordingWatches<T>(
  fn: (seen: string[]) => Promise<T>,
): Promise<T> {
  const original = Deno.watchFs;
  const seen: string[] = [];
  Deno.watchFs = (paths, options) => {
    const watcher = original(paths, options);
    // The watcher is its own iterator: read its events through its next().
    const events = watcher as unknown as AsyncIterator<Deno.FsEvent>;
    const next = events.next.bind(watcher);
    watcher[Symbol.asyncIterator] = async function* () {
      for (let r = await next(); !r.done; r = await next()) {
        seen.push(...r.value.paths);
        yield r.value;
      }
    };
    return watcher;
  };
  try {
    return await fn(seen);
  } finally {
    Deno.watchFs = original;
  }
}

Deno.test("writes in a folder below the certificates' folder reach no watcher of the server", async () => {
  await recordingWatches(async (seen) => {
    const world = await World.create();
    try {
      const data = join(world.dir, "data");
      await Deno.mkdir(data, { recursive: true });
      const below = join(data, "burrow.db-wal");
      for (let i = 0; i < 5; i++) await Deno.writeTextFile(below, `batch ${i}\n`, { append: true });
      // A file beside the certificates: the certificate watch reports it, after
      // any event for the writes above (inotify keeps one watch's events in order).
      const marker = join(world.dir, "marker.txt");
      await Deno.writeTextFile(marker, "after");
      await until(
        "the certificate folder's watch to report the marker",
        () => seen.includes(marker),
      );
      assert.deepEqual(seen.filter((p) => p.startsWith(data)), []);
    } finally {
      await world.close();
    }
  });
});
