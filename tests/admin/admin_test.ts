/**
 * The admin API end to end: a real server (TLS on loopback, its audit
 * opened at start, `agents.d` and `operators.d` folders), a real agent with
 * an identity, and the `burrow agents | sessions | channels | audit`
 * commands run against it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { World } from "../e2e/world.ts";
import { burrow, isolateEnv } from "../helpers/burrow.ts";
import { ADMIN_PATH } from "../../shared/protocol.ts";
import { generateToken } from "../../shared/auth/token.ts";
import type { ListingIo } from "../../cli/admin_listing.ts";
import { agentsCommand } from "../../cli/agents.ts";
import { sessionsCommand } from "../../cli/sessions.ts";
import { channelsCommand } from "../../cli/channels.ts";
import { auditCommand } from "../../cli/audit.ts";

// The commands run in this process too: a shell's BURROW_* must not reach them.
isolateEnv();

/** Output of one command run. */
interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `command` with `args`, capturing what it prints. */
async function run(
  command: (args: string[], io: ListingIo) => Promise<number>,
  args: string[],
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A world with an admin operator (`root`), a forward-only one (`bob`), db1 connected, mail offline. */
async function adminWorld(limits: Record<string, unknown> = {}) {
  const world = await World.create({ limits: { authFailures: { perAddress: 3, ...limits } } });
  const tokens = {
    root: await world.operator("root", { kinds: ["admin"] }),
    bob: await world.operator("bob", { kinds: ["forward"] }),
  };
  const tokenFile = async (name: string, token: string) => {
    const path = join(world.dir, `${name}.token`);
    await Deno.writeTextFile(path, token);
    return path;
  };
  const files = {
    root: await tokenFile("root", tokens.root),
    bob: await tokenFile("bob", tokens.bob),
    wrong: await tokenFile("wrong", generateToken()),
  };
  const server = `https://127.0.0.1:${world.port}`;
  const flags = (who: keyof typeof files) => [
    "--server",
    server,
    "--token-file",
    files[who],
    "--ca-file",
    world.caFile,
  ];
  return { world, tokens, flags, server };
}

/** GETs an admin path with `token` (or none). */
async function get(
  world: World,
  path: string,
  token: string | null,
  method = "GET",
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`https://127.0.0.1:${world.port}${ADMIN_PATH}${path}`, {
    method,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    client: world.client,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? null : JSON.parse(text) };
}

Deno.test("admin API on a real server: the same 401 for no, wrong and rate-limited tokens, each audited", async () => {
  const { world, tokens } = await adminWorld();
  try {
    // Before any success from 127.0.0.1: three wrong tokens lock the address out.
    const none = await get(world, "/agents", null);
    for (let i = 0; i < 3; i++) {
      assert.equal((await get(world, "/agents", generateToken())).status, 401);
    }
    const locked = await get(world, "/agents", tokens.root);
    for (const res of [none, locked]) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="burrow-admin"');
      assert.deepEqual(res.body, {
        error: { code: "unauthorized", message: "A valid operator bearer token is required" },
      });
    }
    const refusals = world.server.audit.store;
    refusals.flush();
    const reasons = refusals.query.refusals({ kind: "admin" }).items.map((r) => r.reason);
    assert.ok(reasons.includes("no bearer token"), reasons.join("; "));
    assert.ok(reasons.includes("wrong token"), reasons.join("; "));
    assert.ok(reasons.some((r) => /address .* is locked out/.test(r)), reasons.join("; "));
  } finally {
    await world.close();
  }
});

Deno.test("admin API on a real server: 403 without admin, 405 for POST, HEAD answers", async () => {
  const { world, tokens } = await adminWorld();
  try {
    const bob = await get(world, "/sessions", tokens.bob);
    assert.equal(bob.status, 403);
    assert.deepEqual(bob.body, {
      error: { code: "forbidden", message: "Operator bob may not use kind admin" },
    });
    const post = await get(world, "/agents", tokens.root, "POST");
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    const head = await get(world, "/agents", tokens.root, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    const bad = await get(world, "/channels?result=done", tokens.root);
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { param: string } }).error.param, "result");
  } finally {
    await world.close();
  }
});

Deno.test("burrow agents and sessions list a connected agent and an offline one from a real server", async () => {
  const { world, flags } = await adminWorld();
  try {
    await world.agentFile("db1", { secret: "db1-secret", groups: ["ops"] });
    await world.agentFile("mail", { secret: "mail-secret" });
    await world.agent({ identity: { name: "db1", secret: "db1-secret" } });

    const table = await run(agentsCommand, flags("root"));
    assert.equal(table.code, 0, table.err);
    const lines = table.out.split("\n");
    assert.match(lines[0]!, /^NAME +STATUS +SINCE +GROUPS +ADDRESS +VERSION +OS +HOST$/);
    assert.match(lines[1]!, /^db1 +connected +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +ops +127\.0\.0\.1 /);
    assert.match(lines[2]!, /^mail +offline +- +- +- +- +- +-$/);
    assert.equal(lines.length, 3);
    // Columns line up: every row's STATUS starts where the heading's does.
    const at = lines[0]!.indexOf("STATUS");
    for (const line of lines.slice(1)) assert.match(line.slice(at), /^(connected|offline)/);

    const json = await run(agentsCommand, [...flags("root"), "--json", "--offline"]);
    assert.equal(json.code, 0, json.err);
    const doc = JSON.parse(json.out);
    assert.deepEqual(doc.items.map((a: { name: string }) => a.name), ["mail"]);
    assert.equal(doc.next, null);

    const paged = await run(agentsCommand, [...flags("root"), "--limit", "1"]);
    assert.equal(paged.out.split("\n").length, 2);
    assert.match(paged.err, /^More: burrow agents --cursor db1 /);
    const all = await run(agentsCommand, [...flags("root"), "--limit", "1", "--all", "--json"]);
    assert.deepEqual(JSON.parse(all.out).items.map((a: { name: string }) => a.name), [
      "db1",
      "mail",
    ]);

    const sessions = await run(sessionsCommand, [...flags("root"), "--agent", "db1", "--json"]);
    assert.equal(sessions.code, 0, sessions.err);
    const rows = JSON.parse(sessions.out).items;
    assert.equal(rows.length, 1);
    assert.equal(rows[0].agent, "db1");
    assert.equal(rows[0].disconnectedAt, null);
    const sessionTable = await run(sessionsCommand, [...flags("root"), "--open", "--since", "1h"]);
    assert.match(
      sessionTable.out.split("\n")[1]!,
      /^ *\d+ +db1 +\S+ \S+ +open +\d+s +127\.0\.0\.1 +0\.1\.0 +\w+ +0 +-$/,
    );
    const none = await run(sessionsCommand, [...flags("root"), "--closed"]);
    assert.equal(none.out, "(no sessions)");
    const channels = await run(channelsCommand, flags("root"));
    assert.equal(channels.out, "(no channels)");
    // A channel as the operator side records it (its own tests open real ones).
    const store = world.server.audit.store;
    const id = store.channelOpened({
      operator: "alice",
      agent: "db1",
      kind: "forward",
      target: "127.0.0.1:5432",
      source: "203.0.113.9:40000",
      at: Date.now() - 65_000,
    });
    store.channelClosed(id, { result: "ok", bytesUp: 1536, bytesDown: 20 * 1024 ** 2 });
    const channelTable = await run(channelsCommand, [...flags("root"), "--agent", "db1"]);
    assert.equal(channelTable.code, 0, channelTable.err);
    assert.match(
      channelTable.out.split("\n")[1]!,
      /^ *\d+ +\S+ \S+ +1m0\ds +alice +db1 +forward +127\.0\.0\.1:5432 +203\.0\.113\.9:40000 +1\.5 KiB +20\.0 MiB +ok +-$/,
    );

    // As a user runs it: main.ts dispatches the word to the command.
    const child = await burrow(["agents", ...flags("root"), "--connected"]);
    assert.equal(child.code, 0, child.stderr);
    assert.match(child.stdout, /^NAME .*\ndb1 +connected .*\n$/);
  } finally {
    await world.close();
  }
});

Deno.test("burrow audit shows refusals; the commands' errors are one line each", async () => {
  const { world, flags, server } = await adminWorld({ perAddress: 100 });
  try {
    const wrong = await run(agentsCommand, flags("wrong"));
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /^burrow agents: the server refused the token \(401\)/);
    const bob = await run(sessionsCommand, flags("bob"));
    assert.equal(bob.code, 1);
    assert.equal(bob.err, "burrow sessions: refused (403): operator bob may not use kind admin");
    const cursor = await run(sessionsCommand, [...flags("root"), "--cursor", "x"]);
    assert.equal(cursor.code, 1);
    assert.match(cursor.err, /^burrow sessions: bad request \(400\): parameter before="x" /);
    const since = await run(auditCommand, [...flags("root"), "--since", "yesterday"]);
    assert.equal(since.code, 2);
    assert.match(since.err, /--since "yesterday" is not a time/);
    const untrusted = await run(agentsCommand, [
      "--server",
      server,
      "--token-file",
      join(world.dir, "root.token"),
    ]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.err, /certificate .* is not trusted .*--ca-file .*--insecure/);
    const insecure = await run(agentsCommand, [
      "--server",
      server,
      "--token-file",
      join(world.dir, "root.token"),
      "--insecure",
      "--json",
    ]);
    assert.equal(insecure.code, 0, insecure.err);
    assert.deepEqual(JSON.parse(insecure.out), { items: [], next: null });

    const audit = await run(auditCommand, [...flags("root"), "--kind", "admin"]);
    assert.equal(audit.code, 0, audit.err);
    const lines = audit.out.split("\n");
    assert.match(lines[0]!, /^ID +TIME +KIND +IDENTITY +SOURCE +COUNT +REASON$/);
    const rows = lines.slice(1).join("\n");
    assert.match(rows, /admin +bob +127\.0\.0\.1 +1 +operator bob may not use kind admin/);
    assert.match(rows, /admin +- +127\.0\.0\.1 +1 +wrong token/);
  } finally {
    await world.close();
  }
});
