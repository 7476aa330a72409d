import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { AuthGuard } from "../auth_guard.ts";
import { AUTH_FAILURES } from "../config.ts";
import type { AuthFailureLimits } from "../config_types.ts";
import { AuditStore } from "../audit/store.ts";
import { RefusalFolder } from "../audit/refusal_folder.ts";
import type { AgentDirectory, ConnectedAgent } from "../agent_directory.ts";
import type { AgentFile, OperatorFile } from "../access/types.ts";
import { parseOperatorFile } from "../access/operator_file.ts";
import { generateToken, hashToken, TokenTable } from "../../shared/auth/token.ts";
import { ADMIN_PATH } from "../../shared/protocol.ts";
import type { Session } from "../../shared/mux/mod.ts";
import { storeOptions, withTempDir } from "../../tests/helpers/audit_store.ts";
import { AdminApi } from "./admin_api.ts";

const LIMITS = Object.fromEntries(
  Object.entries(AUTH_FAILURES).map(([key, bounds]) => [key, bounds.default]),
) as unknown as AuthFailureLimits;

/** An operator file for `name` with `token` and `keys`. */
function operator(name: string, token: string, keys: Record<string, unknown>): OperatorFile {
  return parseOperatorFile(
    `/etc/burrow/operators.d/${name}.jsonc`,
    JSON.stringify({ token: hashToken(token), ...keys }),
  );
}

/** A connected agent (its session is never used by the admin API). */
function connected(name: string, groups: string[], since: number): ConnectedAgent {
  return {
    name,
    groups,
    address: "192.0.2.50",
    agent: { id: "a1", version: "0.1.0", host: `${name}.lan`, os: "linux" },
    since: new Date(since),
    session: {} as Session,
    sessionId: 7,
  };
}

/** A directory of `agents`. */
function directory(agents: ConnectedAgent[]): AgentDirectory {
  return {
    get: (name) => agents.find((a) => a.name === name),
    list: () => [...agents].sort((a, b) => a.name < b.name ? -1 : 1),
  };
}

/** An API over an audit store in `dir` (or none), with alice (admin) and bob (forward only). */
function world(dir: string | null, limits: Partial<AuthFailureLimits> = {}) {
  const tokens = { alice: generateToken(), bob: generateToken(), carol: generateToken() };
  const operators = [
    operator("alice", tokens.alice, { kinds: ["admin"] }),
    operator("bob", tokens.bob, { kinds: ["forward"], agents: ["*"] }),
    operator("carol", tokens.carol, { kinds: ["admin"], networks: ["10.0.0.0/8"] }),
  ];
  const table = new TokenTable(operators.map((owner) => ({ owner, stored: owner.token })));
  let lookups = 0;
  const files: AgentFile[] = [
    { name: "db1", file: "/x/db1.jsonc", secret: "s", networks: null, groups: ["ops"] },
    { name: "web", file: "/x/web.jsonc", secret: "s", networks: null, groups: [] },
  ];
  const lines: { level: string; message: string; props: Record<string, unknown> }[] = [];
  const record = (level: string) => (message: string, props: Record<string, unknown> = {}) =>
    void lines.push({ level, message, props });
  const log = {
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
    debug: record("debug"),
  } as unknown as Logger;
  const auth = new AuthGuard({ ...LIMITS, ...limits }, log, { crypt: () => "" });
  const store = dir === null ? null : AuditStore.open(storeOptions(dir));
  const refusals = store === null ? null : new RefusalFolder(store, { window: 60_000 });
  const agents = [connected("db1", ["ops"], 1_000), connected("zeta", ["edge"], 2_000)];
  const api = new AdminApi({
    access: {
      operatorByToken: (token) => {
        lookups++;
        return table.find(token);
      },
      get agents() {
        return files;
      },
    },
    directory: directory(agents),
    audit: store === null ? null : { store, refusals: refusals! },
    auth,
    log,
  });
  return {
    api,
    tokens,
    store,
    lines,
    get lookups() {
      return lookups;
    },
    /** GETs `path` (below ADMIN_PATH) as `token` from `address`. */
    async get(
      path: string,
      options: { token?: string | null; method?: string; address?: string } = {},
    ) {
      const headers = new Headers();
      const token = options.token === undefined ? tokens.alice : options.token;
      if (token !== null) headers.set("authorization", `Bearer ${token}`);
      const req = new Request(`https://burrow.test${ADMIN_PATH}${path}`, {
        method: options.method ?? "GET",
        headers,
      });
      const res = await api.handle(req, options.address ?? "192.0.2.7");
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
    },
    close() {
      refusals?.close();
      store?.close();
      auth.close();
    },
  };
}

Deno.test("admin API: no token or a wrong one gets one 401 (Bearer challenge), each refusal audited", async () => {
  await withTempDir(async (dir) => {
    const w = world(dir);
    try {
      const none = await w.get("/agents", { token: null });
      const wrong = await w.get("/agents", { token: generateToken() });
      const other = await w.get("/agents", { token: null, method: "POST" });
      for (const res of [none, wrong, other]) {
        assert.equal(res.status, 401);
        assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="burrow-admin"');
        assert.deepEqual(res.body, {
          error: { code: "unauthorized", message: "A valid operator bearer token is required" },
        });
      }
      w.store!.flush();
      const rows = w.store!.query.refusals().items.map((r) => [r.kind, r.identity, r.reason]);
      assert.deepEqual(rows, [
        ["admin", "", "wrong token"],
        ["admin", "", "no bearer token"],
      ]);
    } finally {
      w.close();
    }
  });
});

Deno.test("admin API: after perAddress wrong tokens the right one gets the same 401, unchecked", async () => {
  const w = world(null, { perAddress: 3 });
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal((await w.get("/agents", { token: generateToken() })).status, 401);
    }
    const lookups = w.lookups;
    const locked = await w.get("/agents");
    assert.equal(locked.status, 401);
    assert.equal(locked.body.error.code, "unauthorized");
    assert.equal(w.lookups, lookups, "a locked-out address's token is not looked up");
    // Another address is not locked out.
    assert.equal((await w.get("/agents", { address: "192.0.2.8" })).status, 200);
    assert.ok(w.lines.some((l) => l.level === "warn" && /locked out/.test(l.message)));
  } finally {
    w.close();
  }
});

Deno.test("admin API: an operator without the kind admin, or outside its networks, gets 403 saying why", async () => {
  await withTempDir(async (dir) => {
    const w = world(dir);
    try {
      const bob = await w.get("/agents", { token: w.tokens.bob });
      assert.equal(bob.status, 403);
      assert.deepEqual(bob.body, {
        error: { code: "forbidden", message: "Operator bob may not use kind admin" },
      });
      const carol = await w.get("/sessions", { token: w.tokens.carol, address: "192.0.2.9" });
      assert.equal(carol.status, 403);
      assert.equal(
        carol.body.error.message,
        "Client 192.0.2.9 is outside operator carol's networks",
      );
      assert.equal(
        (await w.get("/sessions", { token: w.tokens.carol, address: "10.1.2.3" })).status,
        200,
      );
      w.store!.flush();
      assert.deepEqual(w.store!.query.refusals().items.map((r) => [r.identity, r.source]), [
        ["carol", "192.0.2.9"],
        ["bob", "192.0.2.7"],
      ]);
    } finally {
      w.close();
    }
  });
});

Deno.test("admin API: other methods get 405, unknown listings 404, bad parameters 400 naming them", async () => {
  await withTempDir(async (dir) => {
    const w = world(dir);
    try {
      const post = await w.get("/agents", { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      assert.equal(post.body.error.code, "method-not-allowed");
      const head = await w.get("/agents", { method: "HEAD" });
      assert.equal(head.status, 200);
      const missing = await w.get("/users");
      assert.equal(missing.status, 404);
      assert.match(missing.body.error.message, /No listing .*\/users; there are .*\/agents/);
      for (
        const [path, param] of [
          ["/sessions?limit=0", "limit"],
          ["/channels?result=done", "result"],
          ["/audit?from=yesterday", "from"],
          ["/agents?open=true", "open"],
          ["/sessions?before=x", "before"],
        ]
      ) {
        const res = await w.get(path!);
        assert.equal(res.status, 400, path);
        assert.equal(res.body.error.code, "bad-param");
        assert.equal(res.body.error.param, param);
        assert.match(res.body.error.message, new RegExp(`\\b${param}\\b`));
      }
    } finally {
      w.close();
    }
  });
});

Deno.test("admin API: sessions, channels and refusals page by cursor and filter", async () => {
  await withTempDir(async (dir) => {
    const w = world(dir);
    try {
      const store = w.store!;
      for (let i = 0; i < 5; i++) {
        const id = store.sessionStarted({
          agent: i % 2 ? "web" : "db1",
          remote: "r",
          at: 1000 * i,
        });
        if (i < 4) store.sessionEnded(id, { reason: "gone", at: 1000 * i + 500 });
      }
      store.channelOpened({ operator: "alice", agent: "db1", kind: "forward", target: "t:1" });
      store.channelOpened({ operator: "bob", agent: "db1", kind: "socks", target: "t:2" });
      // Not flushed: the API writes the queue before it reads.
      const first = await w.get("/sessions?limit=2");
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.items.map((s: { id: number }) => s.id), [5, 4]);
      assert.equal(first.body.next, 4);
      const second = await w.get(`/sessions?limit=2&before=${first.body.next}`);
      assert.deepEqual(second.body.items.map((s: { id: number }) => s.id), [3, 2]);
      const last = await w.get(`/sessions?limit=2&before=${second.body.next}`);
      assert.deepEqual(last.body, { items: [last.body.items[0]], next: null });
      const web = await w.get("/sessions?agent=web");
      assert.deepEqual(web.body.items.map((s: { id: number }) => s.id), [4, 2]);
      const open = await w.get("/sessions?open=true");
      assert.deepEqual(open.body.items.map((s: { agent: string }) => s.agent), ["db1"]);
      const range = await w.get("/sessions?from=1200&to=3000");
      assert.deepEqual(range.body.items.map((s: { id: number }) => s.id), [3, 2]);
      const bob = await w.get("/channels?operator=bob");
      assert.deepEqual(bob.body.items.map((c: { kind: string }) => c.kind), ["socks"]);
      assert.equal(bob.body.items[0].result, "open");
      await w.get("/agents", { token: null });
      const refusals = await w.get("/audit?kind=admin");
      assert.deepEqual(refusals.body.items.map((r: { reason: string }) => r.reason), [
        "no bearer token",
      ]);
      assert.deepEqual((await w.get("/audit?kind=agent")).body, { items: [], next: null });
    } finally {
      w.close();
    }
  });
});

Deno.test("admin API: with the audit off, sessions, channels and audit answer 503; agents still answers", async () => {
  const w = world(null);
  try {
    for (const path of ["/sessions", "/channels", "/audit"]) {
      const res = await w.get(path);
      assert.equal(res.status, 503, path);
      assert.equal(res.body.error.code, "audit-off");
      assert.match(res.body.error.message, /^The audit is off on this server: .* not recorded$/);
    }
    const agents = await w.get("/agents");
    assert.equal(agents.status, 200);
    assert.deepEqual(agents.body.items.map((a: { name: string }) => a.name), [
      "db1",
      "web",
      "zeta",
    ]);
  } finally {
    w.close();
  }
});

Deno.test("admin API: agents merges connected, configured and audit-only agents, paged by name", async () => {
  await withTempDir(async (dir) => {
    const w = world(dir);
    try {
      const old = w.store!.sessionStarted({ agent: "mail", remote: "r", version: "0.0.9", at: 5 });
      w.store!.sessionEnded(old, { reason: "connection lost", at: 9 });
      w.store!.sessionStarted({ agent: "web", remote: "r", at: 10 });
      const all = await w.get("/agents");
      const summary = all.body.items.map((
        a: { name: string; connected: boolean; configured: boolean; lastSession: unknown },
      ) => [a.name, a.connected, a.configured, a.lastSession !== null]);
      assert.deepEqual(summary, [
        ["db1", true, true, false],
        ["mail", false, false, true],
        ["web", false, true, true],
        ["zeta", true, false, false],
      ]);
      assert.deepEqual(all.body.items[0], {
        name: "db1",
        connected: true,
        configured: true,
        groups: ["ops"],
        address: "192.0.2.50",
        version: "0.1.0",
        os: "linux",
        host: "db1.lan",
        since: 1_000,
        sessionId: 7,
        lastSession: null,
      });
      assert.equal(all.body.items[1].lastSession.reason, "connection lost");
      assert.equal(all.body.next, null);
      const first = await w.get("/agents?limit=3");
      assert.equal(first.body.next, "web");
      const rest = await w.get(`/agents?limit=3&after=${first.body.next}`);
      assert.deepEqual(rest.body.items.map((a: { name: string }) => a.name), ["zeta"]);
      assert.equal(rest.body.next, null);
      const offline = await w.get("/agents?connected=false");
      assert.deepEqual(offline.body.items.map((a: { name: string }) => a.name), ["mail", "web"]);
      const edge = await w.get("/agents?group=edge");
      assert.deepEqual(edge.body.items.map((a: { name: string }) => a.name), ["zeta"]);
    } finally {
      w.close();
    }
  });
});

Deno.test("admin API: every answered request is logged at INFO with the operator's name", async () => {
  const w = world(null);
  try {
    await w.get("/agents?limit=1");
    await w.get("/sessions");
    const info = w.lines.filter((l) => l.level === "info");
    assert.deepEqual(info.map((l) => [l.props.operator, l.props.path, l.props.status]), [
      ["alice", `${ADMIN_PATH}/agents?limit=1`, 200],
      ["alice", `${ADMIN_PATH}/sessions`, 503],
    ]);
  } finally {
    w.close();
  }
});
