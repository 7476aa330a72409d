/**
 * The main file's defaults reach the domains at run time: a domain file that
 * does not set `bodySize` or `transactionId` takes the main file's
 * `limits.bodySize` and `transactionId`, through the real server.
 */
import assert from "node:assert/strict";
import { World } from "./world.ts";
import { within } from "../helpers/streams.ts";

const SECRET = "e2e-secret-0123456789";

/** A world whose main file sets `main`, with app.test served by one agent echoing the body size. */
async function withMain(main: Record<string, unknown>, body: (world: World) => Promise<void>) {
  const world = await World.create(main);
  try {
    const backend = world.backend(async (req) => {
      const bytes = req.body ? (await req.arrayBuffer()).byteLength : 0;
      return new Response(String(bytes));
    });
    await world.domain("app.test", { active: true, secret: SECRET });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    await within(30_000, "test body", body(world));
  } finally {
    await world.close();
  }
}

Deno.test("a domain without bodySize gets the main file's limits.bodySize: 413 above it", async () => {
  await withMain({ limits: { bodySize: "64KB" } }, async (world) => {
    const small = await world.fetch("app.test", "/", { method: "POST", body: "x".repeat(1000) });
    assert.equal(small.status, 200);
    assert.equal(await small.text(), "1000");
    // 100 KiB: under the built-in 8 MiB default, over the main file's 64 KiB.
    const big = await world.fetch("app.test", "/", {
      method: "POST",
      body: new Uint8Array(100 * 1024),
    });
    await big.body?.cancel();
    assert.equal(big.status, 413);
    assert.equal(world.server.domains.get("app.test")?.bodySize, 64 * 1024);
  });
});

Deno.test("a domain without transactionId gets the main file's: no X-Transaction-Id", async () => {
  await withMain({ transactionId: false }, async (world) => {
    const res = await world.fetch("app.test", "/");
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(res.headers.get("x-transaction-id"), null);
    assert.equal(world.server.domains.get("app.test")?.transactionId, false);
  });
});

Deno.test("a domain's own bodySize and transactionId still win over the main file's", async () => {
  const world = await World.create({ limits: { bodySize: "64KB" }, transactionId: false });
  try {
    await world.domain("own.test", { bodySize: "1MB", transactionId: true });
    const domain = world.server.domains.get("own.test");
    assert.equal(domain?.bodySize, 1024 * 1024);
    assert.equal(domain?.transactionId, true);
  } finally {
    await world.close();
  }
});
