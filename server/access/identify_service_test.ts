import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { identifyMessage, type IdentifyRequest, readIdentityEnd } from "../../shared/identify.ts";
import { Session } from "../../shared/mux/mod.ts";
import { OpenError, openStream, serveStream, StreamKind } from "../../shared/open/mod.ts";
import { memoryPair } from "../../shared/transport/memory.ts";
import { parseAgentFile } from "./agent_file.ts";
import { type IdentifyEvent, IdentifyService } from "./identify_service.ts";
import type { AgentFile } from "./types.ts";

const log = getLogger(["burrow-test", "identify"]);

/** A client (agent) and server session, the server serving Identify streams. */
interface Link {
  client: Session;
  server: Session;
  close(): Promise<void>;
}

function link(service: IdentifyService<Session>, address: string): Link {
  const [a, b] = memoryPair();
  const client = new Session(a, { client: true });
  const server = new Session(b, { client: false });
  const handlers = new Map([[StreamKind.Identify, service.handler(server, address)]]);
  const serving = (async () => {
    const tasks: Promise<void>[] = [];
    for (let s = await server.accept(); s !== null; s = await server.accept()) {
      tasks.push(serveStream(s, handlers));
    }
    await Promise.all(tasks);
  })();
  return {
    client,
    server,
    async close() {
      await client.close();
      await server.close();
      await serving;
    },
  };
}

/** A service over a mutable set of agent files, recording events and displaced sessions. */
function setup() {
  const files = new Map<string, AgentFile>([
    ["db1", agentFile("db1", { secret: "db1-secret", networks: ["198.51.100.0/24"] })],
    ["web", agentFile("web", { secret: "web-secret" })],
  ]);
  const events: IdentifyEvent[] = [];
  const waiters: { match: (e: IdentifyEvent) => boolean; resolve: () => void }[] = [];
  const displaced: Session[] = [];
  const service = new IdentifyService<Session>({
    agentFile: (name) => files.get(name),
    log,
    onDisplaced: (session) => {
      displaced.push(session);
      void session.close();
    },
    onEvent: (event) => {
      events.push(event);
      for (const w of waiters.filter((w) => w.match(event))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
  });
  /** Resolves at the next event matching `match`. */
  const event = (match: (e: IdentifyEvent) => boolean) => {
    const { promise, resolve } = Promise.withResolvers<void>();
    waiters.push({ match, resolve });
    return promise;
  };
  return { files, events, displaced, service, event };
}

function agentFile(name: string, fields: Record<string, unknown>): AgentFile {
  return parseAgentFile(`agents.d/${name}.jsonc`, JSON.stringify(fields));
}

function request(name: string, secret: string): IdentifyRequest {
  return { name, secret, agent: { id: "a1", version: "0.1.0", host: name, os: "linux" } };
}

Deno.test("IdentifyService accepts a matching identity, holds it, and frees it at the agent's FIN", async () => {
  const { service, events, event } = setup();
  const l = link(service, "198.51.100.7");
  try {
    const opened = await openStream(l.client, identifyMessage(request("DB1", "db1-secret")));
    assert.deepEqual(opened.data, { name: "db1" });
    assert.equal(service.holder("db1")?.address, "198.51.100.7");
    assert.equal(service.holder("db1")?.session, l.server);
    const ended = event((e) => e.type === "ended");
    opened.stream.closeWrite();
    await ended;
    assert.equal(service.size, 0);
    assert.equal(await readIdentityEnd(opened.readable), null, "FIN without a notice");
    assert.deepEqual(events.map((e) => [e.type, e.name]), [["identified", "db1"], [
      "ended",
      "db1",
    ]]);
  } finally {
    await l.close();
  }
});

Deno.test("IdentifyService refuses with one stealth answer; the event has the real reason", async () => {
  const { service, events } = setup();
  // request, address, reason in the event
  const cases: [IdentifyRequest, string, string][] = [
    [request("db1", "wrong"), "198.51.100.7", "bad-secret"],
    [request("ghost", "x"), "198.51.100.7", "unknown-agent"],
    [request("db1", "db1-secret"), "203.0.113.1", "network"],
  ];
  for (const [req, address, reason] of cases) {
    const l = link(service, address);
    try {
      await assert.rejects(openStream(l.client, identifyMessage(req)), (e: unknown) => {
        assert.ok(e instanceof OpenError);
        assert.equal(e.remoteCode, "refused");
        assert.match(e.message, /Identity not accepted/);
        return true;
      });
      assert.deepEqual(events.at(-1), { type: "refused", name: req.name, address, reason });
    } finally {
      await l.close();
    }
  }
  const l = link(service, "::1");
  try {
    const bad = openStream(l.client, { kind: StreamKind.Identify, params: { name: "a b" } });
    await assert.rejects(
      bad,
      (e: unknown) => e instanceof OpenError && e.remoteCode === "bad-request",
    );
  } finally {
    await l.close();
  }
  assert.equal(service.size, 0);
});

Deno.test("IdentifyService refuses a second Identify stream on one session", async () => {
  const { service, events } = setup();
  const l = link(service, "192.0.2.1");
  try {
    const first = await openStream(l.client, identifyMessage(request("web", "web-secret")));
    await assert.rejects(
      openStream(l.client, identifyMessage(request("web", "web-secret"))),
      (e: unknown) => e instanceof OpenError && e.remoteCode === "refused",
    );
    assert.equal(events.at(-1)?.type, "refused");
    assert.equal(service.size, 1, "the first identity stays");
    first.stream.closeWrite();
  } finally {
    await l.close();
  }
});

Deno.test("IdentifyService: the newer connection wins, the older gets 'replaced' and onDisplaced", async () => {
  const { service, displaced } = setup();
  const older = link(service, "198.51.100.7");
  const newer = link(service, "198.51.100.8");
  try {
    const a = await openStream(older.client, identifyMessage(request("db1", "db1-secret")));
    const b = await openStream(newer.client, identifyMessage(request("db1", "db1-secret")));
    // Bounded: an older connection that is never told fails here instead of hanging.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = await Promise.race([
      readIdentityEnd(a.readable),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the older was never told")), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.deepEqual(end, {
      code: "replaced",
      message: "replaced by a connection from 198.51.100.8",
    });
    assert.deepEqual(displaced, [older.server]);
    assert.equal(service.holder("db1")?.address, "198.51.100.8");
    b.stream.closeWrite();
  } finally {
    await older.close();
    await newer.close();
  }
});

Deno.test("IdentifyService.review() revokes what a changed agent file no longer allows", async () => {
  const { service, files } = setup();
  // file change, expected notice message (null: the identity stays)
  const cases: [() => void, string | null][] = [
    [() => files.set("db1", agentFile("db1", { secret: "db1-secret", groups: ["new"] })), null],
    [() => files.set("db1", agentFile("db1", { secret: "rotated" })), "secret changed"],
    [
      () => files.set("db1", agentFile("db1", { secret: "db1-secret", networks: ["10.0.0.0/8"] })),
      "agent networks changed",
    ],
    [() => files.delete("db1"), "agent file removed"],
  ];
  for (const [change, message] of cases) {
    files.set("db1", agentFile("db1", { secret: "db1-secret" }));
    const l = link(service, "198.51.100.7");
    try {
      const opened = await openStream(l.client, identifyMessage(request("db1", "db1-secret")));
      change();
      service.review("db1");
      service.review("nobody"); // a name nobody holds: nothing to do
      if (message === null) {
        assert.equal(service.holder("db1")?.address, "198.51.100.7");
        opened.stream.closeWrite();
      } else {
        // Released at once (checked first, so a review that does nothing fails, not hangs).
        assert.equal(service.holder("db1"), undefined, message);
        assert.deepEqual(await readIdentityEnd(opened.readable), { code: "revoked", message });
      }
    } finally {
      await l.close();
    }
  }
});
