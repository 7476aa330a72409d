/**
 * The agent's IdentityClaim against the server's IdentifyService over real
 * mux sessions (in memory): identify, stop, retry after a refusal, newer
 * wins, revoke and come back. The two pieces the next session wires into
 * `agent/connection.ts` and `server/agents.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { IdentityClaim } from "../../agent/identity_claim.ts";
import type { AgentIdentityConfig } from "../../agent/config_types.ts";
import { parseAgentFile } from "../../server/access/agent_file.ts";
import { type IdentifyEvent, IdentifyService } from "../../server/access/identify_service.ts";
import type { AgentFile } from "../../server/access/types.ts";
import type { IdentityEnd } from "../../shared/identify.ts";
import { Session } from "../../shared/mux/mod.ts";
import { serveStream, StreamKind } from "../../shared/open/mod.ts";
import { memoryPair } from "../../shared/transport/memory.ts";

const log = getLogger(["burrow-test", "identity"]);
const BACKOFF = { min: 5, max: 20, reset: 60_000 };
const AGENT = { id: "a1", version: "0.1.0", host: "db1" };

function identity(secret: string): AgentIdentityConfig {
  return {
    name: "db1",
    secret,
    secretFile: null,
    remote: "t.example:443",
    service: "/x",
    insecure: false,
    caFile: null,
  };
}

function agentFile(secret: string): AgentFile {
  return parseAgentFile("agents.d/db1.jsonc", JSON.stringify({ secret }));
}

/** The server side: files, the service, its events, and links (agent session + server session). */
class World {
  readonly files = new Map<string, AgentFile>([["db1", agentFile("db1-secret")]]);
  readonly events: IdentifyEvent[] = [];
  readonly #waiters: { match: (e: IdentifyEvent) => boolean; resolve: () => void }[] = [];
  readonly #links: (() => Promise<void>)[] = [];
  readonly service = new IdentifyService<Session>({
    agentFile: (name) => this.files.get(name),
    log,
    onDisplaced: (session) => void session.close(),
    onEvent: (event) => {
      this.events.push(event);
      for (const w of this.#waiters.filter((w) => w.match(event))) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
    },
  });

  /** Resolves at the next event of `type`. */
  next(type: IdentifyEvent["type"]): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ match: (e) => e.type === type, resolve });
    return promise;
  }

  /** A new connection from `address`; returns the agent's session. */
  link(address: string): Session {
    const [a, b] = memoryPair();
    const client = new Session(a, { client: true });
    const server = new Session(b, { client: false });
    const handlers = new Map([[StreamKind.Identify, this.service.handler(server, address)]]);
    const serving = (async () => {
      const tasks: Promise<void>[] = [];
      for (let s = await server.accept(); s !== null; s = await server.accept()) {
        tasks.push(serveStream(s, handlers));
      }
      await Promise.all(tasks);
    })();
    this.#links.push(async () => {
      await client.close();
      await server.close();
      await serving;
    });
    return client;
  }

  async close(): Promise<void> {
    for (const close of this.#links) await close();
  }
}

/** A claim whose `identified()` resolves at its next acceptance by the server. */
function claimOf(secret: string, onReplaced?: (end: IdentityEnd) => void) {
  let waiter = Promise.withResolvers<void>();
  const claim = new IdentityClaim(identity(secret), {
    agent: AGENT,
    log,
    backoff: BACKOFF,
    onIdentified: () => waiter.resolve(),
    ...(onReplaced === undefined ? {} : { onReplaced }),
  });
  const identified = () => waiter.promise.then(() => void (waiter = Promise.withResolvers()));
  return { claim, identified };
}

Deno.test("IdentityClaim identifies, and stop() ends it on the server too", async () => {
  const world = new World();
  const { claim, identified } = claimOf("db1-secret");
  try {
    const held = claim.run(world.link("192.0.2.1"), new AbortController().signal);
    await identified();
    assert.equal(claim.identified, true);
    assert.equal(world.service.holder("db1")?.agent.os, Deno.build.os);
    const ended = world.next("ended");
    claim.stop();
    assert.equal(await held, null);
    await ended;
    assert.equal(world.service.size, 0);
    assert.equal(claim.identified, false);
  } finally {
    await world.close();
  }
});

Deno.test("IdentityClaim retries a refusal with backoff and gets in once the file matches", async () => {
  const world = new World();
  world.files.set("db1", agentFile("other-secret"));
  const { claim, identified } = claimOf("db1-secret");
  try {
    const refused = world.next("refused");
    const held = claim.run(world.link("192.0.2.1"), new AbortController().signal);
    await refused;
    world.files.set("db1", agentFile("db1-secret"));
    await identified();
    assert.equal(claim.lastError, null);
    claim.stop();
    await held;
  } finally {
    await world.close();
  }
});

Deno.test("a newer agent with the same name wins; the older is told 'replaced' and stops", async () => {
  const world = new World();
  const replaced: IdentityEnd[] = [];
  const older = claimOf("db1-secret", (end) => replaced.push(end));
  const newer = claimOf("db1-secret");
  try {
    const olderRun = older.claim.run(world.link("198.51.100.1"), new AbortController().signal);
    await older.identified();
    const newerRun = newer.claim.run(world.link("198.51.100.2"), new AbortController().signal);
    await newer.identified();
    const end = { code: "replaced", message: "replaced by a connection from 198.51.100.2" };
    assert.deepEqual(await olderRun, end, "the older claim stops instead of fighting back");
    assert.deepEqual(replaced, [end]);
    assert.equal(older.claim.lastError, `identity replaced: ${end.message}`);
    assert.equal(world.service.holder("db1")?.address, "198.51.100.2");
    newer.claim.stop();
    await newerRun;
  } finally {
    await world.close();
  }
});

Deno.test("a revoked identity is retried, and comes back when the file does", async () => {
  const world = new World();
  const { claim, identified } = claimOf("db1-secret");
  try {
    const held = claim.run(world.link("192.0.2.1"), new AbortController().signal);
    await identified();
    const refused = world.next("refused");
    world.files.delete("db1");
    world.service.review("db1");
    await refused; // revoked, retried, refused: the file is gone
    assert.equal(claim.identified, false);
    world.files.set("db1", agentFile("db1-secret"));
    await identified();
    assert.equal(claim.identified, true);
    claim.stop();
    await held;
  } finally {
    await world.close();
  }
});
