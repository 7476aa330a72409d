import assert from "node:assert/strict";
import { ADMIN_PATH } from "../shared/protocol.ts";
import { AdminClient, AdminClientError } from "./admin_client.ts";

/** Runs `body` with a client of a loopback HTTP server answering `answer(path)`. */
async function withServer(
  answer: (req: Request) => Response,
  body: (
    admin: AdminClient,
    seen: { url: string; authorization: string | null }[],
  ) => Promise<void>,
): Promise<void> {
  const seen: { url: string; authorization: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({ url: req.url, authorization: req.headers.get("authorization") });
    return answer(req);
  });
  const admin = await AdminClient.open({
    // An operator URL: only its host and port count.
    server: new URL(`ws://127.0.0.1:${server.addr.port}/.well-known/burrow-operator`),
    token: "burrow_t0ken",
    caFile: null,
    insecure: false,
  });
  try {
    await body(admin, seen);
  } finally {
    admin.close();
    await server.shutdown();
  }
}

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<AdminClientError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof AdminClientError, String(e));
    return e;
  }
  assert.fail("resolved, expected an AdminClientError");
}

const json = (status: number, body: unknown) => Response.json(body, { status });

Deno.test("AdminClient asks the admin path of the server's host with the bearer token and reads a page", async () => {
  await withServer(() => json(200, { items: [{ id: 1 }], next: null }), async (admin, seen) => {
    const page = await admin.page("sessions", new URLSearchParams({ agent: "db1" }));
    assert.deepEqual(page, { items: [{ id: 1 }], next: null });
    const url = new URL(seen[0]!.url);
    assert.equal(`${url.pathname}${url.search}`, `${ADMIN_PATH}/sessions?agent=db1`);
    assert.equal(seen[0]!.authorization, "Bearer burrow_t0ken");
  });
});

Deno.test("AdminClient turns each kind of answer into one line with a code", async () => {
  const answers: Record<string, Response> = {
    "/agents": new Response("Not Found", { status: 404 }),
    "/sessions": json(200, { rows: [] }),
    "/channels": json(503, { error: { code: "audit-off", message: "The audit is off" } }),
    "/audit": json(500, { error: { code: "internal", message: "Disk I/O error" } }),
  };
  await withServer(
    (req) => answers[new URL(req.url).pathname.slice(ADMIN_PATH.length)]!,
    async (admin) => {
      const missing = await failure(admin.page("agents"));
      assert.equal(missing.code, "refused");
      assert.match(missing.message, /answered 404: no admin API there/);
      const notPage = await failure(admin.page("sessions"));
      assert.match(notPage.message, /answered 200: the answer is not a page of the admin API$/);
      const off = await failure(admin.page("channels"));
      assert.deepEqual([off.code, off.status, off.message], [
        "audit-off",
        503,
        "unavailable (503): the audit is off",
      ]);
      const broken = await failure(admin.page("audit"));
      assert.match(broken.message, /answered 500: disk I\/O error$/);
    },
  );
});

Deno.test("AdminClient says it cannot reach a server that is not there, and cannot read a missing CA file", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const settings = {
    server: new URL(`wss://127.0.0.1:${port}`),
    token: "t",
    caFile: null,
    insecure: false,
  };
  const admin = await AdminClient.open(settings);
  try {
    const e = await failure(admin.page("agents"));
    assert.equal(e.code, "connect");
    assert.match(e.message, new RegExp(`^cannot reach https://127\\.0\\.0\\.1:${port}: `));
  } finally {
    admin.close();
  }
  const ca = await failure(AdminClient.open({ ...settings, caFile: "/nonexistent/ca.pem" }));
  assert.equal(ca.code, "ca-file");
  assert.match(ca.message, /^cannot read the CA file \/nonexistent\/ca\.pem: /);
});
