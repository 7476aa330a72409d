import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Session } from "../../shared/mux/mod.ts";
import { OpenError } from "../../shared/open/mod.ts";
import { hashToken } from "../../shared/auth/token.ts";
import { OPERATOR_PATH, SUBPROTOCOL } from "../../shared/protocol.ts";
import { DialError, dialWebSocket } from "../../shared/transport/dial.ts";
import { AccessFolders } from "../../server/access/access_folders.ts";
import { AuthGuard } from "../../server/auth_guard.ts";
import { AUTH_FAILURES } from "../../server/config.ts";
import type { AuthFailureLimits } from "../../server/config_types.ts";
import { type Audit, openAudit } from "../../server/audit/mod.ts";
import { makeOpenChannel } from "../../server/channels.ts";
import { OperatorEndpoint } from "../../server/operator/endpoint.ts";
import { within } from "../helpers/streams.ts";
import { openForward } from "./fixture.ts";

const log = getLogger(["burrow-test", "operator-endpoint"]);
const TOKEN = "burrow_alice-token";
const SECOND = 1000;

/** What a test body gets. */
interface EndpointWorld {
  url: string;
  dir: string;
  audit: Audit;
  endpoint: OperatorEndpoint;
  /** Advances the auth guard's clock. */
  advance(ms: number): void;
  /** Token lookups made so far. */
  lookups(): number;
  /** Writes `operators.d/<name>.jsonc`. */
  writeOperator(name: string, body: Record<string, unknown>): Promise<void>;
}

/** An operator endpoint behind a plain loopback HTTP server, with real operator files and audit. */
async function withEndpoint(
  options: {
    limits?: Partial<AuthFailureLimits>;
    maxConnections?: number;
    keepAlive?: { interval: number; timeout: number };
  },
  body: (world: EndpointWorld) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-op-endpoint-" });
  const folder = join(dir, "operators.d");
  await Deno.mkdir(folder);
  const writeOperator = (name: string, file: Record<string, unknown>) =>
    Deno.writeTextFile(join(folder, `${name}.jsonc`), JSON.stringify(file));
  await writeOperator("alice", { token: hashToken(TOKEN), agents: ["*"], kinds: ["forward"] });
  const access = new AccessFolders(
    { file: join(dir, "server.jsonc"), agentFiles: null, operatorFiles: folder },
    { log, debounceMs: 10 },
  );
  await access.load();
  let lookups = 0;
  const counted = {
    operatorByToken: (token: string) => {
      lookups++;
      return access.operatorByToken(token);
    },
    operator: (name: string) => access.operator(name),
    agent: (name: string) => access.agent(name),
  };
  let clock = 1_000_000;
  const defaults = Object.fromEntries(
    Object.entries(AUTH_FAILURES).map(([key, bounds]) => [key, bounds.default]),
  ) as unknown as AuthFailureLimits;
  const auth = new AuthGuard({ ...defaults, ...options.limits }, log, { now: () => clock });
  const audit = openAudit({
    dataDir: dir,
    audit: {
      retentionDays: 0,
      flushInterval: 60_000,
      batchSize: 1000,
      queueSize: 10_000,
      sessionGrace: 1000,
    },
    limits: { authFailures: { window: 60_000 } },
  }, log);
  const directory = { get: () => undefined, list: () => [] };
  const endpoint = new OperatorEndpoint({
    access: counted,
    auth,
    audit,
    log,
    openChannel: makeOpenChannel({ directory, audit, log }),
    limits: { maxConnections: options.maxConnections ?? 16, maxStreams: 16 },
    ...(options.keepAlive && { keepAlive: options.keepAlive }),
  });
  access.watch((change) => endpoint.accessChanged(change));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => endpoint.upgrade(req, info.remoteAddr),
  );
  try {
    await body({
      url: `ws://127.0.0.1:${server.addr.port}${OPERATOR_PATH}`,
      dir,
      audit,
      endpoint,
      advance: (ms) => clock += ms,
      lookups: () => lookups,
      writeOperator,
    });
  } finally {
    await endpoint.close();
    await server.shutdown();
    await access.close();
    auth.close();
    audit.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Dials the operator path with `token` (none when null); the session on success. */
async function dialOperator(url: string, token: string | null) {
  const dialed = await dialWebSocket(url, {
    protocols: [SUBPROTOCOL],
    ...(token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
  });
  const session = new Session(dialed.conn, { client: true, foldFlags: true });
  return {
    session,
    async [Symbol.asyncDispose]() {
      await session.close();
      dialed.close();
      await dialed.closed;
    },
  };
}

/** Rejection check: a DialError refused with `status`. */
function refusedStatus(status: number) {
  return (e: unknown) => {
    assert.ok(e instanceof DialError, `expected DialError, got ${e}`);
    assert.equal(e.status, status, e.message);
    return true;
  };
}

/** Refusal rows of kind operator, oldest first: [identity, reason, count]. */
function refusals(audit: Audit): [string, string, number][] {
  audit.refusals.close();
  audit.store.flush();
  return audit.store.query.refusals({ kind: "operator" }).items.reverse().map((r) => [
    r.identity,
    r.reason,
    r.count,
  ]);
}

Deno.test("the operator path answers 426 without a WebSocket upgrade or without burrow.v1", async () => {
  await withEndpoint({}, async ({ url }) => {
    const http = url.replace("ws://", "http://");
    const plain = await fetch(http, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(plain.status, 426);
    assert.equal(await plain.text(), "Burrow operators connect with a WebSocket upgrade\n");
    await assert.rejects(
      dialWebSocket(url, {
        protocols: ["burrow.v0"],
        headers: { authorization: `Bearer ${TOKEN}` },
      }),
      refusedStatus(426),
    );
  });
});

Deno.test("a missing or wrong token gets the stealth 401 and an audit refusal; the right one a session", async () => {
  await withEndpoint({}, async ({ url, audit }) => {
    await assert.rejects(dialOperator(url, null), refusedStatus(401));
    await assert.rejects(dialOperator(url, "burrow_wrong"), refusedStatus(401));
    await using alice = await dialOperator(url, TOKEN);
    // The session works: the server answers a channel to an agent that is not connected.
    await assert.rejects(
      openForward(alice.session, { agent: "db1", host: "127.0.0.1", port: 22 }),
      (e: unknown) => e instanceof OpenError && e.remoteCode === "agent-offline",
    );
    assert.deepEqual(refusals(audit), [
      ["", "no bearer token", 1],
      ["", "wrong token", 1],
    ]);
  });
});

Deno.test("an operator outside its networks gets 403 with the reason, and an audit refusal", async () => {
  await withEndpoint({}, async ({ url, audit, writeOperator, endpoint }) => {
    await writeOperator("bob", {
      token: hashToken("burrow_bob"),
      agents: ["*"],
      kinds: ["forward"],
      networks: ["10.0.0.0/8"],
    });
    let refused: unknown;
    for (let i = 0; i < 500 && !(refused instanceof DialError && refused.status === 403); i++) {
      // The folder watch applies the new file shortly.
      refused = await dialOperator(url, "burrow_bob").then(async (s) => {
        await s[Symbol.asyncDispose]();
        return null;
      }, (e) => e);
      if (!(refused instanceof DialError && refused.status === 403)) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    assert.ok(refused instanceof DialError && refused.status === 403, String(refused));
    assert.equal(endpoint.size, 0);
    const rows = refusals(audit).filter(([identity]) => identity === "bob");
    assert.deepEqual(rows, [["bob", "client 127.0.0.1 is outside operator bob's networks", 1]]);
  });
});

Deno.test("wrong tokens lock the address out: the right token is refused unchecked, then works after the lockout", async () => {
  const limits = { perAddress: 3, window: 10 * SECOND, lockout: 5 * SECOND };
  await withEndpoint({ limits }, async ({ url, advance, lookups, audit }) => {
    for (let i = 0; i < 3; i++) {
      await assert.rejects(dialOperator(url, `burrow_wrong${i}`), refusedStatus(401));
    }
    assert.equal(lookups(), 3);
    for (let i = 0; i < 20; i++) {
      await assert.rejects(dialOperator(url, TOKEN), refusedStatus(401));
    }
    assert.equal(lookups(), 3, "no token is looked up during the lockout");
    advance(5 * SECOND + 1);
    await using alice = await dialOperator(url, TOKEN);
    assert.equal(lookups(), 4);
    assert.ok(!alice.session.isClosed);
    // Refusals fold per window: a first row at once, the repeats as one row with their count.
    const counts = new Map<string, number>();
    for (const [, reason, count] of refusals(audit)) {
      counts.set(reason, (counts.get(reason) ?? 0) + count);
    }
    assert.deepEqual(Object.fromEntries(counts), {
      "wrong token": 3,
      "address 127.0.0.1 is locked out": 20,
    });
  });
});

Deno.test("operators.maxConnections: one more operator connection gets 503 until one closes", async () => {
  await withEndpoint({ maxConnections: 1 }, async ({ url, endpoint }) => {
    const first = await dialOperator(url, TOKEN);
    await assert.rejects(dialOperator(url, TOKEN), refusedStatus(503));
    await first[Symbol.asyncDispose]();
    await within(
      5000,
      "the first session to end",
      (async () => {
        while (endpoint.size > 0) await new Promise((r) => setTimeout(r, 10));
      })(),
    );
    await using second = await dialOperator(url, TOKEN);
    assert.equal(endpoint.size, 1);
    assert.ok(!second.session.isClosed);
  });
});

Deno.test("an operator whose token changes or whose file is removed is disconnected; other changes keep it", async () => {
  await withEndpoint({}, async ({ url, endpoint, dir, writeOperator }) => {
    await using a = await dialOperator(url, TOKEN);
    // kinds change only: the session stays, the next channel sees the new file.
    await writeOperator("alice", { token: hashToken(TOKEN), agents: ["*"], kinds: ["udp"] });
    let answer = "";
    for (let i = 0; i < 500 && !answer.includes("may not use kind forward"); i++) {
      answer = await openForward(a.session, { agent: "db1", host: "127.0.0.1", port: 22 }).then(
        () => "opened",
        (e: OpenError) => e.message,
      );
      if (!answer.includes("may not use kind forward")) await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(answer, /operator alice may not use kind forward/);
    assert.ok(!a.session.isClosed);
    // A new token: the session is closed.
    await writeOperator("alice", { token: hashToken("burrow_new"), agents: ["*"], kinds: ["udp"] });
    await within(10_000, "the session to close on a token change", a.session.closed);
    await using b = await dialOperator(url, "burrow_new");
    await Deno.remove(join(dir, "operators.d", "alice.jsonc"));
    await within(10_000, "the session to close on removal", b.session.closed);
    await within(
      5000,
      "the endpoint to forget both",
      (async () => {
        while (endpoint.size > 0) await new Promise((r) => setTimeout(r, 10));
      })(),
    );
  });
});

Deno.test("an upgrade without a WebSocket key gets 400 once the token passed, not an error", async () => {
  await withEndpoint({}, async ({ url, endpoint }) => {
    const res = await fetch(url.replace("ws://", "http://"), {
      headers: {
        authorization: `Bearer ${TOKEN}`,
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-protocol": SUBPROTOCOL,
      },
    });
    assert.equal(res.status, 400);
    await res.body?.cancel();
    assert.equal(endpoint.size, 0);
  });
});

Deno.test("10,000 wrong tokens from one address cost 10 token lookups and a few audit rows", async () => {
  await withEndpoint({}, async ({ url, endpoint, lookups, audit }) => {
    const remote = { transport: "tcp", hostname: "192.0.2.7", port: 50000 } as const;
    for (let i = 0; i < 10_000; i++) {
      const req = new Request(url.replace("ws://", "http://"), {
        headers: {
          authorization: `Bearer burrow_guess${i}`,
          upgrade: "websocket",
          "sec-websocket-protocol": SUBPROTOCOL,
        },
      });
      const res = await endpoint.upgrade(req, remote);
      assert.equal(res.status, 401);
    }
    // perAddress (10 by default) lookups, then the address is locked out: refused unchecked.
    assert.equal(lookups(), 10);
    assert.ok(audit.refusals.size <= 2, `${audit.refusals.size} refusal keys held`);
    const rows = refusals(audit);
    assert.ok(rows.length <= 4, `${rows.length} refusal rows`);
    assert.equal(rows.reduce((n, [, , count]) => n + count, 0), 10_000);
  });
});

Deno.test("an operator connection that stops answering pings is closed (keepalive)", async () => {
  await withEndpoint({ keepAlive: { interval: 100, timeout: 300 } }, async ({ url, endpoint }) => {
    // A client that upgrades and then runs no session: it never answers the server's pings.
    const dialed = await dialWebSocket(url, {
      protocols: [SUBPROTOCOL],
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    try {
      await within(
        5000,
        "the server to register the connection",
        (async () => {
          while (endpoint.size === 0) await new Promise((r) => setTimeout(r, 10));
        })(),
      );
      await within(
        10_000,
        "the server to close the silent connection",
        (async () => {
          while (endpoint.size > 0) await new Promise((r) => setTimeout(r, 10));
        })(),
      );
    } finally {
      dialed.close();
      await dialed.closed;
    }
  });
});
