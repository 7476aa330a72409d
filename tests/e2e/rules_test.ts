/**
 * Domain rules end to end: unavailable domains, limits, client networks,
 * time ranges, credentials, and agent authentication.
 */
import assert from "node:assert/strict";
import { until, World } from "./world.ts";
import { hashSecret } from "../../shared/auth/secret.ts";
import { within } from "../helpers/streams.ts";

const SECRET = "rules-secret-0123456789";

/** A world with `app.test` configured by `domain` and, unless `agent` is false, served. */
async function scenario(
  domain: Record<string, unknown>,
  body: (world: World) => Promise<void>,
  options: { agent?: boolean; handler?: Deno.ServeHandler<Deno.NetAddr> } = {},
) {
  const world = await World.create();
  try {
    const backend = world.backend(options.handler ?? (() => new Response("backend ok")));
    await world.domain("app.test", { active: true, secret: SECRET, ...domain });
    if (options.agent !== false) {
      await world.agent({
        domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
      });
    }
    await body(world);
  } finally {
    await world.close();
  }
}

function basic(user: string, password: string): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

Deno.test("a domain with no agent answers the unavailable status; the log says why", async () => {
  await scenario({}, async (world) => {
    const res = await world.fetch("app.test", "/");
    assert.equal(res.status, 404);
    await res.body?.cancel();
    assert.equal(world.lastAccess("app.test")?.reason, "no agent connected");
    const unknown = await world.fetch("nobody.test", "/");
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  }, { agent: false });
});

Deno.test("requests over the domain's concurrency get 429", async () => {
  const release = Promise.withResolvers<void>();
  const arrived: number[] = [];
  await scenario({ concurrency: 2 }, async (world) => {
    const held = [world.fetch("app.test", "/1"), world.fetch("app.test", "/2")];
    await until("two requests at the backend", () => arrived.length === 2);
    const third = await world.fetch("app.test", "/3");
    assert.equal(third.status, 429);
    await third.body?.cancel();
    release.resolve();
    for (const r of await Promise.all(held)) {
      assert.equal(r.status, 200);
      await r.body?.cancel();
    }
    const after = await world.fetch("app.test", "/4");
    assert.equal(after.status, 200, "slots are released");
    await after.body?.cancel();
  }, {
    handler: async () => {
      arrived.push(1);
      await release.promise;
      return new Response("done");
    },
  });
});

Deno.test("bodies over the domain's limit get 413, declared or streamed", async () => {
  await scenario({ bodySize: "64kB" }, async (world) => {
    const declared = await world.fetch("app.test", "/up", {
      method: "POST",
      body: new Uint8Array(100 * 1024),
    });
    assert.equal(declared.status, 413);
    await declared.body?.cancel();
    let i = 0;
    const streamed = await world.fetch("app.test", "/up", {
      method: "POST",
      body: new ReadableStream({
        pull(c) {
          if (i++ < 4) c.enqueue(new Uint8Array(32 * 1024));
          else c.close();
        },
      }),
    });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
    const ok = await world.fetch("app.test", "/up", { method: "POST", body: new Uint8Array(1000) });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  }, {
    handler: async (req) => {
      await req.arrayBuffer();
      return new Response("stored");
    },
  });
});

Deno.test("a client outside the allowed networks gets the unavailable status", async () => {
  await scenario({ clients: { networks: ["10.0.0.0/8", "2001:db8::/32"] } }, async (world) => {
    const res = await world.fetch("app.test", "/");
    assert.equal(res.status, 404);
    await res.body?.cancel();
    assert.match(world.lastAccess("app.test")!.reason!, /outside allowed networks/);
  });
  await scenario({ clients: { networks: ["127.0.0.0/8"] } }, async (world) => {
    const res = await world.fetch("app.test", "/");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("outside the allowed time ranges the client gets the unavailable status", async () => {
  await scenario({ clients: { ranges: ["2001-01-01-2001-12-31"] } }, async (world) => {
    const res = await world.fetch("app.test", "/");
    assert.equal(res.status, 404);
    await res.body?.cancel();
    assert.match(world.lastAccess("app.test")!.reason!, /time ranges/);
  });
  await scenario({ clients: { ranges: ["2001-01-01-"] } }, async (world) => {
    const res = await world.fetch("app.test", "/");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("credentials: 401 with the realm, 200 with the right plain or hashed password", async () => {
  const hashed = hashSecret("hashed-pass");
  assert.ok(hashed.startsWith("$6$"));
  let sawAuthorization: string | null = "unset";
  await scenario({
    clients: { credentials: ["alice:plain-pass", `bob:${hashed}`], realm: "App Test" },
  }, async (world) => {
    const none = await world.fetch("app.test", "/");
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), 'Basic realm="App Test", charset="UTF-8"');
    await none.body?.cancel();
    const wrong = await world.fetch("app.test", "/", {
      headers: { authorization: basic("alice", "nope") },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const alice = await world.fetch("app.test", "/", {
      headers: { authorization: basic("alice", "plain-pass") },
    });
    assert.equal(alice.status, 200);
    await alice.body?.cancel();
    assert.equal(sawAuthorization, null, "the proxy's credentials do not reach the backend");
    const bob = await world.fetch("app.test", "/", {
      headers: { authorization: basic("bob", "hashed-pass") },
    });
    assert.equal(bob.status, 200);
    await bob.body?.cancel();
  }, {
    handler: (req) => {
      sawAuthorization = req.headers.get("authorization");
      return new Response("ok");
    },
  });
});

Deno.test("an agent with the wrong secret is refused; clients see only the unavailable status", async () => {
  const world = await World.create();
  try {
    const backend = world.backend(() => new Response("should not be reached"));
    await world.domain("app.test", { active: true, secret: hashSecret(SECRET) });
    const agent = await world.agent({
      domains: { "app.test": { secret: "not-the-secret", targets: [{ target: backend.url }] } },
    }, false);
    await until("the refusal", () => agent.status()[0]?.lastError !== null);
    assert.match(agent.status()[0]!.lastError!, /Domain not available/);
    assert.equal(agent.status()[0]!.registered, false);
    const res = await world.fetch("app.test", "/");
    assert.equal(res.status, 404);
    await res.body?.cancel();
  } finally {
    await world.close();
  }
});

Deno.test("an agent from a network outside agentNetworks is refused", async () => {
  const world = await World.create();
  try {
    const backend = world.backend(() => new Response("no"));
    await world.domain("app.test", { active: true, secret: SECRET, agentNetworks: ["10.0.0.0/8"] });
    const agent = await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    }, false);
    await until("the refusal", () => agent.status()[0]?.lastError !== null);
    assert.equal(agent.status()[0]!.registered, false);
    assert.equal(world.server.agents.has("app.test"), false);
  } finally {
    await world.close();
  }
});

Deno.test("limits: an oversized request head gets 431; a stalled upload gets 408 and never reaches the backend whole", async () => {
  const world = await World.create({ limits: { headerSize: "2kB", readTimeout: "1s" } });
  let completeBodies = 0;
  let cutBodies = 0;
  try {
    const backend = world.backend(async (req) => {
      try {
        await req.arrayBuffer();
        completeBodies++;
      } catch {
        cutBodies++;
      }
      return new Response("ok");
    });
    await world.domain("app.test", { active: true, secret: SECRET });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    const big = await world.fetch("app.test", "/", { headers: { "x-big": "x".repeat(3000) } });
    assert.equal(big.status, 431);
    await big.body?.cancel();
    let sent = 0;
    const silence = Promise.withResolvers<void>();
    const stalled = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent++ === 0) {
          c.enqueue(new Uint8Array(1000));
          return;
        }
        await silence.promise; // then nothing, until the test ends
        c.close();
      },
    });
    const abort = new AbortController();
    const slow = world.fetch("app.test", "/up", {
      method: "POST",
      body: stalled,
      signal: abort.signal,
    });
    try {
      const res = await within(10_000, "the 408", slow);
      assert.equal(res.status, 408);
      await res.body?.cancel();
    } finally {
      silence.resolve();
      abort.abort();
    }
    assert.equal(completeBodies, 0, "a cut upload must not reach the backend as complete");
    await until("the backend to see the cut", () => cutBodies === 1, 5000);
  } finally {
    await world.close();
  }
});
