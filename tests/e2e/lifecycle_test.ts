/**
 * Things that change while the server runs: certificates per server name,
 * domain files, server restarts.
 */
import assert from "node:assert/strict";
import { connect } from "node:tls";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { AGENT_PATH, until, World } from "./world.ts";
import { ConfigError } from "../../shared/config/jsonc.ts";
import { makeCertificates } from "../../shared/tls/self_signed.ts";
import { DialError, dialWebSocket } from "../../shared/transport/dial.ts";
import { Session } from "../../shared/mux/mod.ts";
import { type AgentHandle, startAgent } from "../../agent/agent.ts";
import { parseAgentConfig, parseAgentDomain } from "../../agent/config.ts";
import { CutProxy } from "../../agent/testing/cut_proxy.ts";
import { messages, records, testLogger } from "../../agent/testing/helpers.ts";
import { childEnv, MAIN } from "../helpers/burrow.ts";

const SECRET = "lifecycle-secret-0123456789";

/** The SHA-256 fingerprint of the certificate the server presents for `serverName`. */
function fingerprintFor(port: number, serverName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: "127.0.0.1", port, servername: serverName, rejectUnauthorized: false },
      () => {
        const fp = socket.getPeerCertificate().fingerprint256;
        socket.end();
        resolve(String(fp));
      },
    );
    socket.on("error", reject);
  });
}

/** The subject CN of the certificate the server presents for `serverName`. */
function certificateFor(port: number, serverName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: serverName,
      rejectUnauthorized: false,
    }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.end();
      resolve(String(cn));
    });
    socket.on("error", reject);
  });
}

Deno.test("SNI: the server presents the certificate matching each server name", async () => {
  const world = await World.create();
  try {
    assert.equal(await certificateFor(world.port, "other.example"), "other.example");
    assert.equal(await certificateFor(world.port, "app.test"), "127.0.0.1");
    assert.equal(await certificateFor(world.port, "unknown.example"), "127.0.0.1");
  } finally {
    await world.close();
  }
});

Deno.test({
  name: "certificate files replaced on disk are served without a restart",
  // Measured on Deno 2.9.6: when a TLS listener with an SNI resolver is opened while the
  // previous one on that port is still draining, one op_tls_cert_resolver_poll of the old
  // resolver never completes (awaiting the old shutdown first avoids it, but would let an
  // open WebSocket block the reload). One small pending op per certificate reload.
  sanitizeOps: false,
}, async () => {
  const world = await World.create();
  try {
    const before = await fingerprintFor(world.port, "other.example");
    const renewed = await makeCertificates({ hostnames: ["other.example"] });
    // Key first: a reload in between must not pair the new certificate with the old key.
    await Deno.writeTextFile(join(world.dir, "other-key.pem"), renewed.key);
    await Deno.writeTextFile(join(world.dir, "other-cert.pem"), renewed.cert);
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      // The listener is re-opened to apply certificates: a refused connection means "again".
      after = await fingerprintFor(world.port, "other.example").catch(() => before);
    }
    assert.notEqual(after, before);
    assert.equal(await certificateFor(world.port, "other.example"), "other.example");
  } finally {
    await world.close();
  }
});

Deno.test("domain files added, changed and removed while running take effect; tunnels of unchanged domains stay", async () => {
  const world = await World.create();
  try {
    const backend = world.backend((req) =>
      new Response(`hi ${new Headers(req.headers).get("x-forwarded-host")}`)
    );
    await world.domain("keep.test", { active: true, secret: SECRET });
    const spec = () => ({ secret: SECRET, targets: [{ target: backend.url }] });
    const agent = await world.agent({
      domains: { "keep.test": spec(), "new.test": spec() },
    }, false);
    await until("keep.test registered", () => world.server.agents.has("keep.test"));
    // Added: the agent retries and registers new.test once its file appears.
    const before = await world.fetch("new.test", "/");
    assert.equal(before.status, 404);
    await before.body?.cancel();
    await world.domain("new.test", { active: true, secret: SECRET });
    await until("new.test registered", () => world.server.agents.has("new.test"));
    const added = await world.fetch("new.test", "/");
    assert.equal(await added.text(), "hi new.test");
    // Changed (a client rule): applies at once, the registration stays.
    await world.domain("new.test", {
      active: true,
      secret: SECRET,
      clients: { networks: ["10.0.0.0/8"] },
    });
    const refused = await world.fetch("new.test", "/");
    assert.equal(refused.status, 404);
    await refused.body?.cancel();
    assert.equal(world.server.agents.has("new.test"), true);
    // An invalid change is rejected; the previous version stays in force.
    const rejected = world.server.domains.rejected;
    await Deno.writeTextFile(
      join(world.dir, "server.d", "new.test.jsonc"),
      '{ "active": "yes please" }',
    );
    await until("invalid edit rejected", () => world.server.domains.rejected > rejected);
    assert.equal(world.server.domains.get("new.test")?.active, true);
    assert.equal(world.server.agents.has("new.test"), true);
    const stillRefused = await world.fetch("new.test", "/");
    assert.equal(stillRefused.status, 404, "the previous version's client rule still applies");
    await stillRefused.body?.cancel();
    // Removed: the registration is revoked and requests get the unavailable status.
    await world.removeDomain("new.test");
    await until("new.test revoked", () => !world.server.agents.has("new.test"));
    const gone = await world.fetch("new.test", "/");
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    // keep.test was never touched.
    const kept = await world.fetch("keep.test", "/");
    assert.equal(await kept.text(), "hi keep.test");
    assert.ok(agent.status().find((s) => s.domain === "keep.test")!.registered);
  } finally {
    await world.close();
  }
});

Deno.test("the agent reconnects and registers again after the server restarts", async () => {
  const world = await World.create();
  try {
    const backend = world.backend(() => new Response("back again"));
    await world.domain("app.test", { active: true, secret: SECRET });
    const agent = await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    await world.stopServer();
    await until("the agent to notice", () => !agent.status()[0]!.connected);
    await world.startServer();
    await until("the agent to register again", () => world.server.agents.has("app.test"));
    const res = await world.fetch("app.test", "/");
    assert.equal(await res.text(), "back again");
  } finally {
    await world.close();
  }
});

Deno.test("the server refuses to start with an invalid domain file, naming file, line and key", async () => {
  const world = await World.create();
  try {
    await world.stopServer();
    await Deno.writeTextFile(
      join(world.dir, "server.d", "bad.test.jsonc"),
      '{\n  "active": true,\n  "concurrency": "many"\n}\n',
    );
    await assert.rejects(world.startServer(), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /bad\.test\.jsonc:3:\d+: .*concurrency/);
      return true;
    });
  } finally {
    await world.close();
  }
});

/** An agent connection that answers pings and registers nothing. */
async function idleAgent(world: World): Promise<{ session: Session; close(): Promise<void> }> {
  const dialed = await dialWebSocket(`wss://127.0.0.1:${world.port}${AGENT_PATH}`, {
    protocols: ["burrow.v1"],
    caCerts: [world.caCert],
  });
  const session = new Session(dialed.conn, { client: true, foldFlags: true });
  return {
    session,
    async close() {
      await session.close();
      dialed.close();
      await dialed.closed;
    },
  };
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(resolve, ms, false));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("an agent connection that registers nothing is closed at agents.registerTimeout; a registered one stays", async () => {
  const world = await World.create({ agents: { registerTimeout: "500ms" } });
  try {
    const backend = world.backend(() => new Response("ok"));
    await world.domain("app.test", { active: true, secret: SECRET });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    const registered = world.server.agents.pick("app.test")!.agent;
    const idle = await idleAgent(world);
    try {
      const start = performance.now();
      assert.ok(await within(idle.session.closed, 5000), "the idle connection was closed");
      const ms = performance.now() - start;
      assert.ok(ms >= 300, `closed after ${ms.toFixed(0)} ms, before the deadline`);
    } finally {
      await idle.close();
    }
    // The agent that registered is past its own deadline and still the same connection.
    assert.equal(world.server.agents.pick("app.test")?.agent, registered);
    assert.equal(world.server.agents.size, 1);
  } finally {
    await world.close();
  }
});

Deno.test("agent connections over agents.maxPerAddress are answered 503 with Retry-After", async () => {
  const world = await World.create({ agents: { maxPerAddress: 2, retryAfter: "7s" } });
  const idle: { close(): Promise<void> }[] = [];
  try {
    idle.push(await idleAgent(world), await idleAgent(world));
    await assert.rejects(idleAgent(world), (e: unknown) => {
      assert.ok(e instanceof DialError, String(e));
      assert.equal(e.status, 503);
      assert.equal(e.retryAfter, 7000);
      return true;
    });
    await idle.shift()!.close();
    await until("the slot to be given back", () => world.server.agents.size === 1);
    idle.push(await idleAgent(world));
  } finally {
    for (const i of idle) await i.close();
    await world.close();
  }
});

/** An agent for `domain` dialling the world's server through `remote` (a relay). */
async function agentThrough(
  world: World,
  remote: string,
  domain: string,
  backend: string,
): Promise<AgentHandle> {
  const config = parseAgentConfig(join(world.dir, "agent.jsonc"), '{ "mode": "agent" }');
  const file = parseAgentDomain(
    join(world.dir, `${domain}.jsonc`),
    JSON.stringify({
      active: true,
      remote,
      caFile: world.caFile,
      secret: SECRET,
      targets: [{ target: backend }],
    }),
  );
  const agent = await startAgent(config, {
    domains: [file],
    log: getLogger(["burrow-test", "agent"]),
    tuning: { keepAliveInterval: 2000, pingTimeout: 2000, backoffMin: 50, backoffMax: 300 },
  });
  await until("registration through the relay", () => agent.status()[0]!.registered);
  return agent;
}

Deno.test("requests for an agent that went silent go to another agent of the domain", async () => {
  const world = await World.create({ agents: { openTimeout: "500ms" } });
  const relay = new CutProxy(`127.0.0.1:${world.port}`);
  let silent: AgentHandle | null = null;
  try {
    const a = world.backend(() => new Response("a"));
    const b = world.backend(() => new Response("b"));
    await world.domain("app.test", { active: true, secret: SECRET });
    silent = await agentThrough(world, relay.address, "app.test", a.url);
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: b.url }] } },
    });
    relay.cut();
    const start = performance.now();
    for (let i = 0; i < 4; i++) {
      const res = await world.fetch("app.test", "/", { signal: AbortSignal.timeout(6000) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "b");
    }
    const ms = performance.now() - start;
    assert.ok(ms < 4000, `4 requests took ${ms.toFixed(0)} ms`);
  } finally {
    await relay.close();
    await silent?.close();
    await world.close();
  }
});

Deno.test("a request for the only agent of a domain, gone silent, gets the unavailable status", async () => {
  const world = await World.create({ agents: { openTimeout: "500ms" } });
  const relay = new CutProxy(`127.0.0.1:${world.port}`);
  let silent: AgentHandle | null = null;
  try {
    const a = world.backend(() => new Response("a"));
    await world.domain("app.test", { active: true, secret: SECRET });
    silent = await agentThrough(world, relay.address, "app.test", a.url);
    relay.cut();
    const start = performance.now();
    const res = await world.fetch("app.test", "/", { signal: AbortSignal.timeout(6000) });
    await res.body?.cancel();
    const ms = performance.now() - start;
    assert.equal(res.status, 404);
    assert.ok(ms < 3000, `answered after ${ms.toFixed(0)} ms`);
    assert.match(world.lastAccess("app.test")?.reason ?? "", /agent unreachable: unacknowledged/);
  } finally {
    await relay.close();
    await silent?.close();
    await world.close();
  }
});

Deno.test("agent connections not registered yet over agents.maxPending get 503; registered ones do not count", async () => {
  const world = await World.create({ agents: { maxPending: 1, retryAfter: "2s" } });
  const idle: { close(): Promise<void> }[] = [];
  try {
    const backend = world.backend(() => new Response("ok"));
    await world.domain("app.test", { active: true, secret: SECRET });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    idle.push(await idleAgent(world));
    await assert.rejects(idleAgent(world), (e: unknown) => {
      assert.ok(e instanceof DialError, String(e));
      assert.equal(e.status, 503);
      assert.equal(e.retryAfter, 2000);
      return true;
    });
  } finally {
    for (const i of idle) await i.close();
    await world.close();
  }
});

Deno.test("a server process stopped with SIGTERM sends GoAway: its agent redials at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-sigterm-" });
  const certs = await makeCertificates({ hostnames: ["127.0.0.1"] });
  await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
  await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
  await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
  await Deno.mkdir(join(dir, "server.d"));
  await Deno.writeTextFile(
    join(dir, "server.d", "app.test.jsonc"),
    JSON.stringify({ active: true, secret: SECRET }),
  );
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  await Deno.writeTextFile(
    join(dir, "server.jsonc"),
    JSON.stringify({
      mode: "server",
      listen: [{ address: `127.0.0.1:${port}`, cert: "cert.pem", key: "key.pem" }],
      domains: "server.d",
      log: { level: "error" },
    }),
  );
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "server", "--config", join(dir, "server.jsonc")],
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let agent: AgentHandle | null = null;
  try {
    for (let i = 0; i < 200; i++) {
      const ok = await Deno.connect({ hostname: "127.0.0.1", port }).then((c) => {
        c.close();
        return true;
      }, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    records.length = 0;
    agent = await startAgent(parseAgentConfig(join(dir, "agent.jsonc"), '{ "mode": "agent" }'), {
      domains: [parseAgentDomain(
        join(dir, "app.test.jsonc"),
        JSON.stringify({
          active: true,
          remote: `127.0.0.1:${port}`,
          caFile: join(dir, "ca.pem"),
          secret: SECRET,
          targets: [{ target: "http://127.0.0.1:9" }],
        }),
      )],
      log: await testLogger(),
      // A backoff delay would be a minute: "at once" is the only delay that shows as 0 ms.
      tuning: { backoffMin: 60_000, backoffMax: 60_000, backoffFastMax: 60_000 },
    });
    const registered = agent;
    await until("registration", () => registered.status()[0]!.registered);
    // The redial at once is for sessions that were up a while (1 s).
    await new Promise((r) => setTimeout(r, 1100));
    server.kill("SIGTERM");
    await server.status;
    await until("the agent to see the server go", () => !registered.status()[0]!.connected);
    await until(
      "the disconnect to be logged",
      () => messages("warning").some((m) => m.startsWith("Disconnected:")),
    );
    const line = messages("warning").find((m) => m.startsWith("Disconnected:"));
    assert.match(line!, /the server went away \(GoAway\); reconnecting in 0 ms/);
  } finally {
    try {
      server.kill("SIGKILL");
    } catch { /* exited */ }
    await server.status;
    await agent?.close();
    await Deno.remove(dir, { recursive: true });
  }
});
