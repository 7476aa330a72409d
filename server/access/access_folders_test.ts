import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { generateToken, hashToken } from "../../shared/auth/token.ts";
import { ConfigError } from "../../shared/config/jsonc.ts";
import { type AccessChange, AccessFolders } from "./access_folders.ts";

const log = getLogger(["burrow-test", "access"]);

/** A temporary server folder with a main file name and agents.d / operators.d inside. */
async function tree(): Promise<{ dir: string; agents: string; operators: string; file: string }> {
  const dir = await Deno.makeTempDir();
  const agents = join(dir, "agents.d");
  const operators = join(dir, "operators.d");
  await Deno.mkdir(agents);
  await Deno.mkdir(operators);
  return { dir, agents, operators, file: join(dir, "server.jsonc") };
}

/** Collects reported changes; `next()` resolves once `count` more have come. */
class Changes {
  readonly seen: AccessChange[] = [];
  #waiter: { count: number; resolve: () => void } | null = null;

  readonly onChange = (change: AccessChange) => {
    this.seen.push(change);
    if (this.#waiter !== null && this.seen.length >= this.#waiter.count) this.#waiter.resolve();
  };

  next(more = 1): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiter = { count: this.seen.length + more, resolve };
    return promise;
  }
}

Deno.test("AccessFolders loads agents.d and operators.d and finds operators by token", async () => {
  const t = await tree();
  const token = generateToken();
  try {
    await Deno.writeTextFile(join(t.agents, "db1.jsonc"), '{ "secret": "s", "groups": ["ops"] }');
    await Deno.writeTextFile(join(t.agents, "_off.jsonc"), "not even json");
    await Deno.writeTextFile(
      join(t.operators, "alice.jsonc"),
      JSON.stringify({ token: hashToken(token), agents: ["group:ops"], kinds: ["forward"] }),
    );
    const access = new AccessFolders({
      file: t.file,
      agentFiles: t.agents,
      operatorFiles: t.operators,
    }, { log });
    await access.load();
    assert.deepEqual(access.agents.map((a) => a.name), ["db1"]);
    assert.deepEqual(access.agent("db1")?.groups, ["ops"]);
    assert.equal((await access.operatorByToken(token))?.name, "alice");
    assert.equal(await access.operatorByToken(generateToken()), undefined);
    assert.equal(access.operator("alice")?.kinds[0], "forward");
    await access.close();
  } finally {
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("AccessFolders: an absent key is an empty folder; a named missing folder refuses", async () => {
  const t = await tree();
  try {
    const off = new AccessFolders({ file: t.file, agentFiles: null, operatorFiles: null }, { log });
    await off.load();
    assert.deepEqual([off.agents, off.operators], [[], []]);
    assert.equal(await off.operatorByToken(generateToken()), undefined);

    const missing = join(t.dir, "nope.d");
    const named = new AccessFolders(
      { file: t.file, agentFiles: t.agents, operatorFiles: missing },
      {
        log,
      },
    );
    await assert.rejects(named.load(), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, "io");
      assert.equal(
        e.message,
        `${missing}: Operator folder does not exist (the "operatorFiles" folder of ${t.file})`,
      );
      return true;
    });
  } finally {
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("AccessFolders refuses the start on an invalid file, naming file:line:column", async () => {
  const t = await tree();
  try {
    const bad = join(t.agents, "db1.jsonc");
    await Deno.writeTextFile(bad, '{\n  "secret": "s",\n  "networks": ["nope"]\n}');
    const access = new AccessFolders({
      file: t.file,
      agentFiles: t.agents,
      operatorFiles: t.operators,
    }, { log });
    await assert.rejects(access.load(), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `${bad}:3:16: networks[0]: "nope" is not a valid CIDR`);
      return true;
    });
  } finally {
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("AccessFolders hot-reloads: added, rejected (previous stays), changed, removed", async () => {
  const t = await tree();
  const first = generateToken();
  const second = generateToken();
  const alice = join(t.operators, "alice.jsonc");
  const access = new AccessFolders({
    file: t.file,
    agentFiles: t.agents,
    operatorFiles: t.operators,
  }, { log, debounceMs: 20 });
  const changes = new Changes();
  try {
    await access.load();
    access.watch(changes.onChange);

    let next = changes.next(2);
    await Deno.writeTextFile(alice, JSON.stringify({ token: hashToken(first), kinds: ["admin"] }));
    await Deno.writeTextFile(join(t.agents, "db1.jsonc"), '{ "secret": "s" }');
    await next;
    assert.equal((await access.operatorByToken(first))?.name, "alice");
    assert.equal(access.agent("db1")?.secret, "s");

    // A plain token is refused: logged, counted, and the previous alice stays.
    next = changes.next();
    await Deno.writeTextFile(alice, JSON.stringify({ token: second }));
    await Deno.writeTextFile(
      join(t.operators, "bob.jsonc"),
      JSON.stringify({ token: hashToken("b") }),
    );
    await next;
    assert.equal(access.rejected, 1);
    assert.equal((await access.operatorByToken(first))?.name, "alice");
    assert.equal(await access.operatorByToken(second), undefined);
    assert.equal((await access.operatorByToken("b"))?.name, "bob");

    next = changes.next();
    await Deno.writeTextFile(alice, JSON.stringify({ token: hashToken(second) }));
    await next;
    assert.equal(await access.operatorByToken(first), undefined, "the old token stops working");
    assert.equal((await access.operatorByToken(second))?.name, "alice");

    next = changes.next();
    await Deno.remove(alice);
    await next;
    assert.equal(await access.operatorByToken(second), undefined);
    const seen = changes.seen.map(({ folder, change }) =>
      `${folder} ${change.name} ${change.after === undefined ? "removed" : "in force"}`
    );
    // The two folders have a watcher each: their first changes may come in either order.
    assert.deepEqual(seen.slice(0, 2).sort(), ["agents db1 in force", "operators alice in force"]);
    assert.deepEqual(seen.slice(2), [
      "operators bob in force",
      "operators alice in force",
      "operators alice removed",
    ]);
  } finally {
    await access.close();
    await Deno.remove(t.dir, { recursive: true });
  }
});
