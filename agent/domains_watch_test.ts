import assert from "node:assert/strict";
import { join } from "node:path";
import type { AgentDomain } from "./config_types.ts";
import { DomainFolder } from "./domains_watch.ts";
import { startAgent } from "./agent.ts";
import { ConfigError } from "../shared/config/jsonc.ts";
import { FakeServer } from "./testing/fake_server.ts";
import { messages, records, TEST_TUNING, testConfig, testLogger } from "./testing/helpers.ts";

const log = await testLogger();

/** The text of a domain file. */
function domainFile(fields: Record<string, unknown>): string {
  return `// written by a test\n${JSON.stringify(fields, null, 2)}\n`;
}

const APP = {
  active: true,
  secret: "first-secret",
  targets: [{ target: "http://127.0.0.1:8000" }],
};

/** Collects the domain lists `watch()` reports, resolving waiters as they come. */
class Changes {
  readonly lists: AgentDomain[][] = [];
  #waiters: (() => void)[] = [];

  readonly onChange = (domains: AgentDomain[]) => {
    this.lists.push(domains);
    for (const w of this.#waiters.splice(0)) w();
  };

  /**
   * Resolves with the next list reported; rejects after `ms`, a bound for a
   * lost change rather than a timing claim: a loaded 2-core CI host running
   * the suite with --parallel has delayed a file event past 5 s.
   */
  async next(ms = 15_000): Promise<AgentDomain[]> {
    const count = this.lists.length;
    const timeout = Promise.withResolvers<never>();
    const timer = setTimeout(() => timeout.reject(new Error("No domain change reported")), ms);
    try {
      while (this.lists.length === count) {
        await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), timeout.promise]);
      }
    } finally {
      clearTimeout(timer);
    }
    return this.lists[count]!;
  }
}

Deno.test("load() reads every *.jsonc domain file, skipping disabled and other files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "app.example.com.jsonc"), domainFile(APP));
    await Deno.writeTextFile(join(dir, "off.example.com.jsonc"), domainFile({ active: false }));
    await Deno.writeTextFile(join(dir, "_disabled.example.com.jsonc"), "not even json");
    await Deno.writeTextFile(join(dir, "notes.txt"), "not a domain");
    const folder = new DomainFolder(dir, log);
    const domains = await folder.load();
    assert.deepEqual(domains.map((d) => [d.name, d.active]), [
      ["app.example.com", true],
      ["off.example.com", false],
    ]);
    assert.equal(domains[0]!.secret, "first-secret");
    assert.equal(domains[0]!.remote, "app.example.com:443");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("load() rejects an invalid domain file with a ConfigError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "bad.example.com.jsonc"), domainFile({ active: true }));
    await assert.rejects(new DomainFolder(dir, log).load(), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /bad\.example\.com\.jsonc/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startAgent() refuses a missing domains folder, naming the main config file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = testConfig({ file: join(dir, "agent.jsonc"), domains: join(dir, "agent.d") });
    await assert.rejects(
      startAgent(config, { domains: "watch", log, tuning: TEST_TUNING }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /agent\.d/);
        assert.match(e.message, /does not exist.*"domains" folder of .*agent\.jsonc/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watch() reports added, changed and removed domains and keeps the old version of a bad file", async () => {
  records.length = 0;
  const dir = await Deno.makeTempDir();
  const folder = new DomainFolder(dir, log);
  const changes = new Changes();
  try {
    await folder.load();
    folder.watch(changes.onChange, { debounceMs: 20 });
    const file = join(dir, "app.example.com.jsonc");

    await Deno.writeTextFile(file, domainFile(APP));
    assert.deepEqual((await changes.next()).map((d) => d.secret), ["first-secret"]);

    // A broken edit is logged and ignored; the next good one goes through.
    await Deno.writeTextFile(file, "{ this is not jsonc");
    await Deno.writeTextFile(join(dir, "b.example.com.jsonc"), domainFile(APP));
    const afterBad = await changes.next();
    assert.deepEqual(afterBad.map((d) => [d.name, d.secret]), [
      ["app.example.com", "first-secret"],
      ["b.example.com", "first-secret"],
    ]);
    assert.ok(messages("error").some((m) => /previous version stays.*app\.example\.com/.test(m)));

    await Deno.writeTextFile(file, domainFile({ ...APP, secret: "second-secret" }));
    assert.deepEqual((await changes.next()).map((d) => d.secret), [
      "second-secret",
      "first-secret",
    ]);

    await Deno.remove(file);
    assert.deepEqual((await changes.next()).map((d) => d.name), ["b.example.com"]);
  } finally {
    await folder.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an agent in watch mode registers, re-registers and releases domains as files change", async () => {
  await using server = await FakeServer.start();
  const dir = await Deno.makeTempDir();
  const file = join(dir, "app.example.com.jsonc");
  const app = (secret: string) =>
    domainFile({
      active: true,
      secret,
      remote: server.remote,
      caFile: server.caFile,
      targets: [{ target: "http://127.0.0.1:8000" }],
    });
  try {
    await Deno.writeTextFile(file, app("first-secret"));
    const agent = await startAgent(testConfig({ domains: dir }), {
      domains: "watch",
      log,
      tuning: { ...TEST_TUNING, watchDebounce: 20 },
    });
    try {
      await server.until("registered", () => server.held("app.example.com").length === 1);
      const [first] = server.held("app.example.com");
      assert.equal(first!.params.secret, "first-secret");

      await Deno.writeTextFile(file, app("second-secret"));
      assert.equal(await first!.ended, "fin");
      await server.until(
        "registered again",
        () => server.held("app.example.com").some((r) => r.params.secret === "second-secret"),
      );

      const [second] = server.held("app.example.com");
      await Deno.remove(file);
      assert.equal(await second!.ended, "fin");
      assert.deepEqual(agent.status(), []);
    } finally {
      await agent.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pinned domains (the command line's) are served beside the folder's, replace one of their name, and outlive folder changes", async () => {
  await using server = await FakeServer.start();
  const dir = await Deno.makeTempDir();
  const at = { remote: server.remote, caFile: server.caFile };
  const body = (secret: string) =>
    domainFile({ ...APP, ...at, secret, targets: [{ target: "http://127.0.0.1:8000" }] });
  try {
    await Deno.writeTextFile(join(dir, "app.example.com.jsonc"), body("folder-secret"));
    await Deno.writeTextFile(join(dir, "other.example.com.jsonc"), body("other-secret"));
    const [pinned] = await new DomainFolder(dir, log).load();
    const agent = await startAgent(testConfig({ domains: dir }), {
      domains: "watch",
      pinned: [{ ...pinned!, secret: "pinned-secret", file: "--domain" }],
      log,
      tuning: { ...TEST_TUNING, watchDebounce: 20 },
    });
    try {
      await server.until("both registered", () =>
        server.held("app.example.com").length === 1 &&
        server.held("other.example.com").length === 1);
      assert.equal(server.held("app.example.com")[0]!.params.secret, "pinned-secret");
      await Deno.remove(join(dir, "app.example.com.jsonc"));
      await Deno.remove(join(dir, "other.example.com.jsonc"));
      await server.until("other released", () => server.held("other.example.com").length === 0);
      assert.deepEqual(agent.status().map((s) => s.domain), ["app.example.com"]);
      assert.equal(server.held("app.example.com")[0]!.params.secret, "pinned-secret");
    } finally {
      await agent.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
