import assert from "node:assert/strict";
import { join } from "node:path";
import { within } from "../helpers/streams.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { loadServerConfig } from "../../server/config.ts";
import { type PublishReload, startPublishing } from "../../server/publish/mod.ts";
import { connectTo, readToEnd, str, text, withPublishFixture, writeFull } from "./helpers.ts";

/** Reload outcomes as they come, and a way to wait for one. */
class Outcomes {
  readonly all: PublishReload[] = [];
  #waiters: { match: (o: PublishReload) => boolean; resolve: (o: PublishReload) => void }[] = [];

  push = (outcome: PublishReload): void => {
    this.all.push(outcome);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(outcome)) return true;
      w.resolve(outcome);
      return false;
    });
  };

  /** The first outcome from now on that `match`es (10 s at most). */
  next(what: string, match: (o: PublishReload) => boolean): Promise<PublishReload> {
    const { promise, resolve } = Promise.withResolvers<PublishReload>();
    this.#waiters.push({ match, resolve });
    return within(10_000, what, promise);
  }
}

/** The main file's text: one plain listener, `publish`, and `more` keys. */
function mainFile(publish: unknown[], more: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      mode: "server",
      listen: [{ address: "127.0.0.1:0", plain: true }],
      publish,
      ...more,
    },
    null,
    2,
  );
}

/** Replaces `file` as editors do: write a temporary file beside it, then rename it over. */
async function replaceFile(file: string, content: string): Promise<void> {
  await Deno.writeTextFile(`${file}.tmp`, content);
  await Deno.rename(`${file}.tmp`, file);
}

/** Sends `message` through `conn` and reads its echo. */
async function ping(conn: Deno.Conn, message: string): Promise<string> {
  await writeFull(conn, text(message));
  const buf = new Uint8Array(message.length);
  let at = 0;
  while (at < buf.length) {
    const n = await within(10_000, "echo", conn.read(buf.subarray(at)));
    if (n === null) break;
    at += n;
  }
  return str(buf.subarray(0, at));
}

const changed = (o: PublishReload) => o.ok && Object.values(o.changes).some((l) => l.length > 0);

Deno.test("the main file is watched: publish entries are added, changed and removed while running; an invalid edit keeps them", async () => {
  await using target = tcpTarget(echo);
  const dir = await Deno.makeTempDir({ prefix: "burrow-publish-" });
  const file = join(dir, "server.jsonc");
  const a = { listen: "127.0.0.1:0", agent: "db1", target: `127.0.0.1:${target.port}` };
  const b = { listen: "127.0.0.2:0", agent: "db1", target: `127.0.0.1:${target.port}` };
  await Deno.writeTextFile(file, mainFile([a]));
  const outcomes = new Outcomes();
  try {
    await withPublishFixture(async (f) => {
      const publishing = await startPublishing(await loadServerConfig(file), {
        openChannel: f.openChannel,
        log: f.log,
        onReload: outcomes.push,
        debounceMs: 50,
      });
      const { ports } = publishing;
      try {
        const portA = ports.get("127.0.0.1:0")!;
        const live = await connectTo(portA.addr);
        assert.equal(await ping(live, "one"), "one");

        // Add B: A keeps running, its connection too.
        let next = outcomes.next("B added", changed);
        await replaceFile(file, mainFile([a, b]));
        assert.deepEqual(await next, {
          ok: true,
          changes: { added: ["127.0.0.2:0"], removed: [], changed: [], failed: [] },
          restartKeys: [],
        });
        assert.equal(ports.get("127.0.0.1:0"), portA);
        assert.equal(await ping(live, "two"), "two");
        const portB = ports.get("127.0.0.2:0")!;
        const toB = await connectTo(portB.addr);
        assert.equal(await ping(toB, "via B"), "via B");

        // An invalid edit (written in place) keeps both, and says where the mistake is.
        // (Written in place, the file may be read half written first: wait for the whole mistake.)
        next = outcomes.next("invalid edit refused", (o) => !o.ok && o.error.includes("target"));
        await Deno.writeTextFile(file, mainFile([a, { ...b, target: "127.0.0.1" }]));
        const refused = await next;
        assert.ok(!refused.ok);
        assert.match(
          refused.error,
          /server\.jsonc:\d+:\d+: publish\[1\]\.target: "127\.0\.0\.1" is not a host:port/,
        );
        assert.equal(ports.get("127.0.0.1:0"), portA);
        assert.equal(ports.get("127.0.0.2:0"), portB);
        assert.ok(
          f.messages("error").some((m) => m.includes("not reloaded, published ports unchanged")),
        );

        // Change A (its clients): it restarts, its connection is closed; B stays.
        next = outcomes.next("A changed", changed);
        await replaceFile(file, mainFile([{ ...a, clients: ["127.0.0.0/8"] }, b]));
        const change = await next;
        assert.ok(change.ok);
        assert.deepEqual(change.changes.changed, ["127.0.0.1:0"]);
        const cut = await within(10_000, "A's connection closed", readToEnd(live));
        assert.ok(cut === null || cut.length === 0);
        live.close();
        assert.notEqual(ports.get("127.0.0.1:0"), portA);
        assert.equal(ports.get("127.0.0.2:0"), portB);
        assert.equal(await ping(toB, "still B"), "still B");

        // Remove B: it stops listening and its connection is closed.
        next = outcomes.next("B removed", changed);
        await replaceFile(file, mainFile([{ ...a, clients: ["127.0.0.0/8"] }]));
        assert.deepEqual((await next as { changes: unknown }).changes, {
          added: [],
          removed: ["127.0.0.2:0"],
          changed: [],
          failed: [],
        });
        const gone = await within(10_000, "B's connection closed", readToEnd(toB));
        assert.ok(gone === null || gone.length === 0);
        toB.close();
        await assert.rejects(connectTo(portB.addr), Deno.errors.ConnectionRefused);
        assert.deepEqual(ports.list().map((p) => p.entry.key), ["127.0.0.1:0"]);
        const info = f.messages("info").join("\n");
        assert.match(info, /removed: 127\.0\.0\.2:0 → agent db1/);
        assert.match(info, /published ports added none, removed 127\.0\.0\.2:0/);
      } finally {
        await publishing.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a reload that changes other keys warns once that they need a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-publish-" });
  const file = join(dir, "server.jsonc");
  await Deno.writeTextFile(file, mainFile([]));
  const outcomes = new Outcomes();
  try {
    await withPublishFixture(async (f) => {
      const publishing = await startPublishing(await loadServerConfig(file), {
        openChannel: f.openChannel,
        log: f.log,
        onReload: outcomes.push,
        debounceMs: 50,
      });
      try {
        const later = { agentPath: "/elsewhere", limits: { bodySize: "1MB" } };
        let next = outcomes.next("first reload", (o) => o.ok);
        await replaceFile(file, mainFile([], later));
        assert.deepEqual(await next, {
          ok: true,
          changes: { added: [], removed: [], changed: [], failed: [] },
          restartKeys: ["agentPath", "limits"],
        });
        // The same change again (and a publish entry): no second warning.
        next = outcomes.next("second reload", changed);
        await replaceFile(
          file,
          mainFile([{ listen: "127.0.0.1:0", agent: "db1", target: "127.0.0.1:9" }], later),
        );
        await next;
        const warnings = f.messages("warning").filter((m) => m.includes("restart the server"));
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(
          warnings[0]!,
          /changed agentPath, limits: only publish is applied while running/,
        );
      } finally {
        await publishing.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an entry whose address is taken is logged, and tried again at the next change of the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-publish-" });
  const file = join(dir, "server.jsonc");
  await Deno.writeTextFile(file, mainFile([]));
  const outcomes = new Outcomes();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const entry = { listen: `127.0.0.1:${taken.addr.port}`, agent: "db1", target: "127.0.0.1:9" };
  try {
    await withPublishFixture(async (f) => {
      const publishing = await startPublishing(await loadServerConfig(file), {
        openChannel: f.openChannel,
        log: f.log,
        onReload: outcomes.push,
        debounceMs: 50,
      });
      try {
        let next = outcomes.next("bind failure", changed);
        await replaceFile(file, mainFile([entry]));
        const failed = await next;
        assert.ok(failed.ok);
        assert.deepEqual(failed.changes.failed.map((x) => x.key), [entry.listen]);
        assert.deepEqual(failed.changes.added, []);
        assert.ok(f.messages("error").some((m) => m.includes(`Cannot publish ${entry.listen}`)));
        // Freed, then the file written again unchanged: the entry starts.
        taken.close();
        next = outcomes.next("retried", changed);
        await replaceFile(file, mainFile([entry], { transactionId: true }));
        const retried = await next;
        assert.ok(retried.ok);
        assert.deepEqual(retried.changes.added, [entry.listen]);
        assert.equal(publishing.ports.get(entry.listen)?.addr.port, taken.addr.port);
      } finally {
        await publishing.close();
      }
    });
  } finally {
    try {
      taken.close();
    } catch {
      // Closed in the test.
    }
    await Deno.remove(dir, { recursive: true });
  }
});

/** inotify watches this process holds (Linux; Deno shares one inotify instance among them). */
function inotifyWatches(): number {
  let n = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${entry.name}`) !== "anon_inode:inotify") continue;
      const info = Deno.readTextFileSync(`/proc/self/fdinfo/${entry.name}`);
      n += info.split("\n").filter((line) => line.startsWith("inotify wd:")).length;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

Deno.test({
  name: "startPublishing() watches the main file's folder, and nothing for a config with no file",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await withPublishFixture(async (f) => {
      const config = await loadServerConfig("conf/server.jsonc");
      const before = inotifyWatches();
      const watched = await startPublishing(config, { openChannel: f.openChannel, log: f.log });
      assert.equal(inotifyWatches(), before + 1);
      await watched.close();
      const textOnly = await startPublishing(
        { ...config, file: "/nonexistent/burrow/server.jsonc" },
        { openChannel: f.openChannel, log: f.log },
      );
      assert.equal(inotifyWatches(), before);
      await textOnly.close();
      assert.deepEqual(f.messages("warning"), []);
    });
  },
});
