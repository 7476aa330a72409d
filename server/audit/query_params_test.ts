import assert from "node:assert/strict";
import {
  agentFilter,
  agentListFilter,
  channelFilter,
  QueryParamError,
  refusalFilter,
  sessionFilter,
} from "./query_params.ts";

const q = (text: string) => new URLSearchParams(text);

Deno.test("query parameters read into listing filters, absent ones left out", () => {
  assert.deepEqual(sessionFilter(q("")), {});
  assert.deepEqual(sessionFilter(q("agent=db1&open=false&limit=20&before=41")), {
    limit: 20,
    before: 41,
    agent: "db1",
    open: false,
  });
  assert.deepEqual(channelFilter(q("operator=alice&kind=socks&result=open&session=7")), {
    operator: "alice",
    kind: "socks",
    result: "open",
    sessionId: 7,
  });
  assert.deepEqual(refusalFilter(q("kind=operator&identity=bob&source=192.0.2.1")), {
    kind: "operator",
    identity: "bob",
    source: "192.0.2.1",
  });
  assert.deepEqual(agentFilter(q("after=db1&open=true")), { after: "db1", open: true });
  assert.deepEqual(agentListFilter(q("limit=5&after=db1&connected=false&group=ops")), {
    limit: 5,
    after: "db1",
    connected: false,
    group: "ops",
  });
});

Deno.test("time parameters take ISO 8601 with a zone or milliseconds since the epoch", () => {
  assert.deepEqual(refusalFilter(q("from=2026-12-05T10:00:00Z&to=1764930000000")), {
    from: Date.UTC(2026, 11, 5, 10),
    to: 1764930000000,
  });
  assert.equal(
    sessionFilter(q("from=2026-12-05T12:00:00.5%2B02:00")).from,
    Date.UTC(2026, 11, 5, 10, 0, 0, 500),
  );
  for (const bad of ["yesterday", "2026-12-05", "2026-12-05T10:00:00", "-5", "1e3"]) {
    assert.throws(() => sessionFilter(q(`from=${bad}`)), {
      name: "QueryParamError",
      param: "from",
    }, bad);
  }
});

Deno.test("query parameters: unknown, repeated, out of range or too long are refused, naming the parameter", () => {
  const refused = (f: () => unknown, param: string, message: RegExp) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof QueryParamError);
      assert.equal(e.param, param);
      assert.match(e.message, message);
      return;
    }
    assert.fail(`accepted, expected a refusal of ${param}`);
  };
  refused(() => sessionFilter(q("operator=x")), "operator", /Unknown parameter operator; .*agent/);
  refused(() => agentFilter(q("before=3")), "before", /Unknown parameter/);
  refused(() => agentListFilter(q("open=true")), "open", /Unknown parameter open; .*connected/);
  refused(() => agentListFilter(q("connected=1")), "connected", /not one of true, false/);
  refused(() => channelFilter(q("kind=a&kind=b")), "kind", /given twice/);
  refused(() => sessionFilter(q("limit=0")), "limit", /from 1 to 1000/);
  refused(() => sessionFilter(q("limit=1001")), "limit", /from 1 to 1000/);
  refused(() => sessionFilter(q("before=x")), "before", /not an integer/);
  refused(() => sessionFilter(q("open=yes")), "open", /not one of true, false/);
  refused(() => channelFilter(q("result=done")), "result", /ok, refused, failed, open/);
  // A misspelt kind is a 400, not an empty page that looks like "nothing happened".
  refused(() => channelFilter(q("kind=forwards")), "kind", /not one of forward, udp, socks, /);
  refused(() => refusalFilter(q("kind=basic")), "kind", /not one of agent, domain, .*certificate/);
  refused(() => refusalFilter(q(`identity=${"x".repeat(257)}`)), "identity", /longer than 256/);
});
