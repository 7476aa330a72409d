import assert from "node:assert/strict";
import type { Target, TargetUrl } from "./config_types.ts";
import { isConnectionRefused, RouteError, Router } from "./router.ts";
import { partsOf } from "./config.ts";

function url(href: string, weight = 1): TargetUrl {
  const url = new URL(href);
  return { url, parts: partsOf(url), weight };
}

function target(name: string, fields: Partial<Target> = {}): Target {
  return {
    name,
    method: null,
    path: null,
    host: null,
    urls: [url(`http://127.0.0.1:1/${name}`)],
    ...fields,
  };
}

/** The error Deno's fetch throws when nothing listens on the port. */
function refused(): TypeError {
  return new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (http://127.0.0.1:1/): client error (Connect): " +
        "tcp connect error: Connection refused (os error 111)",
    ),
  });
}

function isRouteError(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof RouteError, `expected RouteError, got ${e}`);
    assert.equal(e.code, code);
    return true;
  };
}

Deno.test("match() picks the first target whose method and path filters both match", () => {
  const statics = target("static", { method: /^(OPTIONS|HEAD|GET)$/, path: /^\/static\/.+$/ });
  const api = target("api", { path: /^\/api\// });
  const fallback = target("default");
  const router = new Router([statics, api, fallback]);
  assert.equal(router.match("GET", "/static/app.css"), statics);
  assert.equal(router.match("POST", "/static/app.css"), fallback, "method filter");
  assert.equal(router.match("GET", "/static/"), fallback, "path filter");
  assert.equal(router.match("DELETE", "/api/users/1"), api);
  assert.equal(router.match("GET", "/"), fallback);
});

Deno.test("match() tests the path filter against the path with its query", () => {
  const withToken = target("token", { path: /[?&]token=/ });
  const router = new Router([withToken]);
  assert.equal(router.match("GET", "/download?token=abc"), withToken);
  assert.equal(router.match("GET", "/download?x=1&token=abc"), withToken);
  assert.equal(router.match("GET", "/download"), null);
});

Deno.test("match() is not confused by global regexes keeping lastIndex", () => {
  const t = target("g", { path: /^\/a/g });
  const router = new Router([t]);
  for (let i = 0; i < 3; i++) assert.equal(router.match("GET", "/a"), t);
});

Deno.test("forward() refuses no-route when no target matches", async () => {
  const router = new Router([target("api", { path: /^\/api\// })]);
  await assert.rejects(
    router.forward("GET", "/other", { retry: true }, () => Promise.resolve("never")),
    isRouteError("no-route"),
  );
});

Deno.test("pick() spreads requests by weight, smoothly", () => {
  const a = url("http://127.0.0.1:1/a", 1);
  const b = url("http://127.0.0.1:2/b", 2);
  const c = url("http://127.0.0.1:3/c", 5);
  const t = target("weighted", { urls: [a, b, c] });
  const router = new Router([t]);
  const counts = new Map<TargetUrl, number>();
  const sequence: TargetUrl[] = [];
  for (let i = 0; i < 800; i++) {
    const picked = router.pick(t)!;
    counts.set(picked, (counts.get(picked) ?? 0) + 1);
    if (i < 8) sequence.push(picked);
  }
  // Smooth weighted round-robin is exact over each cycle of sum(weights) picks.
  assert.deepEqual([counts.get(a), counts.get(b), counts.get(c)], [100, 200, 500]);
  // …and interleaves rather than sending 5 in a row to the heaviest URL.
  assert.deepEqual(sequence, [c, b, c, a, c, c, b, c]);
});

Deno.test("pick() skips URLs already tried and returns null when all were", () => {
  const a = url("http://127.0.0.1:1/a");
  const b = url("http://127.0.0.1:2/b");
  const t = target("two", { urls: [a, b] });
  const router = new Router([t]);
  assert.equal(router.pick(t, new Set([a])), b);
  assert.equal(router.pick(t, new Set([a, b])), null);
});

Deno.test("a URL that refused is marked down for downFor ms, then used again", () => {
  let now = 1000;
  const a = url("http://127.0.0.1:1/a");
  const b = url("http://127.0.0.1:2/b");
  const t = target("two", { urls: [a, b] });
  const router = new Router([t], { downFor: 5000, now: () => now });
  router.markDown(a);
  assert.ok(router.isDown(a));
  for (let i = 0; i < 10; i++) assert.equal(router.pick(t), b, "down URL is skipped");
  now += 4999;
  assert.ok(router.isDown(a));
  now += 1;
  assert.ok(!router.isDown(a));
  const picks = new Set([router.pick(t), router.pick(t)]);
  assert.deepEqual(picks, new Set([a, b]), "both URLs in rotation again");
});

Deno.test("a down URL is still tried when every other URL is down too", () => {
  const a = url("http://127.0.0.1:1/a");
  const t = target("lone", { urls: [a] });
  const router = new Router([t]);
  router.markDown(a);
  assert.equal(router.pick(t), a);
});

Deno.test("forward() fails over to the next URL when a backend refuses, and marks it down", async () => {
  const a = url("http://127.0.0.1:1/a");
  const b = url("http://127.0.0.1:2/b");
  const router = new Router([target("two", { urls: [a, b] })]);
  const tried: TargetUrl[] = [];
  for (let i = 0; i < 4; i++) {
    const result = await router.forward("GET", "/", { retry: true }, (u) => {
      tried.push(u);
      return u === a ? Promise.reject(refused()) : Promise.resolve("ok");
    });
    assert.equal(result, "ok");
  }
  // a refused once, then stayed marked down: every later request went straight to b.
  assert.equal(tried.filter((u) => u === a).length, 1);
  assert.equal(tried.filter((u) => u === b).length, 4);
  assert.ok(router.isDown(a));
  assert.ok(!router.isDown(b));
});

Deno.test("forward() answers bad-gateway when every URL refused", async () => {
  const a = url("http://127.0.0.1:1/a");
  const b = url("http://127.0.0.1:2/b");
  const router = new Router([target("two", { urls: [a, b] })]);
  let attempts = 0;
  await assert.rejects(
    router.forward("GET", "/", { retry: true }, () => {
      attempts++;
      return Promise.reject(refused());
    }),
    (e: unknown) => {
      isRouteError("bad-gateway")(e);
      assert.match((e as Error).message, /2 tried.*Connection refused/);
      return true;
    },
  );
  assert.equal(attempts, 2);
  assert.ok(router.isDown(a) && router.isDown(b));
});

Deno.test("forward() does not retry a refused request when retry is off (request with a body)", async () => {
  const a = url("http://127.0.0.1:1/a");
  const b = url("http://127.0.0.1:2/b");
  const router = new Router([target("two", { urls: [a, b] })]);
  let attempts = 0;
  await assert.rejects(
    router.forward("POST", "/", { retry: false }, () => {
      attempts++;
      return Promise.reject(refused());
    }),
    isRouteError("bad-gateway"),
  );
  assert.equal(attempts, 1);
});

Deno.test("forward() passes other failures through without failover", async () => {
  const a = url("http://127.0.0.1:1/a");
  const b = url("http://127.0.0.1:2/b");
  const router = new Router([target("two", { urls: [a, b] })]);
  let attempts = 0;
  const boom = new TypeError("fetch failed", { cause: new Error("connection reset by peer") });
  await assert.rejects(
    router.forward("GET", "/", { retry: true }, () => {
      attempts++;
      return Promise.reject(boom);
    }),
    (e) => e === boom,
  );
  assert.equal(attempts, 1, "the backend may have seen the request: no second attempt");
  assert.ok(!router.isDown(a) && !router.isDown(b));
});

Deno.test("isConnectionRefused() recognises a real refused fetch and nothing else", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const client = Deno.createHttpClient({});
  try {
    const error = await fetch(`http://127.0.0.1:${port}/`, { client }).then(
      (r) => r.body?.cancel(),
      (e: unknown) => e,
    );
    assert.ok(isConnectionRefused(error), `not recognised: ${error}`);
  } finally {
    client.close();
  }
  assert.ok(isConnectionRefused(new Deno.errors.ConnectionRefused("x")));
  assert.ok(!isConnectionRefused(new TypeError("fetch failed")));
  assert.ok(!isConnectionRefused(new DOMException("aborted", "AbortError")));
  assert.ok(!isConnectionRefused("Connection refused"));
});
